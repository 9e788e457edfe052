"""Runs are never lost: existing runs, kills at any moment, disk full, bad resume state, and
bad settings are one line (issue 12)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
import torch

from kwspot import tensorfile
from kwspot.checkpoint import Checkpoint, load_checkpoint
from kwspot.cli import main
from kwspot.config import TrainConfig
from kwspot.errors import KwspotError
from kwspot.train import train


def _args(data: Path, out: Path, iters: int = 4) -> list[str]:
    return ["train", "--data", str(data), "--words", "yes,no,up", "--model", "vggnet1",
            "--iters", str(iters), "--batch-size", "16", "--lr", "0.05", "--log-every", "2",
            "--val-pct", "25", "--test-pct", "0", "--device", "cpu", "--threads", "1",
            "--out", str(out)]


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data=str(data), words=("yes", "no", "up"), model="vggnet1", iters=20,
                batch_size=16, lr=0.05, log_every=5, val_pct=25, test_pct=0, out=str(out),
                device="cpu", threads=1)
    return TrainConfig.resolve({**base, **kw})


def _one_line(capsys) -> str:
    """The one error line on stderr (progress notes such as "decoded N clips" may precede)."""
    err = capsys.readouterr().err.strip()
    errors = [ln for ln in err.splitlines() if ln.startswith("kwspot: error:")]
    assert len(errors) == 1 and err.endswith(errors[0]) and "Traceback" not in err, err
    return errors[0]


def test_existing_run_is_refused_unless_resume_or_overwrite(tone_data: Path, tmp_path: Path,
                                                           capsys) -> None:
    run = tmp_path / "run"
    assert main(_args(tone_data, run)) == 0
    before = load_checkpoint(run / "last.pt").to_dict()["weights"]
    capsys.readouterr()
    assert main(_args(tone_data, run)) == 2
    err = _one_line(capsys)
    assert "already holds a run" in err and "--overwrite" in err and "--resume" in err
    after = load_checkpoint(run / "last.pt").to_dict()["weights"]
    assert all(torch.equal(before[k], after[k]) for k in before)  # untouched
    assert main([*_args(tone_data, run), "--seed", "3", "--overwrite"]) == 0
    assert load_checkpoint(run / "last.pt").config["seed"] == 3


def test_resume_with_nothing_saved_starts_the_run(tone_data: Path, tmp_path: Path,
                                                  capsys) -> None:
    run = tmp_path / "run"
    assert main(_args(tone_data, run)) == 0
    for name in ("last.pt", "best.pt", "metrics.jsonl"):  # as if killed before a checkpoint
        (run / name).unlink()
    stale = run / ".last.pt.4194999.tmp"  # a dead writer's half-written file
    stale.write_bytes(b"half")
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    assert "nothing was saved yet; starting the run" in capsys.readouterr().err
    assert load_checkpoint(run / "last.pt").iteration == 4 and not stale.exists()
    empty = tmp_path / "empty"
    assert main(["train", "--resume", str(empty)]) == 2
    assert "nothing was saved there to resume" in _one_line(capsys)


class _Killed(BaseException):
    """Stands for a kill -9 in the middle of writing a file."""


def test_kill_while_best_is_written_keeps_the_best_after_resume(
        tone_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = train(_cfg(tone_data, tmp_path / "whole"))
    assert whole.best_iter >= 10  # improves more than once
    save = Checkpoint.save

    def dying_save(self: Checkpoint, path: Path | str) -> None:
        if Path(path).name == "best.pt" and self.iteration == whole.best_iter:
            Path(path).with_name(".best.pt.4194999.tmp").write_bytes(b"half")
            raise _Killed
        save(self, path)

    monkeypatch.setattr(Checkpoint, "save", dying_save)
    with pytest.raises(_Killed):
        train(_cfg(tone_data, tmp_path / "killed"))
    monkeypatch.setattr(Checkpoint, "save", save)
    train(_cfg(tone_data, tmp_path / "killed"), resume=True)
    best = load_checkpoint(tmp_path / "killed" / "best.pt")
    last = load_checkpoint(tmp_path / "killed" / "last.pt")
    assert best.iteration == last.best_iter == whole.best_iter
    assert not list((tmp_path / "killed").glob(".*.tmp"))


def test_disk_full_is_one_line_and_keeps_the_last_checkpoint(
        tone_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    real_save = torch.save
    calls = {"n": 0}

    def full_disk(obj, f) -> None:
        calls["n"] += 1
        if calls["n"] > 3:  # iteration 0 (last), 2 (best, last): then the disk is full
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, f)

    monkeypatch.setattr(tensorfile.torch, "save", full_disk)
    run = tmp_path / "run"
    assert main(_args(tone_data, run, iters=6)) == 2
    err = _one_line(capsys)
    assert "No space left on device" in err and "kept" in err
    monkeypatch.setattr(tensorfile.torch, "save", real_save)
    assert load_checkpoint(run / "last.pt").iteration == 2  # the last complete one
    assert not list(run.glob(".*.tmp"))


def test_bad_resume_state_is_one_line(tone_data: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert main(_args(tone_data, run)) == 0
    good = load_checkpoint(run / "last.pt")
    d = good.to_dict()
    name = next(k for k, t in d["resume"]["train_weights"].items() if t.dim() == 4)
    d["resume"]["train_weights"][name] = torch.zeros(3, 3)
    torch.save(d, run / "last.pt")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--iters", "6"]) == 2
    assert "weights do not fit model 'vggnet1'" in _one_line(capsys)
    d = good.to_dict()
    del d["resume"]["optimizer"]
    torch.save(d, run / "last.pt")
    assert main(["train", "--resume", str(run), "--iters", "6"]) == 2
    assert "resume state lacks optimizer" in _one_line(capsys)
    d = good.to_dict()
    del d["labels"]
    torch.save(d, run / "last.pt")
    assert main(["train", "--resume", str(run), "--iters", "6"]) == 2
    assert "checkpoint is missing labels" in _one_line(capsys)


@pytest.mark.parametrize(("flags", "says"), [
    (["--threads", "-1"], "--threads: must be 0"),
    (["--device", "tpu"], "--device: 'tpu' is not a device"),
    (["--words", "yes,silence"], "--words: silence cannot be a command word"),
    (["--words", "unknown"], "--words: unknown cannot be a command word"),
    (["--words", "yes,yes"], "--words: a word is listed twice"),
    (["--words", ","], "--words: the word list is empty"),
])
def test_bad_training_settings_are_one_line(flags: list[str], says: str, tone_data: Path,
                                            tmp_path: Path, capsys) -> None:
    assert main(["train", "--data", str(tone_data), "--out", str(tmp_path / "r"), *flags]) == 2
    assert says in _one_line(capsys)


def test_bad_runtime_settings_are_one_line(tone_data: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert main(_args(tone_data, run, iters=2)) == 0
    wav = str(next((tone_data / "yes").glob("*.wav")))
    cases = [(["predict", "--checkpoint", str(run), "--workers", "-2", wav], "--workers: must"),
             (["predict", "--checkpoint", str(run), "--threads", "-1", wav], "--threads: must"),
             (["predict", "--checkpoint", str(run), "--device", "tpu", wav], "--device: 'tpu'"),
             (["evaluate", "--checkpoint", str(run), "--device", "tpu"], "--device: 'tpu'")]
    for args, says in cases:
        capsys.readouterr()
        assert main(args) == 2, args
        assert says in _one_line(capsys), args


def test_config_json_records_the_settings(tone_data: Path, tmp_path: Path) -> None:
    train(_cfg(tone_data, tmp_path / "run", iters=2, log_every=2))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved == load_checkpoint(tmp_path / "run" / "last.pt").config
    with pytest.raises(KwspotError, match="already holds a run"):
        train(_cfg(tone_data, tmp_path / "run", iters=2, log_every=2))
