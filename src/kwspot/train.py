"""The training loop: reads top to bottom.

data (int16 clips on the device) → augment → front-end → [SpecAugment, mixup] → model →
cross-entropy → SGD/AdamW with warm-up + cosine/step/constant rate → every ``log_every``
iterations: validate, print one seed-style row, save ``last.pt`` / ``best.pt`` atomically.

Randomness is derived from ``(seed, rank, iteration)`` at every step (batch order from
``(seed, epoch)``), so ``--resume`` continues exactly as the uninterrupted run would have.
Under ``torchrun`` each rank takes its share of every global batch and gradients are averaged
by DistributedDataParallel; only rank 0 prints and writes files.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kwspot import models
from kwspot.checkpoint import check_compatible, load_checkpoint, save_atomic
from kwspot.config import TrainConfig
from kwspot.data.augment import WaveAugment, spec_augment
from kwspot.data.dataset import DataConfig, KwsData, load_dataset
from kwspot.distributed import (
    DistInfo,
    ShardRecorder,
    all_reduce_sum,
    broadcast_buffers,
    init_from_env,
    local_main_first,
    shutdown,
)
from kwspot.errors import KwspotError
from kwspot.features import int16_to_float
from kwspot.models.profile import count_params
from kwspot.network import KwsNet, build_net, frontend_for
from kwspot.trainlog import HEADER, LogRow, TrainLog


@dataclass(frozen=True)
class TrainResult:
    out: Path
    best_acc: float
    best_iter: int
    last: LogRow
    clips_per_s: float


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → the GPU when there is one (this rank's under torchrun), else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise KwspotError(f"--device {name}: no CUDA GPU is available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise KwspotError(f"--device {name!r} is not a device name (cpu, cuda, cuda:N)") from None


def lr_at(cfg: TrainConfig, it: int) -> float:
    """Learning rate for iteration ``it`` (0-based): linear warm-up, then the schedule."""
    if it < cfg.warmup_iters:
        return cfg.lr * (it + 1) / cfg.warmup_iters
    p = (it - cfg.warmup_iters) / max(1, cfg.iters - cfg.warmup_iters)
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * p))
    if cfg.schedule == "step":  # ×0.1 at 50% and again at 75% of the run
        return cfg.lr * 0.1 ** ((p >= 0.5) + (p >= 0.75))
    return cfg.lr


def _step_seed(seed: int, rank: int, it: int) -> int:
    return (seed * 1_000_003 + rank * 7_919 + it * 104_729) % (2**63 - 1)


class _Batches:
    """Global batches of training indices: a fresh permutation per epoch from ``(seed, epoch)``,
    last partial batch dropped; rank ``r`` of ``w`` takes every ``w``-th index of a batch."""

    def __init__(self, n: int, batch: int, seed: int, dist: DistInfo) -> None:
        if batch > n:
            raise KwspotError(f"--batch-size {batch} is larger than the training split ({n} clips)")
        if batch % dist.world_size:
            raise KwspotError(f"--batch-size {batch} must be divisible by the number of "
                              f"processes ({dist.world_size})")
        self.n, self.batch, self.seed, self.dist = n, batch, seed, dist
        self.per_epoch = n // batch
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def indices(self, it: int) -> Tensor:
        epoch, k = divmod(it, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 10_007 + epoch)
            self._perm, self._epoch = torch.randperm(self.n, generator=g), epoch
        batch = self._perm[k * self.batch:(k + 1) * self.batch]
        return batch[self.dist.rank::self.dist.world_size]


def _load_data(cfg: TrainConfig, verbose: bool) -> tuple[KwsData, np.ndarray, np.ndarray]:
    """The dataset, plus the training waves/labels with synthesized clips mixed in."""
    data = load_dataset(cfg.data_config(), verbose=verbose)
    tr = data.splits["training"]
    waves, labels = np.asarray(tr.waves), tr.labels
    if cfg.synth:
        syn = load_dataset(DataConfig(root=cfg.synth, words=cfg.words, cache_dir=cfg.cache_dir,
                                      seed=cfg.seed, silence_share=0.0), verbose=verbose)
        st = syn.splits["training"]
        n = min(len(st), int(round(cfg.synth_ratio * len(tr))))
        pick = np.random.default_rng(cfg.seed).choice(len(st), size=n, replace=False)
        waves = np.concatenate([waves, np.asarray(st.waves)[np.sort(pick)]])
        labels = np.concatenate([labels, st.labels[np.sort(pick)]])
    return data, waves, labels


@torch.no_grad()
def evaluate_split(net: nn.Module, waves: Tensor, labels: Tensor, batch: int,
                   dist: DistInfo | None = None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``net`` (eval mode) on int16 waves.

    Under torchrun every rank evaluates its share and the sums are reduced over ranks.
    """
    dist = dist or DistInfo()
    was_training = net.training
    net.eval()
    idx = torch.arange(dist.rank, len(labels), dist.world_size, device=labels.device)
    sums = torch.zeros(3, dtype=torch.float64, device=labels.device)
    for i in range(0, len(idx), batch):
        j = idx[i:i + batch]
        logits = net(int16_to_float(waves[j])).float()
        y = labels[j]
        sums[0] += F.cross_entropy(logits, y, reduction="sum").double()
        sums[1] += (logits.argmax(1) == y).sum()
        sums[2] += len(j)
    all_reduce_sum(sums, dist)
    net.train(was_training)
    n = max(1.0, sums[2].item())
    return sums[0].item() / n, sums[1].item() / n


