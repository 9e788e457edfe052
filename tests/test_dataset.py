"""Layouts, labels, silence/unknown shares, the int16 cache and bad-input errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import make_tone_dataset, write_wav

from kwspot.data.dataset import DataConfig, load_dataset
from kwspot.data.labels import LabelSet
from kwspot.data.layouts import discover
from kwspot.errors import KwspotError


def test_label_mapping() -> None:
    labels = LabelSet()
    assert labels.names[-2:] == ("silence", "unknown") and len(labels) == 12
    assert labels.index_of_folder("yes") == 0
    assert labels.index_of_folder("_silence_") == labels.silence_index
    assert labels.index_of_folder("_unknown_") == labels.unknown_index
    assert labels.index_of_folder("marvin") == labels.unknown_index
    custom = LabelSet.parse("marvin,sheila")
    assert custom.names == ("marvin", "sheila", "silence", "unknown")
    with pytest.raises(KwspotError):
        LabelSet.parse("yes,yes")
    with pytest.raises(KwspotError):
        LabelSet.parse("silence")


def test_raw_layout_shares_and_labels(tone_data: Path, tmp_path: Path) -> None:
    cfg = DataConfig(root=str(tone_data), words=("yes", "no", "up"), val_pct=20, test_pct=20,
                     cache_dir=str(tmp_path / "c"))
    data = load_dataset(cfg, verbose=False)
    for split in data.splits.values():
        counts = split.counts(len(data.labels))
        n_cmd = counts[:3].sum()
        assert counts[data.labels.silence_index] == round(0.1 * n_cmd)
        assert counts[data.labels.unknown_index] == min(round(0.1 * n_cmd), 2 * 2 * 12)
        assert split.waves.shape == (len(split), 16000) and split.waves.dtype == np.int16
    # reproducible unknown sampling and silence crops
    again = load_dataset(cfg, verbose=False)
    assert again.splits["training"].sources == data.splits["training"].sources
    assert np.array_equal(again.splits["training"].waves, data.splits["training"].waves)
    # no speaker in two splits
    sets = [{s for s in d.speakers if not s.startswith("silence")} for d in data.splits.values()]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])


def test_silence_has_zeros_and_noise(tone_data: Path, tmp_path: Path) -> None:
    cfg = DataConfig(root=str(tone_data), words=("yes", "no", "up"), silence_share=2.0,
                     zero_silence=0.3, cache_dir=str(tmp_path / "c"))
    tr = load_dataset(cfg, verbose=False).splits["training"]
    sil = tr.waves[tr.labels == 3].astype(np.float32)
    rms = np.sqrt((sil**2).mean(axis=1))
    assert (rms == 0).sum() > 0 and (rms > 0).sum() > 0
    assert len(set(np.round(rms[rms > 0]).tolist())) > 3  # random volumes


def test_custom_words(tone_data: Path, tmp_path: Path) -> None:
    data = load_dataset(DataConfig(root=str(tone_data), words=("bed",),
                                   cache_dir=str(tmp_path / "c")), verbose=False)
    assert data.labels.names == ("bed", "silence", "unknown")
    tr = data.splits["training"]
    assert (tr.labels == 0).sum() > 0


def test_prelabeled_layout(shared_data: Path, tmp_path: Path) -> None:
    data = load_dataset(DataConfig(root=str(shared_data / "sc_v2_test_part"),
                                   cache_dir=str(tmp_path / "c")), verbose=False)
    total = sum(len(s) for s in data.splits.values())
    assert total == 2913  # every clip used, _unknown_ and _silence_ as labelled
    counts = sum(s.counts(12) for s in data.splits.values())
    assert counts[10] == len(list((shared_data / "sc_v2_test_part" / "_silence_").glob("*.wav")))
    assert counts[11] == len(list((shared_data / "sc_v2_test_part" / "_unknown_").glob("*.wav")))


def test_kaggle_layout(tone_data: Path, tmp_path: Path) -> None:
    root = tmp_path / "kaggle"
    shutil.copytree(tone_data, root / "train" / "audio")
    write_wav(root / "test" / "audio" / "clip_0001.wav", np.zeros(16000, np.int16))
    layout = discover(root)
    assert layout.kind == "kaggle" and layout.unlabeled_test == root / "test" / "audio"
    data = load_dataset(DataConfig(root=str(root), words=("yes", "no", "up"),
                                   cache_dir=str(tmp_path / "c")), verbose=False)
    assert len(data.splits["training"]) > 0


def test_cache_is_reused_and_rebuilt(tone_data: Path, tmp_path: Path) -> None:
    cfg = DataConfig(root=str(tone_data), words=("yes", "no", "up"), cache_dir=str(tmp_path / "c"))
    load_dataset(cfg, verbose=False)
    files = list((tmp_path / "c").rglob("waves.npy"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    load_dataset(cfg, verbose=False)
    assert files[0].stat().st_mtime_ns == stamp  # reused
    write_wav(tone_data / "yes" / "ffffffff_nohash_0.wav", np.ones(8000, np.int16))
    data = load_dataset(cfg, verbose=False)
    assert files[0].stat().st_mtime_ns != stamp  # rebuilt after the file list changed
    assert any("ffffffff" in s for d in data.splits.values() for s in d.sources)


def test_short_clips_are_padded_and_long_cropped(tmp_path: Path) -> None:
    from kwspot.data.audio import read_clip

    short = write_wav(tmp_path / "s.wav", np.full(4000, 7, np.int16))
    long = write_wav(tmp_path / "l.wav", np.arange(20000).astype(np.int16))
    s = read_clip(short)
    assert s.shape == (16000,) and (s[:4000] == 7).all() and (s[4000:] == 0).all()
    lo = read_clip(long)
    assert lo.shape == (16000,) and lo[0] == 2000


@pytest.mark.parametrize("problem", ["missing", "empty_class", "no_noise", "corrupt", "rate",
                                     "stereo", "missing_word"])
def test_bad_input_gets_one_line_errors(problem: str, tmp_path: Path) -> None:
    root = make_tone_dataset(tmp_path / "d", speakers=3, per_speaker=1)
    words = ("yes", "no", "up")
    match = {"missing": "no such folder", "empty_class": "no clips of 'up'",
             "no_noise": "no background noise", "corrupt": "cannot read audio",
             "rate": "8000 Hz instead of 16000 Hz", "stereo": "2 channels",
             "missing_word": "no folder for word"}[problem]
    if problem == "missing":
        root = tmp_path / "nope"
    elif problem == "empty_class":
        for f in (root / "up").iterdir():
            f.unlink()
    elif problem == "no_noise":
        shutil.rmtree(root / "_background_noise_")
    elif problem == "corrupt":
        (root / "yes" / "deadbeef_nohash_0.wav").write_bytes(b"RIFF\x00\x00garbage")
    elif problem == "rate":
        sf.write(str(root / "no" / "abcdabcd_nohash_0.wav"), np.zeros(8000, np.int16), 8000)
    elif problem == "stereo":
        sf.write(str(root / "no" / "abcdabcd_nohash_0.wav"), np.zeros((16000, 2), np.int16),
                 16000)
    elif problem == "missing_word":
        words = ("yes", "marvin")
    cfg = DataConfig(root=str(root), words=words, cache_dir=str(tmp_path / "c"),
                     val_pct=0, test_pct=0)
    with pytest.raises(KwspotError, match=match) as info:
        load_dataset(cfg, verbose=False)
    assert "\n" not in str(info.value)


def test_resample_option_converts(tmp_path: Path) -> None:
    root = make_tone_dataset(tmp_path / "d", speakers=3, per_speaker=1)
    sf.write(str(root / "no" / "abcdabcd_nohash_0.wav"), np.ones((4000, 2), np.int16) * 100,
             8000)  # 0.5 s of stereo at 8 kHz
    data = load_dataset(DataConfig(root=str(root), words=("yes", "no", "up"), resample=True,
                                   val_pct=0, test_pct=0, cache_dir=str(tmp_path / "c")),
                        verbose=False)
    tr = data.splits["training"]
    i = tr.sources.index("no/abcdabcd_nohash_0.wav")
    assert abs(int(tr.waves[i][4000]) - 100) <= 2  # mono, 16 kHz: 8000 samples of signal
    assert (tr.waves[i][8000:] == 0).all()  # then zero padding to 1 s


# --- inspecting and evaluating what training could not use ----------------------------------

def test_inspect_without_noise_reports_and_lists_what_training_needs(tone_data: Path,
                                                                     tmp_path: Path) -> None:
    from kwspot.data.inspect import inspect_dataset

    shutil.rmtree(tone_data / "_background_noise_")
    cfg = DataConfig(root=str(tone_data), words=("yes", "no", "up"), cache_dir=str(tmp_path))
    with pytest.raises(KwspotError, match="no background noise files"):
        load_dataset(cfg)  # training still refuses
    report = inspect_dataset(cfg)
    assert "speech_commands layout, 120 clips in 5 folder(s)" in report
    rows = {ln.split()[0]: ln.split()[1:] for ln in report.splitlines() if ln.strip()}
    assert rows["silence"] == ["0", "0", "0"] and int(rows["yes"][0]) > 0
    assert report.endswith(f"training on this folder would need:\n  {tone_data}: no background "
                           f"noise files (looked in {tone_data / '_background_noise_'}); give "
                           "noise_dir or set silence_share to 0")


def test_inspect_the_real_raw_sample_without_noise(shared_data: Path, capsys) -> None:
    from kwspot.cli import main

    assert main(["data", "inspect", str(shared_data / "sc_v1_sample")]) == 0
    out = capsys.readouterr().out
    assert "speech_commands layout, 125 clips in 30 folder(s)" in out
    assert "training on this folder would need:" in out and "no background noise" in out
    assert "give --noise-dir or set --silence-share to 0" in out  # the flags, on the CLI


def test_loading_for_evaluation_allows_an_empty_training_split(tone_data: Path,
                                                               tmp_path: Path) -> None:
    cfg = DataConfig(root=str(tone_data), words=("yes", "no", "up"), val_pct=0, test_pct=100,
                     cache_dir=str(tmp_path))
    with pytest.raises(KwspotError, match="the training split is empty"):
        load_dataset(cfg)
    data = load_dataset(cfg, for_training=False)
    assert len(data.splits["training"]) == 0 and len(data.splits["testing"]) > 0
    assert [str(n) for n in data.training_needs] == [
        f"{data.layout.root}: the training split is empty"]
    whole = data.whole()
    assert whole.name == "all" and len(whole) == sum(len(d) for d in data.splits.values())


def test_a_file_name_that_is_not_utf8_is_loaded_and_split(tone_data: Path,
                                                          tmp_path: Path) -> None:
    import os

    from kwspot.data.splits import which_set

    first = sorted((tone_data / "yes").iterdir())[0]
    raw = os.fsencode(first.parent) + b"/caf\xe9_nohash_0.wav"
    os.rename(first, raw)
    cfg = DataConfig(root=str(tone_data), words=("yes", "no", "up"), unknown_share=0,
                     cache_dir=str(tmp_path))
    data = load_dataset(cfg)
    sources = [s for d in data.splits.values() for s in d.sources]
    name = os.fsdecode(raw).rsplit("/", 1)[1]
    assert f"yes/{name}" in sources
    assert which_set(name) in ("training", "validation", "testing")


def test_train_with_a_file_name_that_is_not_utf8(tmp_path: Path, capsys) -> None:
    import os

    from kwspot.cli import main

    tone_data = make_tone_dataset(tmp_path / "tones", speakers=10, per_speaker=1)
    first = sorted((tone_data / "no").iterdir())[0]
    os.rename(first, os.fsencode(first.parent) + b"/\xff\xfe_nohash_0.wav")
    rc = main(["train", "--data", str(tone_data), "--words", "yes,no,up", "--val-pct", "40",
               "--test-pct", "0", "--model", "bcresnet1", "--iters", "2", "--batch-size", "8",
               "--log-every", "1", "--out", str(tmp_path / "run"),
               "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "run" / "best.pt").is_file()
