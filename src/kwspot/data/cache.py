"""Decode a dataset once into a memory-mapped int16 array beside a manifest.

``<cache_dir>/<key>/waves.npy`` holds ``int16[N, 16000]`` in manifest order;
``manifest.json`` lists each file's relative path, size and mtime. The cache is rebuilt when
that list changes (a file added, removed or rewritten). Files are written to a temporary name
and renamed, so an interrupted build never leaves a half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from kwspot.data.audio import CLIP_SAMPLES, read_clip
from kwspot.data.layouts import Clip
from kwspot.errors import KwspotError

CACHE_VERSION = 1

log = logging.getLogger("kwspot")


def default_cache_dir() -> Path:
    """``$KWSPOT_CACHE`` or ``~/.cache/kwspot``."""
    env = os.environ.get("KWSPOT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kwspot"


def _manifest(clips: list[Clip], resample: bool) -> dict:
    files = []
    for c in clips:
        try:
            st = c.path.stat()
        except OSError as exc:
            raise KwspotError(f"{c.path}: cannot read ({exc.strerror})") from None
        files.append([c.rel, st.st_size, st.st_mtime_ns])
    return {"version": CACHE_VERSION, "samples": CLIP_SAMPLES, "resample": resample,
            "files": files}


def load_waves(root: Path, clips: list[Clip], *, cache_dir: Path | None = None,
               resample: bool = False, workers: int | None = None,
               verbose: bool = True) -> np.ndarray:
    """``int16[len(clips), 16000]`` for ``clips`` (memory-mapped from the cache when valid)."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    ident = f"{Path(root).resolve()}|{resample}".encode("utf-8", "surrogateescape")
    key = hashlib.sha1(ident).hexdigest()[:16]
    folder = cache_dir / key
    manifest = _manifest(clips, resample)
    mpath, wpath = folder / "manifest.json", folder / "waves.npy"
    if mpath.is_file() and wpath.is_file():
        try:
            old = json.loads(mpath.read_text())
        except (OSError, ValueError):
            old = None
        if old == manifest:
            return np.load(wpath, mmap_mode="r")
    t0 = time.perf_counter()
    waves = decode_clips(clips, resample=resample, workers=workers)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = wpath.with_name(f".waves.{os.getpid()}.npy")
        np.save(tmp, waves)
        os.replace(tmp, wpath)
        tmpm = mpath.with_name(f".manifest.{os.getpid()}.json")
        tmpm.write_text(json.dumps(manifest))
        os.replace(tmpm, mpath)
    except OSError as exc:
        log.warning(f"kwspot: note: cannot write the cache in {folder} ({exc.strerror}); "
                    "point KWSPOT_CACHE or the cache folder setting at a writable folder")
        return waves
    if verbose:
        log.info(f"kwspot: decoded {len(clips):,} clips from {root} in "
                 f"{time.perf_counter() - t0:.1f} s (cached in {folder})")
    return np.load(wpath, mmap_mode="r")


def decode_clips(clips: list[Clip], *, resample: bool = False,
                 workers: int | None = None) -> np.ndarray:
    """Decode clips in parallel threads (libsndfile releases the GIL) into one int16 array."""
    out = np.zeros((len(clips), CLIP_SAMPLES), dtype=np.int16)

    def work(i: int) -> None:
        out[i] = read_clip(clips[i].path, resample=resample)

    n = workers or min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(work, range(len(clips))))
    return out
