"""One training iteration, as ``kwspot train`` runs it and the benchmarks time it.

inputs → [augment → front-end, for waveforms] → SpecAugment → mixup → classifier → loss →
backward → gradient clipping → optimizer step → weight EMA. Inputs of kind ``"features"``
(see :mod:`kwspot.train.batches`) skip augmentation and the front-end's frozen stage. All
randomness of iteration ``it`` derives from ``(seed, rank, it)``, so a resumed run repeats it
exactly.
Also here: the optimizer, weight-EMA and learning-rate schedule builders.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kwspot.config import TrainConfig
from kwspot.data.augment import WaveAugment, spec_augment_as
from kwspot.features import int16_to_float
from kwspot.network import KwsNet, build_net, frontend_for
from kwspot.train.batches import InputKind


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


def step_seed(seed: int, rank: int, it: int) -> int:
    """The seed of everything random in iteration ``it`` on ``rank``."""
    return (seed * 1_000_003 + rank * 7_919 + it * 104_729) % (2**63 - 1)


def build_optimizer(cfg: TrainConfig, module: nn.Module,
                    frontend: nn.Module | None = None) -> torch.optim.Optimizer:
    """SGD (with momentum) or AdamW; no weight decay on biases and normalisation weights.
    The trainable parameters of ``frontend`` (a pretrained embedding being fine-tuned) learn at
    the rate times ``embedding_lr_scale`` (their group's ``lr_scale``)."""
    decay = [p for p in module.parameters() if p.dim() > 1]
    no_decay = [p for p in module.parameters() if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    tuned = [p for p in frontend.parameters() if p.requires_grad] if frontend else []
    if tuned:
        groups.append({"params": tuned, "weight_decay": 0.0,
                       "lr_scale": cfg.embedding_lr_scale})
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def build_ema(cfg: TrainConfig, net: nn.Module) -> torch.optim.swa_utils.AveragedModel | None:
    """An exponential moving average of ``net``'s weights and buffers (None when ``ema`` is 0)."""
    if cfg.ema <= 0:
        return None
    return torch.optim.swa_utils.AveragedModel(
        net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.ema), use_buffers=True)


@dataclass(frozen=True)
class StepResult:
    loss: Tensor  # mean loss of this rank's share (detached)
    logits: Tensor  # [B, classes], float32
    labels: Tensor  # [B]


class TrainStep:
    """The training step of one network; owns its optimizer, EMA and random generator.

    ``classifier`` is what the forward pass calls: ``net.classifier`` itself, or its
    DistributedDataParallel wrapper under torchrun.
    """

    def __init__(self, cfg: TrainConfig, net: KwsNet, augment: WaveAugment, *,
                 num_classes: int, rank: int = 0, classifier: nn.Module | None = None) -> None:
        self.cfg, self.net, self.augment = cfg, net, augment
        self.num_classes, self.rank = num_classes, rank
        self.classifier = classifier if classifier is not None else net.classifier
        self.device = next(net.classifier.parameters()).device
        self.opt = build_optimizer(cfg, net.classifier, net.frontend)
        self.tune_frontend = any(p.requires_grad for p in net.frontend.parameters())
        self.ema = build_ema(cfg, net)
        self.gen = torch.Generator(device=self.device)
        self.seed = step_seed(cfg.seed, rank, 0)
        self.autocast: AbstractContextManager[Any] = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if cfg.amp and self.device.type == "cuda" else nullcontext())

    @classmethod
    def for_model(cls, cfg: TrainConfig, num_classes: int, noise: Tensor | None = None,
                  device: torch.device | str = "cpu") -> TrainStep:
        """A fresh network of ``cfg.model`` with its step (single process; the benchmarks')."""
        torch.manual_seed(cfg.seed)
        fe = frontend_for(cfg.model, cfg.features, **cfg.frontend_settings())
        net = build_net(cfg.model, num_classes, fe).to(device).train()
        augment = WaveAugment(cfg.augment_config(), noise).to(device)
        return cls(cfg, net, augment, num_classes=num_classes)

    @property
    def eval_net(self) -> nn.Module:
        """The network validation and ``best.pt`` use: the EMA's when there is one."""
        return self.ema.module if self.ema is not None else self.net

    def start(self, it: int) -> None:
        """Seed iteration ``it``'s randomness and set its learning rate."""
        self.seed = step_seed(self.cfg.seed, self.rank, it)
        self.gen.manual_seed(self.seed)
        torch.manual_seed(self.seed)  # dropout
        lr = lr_at(self.cfg, it)
        for g in self.opt.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)

    def features(self, waves: Tensor) -> Tensor:
        """int16 clips → augmented features (SpecAugment included), as training sees them;
        with gradients only when the front-end is being fine-tuned."""
        with torch.no_grad():
            x = self.augment(int16_to_float(waves), self.gen)
        with torch.set_grad_enabled(self.tune_frontend and torch.is_grad_enabled()):
            feats = self.net.frontend(x)
        return self._spec_augment(feats)

    def prepare(self, inputs: Tensor, labels: Tensor, kind: InputKind = "waves"
                ) -> tuple[Tensor, Tensor]:
        """The classifier's inputs and soft targets: features, then mixup when asked for."""
        with torch.set_grad_enabled(self.tune_frontend and torch.is_grad_enabled()):
            return self._prepare(inputs, labels, kind)

    def _prepare(self, inputs: Tensor, labels: Tensor, kind: InputKind) -> tuple[Tensor, Tensor]:
        feats = (self.features(inputs) if kind == "waves"
                 else self._spec_augment(self.net.frontend.tuned_stage(inputs)))
        target = F.one_hot(labels, self.num_classes).float()
        if self.cfg.mixup > 0:
            lam = float(np.random.default_rng(self.seed).beta(self.cfg.mixup, self.cfg.mixup))
            perm = torch.randperm(len(labels), device=self.device, generator=self.gen)
            feats = lam * feats + (1 - lam) * feats[perm]
            target = lam * target + (1 - lam) * target[perm]
        return feats, target

    def update(self, feats: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Forward, backward, optimizer step (and EMA) on features; ``target`` is class
        indices or soft targets. Returns the detached loss and the float32 logits."""
        if target.dim() == 1:
            target = F.one_hot(target, self.num_classes).float()
        with self.autocast:
            logits = self.classifier(feats)
        logits = logits.float()
        loss = F.cross_entropy(logits, target, label_smoothing=self.cfg.label_smoothing)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.net.classifier.parameters(), self.cfg.grad_clip)
        self.opt.step()
        if self.ema is not None:
            self.ema.update_parameters(self.net)
        return loss.detach(), logits.detach()

    def run(self, inputs: Tensor, labels: Tensor, it: int, kind: InputKind = "waves"
            ) -> StepResult:
        """The whole iteration ``it`` on one batch."""
        self.start(it)
        feats, target = self.prepare(inputs, labels, kind)
        loss, logits = self.update(feats, target)
        return StepResult(loss, logits, labels)

    def _spec_augment(self, feats: Tensor) -> Tensor:
        return spec_augment_as(self.augment.cfg, feats, self.gen)
