"""kwspot train: learning, the seed-style log, checkpoints, exact resume, refusals."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kwspot.checkpoint import load_checkpoint
from kwspot.cli import main
from kwspot.config import TrainConfig
from kwspot.errors import KwspotError
from kwspot.train import lr_at, train
from kwspot.train.report import Quiet
from kwspot.trainlog import read_metrics

ROW = re.compile(r"^\d\.\d{4} +\d+\.\d{3} k +\d+\.\d{2} +\d+\.\d{2} \| \d\.\d{4} \d\.\d{4} \| "
                 r"\d\.\d{4} \d\.\d{4} \| \d\.\d{4} \d\.\d{4} \| \d+ hr \d\d min$")


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data=str(data), words=("yes", "no", "up"), model="vggnet1", iters=60,
                batch_size=16, lr=0.05, log_every=20, val_pct=25, test_pct=0, out=str(out),
                device="cpu")
    return TrainConfig.resolve({**base, **kw})


class Lines(Quiet):
    """A training report that keeps the log lines and notes."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.notes: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)

    def note(self, text: str) -> None:
        self.notes.append(text)


def test_short_run_learns_and_logs(tone_data: Path, tmp_path: Path, capsys) -> None:
    report = Lines()
    result = train(_cfg(tone_data, tmp_path / "run"), report=report)
    assert result.best_acc > 0.6  # 5 classes: chance is 0.2
    text = (tmp_path / "run" / "log.txt").read_text()
    rows = [ln for ln in text.splitlines() if ROW.match(ln)]
    assert len(rows) == 4  # iterations 0, 20, 40, 60
    assert "rate     iter_k    epoch   num_m | valid_loss/acc" in text
    metrics = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [m["iter"] for m in metrics] == [0, 20, 40, 60]
    assert metrics[-1]["train_loss"] < metrics[1]["train_loss"]
    assert sum("| 0 hr" in ln for ln in report.lines) == 4  # the same rows, reported
    out, err = capsys.readouterr()  # the library prints nothing (notes go to logging)
    assert out == "" and "| 0 hr" not in err and "best valid_acc" not in err
    assert "best valid_acc" in report.notes[-1]
    ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ckpt.resume is None  # best.pt: what inference needs, no training state
    assert ckpt.iteration == ckpt.best_iter and ckpt.config["model"] == "vggnet1"
    assert (ckpt.sample_rate, ckpt.clip_samples) == (16000, 16000)
    assert ckpt.labels == ["yes", "no", "up", "silence", "unknown"]
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    for key in ("train_weights", "optimizer", "rng", "elapsed_s", "interval"):
        assert key in last.resume
    net = ckpt.build_net()
    assert net(torch.zeros(2, 16000)).shape == (2, 5)
    assert not list((tmp_path / "run").glob(".*tmp"))  # no temp files left behind


def test_same_seed_same_run(tone_data: Path, tmp_path: Path) -> None:
    a = train(_cfg(tone_data, tmp_path / "a", iters=20, log_every=10))
    b = train(_cfg(tone_data, tmp_path / "b", iters=20, log_every=10))
    train(_cfg(tone_data, tmp_path / "c", iters=20, log_every=10, seed=1))
    ma, mb, mc = (read_metrics(tmp_path / n / "metrics.jsonl") for n in "abc")
    assert [m["train_loss"] for m in ma] == [m["train_loss"] for m in mb]
    assert [m["train_loss"] for m in ma] != [m["train_loss"] for m in mc]
    assert a.best_acc == b.best_acc
    wa, wb, wc = (load_checkpoint(tmp_path / n / "last.pt").weights for n in "abc")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # the same seed: the same weights
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)  # another seed: other weights


def _default_sigint() -> None:
    # A test suite started in the background of a shell inherits an ignored SIGINT, which
    # Python then keeps ignored: give the run a user's Ctrl-C back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kwspot", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def test_killed_run_resumes_exactly(tone_data: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    common = ["train", "--data", str(tone_data), "--words", "yes,no,up", "--model", "vggnet1",
              "--iters", "40", "--batch-size", "16", "--lr", "0.05", "--log-every", "5",
              "--val-pct", "25", "--test-pct", "0", "--device", "cpu"]
    full = _run_cli([*common, "--out", str(tmp_path / "full")], env)
    killed = _run_cli([*common, "--out", str(tmp_path / "killed")], env)
    metrics = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert full.wait(timeout=300) == 0, full.stderr.read()
    last = load_checkpoint(tmp_path / "killed" / "last.pt").iteration
    assert 0 < last < 40, "the run should have been killed mid-way"
    resumed = _run_cli(["train", "--resume", str(tmp_path / "killed")], env)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    a = read_metrics(tmp_path / "full" / "metrics.jsonl")
    b = read_metrics(tmp_path / "killed" / "metrics.jsonl")
    assert [r["iter"] for r in a] == [r["iter"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        for key in ("valid_loss", "valid_acc", "train_loss", "train_acc", "batch_loss", "lr"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-5, abs=1e-6), (ra["iter"], key)


def test_interrupt_keeps_a_checkpoint(tone_data: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = _run_cli(["train", "--data", str(tone_data), "--words", "yes,no,up", "--model",
                     "vggnet1", "--iters", "100000", "--batch-size", "16", "--log-every", "1000",
                     "--val-pct", "25", "--test-pct", "0", "--out", str(tmp_path / "r")], env)
    log = tmp_path / "r" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and log.read_text()):
        time.sleep(0.05)
    time.sleep(1.0)  # let it train some iterations past the first row
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert "interrupted at iteration" in proc.stderr.read()
    assert load_checkpoint(tmp_path / "r" / "last.pt").iteration > 0


def test_resume_refuses_another_model_or_labels(tone_data: Path, tmp_path: Path, capsys) -> None:
    train(_cfg(tone_data, tmp_path / "run", iters=5, log_every=5))
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run"), "--model", "seresnet3"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint is for model 'vggnet1', not 'seresnet3'" in err and err.count("\n") == 1
    assert main(["train", "--resume", str(tmp_path / "run"), "--words", "yes,no"]) == 2
    assert "differ from --words" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "run"), "--lr", "0.5", "--sync-bn"]) == 2
    assert f"cannot change --lr, --sync-bn when resuming {tmp_path / 'run'}" in (
        capsys.readouterr().err)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(KwspotError, match="not a readable checkpoint"):
        load_checkpoint(bad)
    torch.save({"weights": 1}, bad)
    with pytest.raises(KwspotError, match="not a kwspot checkpoint"):
        load_checkpoint(bad)


