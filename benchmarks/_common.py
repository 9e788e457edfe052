"""Helpers shared by the benchmark scripts: data location, timing, markdown tables, machine info.

The scripts put this folder on ``sys.path`` (Python does so for ``python benchmarks/x.py``)
and import it as ``_common``.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """``$KWSPOT_TEST_DATA`` or ``../shared/data`` next to the repository."""
    return Path(os.environ.get("KWSPOT_TEST_DATA", REPO.parent / "shared" / "data"))


def speech_commands() -> Path | None:
    """The real clips folder ``sc_v2_test_part``, or None (after saying why) when it is absent."""
    root = data_dir() / "sc_v2_test_part"
    if root.is_dir():
        return root
    print(f"note: real Speech Commands clips not found at {root} (set KWSPOT_TEST_DATA)")
    return None


def load_all_clips(root: Path, limit: int | None = None, cache_dir: str | None = None):
    """int16 ``[N, 16000]`` array of every clip of ``root`` (all splits, in split order)."""
    import numpy as np

    from kwspot.data.dataset import DataConfig, load_dataset

    data = load_dataset(DataConfig(root=str(root), cache_dir=cache_dir), verbose=False)
    waves = np.concatenate([np.asarray(s.waves) for s in data.splits.values()])
    return waves[:limit] if limit else waves


def small_copy(root: Path, folder: Path, per_class: int) -> Path:
    """A small copy (links) of a labeled folder: the first ``per_class`` files of each class
    (``--quick`` runs)."""
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        (folder / d.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(d.iterdir())[:per_class]:
            if not (folder / d.name / f.name).exists():
                (folder / d.name / f.name).symlink_to(f)
    return folder


def synthetic_clips(n: int, seed: int = 0):
    """``n`` int16 clips of noise with a tone burst, for speed runs without the real data."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    f = rng.uniform(200, 2000, (n, 1))
    env = np.exp(-((t[None] - rng.uniform(0.3, 0.7, (n, 1))) ** 2) / 0.02)
    x = 0.3 * np.sin(2 * np.pi * f * t[None]) * env + 0.02 * rng.standard_normal((n, 16000))
    return (x * 32767).astype(np.int16)


class Timing(list):
    """Wall-clock seconds of timed calls (the list), with the process CPU seconds in ``cpu``.

    On a busy shared machine the wall time includes waiting for a core; the CPU time counts
    only the work done (summed over threads), so both are reported.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> Timing:
    """Time ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = Timing()
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
        out.cpu.append(time.process_time() - c)
    return out


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def load() -> str:
    """The 1-minute load average, as printed in the tables."""
    return f"{os.getloadavg()[0]:.1f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          align: str | None = None) -> str:
    """A markdown table; ``align`` is one letter per column (l or r; default: first l)."""
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]

    def line(vals: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) if a == "l" else v.rjust(w)
                                 for v, w, a in zip(vals, widths, align, strict=True)) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2))
                         for w, a in zip(widths, align, strict=True)) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in cells)])


def fmt(x: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (no exponent for usual magnitudes)."""
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}" if abs(x) >= 1e-3 else f"{x:.1e}"


def cpu_model() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.rstrip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for mod in ("torch", "numpy", "onnxruntime", "librosa"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            out[mod] = "not installed"
    out["torchaudio"] = "not installed (needs torch 2.9.1; kwspot pins torch 2.13)"
    try:
        import torchaudio  # noqa: F401 (only its version is reported)

        out["torchaudio"] = torchaudio.__version__
    except ImportError:
        pass
    return out


def machine() -> dict[str, Any]:
    """What the figures were measured on and with."""
    import torch

    dirty = [ln[3:] for ln in git("status", "--porcelain", "--", "src", "benchmarks").splitlines()]
    return {
        "date": date.today().isoformat(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "os": f"{platform.system()} {platform.release()}",
        "commit": git("rev-parse", "--short=12", "HEAD") or "unknown",
        "uncommitted": dirty,
        **versions(),
    }


def header(title: str, argv: Sequence[str] | None = None) -> None:
    """Print a script's title, its exact command and the load average."""
    argv = sys.argv if argv is None else argv
    script = Path(argv[0])
    try:
        script = script.resolve().relative_to(REPO)
    except ValueError:
        pass
    cmd = " ".join(["python", str(script), *argv[1:]])
    print(f"## {title}\n")
    print(f"Command: `{cmd}` — load average {load()} at the start "
          f"({os.cpu_count()} cores).\n", flush=True)
