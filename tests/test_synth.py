"""kwspot synth: determinism, format, speaker-disjoint splits, noise, idempotence, errors."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kwspot.cli import main
from kwspot.data.perturb import Perturbations
from kwspot.data.synth import (
    DEFAULT_UNKNOWN_WORDS,
    DEFAULT_WORDS,
    MARKER,
    NOISE_DIR,
    espeak,
    hash_split,
    list_accents,
    list_variants,
    synthesize,
    voices,
)
from kwspot.data.synth.speakers import plan_speakers
from kwspot.errors import KwspotError

PARAMS = dict(words=["yes", "no"], unknown_words=["marvin"], per_word=10, seed=3,
              speakers=12, noise_seconds=30.0, progress=False)
# Every perturbation on for about half the clips; the noise folder is made by the fixture.
PERTURB = dict(reverb=0.5, device=0.5, telephone=0.3, noise=0.5)
META_REQUIRED = {"path", "word", "speaker", "voice", "rate", "pitch", "range", "offset_s",
                 "level_db"}


@pytest.fixture(scope="module")
def noise_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 'recordings': hum at 22.05 kHz and hiss at 16 kHz."""
    folder = tmp_path_factory.mktemp("noise")
    t = np.arange(22050 * 2) / 22050
    sf.write(folder / "hum.wav", 0.1 * np.sin(2 * np.pi * 120 * t), 22050)
    sf.write(folder / "hiss.flac", 0.05 * np.random.default_rng(0).standard_normal(16000), 16000)
    return folder


@pytest.fixture(scope="module")
def params(noise_dir: Path) -> dict:
    return {**PARAMS, "perturb": Perturbations(**PERTURB, noise_dirs=(str(noise_dir),))}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, params: dict) -> Path:
    out = tmp_path_factory.mktemp("synth") / "set"
    report = synthesize(out, workers=1, **params)
    assert report.clips == 30 and not report.reused
    return out


def _meta(root: Path) -> list[dict[str, str]]:
    with (root / "meta.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_for_any_worker_count(made: Path, tmp_path: Path,
                                                              params: dict):
    synthesize(tmp_path / "again", workers=2, **params)
    assert _files(made) == _files(tmp_path / "again")


def test_perturbations_are_applied_and_recorded(made: Path):
    rows = _meta(made)
    for column in ("rt60_s", "noise_file"):
        used = [r[column] for r in rows if r[column]]
        assert 5 <= len(used) <= 25, column
    assert {r["noise_file"] for r in rows} == {"", "hum.wav", "hiss.flac"}
    assert 5 <= sum(int(r["device"]) for r in rows) <= 25
    phoned = [r for r in rows if r["telephone"] == "1"]
    assert phoned
    for row in phoned:  # nothing above the 4-kHz telephone band
        x, _ = sf.read(made / row["path"], dtype="float64")
        spectrum = np.abs(np.fft.rfft(x)) ** 2
        assert spectrum[4200:].sum() < 1e-3 * spectrum.sum()


def test_clip_format_and_meta_columns(made: Path):
    rows = _meta(made)
    assert META_REQUIRED <= set(rows[0])
    assert len(rows) == 30
    for row in rows:
        info = sf.info(made / row["path"])
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, 16000)
        assert info.format == "WAV" and info.subtype == "PCM_16"
        stem = Path(row["path"]).stem
        speaker, take = stem.split("_nohash_")
        assert speaker == row["speaker"] and "_" not in speaker and take.isdigit()
        assert row["path"].split("/")[0] == row["word"]
    wavs = sorted(p.relative_to(made).as_posix() for p in made.glob("*/*.wav")
                  if p.parent.name != NOISE_DIR)
    assert wavs == sorted(r["path"] for r in rows)


def test_clips_are_not_silent_and_vary(made: Path):
    rows = _meta(made)
    peaks = []
    for row in rows:
        x, _ = sf.read(made / row["path"], dtype="int16")
        peaks.append(np.abs(x.astype(np.int32)).max())
        offset = int(float(row["offset_s"]) * 16000)
        word = x[offset:offset + int(float(row["duration_s"]) * 16000)].astype(np.float64)
        assert 20 * np.log10(np.sqrt(np.mean((word / 32767) ** 2))) > -40
    assert min(peaks) > 1000
    levels = np.array([float(r["level_db"]) for r in rows])
    assert levels.std() > 2.0 and levels.max() - levels.min() > 8.0
    for column in ("rate", "pitch", "range", "offset_s"):
        assert len({r[column] for r in rows}) > 5, column


