"""Input pipeline: clips per second delivered to the model, kwspot vs a plain DataLoader.

* kwspot: the decoded int16 clips held in memory → a random batch → ``WaveAugment`` (random
  shift, background noise) → ``Frontend``, all batched torch ops (what ``kwspot train`` does);
* plain: ``torch.utils.data.DataLoader`` over a Dataset that reads each WAV with soundfile,
  applies the same augmentation in numpy and computes librosa features per item
  (``num_workers`` 0 and 2; numpy's BLAS limited to one thread, which is faster here).

Also times the first-time decode of the dataset into kwspot's cache (a fresh cache folder)
and the cached load that follows.

    python benchmarks/pipeline.py            # batch 256, 8 batches per variant
    python benchmarks/pipeline.py --quick    # batch 16, 1 batch
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import _common as C


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="batch 16, 1 batch (CI)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--batches", type=int, default=8, help="timed batches per variant")
    p.add_argument("--device", default="cpu", help="device of kwspot's pipeline (cpu, cuda)")
    a = p.parse_args(argv)
    if a.quick:
        a.batch_size, a.batches = min(a.batch_size, 16), min(a.batches, 1)
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    C.header("Input pipeline: clips/s into the model",
             [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    root = C.speech_commands()
    if root is None:
        print("skipped: the pipeline comparison reads the real WAV files")
        return 0
    import torch
    from _kws import PlainAugment, PlainClips, forever, plain_loader, training_files
    from threadpoolctl import threadpool_limits

    from kwspot.data.augment import AugmentConfig, WaveAugment
    from kwspot.data.dataset import DataConfig, load_dataset
    from kwspot.features import Frontend, FrontendConfig, int16_to_float

    # --- first-time cache build, then the cached load ----------------------------------------
    with tempfile.TemporaryDirectory(prefix="kwspot-cache-") as cache:
        t0 = time.perf_counter()
        data = load_dataset(DataConfig(root=str(root), cache_dir=cache), verbose=False)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        data = load_dataset(DataConfig(root=str(root), cache_dir=cache), verbose=False)
        cached = time.perf_counter() - t0
    n_all = sum(len(s) for s in data.splits.values())

    device = torch.device(args.device)
    tr = data.splits["training"]
    waves = torch.from_numpy(tr.waves.copy()).to(device)
    noise = int16_to_float(torch.from_numpy(data.noise_bank()))
    augment = WaveAugment(AugmentConfig(), noise).to(device)
    files, labels, noise_np = training_files(root)
    b, k = args.batch_size, args.batches
    threads = torch.get_num_threads()
    rows = []
    for kind, model in (("mel", "seresnet3"), ("mfcc", "vggnet1")):
        fe_cfg = FrontendConfig(kind=kind)
        fe = Frontend(fe_cfg).to(device)
        gen = torch.Generator(device=device).manual_seed(0)

        def kwspot_batch(fe: Frontend = fe, gen: torch.Generator = gen) -> None:
            idx = torch.randint(0, len(waves), (b,), device=device, generator=gen)
            with torch.no_grad():
                fe(augment(int16_to_float(waves[idx]), gen))
            if device.type == "cuda":
                torch.cuda.synchronize()

        results = {}
        for t in sorted({1, threads}):
            torch.set_num_threads(t)
            tm = C.timed(kwspot_batch, k, warmup=1)
            results[f"kwspot: memory → WaveAugment → Frontend ({t} thread"
                    f"{'s' if t > 1 else ''})"] = (b / C.median(tm), C.median(tm.cpu) / b * 1e3)
        torch.set_num_threads(threads)
        ds = PlainClips(files, labels, fe_cfg, noise_np, PlainAugment())
        for workers in (0, 2):
            loader = plain_loader(ds, b, workers)
            with threadpool_limits(limits=1, user_api="blas"):
                it = forever(loader)
                next(it)  # worker start-up and the first batch are not timed
                tm = C.timed(lambda it=it: next(it), k, warmup=0)
            cpu = "–" if workers else C.median(tm.cpu) / b * 1e3
            results[f"plain DataLoader: soundfile + numpy + librosa, {workers} workers"] = (
                b / C.median(tm), cpu)
            del it, loader
        base = next(v[0] for name, v in results.items() if name.endswith("0 workers"))
        for name, (cps, cpu) in results.items():
            rows.append([name, f"{kind} ({model})", f"{cps:,.0f}",
                         cpu if isinstance(cpu, str) else f"{cpu:.3f}", f"{cps / base:.1f}×"])
    print(f"Training split of `{root.name}` ({len(tr):,} clips), batch {b}, median of {k} "
          f"batches (after a warm-up batch) on {device}; features 40×101. Augmentation in "
          "both: random shift ±100 ms, background noise with probability 0.8 at volume "
          "≤ 0.1. CPU ms/clip: this process's CPU time (all threads; the workers' time is "
          "not visible to it).\n")
    print(C.table(["pipeline", "features", "clips/s", "CPU ms/clip", "× plain, 0 workers"],
                  rows, "llrrr"))
    print()
    print(f"First-time cache build (decode {n_all:,} WAV files into an int16 array, fresh cache "
          f"folder): {build:.2f} s ({n_all / build:,.0f} clips/s); loading it again from the "
          f"cache: {cached:.3f} s.")
    print(f"\nload average {C.load()} at the end; torch {torch.__version__}, {threads} threads "
          "by default.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
