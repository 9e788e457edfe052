"""The training loop: reads top to bottom.

batches (:mod:`~kwspot.train.batches`) → the training step (:mod:`~kwspot.train.step`) →
every ``log_every`` iterations: validate, one seed-style log row, save ``best.pt`` (when
validation improved) and ``last.pt`` atomically (:mod:`~kwspot.train.rundir`).

Randomness is derived from ``(seed, rank, iteration)`` at every step (batch order from
``(seed, epoch)``), so ``--resume`` continues exactly as the uninterrupted run would have.
Under ``torchrun`` each rank takes its share of every global batch and gradients are averaged
by DistributedDataParallel; only rank 0 prints and writes files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kwspot import models
from kwspot.checkpoint import Checkpoint, config_dict, load_weights
from kwspot.config import TrainConfig
from kwspot.data.augment import WaveAugment
from kwspot.distributed import (
    DistInfo,
    ShardRecorder,
    all_reduce_sum,
    broadcast_buffers,
    init_from_env,
    local_main_first,
    shutdown,
)
from kwspot.errors import KwspotError, SettingError
from kwspot.features import int16_to_float
from kwspot.models.profile import count_params
from kwspot.network import KwsNet, build_net, frontend_for
from kwspot.train.batches import IndexSampler, WaveBatches
from kwspot.train.data import TrainingData, load_training_data
from kwspot.train.device import check_distributed, device_kind, pick_device
from kwspot.train.features import FromFrozenStage, precompute, uses_precomputed
from kwspot.train.report import Quiet, TrainReport
from kwspot.train.rundir import RunFolder
from kwspot.train.signals import StopRequest, stop_signals
from kwspot.train.step import StepResult, TrainStep, lr_at, step_seed
from kwspot.train.validate import evaluate_split
from kwspot.trainlog import HEADER, LogRow, TrainLog


@dataclass(frozen=True)
class TrainResult:
    out: Path
    best_acc: float
    best_iter: int
    last: LogRow
    clips_per_s: float


def _new_interval() -> dict[str, Any]:
    return {"loss": 0.0, "correct": 0.0, "count": 0, "batch_loss": 0.0, "batch_acc": 0.0}


@dataclass
class RunState:
    """Where a run stands (saved in ``last.pt``, restored by ``--resume``)."""

    iteration: int = 0
    best_acc: float = -1.0
    best_iter: int = 0
    elapsed_s: float = 0.0
    interval: dict[str, Any] = field(default_factory=_new_interval)  # since the last row

    def add(self, loss_sum: float, correct: float, n: float) -> None:
        """One global batch's summed loss and correct count."""
        self.interval["loss"] += loss_sum
        self.interval["correct"] += correct
        self.interval["count"] += int(n)
        self.interval["batch_loss"], self.interval["batch_acc"] = loss_sum / n, correct / n

    def mean_loss(self) -> float:
        return self.interval["loss"] / max(1, self.interval["count"])


def train(cfg: TrainConfig, *, resume: bool = False, overwrite: bool = False,
          report: TrainReport | None = None) -> TrainResult:
    """Run one training run described by ``cfg`` into the folder ``cfg.out``; see the module
    docstring. ``resume`` continues the run saved there (or starts it when nothing was saved);
    otherwise a folder that holds a run is refused unless ``overwrite``."""
    dist = init_from_env(device_kind(cfg.device))
    clean = False
    try:
        result = _train(cfg, resume, overwrite, report or Quiet(), dist)
        clean = True
        return result
    finally:
        shutdown(dist, clean=clean)


