"""Perturbations: rooms decay as asked, telephones cut the band, noise lands at its SNR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kwspot.data import perturb as P
from kwspot.errors import KwspotError

RATE = 16_000


def _band_db(x: np.ndarray, low: float, high: float) -> float:
    """Energy of ``x`` between ``low`` and ``high`` Hz, in dB."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / RATE)
    return 10 * np.log10(spectrum[(freqs >= low) & (freqs < high)].sum() + 1e-20)


def _rt60_from_decay(ir: np.ndarray) -> float:
    """RT60 from the Schroeder energy decay curve between -5 and -25 dB (T20 x 3)."""
    edc = np.cumsum(ir[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    t5 = np.argmax(edc_db <= -5) / RATE
    t25 = np.argmax(edc_db <= -25) / RATE
    return 3 * (t25 - t5)


@pytest.mark.parametrize("rt60", [0.2, 0.5, 0.9])
def test_room_response_decays_at_its_rt60_with_its_direct_to_reverberant_ratio(rt60: float):
    for seed in range(3):
        ir = P.room_impulse_response(np.random.default_rng(seed), rt60, drr_db=-5.0)
        assert ir[0] == 1.0 and np.abs(ir[1:]).max() < 1.0
        drr = 10 * np.log10(1.0 / np.sum(ir[1:] ** 2))
        assert drr == pytest.approx(-5.0, abs=0.01)
        # Low frequencies carry the tail; high ones die faster, so the broadband
        # decay is a little quicker than the nominal RT60.
        assert 0.5 * rt60 < _rt60_from_decay(ir) < 1.2 * rt60


def test_reverberate_is_a_convolution_on_batches():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 800))
    ir = P.room_impulse_response(rng, 0.3, 10.0)
    y = P.reverberate(x, ir)
    assert y.shape == (3, 800 + ir.size - 1)
    np.testing.assert_allclose(y[1], np.convolve(x[1], ir), atol=1e-9)


def test_telephone_keeps_the_voice_band_and_cuts_the_rest():
    rng = np.random.default_rng(1)
    x = 0.1 * rng.standard_normal(RATE)
    y = P.telephone(x)
    assert y.shape == x.shape
    passband = _band_db(y, 500, 3000) - _band_db(x, 500, 3000)
    assert abs(passband) < 1.5
    assert _band_db(y, 4500, 8000) - _band_db(x, 4500, 8000) < -40
    assert _band_db(y, 20, 150) - _band_db(x, 20, 150) < -10
    batch = P.telephone(np.stack([x, 2 * x]))
    np.testing.assert_allclose(batch[0], y, atol=1e-12)


def test_mu_law_round_trip_keeps_relative_precision():
    x = np.linspace(-1, 1, 1001)
    codes = P.mu_law_encode(x)
    assert codes.min() == 0 and codes.max() == 255
    y = P.mu_law_decode(codes)
    assert np.all(np.abs(y - x) <= 0.025 * np.abs(x) + 2e-4)


def test_device_colouring_is_a_filter_chosen_by_the_generator():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, RATE))
    a = P.device_colouring(x, np.random.default_rng(7))
    b = P.device_colouring(x[0], np.random.default_rng(7))
    np.testing.assert_allclose(a[0], b)
    assert not np.allclose(a[0], P.device_colouring(x[0], np.random.default_rng(8)))
    assert _band_db(a[0], 10, 40) < _band_db(x[0], 10, 40) - 6  # the microphone's low cut


def test_peaking_biquad_has_its_gain_at_the_centre():
    from scipy.signal import sosfreqz

    sos = P.peaking_biquad(1000.0, 6.0, 1.0)[None]
    _, h = sosfreqz(sos, worN=[1000.0, 100.0], fs=RATE)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(6.0, abs=0.01)
    assert abs(20 * np.log10(abs(h[1]))) < 0.5


def test_mix_at_snr():
    rng = np.random.default_rng(3)
    speech, noise = rng.standard_normal(RATE), 5 * rng.standard_normal(RATE)
    mixed = P.mix_at_snr(speech, noise, 12.0)
    added = mixed - speech
    snr = 20 * np.log10(np.sqrt(np.mean(speech**2)) / np.sqrt(np.mean(added**2)))
    assert snr == pytest.approx(12.0, abs=1e-6)


def test_noise_bank_resamples_loops_and_skips_broken_files(tmp_path: Path):
    rng = np.random.default_rng(4)
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "phone.flac", 0.1 * rng.standard_normal((4000, 2)), 8000)
    sf.write(tmp_path / "tone.wav", 0.2 * np.sin(np.arange(RATE // 2) * 0.3), RATE)
    (tmp_path / "broken.flac").write_bytes(b"not audio at all")
    bank = P.NoiseBank([str(tmp_path)])
    assert len(bank.files) == 3
    seen = set()
    for seed in range(12):
        segment, path = bank.segment(RATE, np.random.default_rng(seed))
        assert segment.shape == (RATE,) and np.sqrt(np.mean(segment**2)) > 0.01
        seen.add(path.name)
    assert seen == {"phone.flac", "tone.wav"}
    assert any("broken.flac" in s for s in bank.skipped)
    with pytest.raises(KwspotError, match="not found"):
        P.NoiseBank([str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(KwspotError, match="no audio files"):
        P.NoiseBank([str(tmp_path / "empty")])


def test_settings_are_checked():
    with pytest.raises(KwspotError, match="within 0..1"):
        P.Perturbations(reverb=1.5)
    with pytest.raises(KwspotError, match="low end"):
        P.Perturbations(snr_db=(20.0, 5.0))
    assert not P.Perturbations(noise=0.5).uses_noise
    assert P.Perturbations(noise=0.5, noise_dirs=("x",)).uses_noise
