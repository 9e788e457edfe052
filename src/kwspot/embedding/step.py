"""One fixed-shape step of streaming classification with an embedding model, exportable to ONNX.

:class:`EmbeddingStep` is what :class:`~kwspot.embedding.scorer.EmbeddingWindowScorer` does per
80 ms once its caches are full, as one graph with fixed shapes: the newest 1280 samples and the
cached state in, the posteriors of the window that ends now and the next state out. Exported
(:func:`step_onnx`), it runs in onnxruntime (:mod:`kwspot.infer.stream_step`).

The graph's contract (inputs → outputs, batch of one stream):

* ``audio`` ``[1280]`` float32 in [-1, 1], the newest 80 ms → ``probs`` ``[1, classes]``;
* the state, each input ``X`` answered by an output ``next_X`` of the same shape: ``overlap``
  (the 352 samples before ``audio``, in [-1, 1]), ``tail{slot}`` (the frames each time-kernel
  layer keeps from the steps before; ``tail{slot}_e{c}`` for copy ``c`` ≥ 1 of the embedding of
  a model with several) and ``history`` ``[1, copies, 96, E - 1]`` (the last embeddings);
* the metadata property ``kwspot_stream`` (JSON): ``hop`` (1280), ``overlap`` (352),
  ``warmup_steps`` and ``first_end``. A stream starts with every state at zero except
  ``overlap``, which holds the stream's first 352 samples; then each step takes the next 1280.
  The outputs of the first ``warmup_steps`` steps are not valid (their windows start before the
  stream); step ``s >= warmup_steps`` classifies the 1-s window ending at sample
  ``first_end + (s - warmup_steps) · hop`` (the padding ``pad`` of training included). From
  then on the posteriors equal the offline model's on those windows.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.embedding.frontend import (
    CHUNK,
    INT16_SCALE,
    OVERLAP,
    EmbeddingFrontend,
    EmbeddingStream,
)
from kwspot.embedding.modules import (
    ACT_FLOOR,
    EMB_DIM,
    EMB_LAYERS,
    EMB_STEP,
    EMB_WINDOW,
    LEAKY_SLOPE,
    to_embedding_scale,
)
from kwspot.embedding.onnx_stream import AUDIO, META_KEY, NEXT

# Blocks of 8 mel frames between a block and the first embedding it completes: embedding k
# spans mel frames 8k .. 8k + 75, the last of which arrives with block k + 9.
DELAY_BLOCKS = math.ceil(EMB_WINDOW / EMB_STEP) - 1


@dataclass(frozen=True)
class TailSlot:
    """Frames one layer keeps between steps: slot ``2i`` before convolution ``i``, ``2i + 1``
    before its time pooling, in copy ``copy`` of the embedding."""

    slot: int
    channels: int
    frames: int
    width: int  # mel bins at that layer
    copy: int = 0

    @property
    def name(self) -> str:
        return f"tail{self.slot}" + (f"_e{self.copy}" if self.copy else "")

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (1, self.channels, self.frames, self.width)


def steady_tails(frontend: EmbeddingFrontend) -> list[TailSlot]:
    """The non-empty tails of :class:`~kwspot.embedding.frontend.EmbeddingStream` once every
    layer has produced output (from then on they keep their shapes; every copy of the
    embedding has the same)."""
    stream = EmbeddingStream(frontend)
    stream.push(torch.zeros(OVERLAP + CHUNK * (DELAY_BLOCKS + 2)))
    return [TailSlot(slot, t.shape[1], t.shape[2], t.shape[3])
            for slot, t in enumerate(stream.tails) if t is not None and t.shape[2]]


class EmbeddingStep(nn.Module):
    """``(audio, *state) → (probs, *next_state)``: one 80-ms step (see the module docstring).

    ``frontend`` and ``head`` are the model's embedding front-end and classifier; the head
    classifies the embeddings of ``clip_samples`` padded as in training.
    """

    def __init__(self, frontend: EmbeddingFrontend, head: nn.Module, clip_samples: int) -> None:
        super().__init__()
        self.mel = frontend.mel
        self.stacks = nn.ModuleList(emb.convs for emb in frontend.embeddings)
        self.head = head
        self.frames = frontend.num_frames(clip_samples)
        tails = steady_tails(frontend)
        self.tails = [replace(t, copy=c) for c in range(len(self.stacks)) for t in tails]
        self.first_end = frontend.pad + clip_samples

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """The state inputs, in order, and their shapes."""
        return {"overlap": (OVERLAP,), **{t.name: t.shape for t in self.tails},
                "history": (1, len(self.stacks), EMB_DIM, self.frames - 1)}

    def describe(self) -> dict[str, int]:
        """What a runtime needs besides the graph (the ``kwspot_stream`` metadata)."""
        return {"hop": CHUNK, "overlap": OVERLAP,
                "warmup_steps": DELAY_BLOCKS + self.frames - 1, "first_end": self.first_end}

    def forward(self, audio: Tensor, overlap: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        *tails, history = state
        joined = torch.cat([overlap, audio])
        mel = to_embedding_scale(self.mel(joined[None] * INT16_SCALE, block=EMB_STEP))
        embs, next_tails = [], []
        for c, convs in enumerate(self.stacks):
            kept = {t.slot: (t, x) for t, x in zip(self.tails, tails, strict=True) if t.copy == c}
            emb, new = self._layers(convs, mel[:, None], kept)  # [1, 1, 8, 32] → [1, 96, 1, 1]
            embs.append(emb.reshape(1, 1, EMB_DIM, 1))
            next_tails += new
        window = torch.cat([history, torch.cat(embs, dim=1)], dim=3)
        probs = torch.softmax(self.head(window), dim=1)
        return (probs, joined[-OVERLAP:], *next_tails, window[:, :, :, 1:])

    @staticmethod
    def _layers(convs: nn.ModuleList, x: Tensor, kept: dict[int, tuple[TailSlot, Tensor]]
                ) -> tuple[Tensor, list[Tensor]]:
        """The newest frames of each layer of one embedding, from the frames it kept (by slot)
        and this step's input; and the frames to keep for the next step, in slot order."""
        next_tails = []
        last = len(EMB_LAYERS) - 1
        for i, (conv, (_, _, _, pool)) in enumerate(zip(convs, EMB_LAYERS, strict=True)):
            x, new = _join(x, kept.get(2 * i))
            next_tails += new
            x = conv(x)
            if i < last:
                x = F.leaky_relu(x, LEAKY_SLOPE).clamp_min(ACT_FLOOR)
            if pool is not None:
                x, new = _join(x, kept.get(2 * i + 1))
                next_tails += new
                x = F.max_pool2d(x, pool)  # drops an odd last frame: it is in the next tail
        return x, next_tails


