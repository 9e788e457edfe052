"""The training configuration: one typed, frozen dataclass; overrides are checked.

Values resolve in this order: the defaults below (the seed's recipe), then the model's
recommended settings from the registry, then what the user gave explicitly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from kwspot.data.augment_settings import AugmentConfig
from kwspot.data.dataset import DataConfig
from kwspot.data.labels import LabelSet
from kwspot.errors import KwspotError, SettingError
from kwspot.feature_kinds import EMBEDDING_LAYERS, FRONTENDS
from kwspot.settings import same_as, setting

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "step", "constant")  # the learning rate after warm-up


def _data(name: str) -> Any:
    """The data setting ``name``, defined by DataConfig (mirrored here, defined there)."""
    return same_as({f.name: f for f in fields(DataConfig)}[name])


def _opt(default: Any, help: str, **kw: Any) -> Any:  # noqa: A002 - argparse's word
    return setting(default, help, group="optimisation", **kw)


def _run(default: Any, help: str) -> Any:  # noqa: A002 - argparse's word
    return setting(default, help, group="run")


@dataclass(frozen=True)
class TrainConfig(AugmentConfig):
    """Everything a training run depends on (saved in every checkpoint).

    The augmentation settings (SpecAugment included) are :class:`AugmentConfig`'s, inherited;
    the data settings are :class:`DataConfig`'s fields, defaults and descriptions included
    (``data`` is its ``root``). Each setting a user may give carries its description
    (:func:`kwspot.settings.setting`), from which ``kwspot train`` makes its flag."""

    # data: DataConfig's settings, as it defines them (``data`` is its ``root``)
    data: str = ""  # dataset root (any layout kwspot reads)
    words: tuple[str, ...] = _data("words")
    noise_dir: str | None = _data("noise_dir")
    split: str = _data("split")
    val_pct: float = _data("val_pct")
    test_pct: float = _data("test_pct")
    split_salt: str = _data("split_salt")
    split_offset: float = _data("split_offset")
    silence_share: float = _data("silence_share")
    unknown_share: float = _data("unknown_share")
    zero_silence: float = _data("zero_silence")
    negatives: tuple[str, ...] = _data("negatives")
    resample: bool = _data("resample")
    cache_dir: str | None = _data("cache_dir")
    synth: str | None = setting(None, "folder of `kwspot synth` clips to mix into the "
                                "training split")
    synth_ratio: float = setting(1.0, "synthesized training clips per real training clip, "
                                 "at most")
    init: str | None = setting(None, "start from the weights of this checkpoint or run folder "
                               "(same model and words), e.g. one trained on `kwspot synth` "
                               "speech; the optimizer starts afresh", metavar="CKPT")
    # model
    model: str = setting("seresnet3", "registered model, see `kwspot models`", group="model")
    features: str | None = setting(None, "front-end: raw, mel, mfcc or embedding (default: "
                                   "the model's own)", group="model")
    embedding_dir: str = setting("", "folder with openWakeWord's melspectrogram and "
                                 "embedding_model (.tflite or .onnx) when pyopen-wakeword is "
                                 "not installed", group="model", metavar="DIR")
    embedding_lr_scale: float = setting(0.0, "fine-tune the pretrained embedding at lr x S; "
                                        "0: frozen", group="model", metavar="S")
    embedding_tune_layers: int = setting(20, "when the embedding is fine-tuned: only its last "
                                         "N of 20 convolutions learn (N < 20: the others run "
                                         "once per clip, fast on a CPU)",
                                         group="model", metavar="N")
    feature_copies: int = setting(2, "augmented copies per clip precomputed for a frozen "
                                  "embedding", group="model", metavar="N")
    feature_norm: bool = setting(False, "per-band mean/std normalisation fitted on training "
                                 "clips", group="model")
    # optimisation (the seed: SGD, lr 0.01, momentum 0.9, batch 256)
    iters: int = _opt(10000, "training iterations, in batches")
    epochs: float = _opt(0.0, "run length in passes over the training split; > 0: "
                         "instead of `iters`")
    batch_size: int = _opt(256, "global batch size, split over torchrun's processes")
    lr: float = _opt(0.01, "peak learning rate")
    optimizer: str = _opt("sgd", "optimizer", choices=OPTIMIZERS)
    momentum: float = _opt(0.9, "SGD momentum")
    weight_decay: float = _opt(1e-4, "L2 (sgd) or decoupled (adamw) weight decay")
    schedule: str = _opt("cosine", "learning-rate schedule after warm-up", choices=SCHEDULES)
    warmup_iters: int = _opt(0, "linear warm-up from 0 to lr over this many iterations")
    warmup: float = _opt(0.0, "warm-up as a share of the run, e.g. 0.05; > 0: instead "
                         "of `warmup_iters`")
    label_smoothing: float = _opt(0.0, "cross-entropy label smoothing")
    mixup: float = _opt(0.0, "mixup alpha: Beta(alpha, alpha) on features; 0: off")
    ema: float = _opt(0.0, "weight EMA decay, e.g. 0.999; 0: off")
    grad_clip: float = _opt(0.0, "max gradient norm; 0: off")
    # run
    out: str = "runs/default"  # run folder: log.txt, metrics.jsonl, last.pt, best.pt
    log_every: int = _run(500, "iterations per log row, validation and checkpoint")
    eval_batch: int = _run(512, "batch size for validation")
    seed: int = _run(0, "everything random derives from it")
    device: str = _run("auto", "auto, cpu, cuda or cuda:N")
    threads: int = _run(0, "CPU threads for torch; 0: torch's choice, 1 is fastest when "
                        "other jobs share the CPU")
    amp: bool = _run(True, "bfloat16 autocast on GPU")
    sync_bn: bool = _run(False, "SyncBatchNorm across torchrun processes")

    def __post_init__(self) -> None:
        checks = [
            ("iters", self.iters > 0, f"must be positive, got {self.iters}"),
            ("batch_size", self.batch_size > 0, f"must be positive, got {self.batch_size}"),
            ("lr", self.lr > 0, f"must be positive, got {self.lr}"),
            ("log_every", self.log_every > 0, f"must be positive, got {self.log_every}"),
            ("eval_batch", self.eval_batch > 0, f"must be positive, got {self.eval_batch}"),
            ("threads", self.threads >= 0,
             f"must be 0 (torch's default) or more, got {self.threads}"),
            ("optimizer", self.optimizer in OPTIMIZERS,
             f"must be {' or '.join(OPTIMIZERS)}, got {self.optimizer!r}"),
            ("schedule", self.schedule in SCHEDULES,
             f"must be {', '.join(SCHEDULES)}, got {self.schedule!r}"),
            ("ema", 0 <= self.ema < 1, f"must be in [0, 1), got {self.ema}"),
            ("epochs", self.epochs >= 0, f"must be 0 (use iters) or more, got {self.epochs}"),
            ("warmup", 0 <= self.warmup < 1, f"must be a share in [0, 1), got {self.warmup}"),
            ("warmup_iters", self.warmup_iters >= 0,
             f"must be 0 or more, got {self.warmup_iters}"),
            ("embedding_lr_scale", self.embedding_lr_scale >= 0,
             f"must be >= 0, got {self.embedding_lr_scale}"),
            ("embedding_tune_layers", 1 <= self.embedding_tune_layers <= EMBEDDING_LAYERS,
             f"must be in 1..{EMBEDDING_LAYERS}, got {self.embedding_tune_layers}"),
            ("embedding_tune_layers", (self.embedding_lr_scale > 0
                                       or self.embedding_tune_layers == EMBEDDING_LAYERS),
             "chooses the layers of a fine-tuned embedding, and this one stays frozen "
             "unless its learning-rate scale is above 0"),
            ("feature_copies", self.feature_copies >= 0,
             f"must be >= 0, got {self.feature_copies}"),
            ("features", self.features is None or self.features in FRONTENDS,
             f"must be one of {', '.join(FRONTENDS)}, got {self.features!r}"),
        ]
        for name, ok, problem in checks:
            if not ok:
                raise SettingError(name, problem)
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
                "embedding_lr_scale": self.embedding_lr_scale,
                "embedding_tune_layers": self.embedding_tune_layers}

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
