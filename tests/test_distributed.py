"""DistributedDataParallel training: ``torchrun`` with 2 CPU processes (gloo).

The launched runs train on a generated dataset of tones, so these tests never skip, and a few
iterations visibly lower the loss (on the real ``sc_v2_test_part`` clips 16 iterations learn
nothing measurable). ``$KWSPOT_DEBUG_SHARDS`` makes every rank record the indices it trained
on and a digest of its final weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import make_tone_dataset

from kwspot.checkpoint import load_checkpoint
from kwspot.config import TrainConfig
from kwspot.data.dataset import DataConfig, load_dataset
from kwspot.distributed import DEBUG_SHARDS_ENV, DistInfo, state_digest
from kwspot.errors import KwspotError
from kwspot.train import evaluate_split, lr_at, train
from kwspot.train.batches import IndexSampler
from kwspot.train.loop import _train
from kwspot.train.report import Quiet
from kwspot.trainlog import HEADER, read_metrics

TIMEOUT_S = 240  # a hung collective fails the test instead of blocking CI


def _torchrun(args: list[str], nproc: int = 2, ok: bool = True, **env: str
              ) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node N -m kwspot train ARGS`` on the CPU."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "kwspot", "train", *args]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    done = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=TIMEOUT_S)
    if ok:
        assert done.returncode == 0, f"torchrun failed ({done.returncode}):\n{done.stderr[-6000:]}"
    return done


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Data flags for a generated dataset of learnable tones (always available)."""
    root = make_tone_dataset(tmp_path_factory.mktemp("dist") / "tones", speakers=16)
    # decode once here rather than in every rank (the cache is keyed by the chosen clips)
    load_dataset(DataConfig(root=str(root), words=("yes", "no", "up"), val_pct=20, test_pct=20),
                 verbose=False)
    return ["--data", str(root), "--words", "yes,no,up", "--val-pct", "20", "--test-pct", "20"]


def _in_process_cfg(args: list[str], out: Path) -> TrainConfig:
    """The TrainConfig `kwspot train ARGS --out OUT` resolves to (for in-process runs)."""
    from kwspot.cli import build_parser
    from kwspot.cli.common import given
    from kwspot.models import get_spec

    ns = build_parser().parse_args(["train", *args, "--out", str(out)])
    explicit = given(ns, [n for n in TrainConfig.__dataclass_fields__ if n in vars(ns)])
    return TrainConfig.resolve(explicit, get_spec(explicit["model"]).recommended)


# --- the batch sharding, in process --------------------------------------------------------

