"""Background noise for ``_background_noise_``: coloured noise and a few real-world textures.

Everything is generated from a seed (nothing is downloaded): white, pink and brown noise,
mains hum with harmonics, a fan with blade tones, clicks and knocks, and babble made of
overlapping synthesized phrases (the caller supplies the speech).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from kwspot.data.audio import SAMPLE_RATE as RATE

# file stem -> RMS level in dBFS, near those of the real data set's files (white and pink
# noise -49.6, dishes -48.5, bike -44.6, tap -53.3): mixers scale noise by its own level.
NOISE_LEVELS_DB = {
    "white_noise": -48.0,
    "pink_noise": -48.0,
    "brown_noise": -46.0,
    "mains_hum_50hz": -50.0,
    "mains_hum_60hz": -50.0,
    "fan": -44.0,
    "clicks": -46.0,
    "babble": -42.0,
}
BABBLE_VOCABULARY = (
    "the and that have with this from they will would there their what about which when "
    "make like time just know take people into year good some could them other than then "
    "look only come over think also back after work first well even want because these "
    "give most today really maybe okay number morning little great right weekend coffee "
    "meeting tomorrow kitchen window garden station picture listen yellow seven eleven"
).split()

Speak = Callable[[str, np.random.Generator], np.ndarray]  # text -> float audio at RATE


def make_noise(name: str, seconds: float, seed: int, speak: Speak | None = None) -> np.ndarray:
    """The named noise (a key of :data:`NOISE_LEVELS_DB`) as int16 at 16 kHz."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    n = int(round(seconds * RATE))
    if name in ("white_noise", "pink_noise", "brown_noise"):
        x = coloured_noise(n, {"white_noise": 0.0, "pink_noise": 1.0, "brown_noise": 2.0}[name],
                           rng)
    elif name.startswith("mains_hum_"):
        x = mains_hum(n, float(name.removeprefix("mains_hum_").removesuffix("hz")), rng)
    elif name == "fan":
        x = fan(n, rng)
    elif name == "clicks":
        x = clicks(n, rng)
    elif name == "babble":
        if speak is None:
            raise ValueError("babble needs a speech source")
        x = babble(n, speak, rng)
    else:
        raise ValueError(f"unknown noise {name!r}")
    x = x * (10 ** (NOISE_LEVELS_DB[name] / 20) / max(_rms(x), 1e-12))
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power ∝ 1/f**exponent (0 white, 1 pink, 2 brown), no rumble <20 Hz."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    shape = np.zeros_like(freqs)
    audible = freqs >= 20.0
    shape[audible] = freqs[audible] ** (-exponent / 2)
    return np.fft.irfft(spectrum * shape, n)


def mains_hum(n: int, mains_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Transformer hum: a drifting fundamental with odd-heavy harmonics over a pink floor."""
    t = np.arange(n) / RATE
    drift = 0.05 * np.sin(2 * np.pi * rng.uniform(0.02, 0.1) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(mains_hz + drift) / RATE
    amps = [h ** -1.1 * (1.0 if h % 2 else 0.35) * rng.uniform(0.5, 1.0) for h in range(1, 16)]
    x = _harmonics(phase, amps, rng)
    swell = 1.0 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t)
    return x * swell + 0.03 * _unit(coloured_noise(n, 1.0, rng))


def fan(n: int, rng: np.random.Generator) -> np.ndarray:
    """Ventilation: low-passed airflow noise with a wobbling blade-pass tone."""
    t = np.arange(n) / RATE
    air = sosfilt(butter(2, rng.uniform(600, 1500), fs=RATE, output="sos"),
                  coloured_noise(n, 1.0, rng))
    blade = rng.uniform(60, 180) * (1 + 0.01 * np.sin(2 * np.pi * 0.1 * t))
    phase = 2 * np.pi * np.cumsum(blade) / RATE
    tone = _harmonics(phase, [h ** -1.5 for h in range(1, 6)], rng)
    wobble = 1.0 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)
    return _unit(air) + 0.3 * _unit(tone) * wobble


def clicks(n: int, rng: np.random.Generator) -> np.ndarray:
    """Taps, knocks and keyboard-like clicks: decaying resonant bursts at random times."""
    x = 0.02 * _unit(coloured_noise(n, 1.0, rng))
    count = rng.poisson(4.0 * n / RATE)
    for start in np.sort(rng.integers(0, n, count)):
        length = int(RATE * rng.uniform(0.005, 0.08))
        decay = np.exp(-np.arange(length) / (RATE * rng.uniform(0.001, 0.015)))
        centre = rng.uniform(200, 5000)
        burst = lfilter(*_resonator(centre, rng.uniform(0.9, 0.995)),
                        rng.standard_normal(length) * decay)
        burst = _unit(burst) * 10 ** (rng.uniform(-30, 0) / 20)
        stop = min(n, start + length)
        x[start:stop] += burst[: stop - start]
    return x


def babble(n: int, speak: Speak, rng: np.random.Generator, talkers: int = 6) -> np.ndarray:
    """Overlapping chatter: ``talkers`` streams of synthesized phrases with short pauses."""
    phrases = []
    for _ in range(24):
        words = rng.choice(BABBLE_VOCABULARY, size=int(rng.integers(3, 9)))
        speech = speak(" ".join(words) + str(rng.choice([".", "?", ","])), rng)
        if speech.size:
            phrases.append(_unit(speech))
    x = np.zeros(n)
    if not phrases:
        return x
    for _ in range(talkers):
        pos = int(rng.integers(0, RATE))
        gain = 10 ** (rng.uniform(-8, 0) / 20)
        while pos < n:
            phrase = phrases[int(rng.integers(len(phrases)))]
            stop = min(n, pos + phrase.size)
            x[pos:stop] += gain * phrase[: stop - pos]
            pos = stop + int(RATE * rng.uniform(0.1, 0.8))
    # A little muffling, as from the next room.
    return sosfilt(butter(2, 3500, fs=RATE, output="sos"), x)


def _harmonics(phase: np.ndarray, amps: list[float], rng: np.random.Generator) -> np.ndarray:
    """Sum of ``amps[h-1] * sin(h * phase + random phase)``, via powers of exp(i·phase)."""
    unit = np.exp(1j * np.mod(phase, 2 * np.pi))
    power = np.ones_like(unit)
    x = np.zeros(phase.size)
    for amp in amps:
        power *= unit
        x += amp * (power * np.exp(1j * rng.uniform(0, 2 * np.pi))).imag
    return x


def _resonator(centre_hz: float, radius: float) -> tuple[list[float], list[float]]:
    theta = 2 * np.pi * centre_hz / RATE
    return [1.0 - radius], [1.0, -2 * radius * np.cos(theta), radius * radius]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / max(_rms(x), 1e-12)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