def _train(cfg: TrainConfig, resume: bool, overwrite: bool, report: TrainReport,
           dist: DistInfo) -> TrainResult:
    device = pick_device(cfg.device, dist.local_rank)
    check_distributed(cfg.device, cfg.sync_bn, device, dist)
    folder = RunFolder(cfg.out)
    saved = folder.saved() if resume else None
    if not resume:
        folder.check_new(overwrite)
    elif saved is None:  # killed before its first checkpoint
        report.note(f"kwspot: {folder.path}: nothing was saved yet; starting the run")
        resume = False
    start = _start_from(cfg) if saved is None else None  # before the data: fails fast
    torch.manual_seed(cfg.seed)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)

    # data: decoded once (under torchrun once per machine, the others read the cache) and
    # kept on the device as int16
    data = local_main_first(lambda: load_training_data(cfg, verbose=dist.is_main), dist)
    cfg = cfg.sized(len(data.labels))  # epochs and shares of the run → iterations
    names = tuple(data.dataset.labels.names)
    if saved is not None:
        saved.check_compatible(cfg.model, names)
    val = data.dataset.splits["validation"]
    if len(val) == 0:
        raise SettingError("val_pct", f"the validation split of {cfg.data} is empty (raise it)")
    shards = ShardRecorder.from_env(dist)  # test hook, off unless $KWSPOT_DEBUG_SHARDS is set
    source = WaveBatches(torch.from_numpy(np.array(data.waves)).to(device),  # a writable copy
                         torch.from_numpy(data.labels).to(device),
                         IndexSampler(len(data.labels), cfg.batch_size, cfg.seed, dist),
                         on_indices=shards.add)

    step = _build_step(cfg, data, source.waves, device, dist, fit_norm=saved is None,
                       start=start)
    pre = None
    if uses_precomputed(step.net):  # a pretrained embedding: its frozen part once per clip
        pre = precompute(cfg, step.net, step.augment, data.waves, source.labels,
                         data.dataset.splits["validation"].waves, dist)
    state = _restore(saved, step) if saved is not None else RunState()
    if dist.is_main:
        folder.clean()
        if not resume:
            folder.start(config_dict(cfg))
    run = _Run(cfg, step, data, device, dist, folder, state, resume, report,
               val_features=pre.val_features if pre is not None else None)
    try:
        run.log_header(resume, source.size)
        fe = step.net.frontend.cfg
        learner = (f"the embedding's last {fe.embedding_tune_layers} layers and the head"
                   if fe.embedding_lr_scale > 0 else "the head")
        if pre is not None and run.log is not None:
            run.log.line(f"features of {pre.clips:,} training clips x {1 + pre.copies} (clean + "
                         f"augmented copies) in {pre.seconds:.1f} s; {learner} train on them")
        t0, c0 = time.perf_counter(), time.process_time()
        run.loop(pre.source if pre is not None else source)
        if pre is not None and run.log is not None:
            run.log.line(f"{learner[0].upper()}{learner[1:]} trained in "
                         f"{time.perf_counter() - t0:.1f} s ({time.process_time() - c0:.1f} s "
                         "of CPU)")
    finally:
        run.close()
    shards.write(step.net)
    return run.result(saved)


def _start_from(cfg: TrainConfig) -> Checkpoint | None:
    """The checkpoint ``init`` names, when it is of this run's model and front-end (its
    labels are checked once the data is read)."""
    if not cfg.init:
        return None
    start = Checkpoint.load(cfg.init)
    start.check_model(cfg.model)
    kind = frontend_for(cfg.model, cfg.features, **cfg.frontend_settings()).kind
    if start.frontend.get("kind") != kind:
        raise SettingError("init", f"{start.path} was trained on the "
                           f"{start.frontend.get('kind')} front-end, this run uses {kind}")
    return start


def _build_step(cfg: TrainConfig, data: TrainingData, train_waves: torch.Tensor,
                device: torch.device, dist: DistInfo, fit_norm: bool,
                start: Checkpoint | None = None) -> TrainStep:
    """The network (``start``'s weights, or for a new run front-end normalisation fitted on
    training clips), wrapped for DistributedDataParallel under torchrun, and its training
    step."""
    noise = int16_to_float(torch.from_numpy(data.dataset.noise_bank()))
    augment = WaveAugment(cfg.augment_config(), noise).to(device)
    num_classes = len(data.dataset.labels)
    fe = frontend_for(cfg.model, cfg.features, **cfg.frontend_settings())
    net: KwsNet = build_net(cfg.model, num_classes, fe).to(device)
    if start is not None:  # a new run that starts from another run's weights
        start.check_compatible(cfg.model, tuple(data.dataset.labels.names))
        load_weights(net, start.weights, start.path, cfg.model)
    elif cfg.feature_norm and fit_norm:
        sample = train_waves[torch.randperm(len(train_waves))[:2000]]
        net.frontend.fit_normalization(int16_to_float(sample))
    classifier: nn.Module = net.classifier
    if dist.enabled and any(p.requires_grad for p in net.frontend.parameters()):
        raise SettingError("embedding_lr_scale", "fine-tuning the embedding under torchrun "
                           "is not supported; train it in one process or keep it frozen")
    if dist.enabled:
        if cfg.sync_bn:
            classifier = nn.SyncBatchNorm.convert_sync_batchnorm(classifier)
            net.classifier = classifier
        classifier = nn.parallel.DistributedDataParallel(
            classifier, device_ids=[device.index] if device.type == "cuda" else None)
    return TrainStep(cfg, net, augment, num_classes=num_classes, rank=dist.rank,
                     classifier=classifier)