def test_splits_hold_out_whole_speakers_and_voices(made: Path):
    rows = _meta(made)
    listed = {}
    for split, name in (("validation", "validation_list.txt"), ("testing", "testing_list.txt")):
        lines = (made / name).read_text(encoding="utf-8").splitlines()
        assert lines, name
        for line in lines:
            assert (made / line).is_file()
            listed[line] = split
    split_of_speaker: dict[str, set[str]] = {}
    split_of_variant: dict[str, set[str]] = {}
    for row in rows:
        split = listed.get(row["path"], "training")
        assert split == row["split"]
        split_of_speaker.setdefault(row["speaker"], set()).add(split)
        split_of_variant.setdefault(row["variant"], set()).add(split)
    assert all(len(s) == 1 for s in split_of_speaker.values())
    assert all(len(s) == 1 for s in split_of_variant.values())
    assert {next(iter(s)) for s in split_of_speaker.values()} == {
        "training", "validation", "testing"}
    # Ids are chosen so that the Speech Commands hash rule agrees with the lists.
    for speaker, splits in split_of_speaker.items():
        assert hash_split(speaker) == next(iter(splits))


def test_held_out_accents_never_reach_training():
    paths = espeak.locate_espeak()
    speakers = plan_speakers(60, list_accents(paths.data), list_variants(paths.data), seed=1)
    training_accents = {s.accent for s in speakers if s.split == "training"}
    for split in ("validation", "testing"):
        accents = {s.accent for s in speakers if s.split == split}
        assert accents - training_accents, split  # a held-out accent
    assert len({s.id for s in speakers}) == 60
    other = plan_speakers(60, list_accents(paths.data), list_variants(paths.data), seed=2)
    assert {s.id for s in speakers}.isdisjoint({s.id for s in other})


def test_background_noise_files(made: Path):
    files = sorted((made / NOISE_DIR).glob("*.wav"))
    assert len(files) >= 5
    names = {f.stem for f in files}
    assert {"white_noise", "pink_noise", "brown_noise", "babble"} <= names
    for f in files:
        x, rate = sf.read(f, dtype="int16")
        assert rate == 16000 and x.ndim == 1 and x.size >= 30 * 16000
        assert sf.info(f).subtype == "PCM_16"
        assert np.sqrt(np.mean((x / 32767.0) ** 2)) > 10 ** (-55 / 20), f.name


def test_marker_makes_a_second_run_a_no_op(made: Path, tmp_path: Path, params: dict):
    copy = tmp_path / "copy"
    shutil.copytree(made, copy)
    assert (copy / MARKER).is_file()
    clip = next(copy.glob("yes/*.wav"))
    before = clip.stat().st_mtime_ns
    report = synthesize(copy, workers=1, **params)
    assert report.reused and report.clips == 30
    assert clip.stat().st_mtime_ns == before
    # Other parameters replace the old set, leaving none of its files behind.
    changed = {**PARAMS, "words": ["yes"], "per_word": 4}
    report = synthesize(copy, workers=1, **changed)
    assert not report.reused and report.clips == 8
    assert not (copy / "no").exists()
    assert len(list((copy / "yes").glob("*.wav"))) == 4


