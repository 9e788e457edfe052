"""The checkpoint format: :class:`Checkpoint` alone writes and reads it.

A checkpoint file is ``torch.save`` of a dict of plain values (dict, list, str, int, float,
bool, None) and tensors, and is read with ``torch.load(..., weights_only=True)``: loading one
never runs code from the file; anything else in it is refused. It holds

* what inference needs: model name and kwargs, front-end parameters (a plain dict), labels,
  sample rate and clip length, the network's weights (the EMA's when the run kept one), and
  optional plain-dict fields that later tools fill (``operating_point``: per-word detection
  thresholds and detector settings); ``best.pt`` holds only this;
* the training settings (``config``), iteration, best validation accuracy and its iteration,
  and the log row of the iteration saved;
* for ``last.pt`` also ``resume``: the training weights, EMA and optimizer state, RNG state,
  elapsed time and the statistics of the log interval in progress.

Files are written atomically (temporary file in the same folder, fsync, rename). Files of older
format versions are migrated when read (:data:`MIGRATIONS`); version 1 (kwspot before the
Checkpoint type) kept everything at the top level and ``torch.__version__`` as a TorchVersion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from kwspot.errors import KwspotError
from kwspot.tensorfile import read_tensors, remove_stale_tmp, save_atomic, write_text_atomic

FORMAT = "kwspot-checkpoint"
VERSION = 2

_REQUIRED = ("model", "labels", "frontend", "weights")


@dataclass
class Checkpoint:
    """One saved model (and, for ``last.pt``, the state to resume its training)."""

    model: str  # registered model name
    labels: list[str]  # class names, output order
    frontend: dict[str, Any]  # front-end parameters (FrontendConfig.to_dict(), or a new kind's)
    weights: dict[str, Tensor]  # the network inference uses: front-end buffers + classifier
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    sample_rate: int = 16000  # Hz of the clips the model takes
    clip_samples: int = 16000  # samples per clip
    config: dict[str, Any] = field(default_factory=dict)  # training settings (plain values)
    iteration: int = 0  # training iterations done when saved
    best_acc: float = -1.0  # best validation accuracy so far
    best_iter: int = 0  # iteration of best_acc
    row: dict[str, Any] | None = None  # the log row of this iteration
    operating_point: dict[str, Any] | None = None  # detection thresholds, detector settings
    resume: dict[str, Any] | None = None  # training state for --resume (last.pt only)
    torch_version: str = torch.__version__.split("+")[0]
    path: str = field(default="", compare=False)  # where it was read from (not saved)

    # --- writing -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The saved form: format, version, and every field but ``path`` as plain values."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "path"}
        d = {"format": FORMAT, "version": VERSION, **_plain(d)}
        d["torch_version"] = str(d["torch_version"])
        return d

    def save(self, path: Path | str) -> None:
        """Write atomically to ``path``; an OSError (disk full …) becomes one KwspotError line
        and leaves the file that was there untouched."""
        save_atomic(self.to_dict(), path)

    def inference_only(self) -> Checkpoint:
        """This checkpoint without its resume state (what ``best.pt`` holds)."""
        return replace(self, resume=None)

    # --- reading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str) -> Checkpoint:
        """Read a checkpoint file (or a run folder's ``best.pt``, else ``last.pt``)."""
        path = Path(path)
        if path.is_dir():
            path = path / "best.pt" if (path / "best.pt").is_file() else path / "last.pt"
        if not path.is_file():
            raise KwspotError(f"{path}: no such checkpoint")
        return cls.from_dict(read_tensors(path), str(path))

    @classmethod
    def from_dict(cls, d: Any, where: str = "checkpoint") -> Checkpoint:
        """Check and migrate a loaded dict; problems are one-line KwspotErrors."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise KwspotError(f"{where}: not a kwspot checkpoint")
        version = d.get("version", 0)
        if not isinstance(version, int) or version < 1:
            raise KwspotError(f"{where}: not a kwspot checkpoint (version {version!r})")
        if version > VERSION:
            raise KwspotError(f"{where}: checkpoint format {version} is newer than this "
                              f"kwspot understands ({VERSION}); upgrade kwspot")
        for v in range(version, VERSION):
            d = MIGRATIONS[v](dict(d))
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise KwspotError(f"{where}: checkpoint is missing {', '.join(missing)}")
        known = {f.name for f in fields(cls)} - {"path"}
        ckpt = cls(**{k: v for k, v in d.items() if k in known}, path=where)
        ckpt._check_types()
        return ckpt

    def _check_types(self) -> None:
        if not isinstance(self.weights, dict) or not all(
                isinstance(t, Tensor) for t in self.weights.values()):
            raise KwspotError(f"{self.path}: checkpoint weights are not a dict of tensors")
        if not (isinstance(self.labels, list) and all(isinstance(s, str) for s in self.labels)):
            raise KwspotError(f"{self.path}: checkpoint labels are not a list of names")
        if not isinstance(self.frontend, dict) or not isinstance(self.model, str):
            raise KwspotError(f"{self.path}: checkpoint model or front-end is malformed")

    # --- using -----------------------------------------------------------------------------

    def build_net(self, weights: str = "weights") -> Any:
        """The network with its weights, in eval mode: ``weights`` (inference) or
        ``train_weights`` (the resume state's)."""
        from kwspot.features import FrontendConfig
        from kwspot.network import build_net

        state = self.weights if weights == "weights" else self.resume_state()[weights]
        try:
            fe = FrontendConfig.from_dict(self.frontend)
            net = build_net(self.model, len(self.labels), fe, self.model_kwargs, pretrained=False)
        except (ValueError, TypeError) as exc:
            raise KwspotError(f"{self.path}: cannot rebuild model {self.model!r} "
                              f"({str(exc).splitlines()[0]})") from None
        load_weights(net, state, self.path, self.model)
        return net.eval()

    def resume_state(self) -> dict[str, Any]:
        """The resume state; a checkpoint without one (a ``best.pt``) cannot be resumed."""
        if not self.resume:
            raise KwspotError(f"{self.path}: holds no training state to resume from "
                              "(resume from the run's last.pt)")
        return self.resume

    def check_model(self, model: str) -> None:
        """Refuse a checkpoint of another model."""
        if self.model != model:
            raise KwspotError(f"{self.path}: checkpoint is for model {self.model!r}, "
                              f"not {model!r}")

    def check_compatible(self, model: str, labels: tuple[str, ...]) -> None:
        """Refuse a checkpoint of another model or label set."""
        self.check_model(model)
        if tuple(self.labels) != tuple(labels):
            raise KwspotError(f"{self.path}: checkpoint labels ({','.join(self.labels)}) differ "
                              f"from this run's ({','.join(labels)})")


def load_weights(module: torch.nn.Module, state: dict[str, Tensor], where: str,
                 what: str) -> None:
    """``module.load_state_dict(state)``; missing/unexpected keys or other shapes → one line."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KwspotError(f"{where}: weights do not fit model {what!r} ({first[:200]})") from None


def load_checkpoint(path: Path | str) -> Checkpoint:
    """:meth:`Checkpoint.load`."""
    return Checkpoint.load(path)


__all__ = ["FORMAT", "MIGRATIONS", "VERSION", "Checkpoint", "config_dict", "load_checkpoint",
           "load_weights", "remove_stale_tmp", "save_atomic", "write_text_atomic"]


# --- plain values and migrations -----------------------------------------------------------

def _plain(v: Any) -> Any:
    """Tuples → lists, recursively; refuses anything but plain values and tensors (dict keys:
    str or int, e.g. an optimizer's per-parameter state)."""
    if isinstance(v, dict):
        bad = [k for k in v if not isinstance(k, (str, int))]
        if bad:
            raise TypeError(f"checkpoint dict key {bad[0]!r} is not a str or int")
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, (str, Tensor)):
        return v
    if type(v).__module__ == "numpy" and getattr(v, "shape", None) == ():  # a numpy scalar
        v = v.item()
    for kind in (bool, int, float):  # subclasses (numpy's float64) are saved as the base type
        if isinstance(v, kind):
            return kind(v)
    raise TypeError(f"checkpoint field of type {type(v).__name__} is not a plain value")


def _from_v1(d: dict[str, Any]) -> dict[str, Any]:
    """Version 1 → 2: resume state under ``resume``, inference weights under ``weights``,
    sample rate and clip length recorded, plain values only."""
    resume = None
    if d.get("optimizer") is not None:
        resume = {"train_weights": d.get("train_state_dict"), "ema": d.get("ema_state"),
                  "optimizer": d.get("optimizer"), "elapsed_s": d.get("elapsed_s", 0.0),
                  "interval": d.get("interval"), "rng": d.get("rng")}
    frontend = d.get("frontend") or {}
    out = {k: d[k] for k in ("model", "labels", "frontend", "model_kwargs", "iteration",
                             "best_acc", "best_iter", "row", "config") if k in d}
    if "state_dict" in d:
        out["weights"] = d["state_dict"]
    out.update(resume=resume, sample_rate=int(frontend.get("sample_rate", 16000)),
               clip_samples=16000, torch_version=str(d.get("torch_version", "")),
               model_kwargs=d.get("model_kwargs") or {}, version=2, format=FORMAT)
    return _plain(out)


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_v1}
"""``MIGRATIONS[v]`` turns a version-``v`` dict into a version ``v + 1`` one."""


def config_dict(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as plain values, for the ``config`` field."""
    return _plain(asdict(obj))
