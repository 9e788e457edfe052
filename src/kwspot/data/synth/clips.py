"""One Speech-Commands-style clip: a synthesized word or phrase, trimmed, levelled, placed in
its clip (1 s, longer for long phrases), then perturbed as a recording would be."""

from __future__ import annotations

import functools
import io
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import firwin, lfilter, resample_poly

from kwspot.data.audio import SAMPLE_RATE as CLIP_RATE
from kwspot.data.perturb import (
    NoiseBank,
    Perturbations,
    device_colouring,
    mix_at_snr,
    reverberate,
    room_impulse_response,
    telephone,
)
from kwspot.data.synth.espeak import RATE_MAX, SAMPLE_RATE, Espeak
from kwspot.data.synth.speakers import SPLITS, Speaker, split_sizes
from kwspot.data.synth_settings import SynthSettings
from kwspot.errors import KwspotError

CLIP_SAMPLES = CLIP_RATE  # exactly one second
MAX_WORD_S = 0.92  # longer words are re-spoken faster, then cropped
# offset_s / duration_s: where the (trimmed) word sits in the clip; level_db: its RMS in
# dBFS; noise_db: the room-tone floor under it; rate (words/min), pitch and range (0-100)
# are the eSpeak parameters; voice is accent+stock variant, the speaker's own variant
# file derives from it.
META_COLUMNS = (
    "path", "word", "kind", "split", "speaker", "accent", "variant", "voice", "text",
    "rate", "pitch", "range", "offset_s", "duration_s", "level_db", "noise_db", "clip_s",
    "rt60_s", "drr_db", "noise_file", "snr_db", "device", "telephone",
)
# Sentence punctuation changes eSpeak's intonation: statement, exclamation, question, list.
_ENDINGS = (".", "!", "?", ",")
_ENDING_P = (0.5, 0.2, 0.15, 0.15)
_FRAME = CLIP_RATE // 100  # 10 ms
_PERTURB_STREAM = 0x9E27

EngineFactory = Callable[[], AbstractContextManager[Espeak]]


@dataclass(frozen=True)
class ClipSpec:
    """What to render: the ``take``-th utterance of ``word`` by ``speaker``."""

    word: str
    kind: str  # "keyword", "unknown" or "confusable"
    speaker: Speaker
    take: int
    seed: int

    @property
    def label(self) -> str:
        """The folder (class) name: the phrase with ``_`` for spaces."""
        return phrase_label(self.word)

    @property
    def path(self) -> str:
        """Relative path, as list files write it."""
        return f"{self.label}/{self.speaker.id}_nohash_{self.take}.wav"


def phrase_label(phrase: str) -> str:
    """The class and folder name of a phrase: ``"hey computer"`` → ``"hey_computer"``."""
    return phrase.replace(" ", "_")


def stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def plan_clips(words: list[str], unknown_words: list[str], per_word: int,
               speakers: list[Speaker], seed: int,
               confusables: Sequence[str] = ()) -> list[ClipSpec]:
    """``per_word`` clips of every word, 10 %/10 % of them by validation/testing speakers.

    Kinds: ``keyword`` for ``words``, ``unknown`` for ``unknown_words`` and ``confusable``
    for ``confusables`` (sound-alikes of a keyword; unknown words too, to a classifier).

    Within a split, speakers take turns in a per-word random order, so each says each word
    about equally often; ``take`` counts a speaker's repeats of a word.
    """
    by_split = {s: [sp for sp in speakers if sp.split == s] for s in SPLITS}
    specs = []
    for kind, group in (("keyword", words), ("unknown", unknown_words),
                        ("confusable", confusables)):
        for word in group:
            rng = np.random.default_rng([seed, stable_hash(word)])
            for split, count in split_sizes(per_word).items():
                pool = by_split[split]
                if count and not pool:
                    raise KwspotError(f"no {split} speakers for {count} {word!r} clip(s)")
                order = rng.permutation(len(pool)) if pool else []
                for j in range(count):
                    speaker = pool[order[j % len(pool)]]
                    specs.append(ClipSpec(word, kind, speaker, j // len(pool), seed))
    return specs


@dataclass(frozen=True)
class ClipStyle:
    """How clips are spoken and recorded, beyond the speaker: the same for every clip of a set."""

    samples: int = CLIP_SAMPLES  # clip length (longer than 1 s for long phrases)
    rate_spread: float = SynthSettings.rate_spread  # per-clip tempo spread around the speaker's
    perturb: Perturbations = Perturbations()  # rooms, devices, telephone, real noise

    @property
    def max_word(self) -> int:
        """Longest utterance kept, in samples (the rest of the clip is margin)."""
        return self.samples - (CLIP_SAMPLES - int(MAX_WORD_S * CLIP_RATE))


def render_speaker(specs: list[ClipSpec], new_engine: EngineFactory, style: ClipStyle = ClipStyle(),
                   noise: NoiseBank | None = None) -> Iterator[tuple[ClipSpec, np.ndarray, dict]]:
    """Render one speaker's clips in order, with one engine (its voice set once).

    eSpeak NG carries some state from one utterance to the next, so a clip depends on the
    clips its speaker said before it in ``specs``: always render a speaker's whole list,
    in the same order, to get the same bytes.
    """
    if not specs:
        return
    with new_engine() as engine:
        engine.set_voice(specs[0].speaker.voice)
        for spec in specs:
            if spec.speaker != specs[0].speaker:
                raise ValueError("render_speaker: clips of more than one speaker")
            pcm, row = render_clip(spec, engine, style, noise)
            yield spec, pcm, row


def render_clip(spec: ClipSpec, engine: Espeak, style: ClipStyle = ClipStyle(),
                noise: NoiseBank | None = None) -> tuple[np.ndarray, dict]:
    """The int16 clip and its ``meta.csv`` row (``engine`` speaks with the speaker's voice).

    ``noise`` supplies the real noise recordings when ``style.perturb.noise`` asks for them.
    """
    sp = spec.speaker
    rng = np.random.default_rng(
        [spec.seed, stable_hash(sp.id), stable_hash(spec.word), spec.take]
    )
    rate = sp.rate * float(np.exp(rng.normal(0.0, style.rate_spread)))
    pitch = round(float(np.clip(sp.pitch + rng.normal(0.0, 6.0), 0, 100)))
    prange = round(float(np.clip(sp.pitch_range + rng.normal(0.0, 8.0), 0, 100)))
    text = spec.word + str(rng.choice(_ENDINGS, p=_ENDING_P))
    espeak_seed = int(rng.integers(1, 2**31 - 1))
    max_word = style.max_word
    for _ in range(3):
        spoken_rate = min(RATE_MAX, round(rate))
        raw = engine.synth(text, rate=spoken_rate, pitch=pitch, pitch_range=prange,
                           seed=espeak_seed)
        word = trim_silence(to_clip_rate(raw))
        if word.size == 0:
            raise KwspotError(f"eSpeak NG produced silence for {text!r} ({sp.voice})")
        if word.size <= max_word or spoken_rate >= RATE_MAX:
            break
        rate = rate * word.size / (max_word - 0.07 * CLIP_RATE)  # too long: say it faster
    word = crop_with_fade(word, max_word)
    # Perturbations draw from their own stream: switching one off leaves the rest as it was.
    prng = np.random.default_rng(
        [spec.seed, stable_hash(sp.id), stable_hash(spec.word), spec.take, _PERTURB_STREAM])
    wet, effects = _in_room(word, style, prng)  # the word and its reverberation tail
    spoken = wet[:word.size]
    level_target = rng.uniform(-36.0, -14.0)  # real clips: -35 to -16 dBFS (5-95 %)
    gain = 10 ** (level_target / 20) / max(_rms(spoken), 1e-9)
    gain = min(gain, 0.9 / max(float(np.abs(wet).max()), 1e-9))
    word = spoken * gain
    offset = int(rng.integers(0, style.samples - word.size + 1))
    noise_db = rng.uniform(-78.0, -58.0)
    clip = room_tone(style.samples, noise_db, rng)
    heard = crop_with_fade(wet * gain, style.samples - offset)
    clip[offset:offset + heard.size] += heard
    clip, more = _recorded(clip, _rms(word), style.perturb, noise, prng)
    pcm = np.clip(np.round(clip * 32767.0), -32768, 32767).astype(np.int16)
    row = {
        "path": spec.path, "word": spec.label, "kind": spec.kind, "split": sp.split,
        "speaker": sp.id, "accent": sp.accent, "variant": sp.variant,
        "voice": sp.base_voice, "text": text, "rate": spoken_rate, "pitch": pitch,
        "range": prange, "offset_s": round(offset / CLIP_RATE, 4),
        "duration_s": round(word.size / CLIP_RATE, 4),
        "level_db": round(20 * np.log10(max(_rms(word), 1e-9)), 2),
        "noise_db": round(noise_db, 2), "clip_s": round(style.samples / CLIP_RATE, 4),
        **effects, **more,
    }
    return pcm, row


def _in_room(word: np.ndarray, style: ClipStyle,
             rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """``word`` in a simulated room (with probability ``perturb.reverb``), tail included.

    The result starts with the word and is never shorter than it."""
    p = style.perturb
    if not (p.reverb and rng.random() < p.reverb):
        return word, {"rt60_s": "", "drr_db": ""}
    rt60 = float(np.exp(rng.uniform(np.log(p.rt60_s[0]), np.log(p.rt60_s[1]))))
    drr = float(rng.uniform(*p.drr_db))
    wet = reverberate(word, room_impulse_response(rng, rt60, drr))
    return wet, {"rt60_s": round(rt60, 3), "drr_db": round(drr, 1)}


def _recorded(clip: np.ndarray, speech_rms: float, p: Perturbations, noise: NoiseBank | None,
              rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The clip with real noise added and heard through a device and/or a telephone line."""
    info: dict = {"noise_file": "", "snr_db": "", "device": 0, "telephone": 0}
    if p.uses_noise and rng.random() < p.noise:
        if noise is None:
            raise ValueError("real noise asked for but no NoiseBank given")
        segment, path = noise.segment(clip.size, rng)
        snr = float(rng.uniform(*p.snr_db))
        clip = mix_at_snr(clip, segment, snr, speech_rms)
        info.update(noise_file=path.name, snr_db=round(snr, 1))
    if p.device and rng.random() < p.device:
        clip = device_colouring(clip, rng)
        info["device"] = 1
    if p.telephone and rng.random() < p.telephone:
        clip = telephone(clip)
        info["telephone"] = 1
    return clip, info


def write_wav(path: Path, pcm: np.ndarray, rate: int = CLIP_RATE) -> None:
    """Write int16 samples as a 16-bit PCM WAV file.

    Encoded in memory by soundfile, then written in one go: ``soundfile.write`` on a path
    fsyncs every file, which costs milliseconds per clip.
    """
    buffer = io.BytesIO()
    sf.write(buffer, pcm, rate, subtype="PCM_16", format="WAV")
    path.write_bytes(buffer.getvalue())


def to_clip_rate(raw: np.ndarray) -> np.ndarray:
    """eSpeak's int16 at 22,050 Hz → float64 at 16 kHz (``resample_poly`` 320/441)."""
    x = raw.astype(np.float64) / 32768.0
    return resample_poly(x, _UP, _DOWN, window=_resampling_filter())


_UP, _DOWN = CLIP_RATE // 50, SAMPLE_RATE // 50


@functools.cache
def _resampling_filter() -> np.ndarray:
    """The low-pass ``resample_poly`` would design on every call (Kaiser, beta 5)."""
    half_len = 10 * max(_UP, _DOWN)
    return firwin(2 * half_len + 1, 1.0 / max(_UP, _DOWN), window=("kaiser", 5.0))


def trim_silence(x: np.ndarray, floor_db: float = 40.0) -> np.ndarray:
    """Cut leading/trailing frames more than ``floor_db`` below the loudest, with margins."""
    n = x.size // _FRAME
    if n == 0:
        return x[:0]
    energy = np.sqrt(np.mean(x[: n * _FRAME].reshape(n, _FRAME) ** 2, axis=1))
    peak = float(energy.max())
    if peak < 1e-5:
        return x[:0]
    loud = np.nonzero(energy > peak * 10 ** (-floor_db / 20))[0]
    start = max(0, (loud[0] - 2) * _FRAME)
    end = min(x.size, (loud[-1] + 4) * _FRAME)
    out = x[start:end].copy()
    _fade(out, int(0.005 * CLIP_RATE), int(0.01 * CLIP_RATE))
    return out


def crop_with_fade(x: np.ndarray, limit: int) -> np.ndarray:
    """Crop to ``limit`` samples (keeping the start, fading out the cut) if longer."""
    if x.size <= limit:
        return x
    out = x[:limit].copy()
    _fade(out, 0, int(0.03 * CLIP_RATE))
    return out


def room_tone(n: int, level_db: float, rng: np.random.Generator) -> np.ndarray:
    """A faint reddish noise floor at ``level_db`` dBFS RMS, so no clip is digital silence."""
    noise = lfilter([1.0], [1.0, -0.9], rng.standard_normal(n))
    return noise * (10 ** (level_db / 20) / max(_rms(noise), 1e-12))


def _fade(x: np.ndarray, fade_in: int, fade_out: int) -> None:
    if fade_in and x.size > fade_in:
        x[:fade_in] *= np.linspace(0.0, 1.0, fade_in)
    if fade_out and x.size > fade_out:
        x[-fade_out:] *= np.linspace(1.0, 0.0, fade_out)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