def test_schedules() -> None:
    cfg = TrainConfig(iters=100, lr=0.1, warmup_iters=10)
    assert lr_at(cfg, 0) == pytest.approx(0.01) and lr_at(cfg, 9) == pytest.approx(0.1)
    assert lr_at(cfg, 99) < 0.001
    step = TrainConfig(iters=100, lr=0.1, schedule="step")
    assert [round(lr_at(step, i), 6) for i in (0, 60, 80)] == [0.1, 0.01, 0.001]
    assert lr_at(TrainConfig(iters=100, lr=0.1, schedule="constant"), 77) == 0.1


def test_config_rejects_unknown_and_bad_values() -> None:
    with pytest.raises(KwspotError, match="unknown training option"):
        TrainConfig.resolve({"learning_rate": 0.1})
    with pytest.raises(KwspotError, match="optimizer: must be sgd or adamw"):
        TrainConfig.resolve({"optimizer": "lion"})


def test_recipe_options_run(tone_data: Path, tmp_path: Path) -> None:
    res = train(_cfg(tone_data, tmp_path / "r", model="bcresnet1", iters=6, log_every=3,
                     optimizer="adamw", lr=1e-3, warmup_iters=2, mixup=0.3, label_smoothing=0.1,
                     ema=0.9, spec_time_masks=2, spec_freq_masks=2, gain_db=3, speed=0.1,
                     feature_norm=True))
    ckpt = load_checkpoint(tmp_path / "r" / "last.pt")
    assert ckpt.resume["ema"] is not None and res.last.iter == 6
    assert json.dumps(ckpt.config)  # config is plain data


def test_unwritable_run_folder_is_one_line(tone_data: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(KwspotError, match="cannot write the run folder"):
        train(_cfg(tone_data, blocker / "run", iters=1, log_every=1))


def test_recipes_scale_with_data_size_and_iters() -> None:
    from kwspot.models import get_spec

    rec = get_spec("bcresnet1").recommended  # 200 epochs, 5 of them warm-up
    cfg = TrainConfig.resolve({"iters": 1000}, rec).sized(36_923)
    assert (cfg.iters, cfg.warmup_iters) == (1000, 25)  # warm-up: a small share of the run
    full = TrainConfig.resolve({}, rec).sized(36_923)
    assert full.iters == round(200 * 36_923 / 256) and full.warmup_iters == round(full.iters / 40)
    small = TrainConfig.resolve({"batch_size": 16}, rec).sized(72)
    assert (small.iters, small.warmup_iters) == (900, 22)
    own = TrainConfig.resolve({"epochs": 2, "warmup_iters": 3}, rec).sized(100)
    assert (own.iters, own.warmup_iters, own.epochs, own.warmup) == (1, 3, 0.0, 0.0)


def test_init_starts_from_another_runs_weights(tone_data: Path, tmp_path: Path,
                                               capsys) -> None:
    first = train(_cfg(tone_data, tmp_path / "a", iters=40, log_every=20))
    train(_cfg(tone_data, tmp_path / "b", iters=20, log_every=20,
               init=str(tmp_path / "a")))
    rows = read_metrics(tmp_path / "b" / "metrics.jsonl")
    assert rows[0]["iter"] == 0 and rows[0]["valid_acc"] == pytest.approx(first.best_acc)
    fresh = read_metrics(tmp_path / "a" / "metrics.jsonl")[0]["valid_acc"]
    assert rows[0]["valid_acc"] > fresh  # not where a new run starts
    capsys.readouterr()  # what the runs above logged
    assert main(["train", "--data", str(tone_data), "--words", "yes,no,up", "--model",
                 "dscnn_s", "--iters", "1", "--batch-size", "16", "--val-pct", "25",
                 "--test-pct", "0", "--out", str(tmp_path / "c"), "--device", "cpu",
                 "--init", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "checkpoint is for model 'vggnet1', not 'dscnn_s'" in err and err.count("\n") == 1
    with pytest.raises(KwspotError, match="trained on the mfcc front-end, this run uses mel"):
        train(_cfg(tone_data, tmp_path / "d", iters=1, features="mel",
                   init=str(tmp_path / "a")))
