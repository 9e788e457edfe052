"""Training throughput: clips per second of a training step for every registered model, and
end to end (input pipeline + step) kwspot vs a plain DataLoader on the same model.

* step: forward + backward + optimizer step on features computed beforehand (each model's
  recommended optimizer; batch 256 unless ``--batch-size``);
* kwspot end to end: int16 clips in memory → WaveAugment → Frontend (→ SpecAugment when the
  recipe has it) → step, as ``kwspot train`` runs it;
* plain end to end (``--e2e-models``, default vggnet1 and seresnet3): a ``DataLoader`` reading
  WAVs with soundfile + numpy augmentation + librosa features per item (0 and 2 workers)
  → the same step.

On a GPU (when ``torch.cuda.is_available()`` or ``--device cuda``) the same script reports GPU
clips/s and peak GPU memory.

    python benchmarks/train_speed.py                        # every model, CPU, batch 256
    python benchmarks/train_speed.py --models vggnet1 --batch-size 128
    python benchmarks/train_speed.py --quick                # 2 models, batch 8, CI
"""

from __future__ import annotations

import argparse
import sys
import time

import _common as C

QUICK_MODELS = ["vggnet1", "dscnn_s"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="2 models, batch 8, 1 step, 1 thread (CI)")
    p.add_argument("--models", default=None, help="comma-separated (default: every model)")
    p.add_argument("--e2e-models", default="vggnet1,seresnet3",
                   help="models for the end-to-end comparison with a plain DataLoader")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=6, help="timed steps per measurement (at most)")
    p.add_argument("--seconds", type=float, default=40.0,
                   help="stop a measurement after this long (at least 2 timed steps)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's, one per core)")
    a = p.parse_args(argv)
    if a.quick:
        a.batch_size, a.steps, a.seconds = min(a.batch_size, 8), 1, 2.0
        a.threads = a.threads or 1  # tiny batches: threads only add synchronisation
        a.models = a.models or ",".join(QUICK_MODELS)
        a.e2e_models = "vggnet1"
    return a