def train(cfg: TrainConfig, *, resume: bool = False) -> TrainResult:
    """Run (or resume) one training run described by ``cfg``; see the module docstring."""
    device_kind = "cuda" if cfg.device.startswith("cuda") or (
        cfg.device == "auto" and torch.cuda.is_available()) else "cpu"
    dist = init_from_env(device_kind)
    clean = False
    try:
        result = _train(cfg, resume, dist)
        clean = True
        return result
    finally:
        shutdown(dist, clean=clean)


def _train(cfg: TrainConfig, resume: bool, dist: DistInfo) -> TrainResult:
    out = Path(cfg.out)
    device = pick_device(cfg.device, dist.local_rank)
    if dist.enabled and cfg.device.startswith("cuda:"):
        raise KwspotError(f"--device {cfg.device}: under torchrun each process takes the GPU of "
                          "its LOCAL_RANK; use --device cuda (pick GPUs with CUDA_VISIBLE_DEVICES)")
    if dist.enabled and cfg.sync_bn and device.type != "cuda":
        raise KwspotError("--sync-bn: torch's SyncBatchNorm runs on GPUs only; "
                          "leave it out when training on the CPU")
    ckpt: dict[str, Any] | None = None
    if resume:
        ckpt = load_checkpoint(out / "last.pt")
        check_compatible(ckpt, cfg.model, (*cfg.words, "silence", "unknown"))
    main = dist.is_main
    torch.manual_seed(cfg.seed)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)

    # --- data: decoded once, kept on the device as int16 ----------------------------------
    # (under torchrun one process per machine decodes, the others then read the cache)
    data, train_np, train_lab_np = local_main_first(lambda: _load_data(cfg, verbose=main), dist)
    labels = data.labels
    val = data.splits["validation"]
    if len(val) == 0:
        raise KwspotError(f"{cfg.data}: the validation split is empty (raise --val-pct)")
    train_waves = torch.from_numpy(np.array(train_np)).to(device)  # a writable copy
    train_labels = torch.from_numpy(train_lab_np).to(device)
    val_waves = torch.from_numpy(np.array(val.waves)).to(device)
    val_labels = torch.from_numpy(val.labels).to(device)
    noise = int16_to_float(torch.from_numpy(data.noise_bank()))
    augment = WaveAugment(cfg.augment_config(), noise).to(device)

    # --- model ------------------------------------------------------------------------------
    spec = models.get_spec(cfg.model)
    fe = frontend_for(cfg.model, cfg.features, normalize=cfg.feature_norm)
    net: KwsNet = build_net(cfg.model, len(labels), fe).to(device)
    if cfg.feature_norm and ckpt is None:
        sample = train_waves[torch.randperm(len(train_waves))[:2000]]
        net.frontend.fit_normalization(int16_to_float(sample))
    classifier: nn.Module = net.classifier
    if dist.enabled:
        if cfg.sync_bn:
            classifier = nn.SyncBatchNorm.convert_sync_batchnorm(classifier)
            net.classifier = classifier
        classifier = nn.parallel.DistributedDataParallel(
            classifier, device_ids=[device.index] if device.type == "cuda" else None)
    decay, no_decay = [], []
    for p in net.classifier.parameters():
        (no_decay if p.dim() <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    else:
        opt = torch.optim.AdamW(groups, lr=cfg.lr)
    ema = (torch.optim.swa_utils.AveragedModel(
        net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        if cfg.ema > 0 else None)

    start_it, best_acc, best_it, elapsed0 = 0, -1.0, 0, 0.0
    if ckpt is not None:
        net.load_state_dict(ckpt["train_state_dict"])
        opt.load_state_dict(ckpt["optimizer"])
        if ema is not None:
            ema.load_state_dict(ckpt["ema_state"])
        start_it, best_acc, best_it = ckpt["iteration"], ckpt["best_acc"], ckpt["best_iter"]
        elapsed0 = ckpt["elapsed_s"]
    interval = (ckpt or {}).get("interval") or {"loss": 0.0, "correct": 0.0, "count": 0,
                                                "batch_loss": 0.0, "batch_acc": 0.0}
    batches = _Batches(len(train_labels), cfg.batch_size, cfg.seed, dist)
    gen = torch.Generator(device=device)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16)
                if cfg.amp and device.type == "cuda" else nullcontext())
    fine = cfg.log_every % 100 != 0

    # --- logging ------------------------------------------------------------------------------
    log = TrainLog(out, fine=fine, resume=resume) if main else None
    if log is not None:
        n_par = count_params(net.classifier)
        what = "resuming" if resume else "training"
        log.line(f"kwspot: {what} {cfg.model} ({n_par:,} params, {fe.kind} "
                 f"{'x'.join(map(str, fe.output_shape()))}) on {device}"
                 f"{f' x {dist.world_size} processes' if dist.enabled else ''}; "
                 f"{spec.paper or cfg.model}")
        counts = ", ".join(f"{s} {len(v):,}" for s, v in data.splits.items())
        log.line(f"waves_per_epoch = {len(train_labels):,} ({counts}; labels "
                 f"{','.join(labels.names)})")
        log.line(f"batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr} {cfg.schedule}"
                 f"{f' warm-up {cfg.warmup_iters}' if cfg.warmup_iters else ''}, "
                 f"{cfg.iters:,} iterations, seed {cfg.seed}")
        log.line("")
        log.line(HEADER)

    def eval_net() -> nn.Module:
        return ema.module if ema is not None else net

    def make_ckpt(it: int, elapsed: float, row: LogRow | None) -> dict[str, Any]:
        return {
            "format": "kwspot-checkpoint", "version": 1, "model": cfg.model, "model_kwargs": {},
            "frontend": fe.to_dict(), "labels": list(labels.names),
            "state_dict": eval_net().state_dict(), "train_state_dict": net.state_dict(),
            "ema_state": ema.state_dict() if ema is not None else None,
            "optimizer": opt.state_dict(), "iteration": it, "best_acc": best_acc,
            "best_iter": best_it, "elapsed_s": elapsed, "interval": dict(interval),
            "config": cfg.to_dict(), "row": row.__dict__ if row else None,
            "rng": {"torch": torch.get_rng_state(), "generator_seed": _step_seed(cfg.seed, 0, it)},
            "torch_version": torch.__version__,
        }

    def checkpoint(it: int, elapsed: float, row: LogRow | None, best: bool) -> None:
        if not main:
            return
        state = make_ckpt(it, elapsed, row)
        save_atomic(state, out / "last.pt")
        if best:
            save_atomic(state, out / "best.pt")

    def log_row(it: int, elapsed: float, clips_per_s: float) -> LogRow:
        nonlocal best_acc, best_it
        for m in (net, ema):  # every rank validates (and rank 0 saves) rank 0's BN statistics
            if m is not None:
                broadcast_buffers(m, dist)
        v_loss, v_acc = evaluate_split(eval_net(), val_waves, val_labels, cfg.eval_batch, dist)
        count = max(1, interval["count"])
        row = LogRow(lr=lr_at(cfg, max(0, it - 1)) if it else 0.0, iter=it,
                     epoch=it * cfg.batch_size / len(train_labels),
                     num_m=it * cfg.batch_size / 1e6, valid_loss=v_loss, valid_acc=v_acc,
                     train_loss=interval["loss"] / count, train_acc=interval["correct"] / count,
                     batch_loss=interval["batch_loss"], batch_acc=interval["batch_acc"],
                     time_s=elapsed, clips_per_s=clips_per_s)
        improved = it > 0 and v_acc > best_acc
        if improved:
            best_acc, best_it = v_acc, it
        interval.update(loss=0.0, correct=0.0, count=0)
        if log is not None:
            log.row(row)
        checkpoint(it, elapsed, row, improved)
        return row

    # --- the loop -----------------------------------------------------------------------------
    t_start = time.perf_counter() - elapsed0
    last_row = log_row(0, elapsed0, 0.0) if start_it == 0 else None
    progress = _Progress(cfg.log_every, enabled=main and sys.stdout.isatty())
    # SIGTERM (torchrun, schedulers) and, under torchrun, SIGINT stop the run after the current
    # step on every rank at once (the request is summed with the step statistics); rank 0 saves.
    stop = _StopRequest(signal.SIGTERM, *((signal.SIGINT,) if dist.enabled else ()))
    shards = ShardRecorder.from_env(dist)  # test hook, off unless $KWSPOT_DEBUG_SHARDS is set
    it = start_it
    t_interval, clips_interval, clips_per_s = time.perf_counter(), 0, 0.0
    net.train()
    try:
        while it < cfg.iters:
            seed = _step_seed(cfg.seed, dist.rank, it)
            gen.manual_seed(seed)
            torch.manual_seed(seed)  # dropout
            lr = lr_at(cfg, it)
            for g in opt.param_groups:
                g["lr"] = lr
            idx = batches.indices(it).to(device)
            shards.add(it, idx)
            y = train_labels[idx]
            with torch.no_grad():
                x = augment(int16_to_float(train_waves[idx]), gen)
                feats = net.frontend(x)
                if cfg.spec_time_masks or cfg.spec_freq_masks:
                    feats = spec_augment(feats, gen, time_masks=cfg.spec_time_masks,
                                         time_width=cfg.spec_time_width,
                                         freq_masks=cfg.spec_freq_masks,
                                         freq_width=cfg.spec_freq_width)
                target = F.one_hot(y, len(labels)).float()
                if cfg.mixup > 0:
                    lam = float(np.random.default_rng(seed).beta(cfg.mixup, cfg.mixup))
                    perm = torch.randperm(len(y), device=device, generator=gen)
                    feats = lam * feats + (1 - lam) * feats[perm]
                    target = lam * target + (1 - lam) * target[perm]
            with autocast:
                logits = classifier(feats)
            logits = logits.float()
            loss = F.cross_entropy(logits, target, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(net.classifier.parameters(), cfg.grad_clip)
            opt.step()
            if ema is not None:
                ema.update_parameters(net)
            it += 1
            # statistics of the global batch (each rank's share summed over ranks), stop votes
            stats = torch.stack([loss.detach() * len(y), (logits.argmax(1) == y).sum().float(),
                                 torch.tensor(float(len(y)), device=device),
                                 torch.tensor(float(stop.requested), device=device)])
            b_loss, b_correct, b_n, stop_votes = all_reduce_sum(stats, dist).tolist()
            interval["loss"] += b_loss
            interval["correct"] += b_correct
            interval["count"] += int(b_n)
            interval["batch_loss"], interval["batch_acc"] = b_loss / b_n, b_correct / b_n
            clips_interval += cfg.batch_size
            progress.advance(it, interval)
            if it % cfg.log_every == 0 or it == cfg.iters:
                clips_per_s = clips_interval / max(1e-9, time.perf_counter() - t_interval)
                progress.clear()
                last_row = log_row(it, time.perf_counter() - t_start, clips_per_s)
                t_interval, clips_interval = time.perf_counter(), 0
            if stop_votes and it < cfg.iters:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        progress.clear()
        if main:
            checkpoint(it, time.perf_counter() - t_start, None, False)
            print(f"kwspot: interrupted at iteration {it}; saved {out / 'last.pt'} "
                  f"(continue with --resume {out})", file=sys.stderr)
        raise
    finally:
        progress.close()
        stop.restore()
        if log is not None:
            log.close()
    shards.write(net)
    if last_row is None:  # resumed a run that had already finished
        last_row = LogRow(**load_checkpoint(out / "last.pt")["row"])
    if main:
        print(f"kwspot: best valid_acc {best_acc:.4f} at iteration {best_it:,}; "
              f"checkpoints in {out}", file=sys.stderr)
    return TrainResult(out, best_acc, best_it, last_row, clips_per_s)


class _StopRequest:
    """Turns the given signals into a flag the loop polls once per step (main thread only)."""

    def __init__(self, *signums: int) -> None:
        self.requested = False
        self.previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in signums}

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True

    def restore(self) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


class _Progress:
    """A rich progress bar between log rows on a terminal; silent in pipes."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed}/{task.total}"),
                                TimeRemainingColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("", total=total)

    def advance(self, it: int, interval: dict) -> None:
        if self.bar is not None:
            done = (it - 1) % self.total + 1
            n = max(1, interval["count"])
            self.bar.update(self.task, completed=done,
                            description=f"iter {it}  loss {interval['loss'] / n:.4f}")

    def clear(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=0)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