def test_cli_reports_reuse_and_user_errors(made: Path, tmp_path: Path, noise_dir: Path,
                                           capsys):
    args = ["synth", "--out", str(made), "--words", "yes,no", "--unknown-words", "marvin",
            "--per-word", "10", "--seed", "3", "--speakers", "12", "--noise-seconds", "30",
            "--noise-dirs", str(noise_dir),
            *(x for k, v in PERTURB.items() for x in (f"--{k}", str(v)))]
    assert main(args) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["synth", "--out", str(tmp_path / "x"), "--words", "yes,n0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kwspot: error: --words: 'n0'") and "\n" not in err
    assert main(["synth", "--out", str(tmp_path / "x"), "--noise-dirs", str(tmp_path / "no"),
                 "--noise", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "noise folder not found" in err and "\n" not in err
    assert main(["synth", "--out", str(tmp_path / "x"), "--reverb", "2"]) == 2
    assert "within 0..1" in capsys.readouterr().err


def test_phrases_get_clips_long_enough(tmp_path: Path):
    report = synthesize(tmp_path / "p", words=["hey computer"], unknown_words=["ok"],
                        per_word=3, seed=1, speakers=3, noise_seconds=2.0, workers=1,
                        progress=False)
    assert report.clip_seconds > 1.0 and report.clip_seconds % 0.25 == 0
    rows = _meta(tmp_path / "p")
    assert {r["word"] for r in rows} == {"hey_computer", "ok"}
    for row in rows:
        info = sf.info(tmp_path / "p" / row["path"])
        assert info.frames == int(report.clip_seconds * 16000)
        assert float(row["clip_s"]) == report.clip_seconds
        assert float(row["offset_s"]) + float(row["duration_s"]) <= report.clip_seconds
        if row["word"] == "hey_computer":
            assert row["text"].startswith("hey computer") and float(row["duration_s"]) > 0.6
    with pytest.raises(KwspotError, match="not a word or phrase"):
        synthesize(tmp_path / "q", words=["hey  computer!"], **{
            k: v for k, v in PARAMS.items() if k != "words"})


def test_user_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    with pytest.raises(KwspotError, match="not empty"):
        synthesize(tmp_path / "busy", **PARAMS)
    (tmp_path / "file").write_text("x")
    with pytest.raises(KwspotError, match="cannot write|not a folder"):
        synthesize(tmp_path / "file" / "out", **PARAMS)
    with pytest.raises(KwspotError, match="not a word or phrase"):
        synthesize(tmp_path / "w", **{**PARAMS, "words": ["yes!"]})
    with pytest.raises(KwspotError, match="also in"):
        synthesize(tmp_path / "w", **{**PARAMS, "unknown_words": ["yes"]})
    import espeakng_loader

    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(tmp_path / "no.so"))
    with pytest.raises(KwspotError, match="library"):
        synthesize(tmp_path / "w", **PARAMS)
    with pytest.raises(KwspotError, match="cannot load"):
        espeak.Espeak(tmp_path / "file", Path(espeakng_loader.get_data_path()))


def test_engine_is_deterministic_and_speaker_variants_apply(tmp_path: Path):
    paths = espeak.locate_espeak()
    mirror = voices.mirror_data_dir(paths.data, tmp_path)
    base = voices.read_variant(paths.data, "m3")
    text = voices.derive_variant(base, "synabc", np.random.default_rng(0))
    assert "formant 1" in text and "pitch" in text
    voices.write_variant(mirror, "synabc", text)
    library = espeak.private_library_copy(paths.library, tmp_path)

    def say(voice: str, before: str = "") -> np.ndarray:
        with espeak.fresh_engine(library, mirror) as engine:
            engine.set_voice(voice)
            if before:
                engine.synth(before, rate=170, pitch=50, pitch_range=50, seed=9)
            return engine.synth("yes.", rate=170, pitch=50, pitch_range=50, seed=1)

    first = say("en-us+synabc", before="something else first")
    assert np.array_equal(say("en-us+synabc", before="something else first"), first)
    assert not np.array_equal(say("en-us"), say("en-us+synabc"))
    with espeak.fresh_engine(library, mirror) as engine, pytest.raises(KwspotError):
        engine.set_voice("xx-nonexistent")


def test_voice_inventory_and_defaults():
    paths = espeak.locate_espeak()
    accents = list_accents(paths.data)
    assert {"en-us", "en", "en-gb-scotland"} <= set(accents) and "en-shaw" not in accents
    variants = list_variants(paths.data)
    assert len(variants) > 50 and "m3" in variants and "robosoft" not in variants
    assert len(DEFAULT_WORDS) == 10 and "marvin" in DEFAULT_UNKNOWN_WORDS


def test_cli_perturbation_options_override_defaults_or_clean():
    import argparse

    from kwspot.cli import synth as cli_synth
    from kwspot.data.synth import DEFAULT_PERTURBATIONS

    parser = argparse.ArgumentParser()
    cli_synth.register(parser.add_subparsers())

    def chosen(*argv: str) -> Perturbations:
        return cli_synth.perturbations(parser.parse_args(["synth", "--out", "x", *argv]))

    assert chosen() == DEFAULT_PERTURBATIONS
    assert chosen("--clean") == Perturbations()
    rooms = chosen("--clean", "--reverb", "0.6")
    assert rooms.reverb == 0.6 and rooms.device == rooms.telephone == rooms.noise == 0
    noisy = chosen("--noise", "0.5", "--noise-dirs", "a,b", "--snr-db", "0,10")
    assert noisy.noise_dirs == ("a", "b") and noisy.snr_db == (0.0, 10.0)
    assert noisy.reverb == DEFAULT_PERTURBATIONS.reverb
    with pytest.raises(KwspotError, match="snr_db"):
        chosen("--snr-db", "5")