def rate(fn, batch: int, steps: int, seconds: float, sync, warmup: int = 3
         ) -> tuple[float, float]:
    """Clips/s (wall) and CPU ms per clip of ``fn``, one call = one batch, from the median
    call (robust to bursts of load on a shared machine).

    Warm-up: up to ``warmup`` calls, until one takes within 25% of the time of the one before
    (the first steps of a model can be several times slower) or ``seconds`` have passed. Then
    up to ``steps`` timed calls, stopping after ``seconds`` (at least one).
    """
    prev, t_start = None, time.perf_counter()
    for _ in range(warmup):
        t = time.perf_counter()
        fn()
        sync()
        took = time.perf_counter() - t
        if (prev is not None and abs(took - prev) <= 0.25 * prev) \
                or time.perf_counter() - t_start > seconds:
            break
        prev = took
    walls, cpus, t0 = [], [], time.perf_counter()
    while not walls or (len(walls) < steps and time.perf_counter() - t0 < seconds):
        c, t = time.process_time(), time.perf_counter()
        fn()
        sync()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return batch / C.median(walls), C.median(cpus) / batch * 1e3


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    C.header("Training throughput", [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    import torch
    from _kws import (
        PlainAugment,
        PlainClips,
        forever,
        kwspot_step,
        plain_loader,
        recipe,
        training_files,
    )
    from threadpoolctl import threadpool_limits

    from kwspot import models
    from kwspot.data.dataset import DataConfig, load_dataset
    from kwspot.features import int16_to_float
    from kwspot.models.profile import count_macs, count_params
    from kwspot.train.step import TrainStep

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    root = C.speech_commands()
    if root is not None:
        data = load_dataset(DataConfig(root=str(root)), verbose=False)
        waves_np, labels_np = data.splits["training"].waves, data.splits["training"].labels
        noise_np = data.noise_bank()
        source = f"the training split of `{root.name}` ({len(labels_np):,} clips)"
    else:
        import numpy as np

        waves_np = C.synthetic_clips(512)
        labels_np = np.arange(512) % 12
        noise_np = C.synthetic_clips(8).reshape(-1)
        source = "synthetic clips (the real clips are absent; no plain-DataLoader comparison)"
    waves = torch.from_numpy(waves_np.copy()).to(device)
    labels = torch.from_numpy(labels_np).to(device)
    noise = int16_to_float(torch.from_numpy(noise_np))
    b = args.batch_size
    names = args.models.split(",") if args.models else models.list_models()
    g = torch.Generator(device=device).manual_seed(0)

    def batch_idx() -> torch.Tensor:
        return torch.randint(0, len(labels), (b,), device=device, generator=g)

    rows, e2e_kwspot = [], {}
    for name in names:
        step = kwspot_step(recipe(name, batch_size=b), noise, device)
        feats = step.features(waves[batch_idx()])
        y = labels[batch_idx()]
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        step_cps, step_cpu = rate(lambda s=step, f=feats, y=y: s.update(f, y), b, args.steps,
                                  args.seconds, sync, warmup=1 if args.quick else 3)
        iteration = iter(range(10**9))

        def e2e(step: TrainStep = step, iteration=iteration) -> None:
            idx = batch_idx()
            step.run(waves[idx], labels[idx], next(iteration))

        e2e_cps, e2e_cpu = rate(e2e, b, args.steps, args.seconds, sync, warmup=1)
        e2e_kwspot[name] = ((e2e_cps, e2e_cpu), step)
        params = count_params(step.net.classifier)
        macs = count_macs(step.net.classifier, step.net.frontend.cfg.output_shape())
        row = [name, f"{params:,}", f"{macs / 1e6:.1f} M", f"{step_cps:,.1f}",
               f"{step_cpu:.2f}", f"{e2e_cps:,.1f}", f"{e2e_cpu:.2f}"]
        if cuda:
            row.append(f"{torch.cuda.max_memory_allocated() / 2**20:,.0f}")
        rows.append(row)
        print(f"{name}: step {step_cps:,.1f} clips/s, kwspot end to end {e2e_cps:,.1f} "
              f"clips/s (load {C.load()})", flush=True)

    e2e_rows = []
    if root is not None:
        files, flabels, fnoise = training_files(root)
        for name in args.e2e_models.split(","):
            if name not in e2e_kwspot:
                continue
            (kw_cps, kw_cpu), step = e2e_kwspot[name]
            ds = PlainClips(files, flabels, step.net.frontend.cfg, fnoise, PlainAugment())
            plain = {}
            for workers in (0, 2):
                loader = plain_loader(ds, b, workers)
                with threadpool_limits(limits=1, user_api="blas"):
                    it = forever(loader)

                    def plain_step(it=it, step: TrainStep = step) -> None:
                        x, yy = next(it)
                        step.update(x.to(device), yy.to(device))

                    plain[workers] = rate(plain_step, b, args.steps, args.seconds, sync,
                                          warmup=1)
                del it, loader
            best = max(plain[0][0], plain[2][0])
            e2e_rows.append([name, f"{kw_cps:,.1f}", f"{kw_cpu:.2f}", f"{plain[0][0]:,.1f}",
                             f"{plain[0][1]:.2f}", f"{plain[2][0]:,.1f}",
                             f"{kw_cps / best:.1f}×", f"{plain[0][1] / kw_cpu:.1f}×"])
            print(f"{name}: plain DataLoader end to end {plain[0][0]:,.1f} (0 workers), "
                  f"{plain[2][0]:,.1f} (2 workers) clips/s (load {C.load()})", flush=True)

    dev = torch.cuda.get_device_name(device) if cuda else \
        f"CPU ({torch.get_num_threads()} torch thread(s))"
    print(f"\nBatch {b} from {source}, on {dev}; clips/s = batch ÷ median step time "
          "(after warm-up steps until the step time settles; then up to "
          f"{args.steps} steps or {args.seconds:g} s, at least 1); "
          "each model's recommended optimizer and augmentation.\n")
    print(C.table(["model", "params", "MACs/clip", "step clips/s", "step CPU ms/clip",
                   "kwspot end-to-end clips/s", "end-to-end CPU ms/clip",
                   *(["peak GPU MiB"] if cuda else [])], rows))
    if e2e_rows:
        print("\nEnd to end, input pipeline + training step, same model and batch "
              "(plain DataLoader: soundfile + numpy augmentation + librosa per item, numpy BLAS "
              "on one thread; the 2 workers share the machine's cores with the step):\n")
        print(C.table(["model", "kwspot clips/s", "kwspot CPU ms/clip", "plain, 0 workers",
                       "plain 0 w. CPU ms/clip", "plain, 2 workers", "× best plain (wall)",
                       "× plain 0 w. (CPU)"], e2e_rows))
        wall = [float(r[-2][:-1]) for r in e2e_rows]
        cpu = [float(r[-1][:-1]) for r in e2e_rows]
        print("\nGoal (kwspot end to end ≥ 2× the plain DataLoader pipeline): "
              f"{'**met**' if min(wall) >= 2 else '**not met**'} in wall clock against the "
              f"better plain variant ({', '.join(f'{r[0]} {r[-2]}' for r in e2e_rows)}); "
              f"{'**met**' if min(cpu) >= 2 else '**not met**'} in CPU time per clip against "
              f"0 workers ({', '.join(f'{r[0]} {r[-1]}' for r in e2e_rows)}).")
    print(f"\nload average {C.load()} at the end; torch {torch.__version__}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
