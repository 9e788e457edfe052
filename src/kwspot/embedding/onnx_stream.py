"""Streaming classification with an embedding model's ONNX step graph, in onnxruntime.

The graph (built by :mod:`kwspot.embedding.step`, whose docstring gives its contract) takes
80 ms of new audio and its cached state, and returns the posteriors of the window ending now
and the next state; nothing is recomputed. :class:`StepGraph` holds one onnxruntime session
per model; each :class:`StepScorer` it makes is one stream's state, with the ``push`` contract
of :class:`~kwspot.embedding.scorer.EmbeddingWindowScorer`. Needs numpy and onnxruntime only
(no torch).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

META_KEY = "kwspot_stream"  # the graph's metadata property: JSON describing the step
AUDIO = "audio"
NEXT = "next_"  # output ``next_X`` is the new value of state input ``X``


class StepGraph:
    """A loaded step graph (ONNX bytes); ``scorer()`` gives a fresh stream's scorer."""

    def __init__(self, model: bytes) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1  # one small step at a time
        self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self.meta: dict[str, Any] = json.loads(
            self.session.get_modelmeta().custom_metadata_map[META_KEY])
        self.zero_state = {i.name: np.zeros(i.shape, np.float32)
                           for i in self.session.get_inputs() if i.name != AUDIO}
        self.outputs = [o.name for o in self.session.get_outputs()]

    def scorer(self) -> StepScorer:
        return StepScorer(self)


class StepScorer:
    """Feed float samples, get posteriors of the 1-s windows they complete (one per 80 ms).

    ``push`` returns ``(probs [n, classes], ends [n])``, ``ends`` being the stream positions
    (samples) where the classified windows end; ``lag``: samples that must follow a window's
    end before it is classified.
    """

    def __init__(self, graph: StepGraph) -> None:
        self.graph = graph
        meta = graph.meta
        self.hop = int(meta["hop"])
        self.overlap = int(meta["overlap"])
        self.warmup = int(meta["warmup_steps"])
        self.first_end = int(meta["first_end"])
        self.lag = self.overlap + (self.warmup + 1) * self.hop - self.first_end
        self.reset()

    def reset(self) -> None:
        self._state = dict(self.graph.zero_state)
        self._pending = np.zeros(0, np.float32)  # samples not yet stepped
        self._primed = False  # whether ``overlap`` holds the stream's first samples
        self._steps = 0

    def push(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([self._pending, np.asarray(samples, np.float32).reshape(-1)])
        if not self._primed:
            if len(x) < self.overlap:
                self._pending = x
                return _none()
            self._state["overlap"] = x[:self.overlap].copy()
            x = x[self.overlap:]
            self._primed = True
        n = len(x) // self.hop
        self._pending = x[n * self.hop:]
        run, names = self.graph.session.run, self.graph.outputs
        probs = []
        for i in range(n):
            out = run(None, {AUDIO: x[i * self.hop:(i + 1) * self.hop], **self._state})
            self._state = {name[len(NEXT):]: v for name, v in zip(names[1:], out[1:], strict=True)}
            if self._steps + i >= self.warmup:
                probs.append(out[0][0])
        first = max(self._steps, self.warmup) - self.warmup
        self._steps += n
        if not probs:
            return _none()
        ends = self.first_end + (first + np.arange(len(probs))) * self.hop
        return np.stack(probs).astype(np.float32), ends.astype(np.int64)


def _none() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