def _restore(saved: Checkpoint, step: TrainStep) -> RunState:
    """Training weights, optimizer and EMA state from ``last.pt``; where the run stood."""
    state = saved.resume_state()
    where = saved.path
    missing = [k for k in ("train_weights", "optimizer") if not isinstance(state.get(k), dict)]
    if missing:
        raise KwspotError(f"{where}: the resume state lacks {', '.join(missing)}")
    load_weights(step.net, state["train_weights"], where, saved.model)
    try:
        step.opt.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KwspotError(f"{where}: optimizer state does not fit this run ({exc})") from None
    if step.ema is not None:
        if not state.get("ema"):
            raise KwspotError(f"{where}: holds no weight EMA (the run was trained without one)")
        load_weights(step.ema, state["ema"], where, saved.model)
    return RunState(saved.iteration, saved.best_acc, saved.best_iter,
                    float(state.get("elapsed_s") or 0.0),
                    dict(state.get("interval") or _new_interval()))


class _Run:
    """The loop's state and its three recurring actions: step, log a row, save."""

    def __init__(self, cfg: TrainConfig, step: TrainStep, data: TrainingData,
                 device: torch.device, dist: DistInfo, folder: RunFolder, state: RunState,
                 resume: bool, report: TrainReport,
                 val_features: torch.Tensor | None = None) -> None:
        self.cfg, self.step, self.device, self.dist = cfg, step, device, dist
        self.folder, self.state, self.report = folder, state, report
        self.labels = list(data.dataset.labels.names)
        self.n_train = len(data.labels)
        self.splits = {s: len(v) for s, v in data.dataset.splits.items()}
        val = data.dataset.splits["validation"]
        self.val_waves = torch.from_numpy(np.array(val.waves)).to(device)
        self.val_labels = torch.from_numpy(val.labels).to(device)
        self.val_features = val_features  # precomputed clean features (frozen embedding)
        self.main = dist.is_main
        self.log = (TrainLog(folder.path, fine=cfg.log_every % 100 != 0,
                             resume=resume, echo=report.line)
                    if self.main else None)
        self.last_row: LogRow | None = None
        self.clips_per_s = 0.0

    def log_header(self, resume: bool, n_train: int) -> None:
        if self.log is None:
            return
        cfg, fe = self.cfg, self.step.net.frontend.cfg
        dist, spec = self.dist, models.get_spec(cfg.model)
        n_par = count_params(self.step.net.classifier)
        self.log.line(f"kwspot: {'resuming' if resume else 'training'} {cfg.model} ({n_par:,} "
                      f"params, {fe.kind} {'x'.join(map(str, fe.output_shape()))}) on "
                      f"{self.device}{f' x {dist.world_size} processes' if dist.enabled else ''}"
                      f"; {spec.paper or cfg.model}")
        counts = ", ".join(f"{s} {n:,}" for s, n in self.splits.items())
        self.log.line(f"waves_per_epoch = {n_train:,} ({counts}; labels "
                      f"{','.join(self.labels)})")
        self.log.line(f"batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr} {cfg.schedule}"
                      f"{f' warm-up {cfg.warmup_iters}' if cfg.warmup_iters else ''}, "
                      f"{cfg.iters:,} iterations, seed {cfg.seed}")
        self.log.line("")
        self.log.line(HEADER)

    def loop(self, source: WaveBatches) -> None:
        """Iterations from where the run stands to ``cfg.iters``; SIGTERM (and SIGINT under
        torchrun) stop every rank after the same step; an interrupt saves ``last.pt``."""
        cfg, state = self.cfg, self.state
        t_start = time.perf_counter() - state.elapsed_s
        if state.iteration == 0:
            self.log_row(0, state.elapsed_s)
        stop = StopRequest(*stop_signals(self.dist.enabled))
        t_interval, clips_interval = time.perf_counter(), 0
        self.step.net.train()
        try:
            while state.iteration < cfg.iters:
                it = state.iteration
                result = self.step.run(*source.next_batch(it), it, source.kind)
                stop_votes = self.add_stats(result, stop.requested)
                state.iteration = it = it + 1
                clips_interval += cfg.batch_size
                if self.main:
                    self.report.step(it, (it - 1) % cfg.log_every + 1, cfg.log_every,
                                     state.mean_loss())
                if it % cfg.log_every == 0 or it == cfg.iters:
                    self.clips_per_s = clips_interval / max(1e-9,
                                                            time.perf_counter() - t_interval)
                    self.log_row(it, time.perf_counter() - t_start)
                    t_interval, clips_interval = time.perf_counter(), 0
                if stop_votes and it < cfg.iters:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            self.interrupted(time.perf_counter() - t_start)
            raise
        finally:
            stop.restore()

    def add_stats(self, r: StepResult, stop_requested: bool) -> float:
        """Add the global batch's statistics (each rank's share summed over ranks) to the
        interval; returns how many ranks asked to stop."""
        n = torch.tensor(float(len(r.labels)), device=self.device)
        stats = torch.stack([r.loss * len(r.labels), (r.logits.argmax(1) == r.labels).sum().float(),
                             n, torch.tensor(float(stop_requested), device=self.device)])
        b_loss, b_correct, b_n, stop_votes = all_reduce_sum(stats, self.dist).tolist()
        self.state.add(b_loss, b_correct, b_n)
        return stop_votes

    def log_row(self, it: int, elapsed: float) -> None:
        """Validate, write one log row, save the checkpoints."""
        cfg, state, step = self.cfg, self.state, self.step
        for m in (step.net, step.ema):  # every rank validates (and rank 0 saves) rank 0's BN
            if m is not None:
                broadcast_buffers(m, self.dist)
        if self.val_features is not None:
            v_loss, v_acc = evaluate_split(FromFrozenStage(step.eval_net), self.val_features,
                                           self.val_labels, cfg.eval_batch, self.dist,
                                           features=True)
        else:
            v_loss, v_acc = evaluate_split(step.eval_net, self.val_waves, self.val_labels,
                                           cfg.eval_batch, self.dist)
        iv, count = state.interval, max(1, state.interval["count"])
        row = LogRow(lr=lr_at(cfg, max(0, it - 1)) if it else 0.0, iter=it,
                     epoch=it * cfg.batch_size / self.n_train,
                     num_m=it * cfg.batch_size / 1e6, valid_loss=v_loss, valid_acc=v_acc,
                     train_loss=iv["loss"] / count, train_acc=iv["correct"] / count,
                     batch_loss=iv["batch_loss"], batch_acc=iv["batch_acc"],
                     time_s=elapsed, clips_per_s=self.clips_per_s)
        improved = it > 0 and v_acc > state.best_acc
        if improved:
            state.best_acc, state.best_iter = v_acc, it
        iv.update(loss=0.0, correct=0.0, count=0)
        if self.log is not None:
            self.log.row(row)
        self.last_row = row
        self.save(elapsed, row, improved)

    def save(self, elapsed: float, row: LogRow | None, best: bool) -> None:
        if self.main:
            self.folder.save(self.checkpoint(elapsed, row), best)

    def checkpoint(self, elapsed: float, row: LogRow | None) -> Checkpoint:
        cfg, state, step = self.cfg, self.state, self.step
        fe = step.net.frontend.cfg
        resume = {
            "train_weights": step.net.state_dict(),
            "ema": step.ema.state_dict() if step.ema is not None else None,
            "optimizer": step.opt.state_dict(), "elapsed_s": elapsed,
            "interval": dict(state.interval),
            "rng": {"torch": torch.get_rng_state(),
                    "generator_seed": step_seed(cfg.seed, 0, state.iteration)},
        }
        return Checkpoint(
            model=cfg.model, labels=list(self.labels), frontend=fe.to_dict(),
            weights=step.eval_net.state_dict(), sample_rate=fe.sample_rate,
            clip_samples=int(self.val_waves.shape[1]), config=config_dict(cfg),
            iteration=state.iteration, best_acc=state.best_acc, best_iter=state.best_iter,
            row=row.__dict__ if row else None, resume=resume)

    def interrupted(self, elapsed: float) -> None:
        if self.main:
            self.report.close()
            self.save(elapsed, None, False)
            self.report.note(f"kwspot: interrupted at iteration {self.state.iteration}; saved "
                             f"{self.folder.last} (resuming the run continues it)")

    def close(self) -> None:
        self.report.close()
        if self.log is not None:
            self.log.close()

    def result(self, saved: Checkpoint | None) -> TrainResult:
        last = self.last_row
        if last is None:  # resumed a run that had already finished
            row = saved.row if saved is not None else None
            last = LogRow(**row) if row else LogRow(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if self.main:
            self.report.note(f"kwspot: best valid_acc {self.state.best_acc:.4f} at iteration "
                             f"{self.state.best_iter:,}; checkpoints in {self.folder.path}")
        return TrainResult(self.folder.path, self.state.best_acc, self.state.best_iter, last,
                           self.clips_per_s)