@pytest.mark.parametrize("world", [2, 4])
def test_batches_split_each_global_batch_into_disjoint_shares(world: int) -> None:
    n, batch, seed = 103, 16, 7
    one = IndexSampler(n, batch, seed, DistInfo())
    ranks = [IndexSampler(n, batch, seed, DistInfo(r, world, r)) for r in range(world)]
    seen: list[int] = []
    for it in range(3 * one.per_epoch + 2):  # crosses epoch boundaries
        glob = one.indices(it)
        shares = [b.indices(it) for b in ranks]
        assert all(len(s) == batch // world for s in shares)
        assert sorted(torch.cat(shares).tolist()) == sorted(glob.tolist())  # union, disjoint
        for r, s in enumerate(shares):
            assert torch.equal(s, glob[r::world])
        if it < one.per_epoch:
            seen += glob.tolist()
    assert len(set(seen)) == len(seen) == one.per_epoch * batch  # no repeat within an epoch
    assert not torch.equal(one.indices(0), one.indices(one.per_epoch))  # reshuffled per epoch


def test_batches_reject_a_global_batch_the_processes_cannot_share() -> None:
    with pytest.raises(KwspotError, match=r"batch_size: 30 must be divisible .*\(4\)"):
        IndexSampler(100, 30, 0, DistInfo(1, 4, 1))


def test_sync_bn_on_cpu_is_a_user_error(tmp_path: Path) -> None:
    cfg = TrainConfig(data=str(tmp_path), model="vggnet1", device="cpu", sync_bn=True,
                      out=str(tmp_path / "run"))
    with pytest.raises(KwspotError, match="sync_bn: .*GPUs only"):
        _train(cfg, False, False, Quiet(), DistInfo(0, 2, 0))  # refused before data, collectives


# --- two processes under torchrun ----------------------------------------------------------

def test_torchrun_two_processes(tones: list[str], tmp_path: Path) -> None:
    out, dbg = tmp_path / "run", tmp_path / "shards"
    iters, batch = 16, 32
    args = [*tones, "--model", "vggnet1", "--iters", str(iters), "--log-every", "8",
            "--batch-size", str(batch), "--lr", "0.05", "--device", "cpu"]
    done = _torchrun([*args, "--out", str(out)], **{DEBUG_SHARDS_ENV: str(dbg)})

    # one writer: one log, one checkpoint set, the log printed once
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "config.json", "last.pt",
                                                     "log.txt", "metrics.jsonl"]
    assert done.stdout.count(HEADER) == 1
    log = (out / "log.txt").read_text()
    assert log.count(HEADER) == 1 and "x 2 processes" in log
    rows = read_metrics(out / "metrics.jsonl")
    assert [r["iter"] for r in rows] == [0, 8, 16]

    # the same run, rebuilt in process: data, split, the rank-0 checkpoint
    ckpt = load_checkpoint(out / "last.pt")
    cfg = TrainConfig.resolve(ckpt.config)
    data = load_dataset(cfg.data_config(), verbose=False)
    n_train, val = len(data.splits["training"]), data.splits["validation"]

    # the recipe follows the global batch: clips per step and learning rate as in 1 process
    assert rows[-1]["epoch"] == pytest.approx(iters * batch / n_train)
    assert rows[-1]["lr"] == pytest.approx(lr_at(cfg, iters - 1))

    # each rank trained on its own half of every global batch
    recs = [json.loads((dbg / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["world_size"]) for r in recs] == [(0, 2), (1, 2)]
    one = IndexSampler(n_train, batch, cfg.seed, DistInfo())
    for it in range(iters):
        glob = one.indices(it).tolist()
        a, b = recs[0]["steps"][str(it)], recs[1]["steps"][str(it)]
        assert len(a) == len(b) == batch // 2 and not set(a) & set(b)
        assert a == glob[0::2] and b == glob[1::2]

    # both ranks end with the same weights (BatchNorm statistics included): rank 0's checkpoint
    assert recs[0]["state_digest"] == recs[1]["state_digest"]
    assert recs[0]["state_digest"] == state_digest(ckpt.resume["train_weights"])

    # the printed validation (sharded, summed over ranks) equals one process on those weights
    net = ckpt.build_net()
    v_loss, v_acc = evaluate_split(net, torch.from_numpy(val.waves.copy()),
                                   torch.from_numpy(val.labels), 512)
    assert rows[-1]["valid_acc"] == pytest.approx(v_acc, abs=1e-9)
    assert rows[-1]["valid_loss"] == pytest.approx(v_loss, abs=1e-5)

    # it learns: the training loss (averaged over ranks) goes down
    assert rows[-1]["train_loss"] < rows[1]["train_loss"]


def test_two_processes_resume_and_match_one_process(tones: list[str], tmp_path: Path) -> None:
    """No BatchNorm (kwt1), no augmentation: a 2-process update equals the 1-process update.

    A 1-process run stops at iteration 3, 2 processes resume it to 6; that must match an
    uninterrupted 1-process run of 6 iterations (the permutation, optimizer state and step
    position carry over, and DDP's gradient average equals the full-batch gradient).
    """
    args = [*tones, "--model", "kwt1", "--batch-size", "8", "--log-every", "3",
            "--optimizer", "sgd", "--lr", "0.1", "--warmup-iters", "0", "--schedule", "constant",
            "--shift-ms", "0", "--noise-prob", "0", "--spec-time-masks", "0",
            "--spec-freq-masks", "0", "--device", "cpu"]
    resumed, whole = tmp_path / "resumed", tmp_path / "whole"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the torchrun processes
    try:
        train(_in_process_cfg([*args, "--iters", "3"], resumed))
        first = load_checkpoint(resumed / "last.pt").resume["train_weights"]
        _torchrun(["--resume", str(resumed), "--iters", "6"])
        train(_in_process_cfg([*args, "--iters", "6"], whole))
    finally:
        torch.set_num_threads(threads)

    a = load_checkpoint(resumed / "last.pt")
    b = load_checkpoint(whole / "last.pt")
    assert a.iteration == b.iteration == 6
    moved = max((a.resume["train_weights"][k] - first[k]).abs().max().item() for k in first)
    assert moved > 1e-3  # the resumed steps changed the weights by far more than the tolerance
    for k, t in b.resume["train_weights"].items():
        torch.testing.assert_close(a.resume["train_weights"][k], t, atol=2e-6, rtol=1e-5)
    rows_a, rows_b = read_metrics(resumed / "metrics.jsonl"), read_metrics(whole / "metrics.jsonl")
    assert [r["iter"] for r in rows_a] == [r["iter"] for r in rows_b] == [0, 3, 6]
    for ra, rb in zip(rows_a, rows_b, strict=True):
        for key in ("lr", "epoch", "train_loss", "valid_loss", "valid_acc"):
            assert ra[key] == pytest.approx(rb[key], abs=1e-5), (ra["iter"], key)


def test_a_user_error_stops_every_process_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-data"
    done = _torchrun(["--data", str(missing), "--model", "vggnet1", "--device", "cpu",
                      "--out", str(tmp_path / "run")], ok=False)
    assert done.returncode != 0
    assert f"kwspot: error: {missing}: no such folder" in done.stderr
    assert "kwspot: error: another process could not load the data" in done.stderr
    assert "[rank1]: Traceback" not in done.stderr and "[rank0]: Traceback" not in done.stderr
