"""The training configuration: one typed, frozen dataclass; overrides are checked.

Values resolve in this order: the defaults below (the seed's recipe), then the model's
recommended settings from the registry, then what the user gave explicitly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from kwspot.data.augment import AugmentConfig
from kwspot.data.dataset import DataConfig
from kwspot.data.labels import DEFAULT_WORDS, LabelSet
from kwspot.errors import KwspotError, SettingError
from kwspot.features import FRONTENDS


@dataclass(frozen=True)
class TrainConfig(AugmentConfig):
    """Everything a training run depends on (saved in every checkpoint).

    The augmentation settings (SpecAugment included) are :class:`AugmentConfig`'s, inherited;
    the data settings mirror :class:`DataConfig`'s (``data`` is its ``root``)."""

    # data
    data: str = ""  # dataset root (any layout kwspot reads)
    words: tuple[str, ...] = DEFAULT_WORDS  # command words; others are "unknown"
    noise_dir: str | None = None  # background noise folder (default ROOT/_background_noise_)
    split: str = "auto"  # auto | lists | hash
    val_pct: float = 10.0  # validation share of speakers (hash rule)
    test_pct: float = 10.0  # testing share of speakers (hash rule)
    split_salt: str = ""  # draw another speaker split with the same percentages
    silence_share: float = 0.1  # silence clips per split, share of command clips
    unknown_share: float = 0.1  # unknown clips per split, share of command clips
    zero_silence: float = 0.1  # share of the generated silence clips that are pure zeros
    resample: bool = False  # convert non-16-kHz / stereo clips instead of refusing them
    cache_dir: str | None = None  # decoded-audio cache folder
    negatives: tuple[str, ...] = ()  # folders of running audio without the words (unknowns)
    synth: str | None = None  # folder of `kwspot synth` clips mixed into the training split
    synth_ratio: float = 1.0  # synthesized training clips per real training clip (at most)
    # model
    model: str = "seresnet3"  # registered model name (`kwspot models`)
    features: str | None = None  # raw | mel | mfcc (default: the model's own front-end)
    feature_norm: bool = False  # per-band mean/std normalisation fitted on training clips
    embedding_dir: str = ""  # folder with openWakeWord's model files ("" = pyopen-wakeword's)
    embedding_lr_scale: float = 0.0  # fine-tune the embedding at lr × this (0 = frozen)
    feature_copies: int = 2  # augmented copies per clip precomputed for a frozen embedding
    # optimisation (the seed: SGD, lr 0.01, momentum 0.9, batch 256)
    iters: int = 10000  # training iterations (batches)
    epochs: float = 0.0  # run length in passes over the training split (> 0: overrides iters)
    batch_size: int = 256  # global batch (split over ranks under torchrun)
    lr: float = 0.01  # peak learning rate
    optimizer: str = "sgd"  # sgd | adamw
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 1e-4  # L2 (sgd) or decoupled (adamw) weight decay
    schedule: str = "cosine"  # cosine | step | constant (after warm-up)
    warmup_iters: int = 0  # linear warm-up from 0 to lr
    warmup: float = 0.0  # warm-up as a share of the run (> 0: overrides warmup_iters)
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    mixup: float = 0.0  # mixup Beta(alpha, alpha) on features; 0 = off
    ema: float = 0.0  # exponential moving average of weights (decay, e.g. 0.999); 0 = off
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    # run
    out: str = "runs/default"  # run folder: log.txt, metrics.jsonl, last.pt, best.pt
    log_every: int = 500  # iterations between log rows (and validation, checkpoints)
    eval_batch: int = 512  # batch size for validation
    seed: int = 0  # everything random derives from it
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # CPU threads for torch (0 = torch's default; 1 is fastest on a busy CPU)
    amp: bool = True  # bfloat16 autocast on GPU
    sync_bn: bool = False  # SyncBatchNorm across ranks under torchrun

    def __post_init__(self) -> None:
        checks = [
            ("iters", self.iters > 0, f"must be positive, got {self.iters}"),
            ("batch_size", self.batch_size > 0, f"must be positive, got {self.batch_size}"),
            ("lr", self.lr > 0, f"must be positive, got {self.lr}"),
            ("log_every", self.log_every > 0, f"must be positive, got {self.log_every}"),
            ("eval_batch", self.eval_batch > 0, f"must be positive, got {self.eval_batch}"),
            ("threads", self.threads >= 0,
             f"must be 0 (torch's default) or more, got {self.threads}"),
            ("optimizer", self.optimizer in ("sgd", "adamw"),
             f"must be sgd or adamw, got {self.optimizer!r}"),
            ("schedule", self.schedule in ("cosine", "step", "constant"),
             f"must be cosine, step or constant, got {self.schedule!r}"),
            ("ema", 0 <= self.ema < 1, f"must be in [0, 1), got {self.ema}"),
            ("epochs", self.epochs >= 0, f"must be 0 (use iters) or more, got {self.epochs}"),
            ("warmup", 0 <= self.warmup < 1, f"must be a share in [0, 1), got {self.warmup}"),
            ("warmup_iters", self.warmup_iters >= 0,
             f"must be 0 or more, got {self.warmup_iters}"),
            ("embedding_lr_scale", self.embedding_lr_scale >= 0,
             f"must be >= 0, got {self.embedding_lr_scale}"),
            ("feature_copies", self.feature_copies >= 0,
             f"must be >= 0, got {self.feature_copies}"),
            ("features", self.features is None or self.features in FRONTENDS,
             f"must be one of {', '.join(FRONTENDS)}, got {self.features!r}"),
        ]
        for setting, ok, problem in checks:
            if not ok:
                raise SettingError(setting, problem)
        LabelSet(tuple(self.words))  # a word list it can train on

    @classmethod
    def resolve(cls, explicit: dict[str, Any], recommended: dict[str, Any] | None = None
                ) -> TrainConfig:
        """Defaults ← ``recommended`` ← ``explicit`` (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        for source, d in (("recommended setting", recommended or {}), ("option", explicit)):
            bad = sorted(set(d) - known)
            if bad:
                raise KwspotError(f"unknown training {source}(s): {', '.join(bad)}")
        recommended = dict(recommended or {})
        if "iters" in explicit:  # a length given in iterations beats a recipe's epochs
            recommended.pop("epochs", None)
        if "warmup_iters" in explicit:
            recommended.pop("warmup", None)
        merged = {**recommended, **explicit}
        for key in ("words", "negatives"):
            if key in merged:
                merged[key] = tuple(merged[key])
        return cls(**merged)

    def sized(self, n_train: int) -> TrainConfig:
        """Lengths stated in epochs and shares of the run turned into iterations for a
        training split of ``n_train`` examples (what a run and its checkpoints record)."""
        iters = self.iters
        if self.epochs:
            iters = max(1, round(self.epochs * n_train / self.batch_size))
        warmup_iters = round(self.warmup * iters) if self.warmup else self.warmup_iters
        return replace(self, iters=iters, epochs=0.0, warmup_iters=warmup_iters, warmup=0.0)

    def replace(self, **kw: Any) -> TrainConfig:
        return replace(self, **kw)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def frontend_settings(self) -> dict[str, Any]:
        """Front-end parameters this run sets (beside the model's own)."""
        return {"normalize": self.feature_norm, "embedding_dir": self.embedding_dir,
                "embedding_lr_scale": self.embedding_lr_scale}

    def data_config(self) -> DataConfig:
        """The data settings, as :mod:`kwspot.data` takes them."""
        return DataConfig(**{f.name: getattr(self, TRAIN_NAME.get(f.name, f.name))
                             for f in fields(DataConfig)})

    def augment_config(self) -> AugmentConfig:
        """The augmentation settings, as :mod:`kwspot.data.augment` takes them."""
        return AugmentConfig(**{f.name: getattr(self, f.name) for f in fields(AugmentConfig)})

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> TrainConfig:
        """The settings a run saved (its checkpoint's ``config``), written by any version:
        renamed settings take their new names, settings that no longer exist are dropped."""
        known = {f.name for f in fields(cls)}
        renamed = {RENAMED.get(k, k): v for k, v in saved.items()}
        return cls.resolve({k: v for k, v in renamed.items() if k in known})


TRAIN_NAME = {"root": "data"}
"""DataConfig field → the TrainConfig setting that holds it (where the names differ)."""

RESUMABLE = frozenset({"iters", "log_every", "device", "eval_batch", "out", "cache_dir", "amp",
                       "threads"})
"""The settings a resumed run may change; every other one must match what the run saved."""

RENAMED: dict[str, str] = {}
"""Old setting name → new one. Renaming a setting adds an entry here, so runs saved before
still resume and evaluate (:meth:`TrainConfig.from_saved`)."""
