"""The checkpoint format: plain values only, migrations, refusal of anything that runs code."""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from conftest import make_tone_dataset

from kwspot.checkpoint import VERSION, Checkpoint, load_checkpoint, remove_stale_tmp
from kwspot.cli import main
from kwspot.config import TrainConfig
from kwspot.errors import KwspotError
from kwspot.train import train
from kwspot.trainlog import read_metrics

FIXTURE = Path(__file__).parent / "fixtures" / "v1_run"


@pytest.fixture
def v1_run(tmp_path: Path) -> Path:
    """The version-1 run of tests/fixtures/v1_run (see its README) and its tone data."""
    run = tmp_path / "run"
    run.mkdir()
    with gzip.open(FIXTURE / "last.pt.gz", "rb") as f:
        (run / "last.pt").write_bytes(f.read())
    for name in ("log.txt", "metrics.jsonl"):
        shutil.copy(FIXTURE / name, run / name)
    make_tone_dataset(tmp_path / "tones")
    return run


def test_version_1_run_migrates_evaluates_and_resumes(v1_run: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(v1_run / "last.pt")
    assert (ckpt.model, ckpt.iteration, ckpt.best_iter) == ("bcresnet1", 6, 3)
    assert (ckpt.sample_rate, ckpt.clip_samples) == (16000, 16000)
    assert ckpt.resume is not None and ckpt.resume["ema"] is not None
    net = ckpt.build_net()
    assert net(torch.zeros(2, 16000)).shape == (2, 5)
    # resumes exactly where it stopped (the figures today's code gave on this run, see README)
    cfg = TrainConfig.resolve({**ckpt.config, "data": str(tmp_path / "tones"), "iters": 9,
                               "out": str(v1_run), "threads": 1})
    train(cfg, resume=True)
    row = read_metrics(v1_run / "metrics.jsonl")[-1]
    assert row["iter"] == 9
    # The validation loss pins the resumed weights; the training loss (a mean over the
    # interval's batches) came out 2.6e-4 apart on another x86 CPU (AVX2, no AVX-512).
    assert row["train_loss"] == pytest.approx(1.4710060755411785, abs=1e-3)
    assert row["valid_loss"] == pytest.approx(1.5575368063790458, abs=1e-5)
    assert load_checkpoint(v1_run / "last.pt").to_dict()["version"] == VERSION


def test_saved_fields_are_plain_and_round_trip(tmp_path: Path) -> None:
    ckpt = Checkpoint(model="bcresnet1", labels=["a", "b"], frontend={"kind": "embedding",
                      "layers": [1, 2], "name": "x"}, weights={"w": torch.ones(2)},
                      operating_point={"thresholds": {"a": 0.7}, "smooth_ms": 200.0},
                      config={"words": ("a",)})
    ckpt.save(tmp_path / "c.pt")
    back = load_checkpoint(tmp_path / "c.pt")
    assert back.operating_point == {"thresholds": {"a": 0.7}, "smooth_ms": 200.0}
    assert back.frontend["layers"] == [1, 2] and back.config == {"words": ["a"]}
    assert torch.equal(back.weights["w"], torch.ones(2))
    with pytest.raises(TypeError, match="not a plain value"):
        Checkpoint("m", [], {"f": object()}, {}).save(tmp_path / "d.pt")


class _Payload:
    """Unpickling this calls os.system, which writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crafted(tmp_path: Path, hidden: bool) -> Path:
    marker = tmp_path / "pwned"
    if hidden:  # an otherwise valid checkpoint dict with the payload in one field
        ckpt = Checkpoint(model="bcresnet1", labels=["yes", "no", "silence", "unknown"],
                          frontend={"kind": "mel"}, weights={}).to_dict()
        ckpt["row"] = {"note": _Payload(marker)}
        obj = ckpt
    else:
        obj = _Payload(marker)
    run = tmp_path / ("hidden" if hidden else "alone")
    run.mkdir()
    torch.save(obj, run / "last.pt")  # a .pt file as torch writes them
    with open(run / "raw.pt", "wb") as f:  # and a bare pickle
        pickle.dump(obj, f, protocol=2)
    shutil.copy(run / "last.pt", run / "best.pt")
    return run


@pytest.mark.parametrize("hidden", [False, True])
def test_crafted_pickle_runs_nothing(hidden: bool, tmp_path: Path, capsys) -> None:
    run = _crafted(tmp_path, hidden)
    marker = tmp_path / "pwned"
    data = make_tone_dataset(tmp_path / "tones", speakers=4, per_speaker=1)
    wav = str(next((data / "yes").glob("*.wav")))
    commands = [
        ["evaluate", "--checkpoint", str(run / "best.pt"), "--data", str(data)],
        ["predict", "--checkpoint", str(run / "best.pt"), wav],
        ["export", "--checkpoint", str(run / "best.pt"), "--out", str(tmp_path / "m.onnx")],
        ["detect", "--model", str(run / "best.pt"), wav],
        ["train", "--resume", str(run)],
        ["predict", "--checkpoint", str(run / "raw.pt"), wav],
    ]
    for args in commands:
        capsys.readouterr()
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "refused: a pickled posix.system" in err, err
        assert "nothing in it was run" in err and not marker.exists(), args


def test_checkpoint_problems_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "last.pt"
    Checkpoint("bcresnet1", ["a"], {}, {}).save(bad)
    d = torch.load(bad, weights_only=True)
    del d["weights"]
    torch.save(d, bad)
    with pytest.raises(KwspotError, match="missing weights"):
        load_checkpoint(bad)
    torch.save({**d, "version": VERSION + 1, "weights": {}}, bad)
    with pytest.raises(KwspotError, match="newer than this kwspot"):
        load_checkpoint(bad)


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / f".last.pt.{2**22 + 12345}.tmp"  # above any pid_max: never alive
    mine = tmp_path / f".last.pt.{os.getpid()}.tmp"
    dead.write_bytes(b"half")
    mine.write_bytes(b"in progress")
    assert remove_stale_tmp(tmp_path) == [dead]
    assert mine.exists() and not dead.exists()
