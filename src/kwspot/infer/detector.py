"""Streaming keyword detection over audio of any length.

:class:`StreamingDetector` keeps the last second of audio in a ring buffer, is fed chunks of
any size, and every hop (20 ms by default) classifies the window that ends there with any
:class:`~kwspot.infer.backend.Classifier` (``.pt`` or ``.onnx``). Posteriors are smoothed by a
moving average over ``smooth_ms``; a command word whose smoothed posterior reaches its
threshold is reported, then every detection is suppressed for ``refractory_ms`` and the same
word cannot fire again until its score has fallen below its threshold (one detection per
crossing). Silence and unknown are never reported.

Decisions depend only on the samples, never on how they were chunked: windows end at fixed
multiples of the hop from the first sample, and the buffer starts filled with one window of
zeros (so a word in the first second is heard). When a large chunk arrives, the windows it
completes are classified together in batches of up to ``batch`` windows. A classifier that
offers a ``stream_scorer()`` (a model on the pretrained embedding, ``.pt`` or exported) is fed
the samples instead and classifies the windows it completes itself, every 80 ms, from the
embeddings already computed (the hop is then a multiple of 80 ms).

Every :class:`Detection` carries two times: ``time_s``, the estimated time of the word (the
centre of the analysis windows averaged into the triggering score), and ``decided_s``, the
stream position at which it was reported (``decided_s - time_s`` is the latency). A stream
scorer's window also hears ``lag`` samples past its end (the embedding model's padding holds
the audio that follows): both times then count from the end of the audio heard, so a word
that fires as it enters that look-ahead is not placed before it was spoken.

A model that runs with phonetic confirmation (:mod:`kwspot.infer.confirm`) has its word
scores vetoed where PocketSphinx's keyphrase search, run over the same stream, found nothing
like the word.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from typing import Any

import numpy as np

from kwspot.errors import KwspotError, SettingError
from kwspot.infer.backend import Classifier, scorer_hop, stream_scorer_of
from kwspot.infer.confirm import confirmed_scorer
from kwspot.settings import setting

NON_COMMANDS = ("silence", "unknown")


def _detection(default: Any = MISSING, help: str = "", **kw: Any  # noqa: A002
               ) -> Any:
    return setting(default, help, group="detection", **kw)


@dataclass(frozen=True)
class DetectorConfig:
    """Streaming detection settings (times in milliseconds)."""

    # Defaults chosen on a validation-split recording (benchmarks/streaming.py --tune).
    hop_ms: float = _detection(20.0, "classify a window every this many ms")
    smooth_ms: float = _detection(500.0, "moving average of posteriors over this span; "
                                  "one hop: none")
    threshold: float = _detection(0.7, "smoothed posterior a word must reach")
    thresholds: dict[str, float] = _detection(
        default_factory=dict, help="per-word thresholds overriding `threshold`, e.g. "
        "yes=0.9,no=0.7", metavar="W=P,...")
    refractory_ms: float = _detection(1000.0, "no new detection this long after one")
    words: tuple[str, ...] | None = _detection(
        None, "detect only these command words (default: all of the model's)",
        metavar="W1,W2")
    batch: int = 32  # windows classified together when a large chunk arrives

    def __post_init__(self) -> None:
        if not self.hop_ms > 0:
            raise SettingError("hop_ms", f"must be positive, got {self.hop_ms}")
        if self.smooth_ms < 0:
            raise SettingError("smooth_ms", f"must be >= 0, got {self.smooth_ms}")
        if self.refractory_ms < 0:
            raise SettingError("refractory_ms", f"must be >= 0, got {self.refractory_ms}")
        if not 0 < self.threshold <= 1:
            raise SettingError("threshold", f"{self.threshold}: must be in (0, 1]")
        for word, value in self.thresholds.items():
            if not 0 < value <= 1:
                raise SettingError("thresholds", f"{word}={value}: must be in (0, 1]")
        if self.batch < 1:
            raise SettingError("batch", f"must be >= 1, got {self.batch}")


@dataclass(frozen=True)
class Detection:
    time_s: float  # estimated time of the word in the stream
    word: str
    confidence: float  # smoothed posterior that triggered the detection
    decided_s: float  # stream position when the detection was made

    def line(self) -> str:
        """``time_s word confidence``, the format ``kwspot detect`` prints."""
        return f"{self.time_s:.2f} {self.word} {self.confidence:.3f}"


class StreamingDetector:
    """Feed audio chunks, get :class:`Detection`s (see the module docstring)."""

    def __init__(self, classifier: Classifier, config: DetectorConfig | None = None) -> None:
        self.clf = classifier
        self.cfg = cfg = config or DetectorConfig()
        self.sample_rate = int(classifier.sample_rate)
        self.clip = int(classifier.clip_samples)
        self.hop = round(cfg.hop_ms * self.sample_rate / 1000)
        self._scorer = confirmed_scorer(classifier, stream_scorer_of(classifier))
        self.hop = scorer_hop(self._scorer, self.hop)  # a scorer's: a multiple of its own
        if self._scorer is not None:
            self._every = self.hop // self._scorer.hop
        # Samples past a window's end its posteriors have heard (a stream scorer's look-ahead;
        # a model standing for stored posteriors says it itself).
        self.lookahead = int(self._scorer.lag if self._scorer is not None
                             else getattr(classifier, "lookahead", 0))
        if not 1 <= self.hop <= self.clip:
            sr = self.sample_rate
            raise SettingError("hop_ms", f"{cfg.hop_ms}: must be between {1000 / sr:g} and "
                               f"{self.clip * 1000 / sr:g}")
        self.n_smooth = max(1, round(cfg.smooth_ms * self.sample_rate / 1000 / self.hop))
        self.refractory = round(cfg.refractory_ms * self.sample_rate / 1000)
        labels = tuple(classifier.labels)
        commands = [w for w in labels if w not in NON_COMMANDS]
        chosen = list(cfg.words) if cfg.words else commands
        unknown = [w for w in [*chosen, *cfg.thresholds] if w not in commands]
        if unknown:
            raise KwspotError(f"word(s) {', '.join(sorted(set(unknown)))} not among the "
                              f"model's command words ({', '.join(commands)})")
        self.words = tuple(chosen)
        self.word_index = np.array([labels.index(w) for w in self.words], dtype=np.int64)
        self.word_threshold = np.array([cfg.thresholds.get(w, cfg.threshold)
                                        for w in self.words], dtype=np.float64)
        self._capacity = self.clip + cfg.batch * self.hop
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next sample is time 0 again."""
        self._buf = np.zeros(self._capacity, dtype=np.float32)
        self._len = self.clip  # valid samples in the buffer (a window of zeros to start)
        self._received = 0  # samples fed so far
        self._next_end = self.hop  # stream position where the next window ends
        # The last n_smooth - 1 posteriors (NaN: none yet).
        self._history = np.full((self.n_smooth - 1, len(self.clf.labels)), np.nan)
        self._quiet_until = 0  # no detection for windows ending before this position
        self._armed = np.ones(len(self.words), dtype=bool)  # words that may fire again
        self.windows = 0  # windows classified so far
        if self._scorer is not None:
            self._scorer.reset()

    @property
    def position_s(self) -> float:
        """Seconds of audio fed so far."""
        return self._received / self.sample_rate

    def feed(self, samples: np.ndarray) -> list[Detection]:
        """Append float samples in [-1, 1] (1-D); detections completed by them, in order."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._scorer is not None:
            return self._feed_scorer(x)
        found: list[Detection] = []
        i = 0
        while i < len(x):
            n = min(len(x) - i, self._capacity - self._len)
            self._buf[self._len:self._len + n] = x[i:i + n]
            self._len += n
            self._received += n
            i += n
            found += self._classify_ready()
            keep_from = self._next_end - self.clip - (self._received - self._len)
            if keep_from > 0:  # drop samples no future window needs
                self._buf[:self._len - keep_from] = self._buf[keep_from:self._len]
                self._len -= keep_from
        return found

    def _feed_scorer(self, x: np.ndarray) -> list[Detection]:
        self._received += len(x)
        probs, ends = self._scorer.push(x)
        keep = (ends // self._scorer.hop) % self._every == 0
        probs, ends = probs[keep], ends[keep]
        self.windows += len(ends)
        return self._decide(probs.astype(np.float64), ends) if len(ends) else []

    def flush(self) -> list[Detection]:
        """End of stream: feed enough zeros for a word at the very end to be centred and
        smoothed, and return what that finds."""
        pad = self.clip // 2 + self.n_smooth * self.hop
        if self._scorer is not None:
            pad += self._scorer.lag
            delay = getattr(self._scorer, "delay", 0)  # a confirmed scorer holds windows back
            pad += delay + self._scorer.hop if delay else 0
        return self.feed(np.zeros(pad, dtype=np.float32))

    def _classify_ready(self) -> list[Detection]:
        n_ready = (self._received - self._next_end) // self.hop + 1
        if n_ready <= 0:
            return []
        base = self._received - self._len  # stream position of buffer index 0
        first = self._next_end - self.clip - base
        views = np.lib.stride_tricks.sliding_window_view(self._buf[:self._len], self.clip)
        ends = self._next_end + self.hop * np.arange(n_ready)
        found: list[Detection] = []
        for k in range(0, n_ready, self.cfg.batch):
            idx = first + self.hop * np.arange(k, min(n_ready, k + self.cfg.batch))
            probs = np.asarray(self.clf.predict_proba(np.ascontiguousarray(views[idx])),
                               dtype=np.float64)
            found += self._decide(probs, ends[k:k + len(idx)])
        self.windows += n_ready
        self._next_end += n_ready * self.hop
        return found

    def _decide(self, probs: np.ndarray, ends: np.ndarray) -> list[Detection]:
        """Smooth a batch of posteriors (rows in time order) and apply thresholds."""
        seq = np.concatenate([self._history, probs])
        # Each row's average is summed in the same order however the stream was batched, so
        # decisions do not depend on chunk sizes. Before the first window the history is NaN:
        # average what there is.
        windows = np.lib.stride_tricks.sliding_window_view(seq, self.n_smooth, axis=0)
        smooth = np.nanmean(windows, axis=2)
        self._history = seq[len(seq) - (self.n_smooth - 1):]
        scores = smooth[:, self.word_index]
        over = scores >= self.word_threshold
        any_over = over.any(axis=1)
        found: list[Detection] = []
        for r in range(len(scores)):
            if self._armed.all() and not any_over[r]:
                continue
            self._armed |= ~over[r]  # a word re-arms once its score drops below threshold
            end = int(ends[r]) + self.lookahead  # the end of the audio heard
            cand = over[r] & self._armed
            if end < self._quiet_until or not cand.any():
                continue
            j = int(np.argmax(np.where(cand, scores[r], -1.0)))
            centre = end - self.clip / 2 - (self.n_smooth - 1) * self.hop / 2
            found.append(Detection(max(0.0, centre / self.sample_rate), self.words[j],
                                   float(scores[r, j]), end / self.sample_rate))
            self._armed[j] = False
            self._quiet_until = end + self.refractory
        return found


    def replay(self, probs: np.ndarray, ends: np.ndarray | None = None) -> list[Detection]:
        """Decisions on posteriors classified before (rows: the windows :meth:`feed` and
        :meth:`flush` classify, ending at ``ends``; default one per hop from the start of the
        stream): every setting but the hop can be tried again without running the model."""
        self.reset()
        probs = np.asarray(probs, dtype=np.float64)
        ends = self.hop * (1 + np.arange(len(probs))) if ends is None else np.asarray(ends)
        found: list[Detection] = []
        for k in range(0, len(probs), 4096):
            found += self._decide(probs[k:k + 4096], ends[k:k + 4096])
        self.windows = len(probs)
        return found


def detect_array(classifier: Classifier, audio: np.ndarray,
                 config: DetectorConfig | None = None) -> list[Detection]:
    """All detections in a whole float signal (feed + flush)."""
    det = StreamingDetector(classifier, config)
    return det.feed(audio) + det.flush()