def _join(x: Tensor, kept: tuple[TailSlot, Tensor] | None) -> tuple[Tensor, list[Tensor]]:
    """``x`` after the frames kept for it, and the frames to keep for the next step."""
    if kept is None:
        return x, []
    slot, tail = kept
    x = torch.cat([tail, x], dim=2)
    return x, [x[:, :, x.shape[2] - slot.frames:]]


def step_onnx(frontend: EmbeddingFrontend, head: nn.Module, clip_samples: int,
              opset: int = 17) -> bytes:
    """The ONNX model of :class:`EmbeddingStep` (with its ``kwspot_stream`` metadata)."""
    import onnx

    step = EmbeddingStep(frontend, head, clip_samples).eval()
    shapes = step.state_shapes()
    example = (torch.zeros(CHUNK), *(torch.zeros(s) for s in shapes.values()))
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The exporter's notices (its deprecation, tracer and GRU batch-size warnings) are not
        # for kwspot's users: the graph has fixed shapes and is tested against PyTorch.
        warnings.simplefilter("ignore")
        torch.onnx.export(step, example, buf, input_names=[AUDIO, *shapes],
                          output_names=["probs", *(NEXT + n for n in shapes)],
                          opset_version=opset, dynamo=False)
    model = onnx.load_from_string(buf.getvalue())
    onnx.helper.set_model_props(model, {META_KEY: json.dumps(step.describe())})
    model.producer_name = "kwspot"
    return model.SerializeToString()
