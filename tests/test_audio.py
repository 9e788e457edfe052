"""Reading audio (kwspot.data.audio): non-finite samples, names that are not UTF-8, and a fuzz
of the reader with random and mutated files (a KwspotError or valid audio, nothing else)."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwspot.data.audio import fit_length, read_audio, read_clip
from kwspot.errors import KwspotError


def float_wav(path: Path, x: np.ndarray, subtype: str = "FLOAT", sr: int = 16000) -> Path:
    sf.write(str(path), x, sr, subtype=subtype)
    return path


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused(tmp_path: Path, subtype: str, bad: float) -> None:
    x = np.zeros(16000, dtype=np.float64)
    x[1234] = bad
    path = float_wav(tmp_path / "bad.wav", x, subtype)
    with pytest.raises(KwspotError, match=r"bad\.wav: audio holds non-finite samples .* 1,234"):
        read_audio(path)
    with pytest.raises(KwspotError, match="non-finite"):
        read_clip(path, resample=True)


def test_finite_float_audio_reads_as_before(tmp_path: Path) -> None:
    x = np.linspace(-0.5, 0.5, 16000)
    path = float_wav(tmp_path / "ok.wav", x)
    expected, _ = sf.read(str(path), dtype="int16")
    assert np.array_equal(read_audio(path), expected)


def test_a_name_that_is_not_utf8_is_read(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9_nohash_0.wav")  # Latin-1 bytes: surrogate-escaped on read
    path = tmp_path / name
    sf.write(os.fsencode(path), np.full(800, 1000, dtype=np.int16), 16000, subtype="PCM_16")
    assert read_audio(path)[0] == 1000
    assert len(read_clip(path)) == 16000


def test_absurd_sample_rate_is_refused_when_resampling(tmp_path: Path) -> None:
    path = tmp_path / "odd.wav"
    sf.write(str(path), np.zeros(100, dtype=np.int16), 900_000, subtype="PCM_16")
    with pytest.raises(KwspotError, match="outside what can be resampled"):
        read_audio(path, resample=True)


def test_fit_length_pads_at_the_end_and_crops_the_middle() -> None:
    assert fit_length(np.arange(3), 5).tolist() == [0, 1, 2, 0, 0]
    assert fit_length(np.arange(10), 4).tolist() == [3, 4, 5, 6]


# --- fuzz ------------------------------------------------------------------------------------

def _valid_files() -> list[bytes]:
    out = []
    rng = np.random.default_rng(0)
    for subtype, fmt in [("PCM_16", "WAV"), ("FLOAT", "WAV"), ("PCM_24", "WAV"),
                         ("PCM_16", "FLAC")]:
        buf = io.BytesIO()
        sf.write(buf, rng.uniform(-0.5, 0.5, (400, 1)), 16000, subtype=subtype, format=fmt)
        out.append(buf.getvalue())
    return out


VALID = _valid_files()


def _check_reader(path: Path, data: bytes, resample: bool) -> None:
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy or soundfile warning may escape either
        try:
            x = read_audio(path, resample=resample)
        except KwspotError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            return
    assert x.dtype == np.int16 and x.ndim == 1


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "x.wav"


FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.binary(max_size=200), resample=st.booleans())
def test_fuzz_random_bytes(fuzz_path: Path, data: bytes, resample: bool) -> None:
    _check_reader(fuzz_path, data, resample)


@FUZZ
@given(which=st.sampled_from(range(len(VALID))), resample=st.booleans(),
       edits=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255)), max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 900)))
def test_fuzz_mutated_headers(fuzz_path: Path, which: int, resample: bool,
                              edits: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(VALID[which])
    for pos, value in edits:  # overwrite bytes of the header (sizes, rates, formats, ...)
        data[pos] = value
    _check_reader(fuzz_path, bytes(data[:cut] if cut is not None else data), resample)
