"""The settings of one ``kwspot wakeword`` run (each defined here once)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from kwspot.data.synth_settings import SynthSettings
from kwspot.errors import KwspotError
from kwspot.settings import same_as, setting

_SYNTH = {f.name: f for f in fields(SynthSettings)}


@dataclass(frozen=True)
class WakewordConfig:
    """A wake-word detector made from text: what to synthesize, train and calibrate."""

    phrases: tuple[str, ...]  # the wake words / phrases, each its own class
    out: str  # run folder: synthetic sets, caches, model.pt, model.onnx, report
    negatives: tuple[str, ...] = setting((), "folders/files of audio with none of the phrases")
    test: tuple[str, ...] = setting((), "real recordings of the phrases (scored, never trained on)")
    other_words: tuple[str, ...] = setting((),
        "folders of real recordings of other words (e.g. Speech Commands), all trained on as "
        "negatives; a folder named after a word of a phrase is left out")
    target_fa_per_hour: float = setting(0.5,
        "false alarms per hour the threshold is calibrated for")
    per_phrase: int = setting(1000,
        "synthetic clips of each phrase, each by its own synthetic speaker")
    per_negative: int = setting(60, "synthetic clips of each sound-alike and other word")
    confusables: int = setting(0,
        "sound-alikes of each phrase synthesized as negatives, beyond its partial phrases "
        "(always): measured, near misses taught the detector to reject real voices saying "
        "the phrase")
    neural_voices: tuple[str, ...] = same_as(_SYNTH["neural_voices"], metavar="FILE", help=(
        _SYNTH["neural_voices"].metadata["help"].split("; default:")[0]
        + "; default: kokoro (phrase clips only), when installed, and the Piper voices "
        "installed as packages"))
    neural_share: float = same_as(_SYNTH["neural_share"])
    window_s: float | None = setting(None,
        "detector window; default 2 s, longer if a phrase needs it")
    model: str = setting("emb_conv", "head over the speech embedding (a registered emb_* model)")
    heads: int = setting(2,
        "heads trained each on its own (own seed and batches) and averaged: less spread "
        "between runs, at that many times the training time")
    iters: int = setting(2000, "head training steps (of each head)")
    batch_size: int = setting(256, "windows per step: half phrases, half negatives")
    lr: float = setting(2e-3, "AdamW learning rate (cosine decay)")
    copies: int = setting(2, "augmented copies of each phrase clip (embeddings cached per copy)")
    confirm: bool = setting(True,
        "confirm each detection with PocketSphinx keyphrase spotting of the phrase (a "
        "phonetic recognizer trained on real speech; its veto cuts false alarms)")
    unconfirmed_sure: float = setting(0.9,
        "a window the phonetic search did not confirm counts when its phrase score is above "
        "this and above the threshold the head alone is calibrated to (1: never; the search "
        "vetoes it): the search misses some real utterances")
    smooth_ms: float = setting(240.0, "moving average of the phrase score")
    refractory_ms: float = setting(2000.0, "no second detection this soon after one")
    fold: int = setting(0,
        "which half of the negative files is measured on (0 or 1); the other half gives the "
        "training windows and the threshold: two runs, one per fold, measure all of it")
    seed: int = setting(0, "synthesis, augmentation and training randomness")
    workers: int | None = setting(None, "synthesis processes (default: the usable CPUs)")
    embedding_dir: str | None = setting(None,
        "folder with the embedding model files (else the wheel)")

    def __post_init__(self) -> None:
        from kwspot.data.synth.generate import _check_words

        phrases = _check_words(self.phrases, "phrase")  # one-line errors for bad phrases
        if not phrases:
            raise KwspotError("wakeword: give at least one phrase")
        if "unknown" in phrases:
            raise KwspotError("phrase 'unknown': the name of the class of everything else")
        object.__setattr__(self, "phrases", phrases)
        if not self.neural_voices:  # recorded as used: a run's settings name its voices
            object.__setattr__(self, "neural_voices", default_voices())
        checks = [("target_fa_per_hour", self.target_fa_per_hour > 0),
                  ("per_phrase", self.per_phrase >= 10), ("per_negative", self.per_negative >= 3),
                  ("confusables", self.confusables >= 0), ("iters", self.iters >= 1),
                  ("heads", 1 <= self.heads <= 16),
                  ("batch_size", self.batch_size >= 4), ("lr", self.lr > 0),
                  ("copies", self.copies >= 0), ("smooth_ms", self.smooth_ms >= 0),
                  ("unconfirmed_sure", 0 < self.unconfirmed_sure <= 1),
                  ("refractory_ms", self.refractory_ms >= 0),
                  ("window_s", self.window_s is None or 0.5 <= self.window_s <= 10),
                  ("fold", self.fold in (0, 1)),
                  ("neural_share", 0 <= self.neural_share <= 1)]
        for name, ok in checks:
            if not ok:
                raise KwspotError(f"{name} {getattr(self, name)}: {_RANGES[name]}")
        if not self.model.startswith("emb_"):
            raise KwspotError(f"model {self.model!r}: a wake word needs a head over the speech "
                              "embedding (emb_mlp, emb_conv or emb_gru)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def training_key(self) -> dict[str, Any]:
        """The settings a trained model depends on (not where it is tested or the workers)."""
        skip = {"out", "test", "workers", "target_fa_per_hour", "smooth_ms", "refractory_ms",
                "confirm", "unconfirmed_sure"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


def default_voices() -> tuple[str, ...]:
    """The neural voices of a wake word by default: Kokoro-82M's when installed (speaking
    half the neural phrase clips, they lifted the heads' recall at 1 false alarm/h by about
    15 points over Piper's joe alone) and the Piper voices installed as packages."""
    from kwspot.data.synth.neural import KOKORO, kokoro_installed, packaged_voices

    return ((KOKORO,) if kokoro_installed() else ()) + tuple(v.name for v in packaged_voices())


_RANGES = {
    "target_fa_per_hour": "must be a positive rate per hour",
    "per_phrase": "must be at least 10", "per_negative": "must be at least 3",
    "confusables": "must be >= 0", "iters": "must be at least 1", "heads": "must be 1..16",
    "batch_size": "must be >= 4",
    "lr": "must be positive", "copies": "must be >= 0", "smooth_ms": "must be >= 0",
    "refractory_ms": "must be >= 0", "unconfirmed_sure": "must be within (0, 1]",
    "window_s": "must be within 0.5..10 seconds",
    "fold": "must be 0 or 1", "neural_share": "must be within 0..1",
}
