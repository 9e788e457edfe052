"""The training configuration: one typed, frozen dataclass; overrides are checked.

Values resolve in this order: the defaults below (the seed's recipe), then the model's
recommended settings from the registry, then what the user gave explicitly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from kwspot.data.augment import AugmentConfig
from kwspot.data.dataset import DataConfig
from kwspot.data.labels import DEFAULT_WORDS
from kwspot.errors import KwspotError
from kwspot.features import FRONTENDS


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (saved in every checkpoint)."""

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
    feature_copies: int = 4  # augmented copies per clip precomputed for a frozen embedding
    # optimisation (the seed: SGD, lr 0.01, momentum 0.9, batch 256)
    iters: int = 10000  # training iterations (batches)
    batch_size: int = 256  # global batch (split over ranks under torchrun)
    lr: float = 0.01  # peak learning rate
    optimizer: str = "sgd"  # sgd | adamw
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 1e-4  # L2 (sgd) or decoupled (adamw) weight decay
    schedule: str = "cosine"  # cosine | step | constant (after warm-up)
    warmup_iters: int = 0  # linear warm-up from 0 to lr
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    mixup: float = 0.0  # mixup Beta(alpha, alpha) on features; 0 = off
    ema: float = 0.0  # exponential moving average of weights (decay, e.g. 0.999); 0 = off
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    # augmentation (training batches only)
    shift_ms: float = 100.0  # random time shift ±ms
    noise_prob: float = 0.8  # chance of mixing in background noise
    noise_volume: float = 0.1  # max noise volume
    gain_db: float = 0.0  # random gain ±dB
    speed: float = 0.0  # speed/pitch perturbation ±fraction
    spec_time_masks: int = 0  # SpecAugment time masks per clip
    spec_time_width: int = 25  # max width of a time mask (frames)
    spec_freq_masks: int = 0  # SpecAugment frequency masks per clip
    spec_freq_width: int = 7  # max width of a frequency mask (bands)
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
            (self.iters > 0, f"--iters must be positive, got {self.iters}"),
            (self.batch_size > 0, f"--batch-size must be positive, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be positive, got {self.lr}"),
            (self.log_every > 0, f"--log-every must be positive, got {self.log_every}"),
            (self.optimizer in ("sgd", "adamw"), f"--optimizer must be sgd or adamw, "
                                                  f"got {self.optimizer!r}"),
            (self.schedule in ("cosine", "step", "constant"),
             f"--schedule must be cosine, step or constant, got {self.schedule!r}"),
            (0 <= self.ema < 1, f"--ema must be in [0, 1), got {self.ema}"),
            (self.embedding_lr_scale >= 0,
             f"--embedding-lr-scale must be >= 0, got {self.embedding_lr_scale}"),
            (self.feature_copies >= 0,
             f"--feature-copies must be >= 0, got {self.feature_copies}"),
            (self.features is None or self.features in FRONTENDS,
             f"--features must be one of {', '.join(FRONTENDS)}, got {self.features!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise KwspotError(msg)

    @classmethod
    def resolve(cls, explicit: dict[str, Any], recommended: dict[str, Any] | None = None
                ) -> TrainConfig:
        """Defaults ← ``recommended`` ← ``explicit`` (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        for source, d in (("recommended setting", recommended or {}), ("option", explicit)):
            bad = sorted(set(d) - known)
            if bad:
                raise KwspotError(f"unknown training {source}(s): {', '.join(bad)}")
        merged = {**(recommended or {}), **explicit}
        for key in ("words", "negatives"):
            if key in merged:
                merged[key] = tuple(merged[key])
        return cls(**merged)

    def replace(self, **kw: Any) -> TrainConfig:
        return replace(self, **kw)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def frontend_settings(self) -> dict[str, Any]:
        """Front-end parameters this run sets (beside the model's own)."""
        return {"normalize": self.feature_norm, "embedding_dir": self.embedding_dir,
                "embedding_lr_scale": self.embedding_lr_scale}

    def data_config(self) -> DataConfig:
        return DataConfig(root=self.data, words=self.words, noise_dir=self.noise_dir,
                          split=self.split, val_pct=self.val_pct, test_pct=self.test_pct,
                          split_salt=self.split_salt, silence_share=self.silence_share,
                          unknown_share=self.unknown_share, resample=self.resample,
                          cache_dir=self.cache_dir, seed=self.seed, negatives=self.negatives)

    def augment_config(self) -> AugmentConfig:
        return AugmentConfig(shift_ms=self.shift_ms, noise_prob=self.noise_prob,
                             noise_volume=self.noise_volume, gain_db=self.gain_db,
                             speed=self.speed)
