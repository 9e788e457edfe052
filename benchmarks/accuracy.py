"""Accuracy on real speech: every model trained for the same wall-clock budget, then scored on
speakers it never heard.

For each model: measure its training speed (clips/s of kwspot's training step over ~10
iterations), set ``--iters`` so that training takes about ``--minutes``, run

    kwspot train --data sc_v2_test_part --val-pct 10 --test-pct 20 --model M --iters N ...

(its recommended recipe from the registry, with a smaller batch and the warm-up scaled to the
shorter run), then evaluate ``best.pt`` (chosen on the validation speakers) on the ``testing``
split: 20% of the speakers, never seen in training or model selection. Also prints params,
MACs and CPU latency at batch 1, the table issue 7 asks for.

    python benchmarks/accuracy.py                     # ~60 min on 2 cores: 9 models x 4 min
    python benchmarks/accuracy.py --models vggnet1,bcresnet3 --minutes 2
    python benchmarks/accuracy.py --quick             # CI: 2 models, a few iterations
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C

MODELS = ["simple1dnet", "seresnet3", "vggnet1", "bcresnet1", "bcresnet3", "bcresnet8",
          "matchboxnet3x2x64", "dscnn_m", "kwt1"]
QUICK_MODELS = ["vggnet1", "dscnn_s"]
SEED_MODELS = ("simple1dnet", "seresnet3", "vggnet1")
# Validation accuracy of the seed models after training on the full dataset (105k clips).
SEED_FULL_DATA = {"simple1dnet": 92.6, "seresnet3": 97.2, "vggnet1": 95.3}
VAL_PCT, TEST_PCT = 10, 20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="2 models, 2 iterations, 1 thread (CI)")
    p.add_argument("--models", default=None, help=f"comma-separated ({','.join(MODELS)})")
    p.add_argument("--minutes", type=float, default=4.0, help="training budget per model")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads per training run (1: fastest when the CPU is shared)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="batch size for every model (64: the training split has ~2,000 clips)")
    p.add_argument("--out", default=None,
                   help="run folders go here (/tmp/kwspot-bench/accuracy; --quick: a temporary "
                   "folder, removed afterwards)")
    p.add_argument("--latency-runs", type=int, default=200, help="batch-1 runs timed per model")
    a = p.parse_args(argv)
    if a.quick:
        a.batch_size = min(a.batch_size, 32)
        a.latency_runs = min(a.latency_runs, 5)
    a.models = a.models.split(",") if a.models else (QUICK_MODELS if a.quick else MODELS)
    return a


def measure_clips_per_s(model: str, batch: int, waves, labels, noise) -> float:
    """Clips/s of kwspot's training step: 3 warm-up iterations, then the mean over up to 20
    iterations or 30 s."""
    import torch
    from _kws import kwspot_step, recipe

    step = kwspot_step(recipe(model, batch_size=batch), noise)
    g = torch.Generator().manual_seed(0)

    def one(it: int) -> None:
        idx = torch.randint(0, len(labels), (batch,), generator=g)
        step.run(waves[idx], labels[idx], it)

    for i in range(3):
        one(i)
    t0, n = time.perf_counter(), 0
    while n < 20 and (n < 2 or time.perf_counter() - t0 < 30):
        one(3 + n)
        n += 1
    return n * batch / (time.perf_counter() - t0)


def iterations(minutes: float, clips_per_s: float, batch: int, val_clips: int) -> int:
    """Iterations that make ``kwspot train`` take about ``minutes``: the budget less ~15 s of
    start-up, less 8 validation passes (a forward pass costs about a third of a training
    step)."""
    clips = (minutes * 60 - 15) * clips_per_s - 8 * val_clips / 3
    return max(16, round(clips / batch))


def train_command(root: Path, model: str, iters: int, log_every: int, batch: int,
                  warmup: int, out: Path) -> list[str]:
    return ["kwspot", "train", "--data", str(root), "--val-pct", str(VAL_PCT),
            "--test-pct", str(TEST_PCT), "--model", model, "--iters", str(iters),
            "--log-every", str(log_every), "--batch-size", str(batch),
            "--warmup-iters", str(warmup), "--device", "cpu", "--seed", "0", "--out", str(out),
            "--overwrite"]


def held_out_accuracy(run: Path) -> tuple[float, int, int, int]:
    """Accuracy of ``run/best.pt`` on the testing split of its own data config; also the number
    of testing clips and speakers, and the number of them also in the training split (0)."""
    import numpy as np

    from kwspot.config import TrainConfig
    from kwspot.data.dataset import load_dataset
    from kwspot.infer.backend import load_classifier

    clf = load_classifier(run / "best.pt")
    cfg = TrainConfig.from_saved(clf.ckpt.config)  # type: ignore[attr-defined]
    data = load_dataset(cfg.data_config(), verbose=False)
    test, train = data.splits["testing"], data.splits["training"]
    real = _speakers(test, data.labels.silence_index)
    shared = real & _speakers(train, data.labels.silence_index)
    correct = 0
    for i in range(0, len(test), 128):
        x = np.asarray(test.waves[i:i + 128], dtype=np.float32) / 32768.0
        correct += int((clf.predict_proba(x).argmax(1) == test.labels[i:i + 128]).sum())
    return correct / len(test), len(test), len(real), len(shared)


def _speakers(split, silence_index: int) -> set[str]:
    """Speakers of a split's word clips (silence clips have no speaker)."""
    return {s for s, y in zip(split.speakers, split.labels, strict=True) if y != silence_index}


def latency_ms(run: Path, runs: int) -> float:
    """Median ms of one 1-s clip at batch 1 through the trained network (1 CPU thread)."""
    import torch

    from kwspot.checkpoint import Checkpoint

    net = Checkpoint.load(run / "best.pt").build_net()
    x = torch.zeros(1, 16000)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            times = C.timed(lambda: net(x), runs, warmup=5)
    finally:
        torch.set_num_threads(threads)
    return C.median(times) * 1e3


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.out is None and args.quick:
        with tempfile.TemporaryDirectory(prefix="kwspot-accuracy-") as tmp:
            args.out = tmp
            return run(args, argv)
    args.out = args.out or "/tmp/kwspot-bench/accuracy"
    return run(args, argv)


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    C.header("Accuracy on held-out speakers (same training time for every model)",
             [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    root = C.speech_commands()
    if root is None:
        print("skipped: accuracy needs the real clips")
        return 0
    import torch

    from kwspot import models
    from kwspot.data.dataset import DataConfig, load_dataset
    from kwspot.features import int16_to_float
    from kwspot.models.profile import count_macs, count_params
    from kwspot.network import frontend_for

    threads = 1 if args.quick else args.threads
    torch.set_num_threads(threads)
    data = load_dataset(DataConfig(root=str(root), val_pct=VAL_PCT, test_pct=TEST_PCT),
                        verbose=False)
    tr = data.splits["training"]
    waves = torch.from_numpy(tr.waves.copy())
    labels = torch.from_numpy(tr.labels)
    noise = int16_to_float(torch.from_numpy(data.noise_bank()))
    sizes = {s: len(v) for s, v in data.splits.items()}
    n_spk = {s: len(_speakers(v, data.labels.silence_index)) for s, v in data.splits.items()}
    out = Path(args.out)
    rows, summary = [], []
    for model in args.models:
        spec = models.get_spec(model)
        rec = spec.recommended
        batch = args.batch_size
        if args.quick:
            cps, iters = float("nan"), 2
        else:
            cps = measure_clips_per_s(model, batch, waves, labels, noise)
            iters = iterations(args.minutes, cps, batch, sizes["validation"])
        log_every = iters if args.quick else max(1, round(iters / 8))
        warmup = round(rec.get("warmup", 0.0) * iters)  # the recipe's share of the run
        run = out / model
        cmd = train_command(root, model, iters, log_every, batch, warmup, run)
        print(f"{model}: {C.fmt(cps)} clips/s measured → `{shlex.join(cmd)}`", flush=True)
        run.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with open(run / "stdout.txt", "w") as log:
            # 1 thread by default: on a shared 2-core CPU, 2 OpenMP threads run 5-10x slower
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            rc = subprocess.run([sys.executable, "-m", "kwspot", *cmd[1:]], stdout=log,
                                stderr=subprocess.STDOUT, env=env).returncode
        minutes = (time.perf_counter() - t0) / 60
        if rc != 0:
            tail = (run / "stdout.txt").read_text().strip().splitlines()[-3:]
            print(f"{model}: kwspot train failed (exit {rc}): {' / '.join(tail)}")
            continue
        from kwspot.checkpoint import Checkpoint

        ckpt = Checkpoint.load(run / "best.pt")
        cfg = ckpt.config
        acc, n_test, spk_test, shared = held_out_accuracy(run)
        lat = latency_ms(run, args.latency_runs)
        fe = frontend_for(model)
        classifier = models.create(model, 12)
        params, macs = count_params(classifier), count_macs(classifier, fe.output_shape())
        epochs = iters * batch / sizes["training"]
        recipe_txt = f"{cfg['optimizer']} lr {cfg['lr']:g}, wd {cfg['weight_decay']:g}"
        if cfg.get("spec_time_masks") or cfg.get("spec_freq_masks"):
            recipe_txt += ", SpecAugment"
        if cfg.get("label_smoothing"):
            recipe_txt += f", smoothing {cfg['label_smoothing']:g}"
        rows.append([model, recipe_txt, f"{iters:,}", str(warmup), f"{epochs:.1f}",
                     f"{minutes:.1f}", C.fmt(cps), f"{ckpt.best_acc * 100:.1f}",
                     f"{acc * 100:.1f}"])
        summary.append({"model": model, "params": params, "macs": macs, "latency_ms": lat,
                        "acc": acc, "val_acc": ckpt.best_acc, "iters": iters,
                        "minutes": minutes, "n_test": n_test, "shared_speakers": shared})
        print(f"{model}: held-out accuracy {acc * 100:.1f}% ({n_test} clips, {spk_test} "
              f"speakers, {shared} shared with training), {minutes:.1f} min", flush=True)
        print(f"load average {C.load()}", flush=True)

    print()
    print(f"Data: `{root}` split by speaker with `--val-pct {VAL_PCT} --test-pct {TEST_PCT}`: "
          + ", ".join(f"{s} {sizes[s]:,} clips ({n_spk[s]} speakers)" for s in sizes)
          + f". Batch {args.batch_size} for every model; each model's recommended recipe "
          "otherwise (`kwspot models`), with its warm-up scaled to the shorter run "
          "(recommended warm-up × iters / recommended iters); cosine decay to 0 over the run. "
          + ("**Quick run: a few iterations, the accuracies mean nothing.**" if args.quick
             else f"Budget: {args.minutes:g} min of training per model (iterations set from "
             "the clips/s measured just before)."))
    print()
    print(C.table(["model", "recipe", "iters", "warm-up", "epochs", "train min", "clips/s",
                   "val acc %", "held-out acc %"], rows, "llrrrrrrr"))
    print()
    if not summary:
        return 1
    ref = next((s for s in summary if s["model"] == "seresnet3"), None)
    combined = []
    for s in summary:
        rel = f"{s['params'] / ref['params']:.2f}" if ref else "–"
        combined.append([s["model"], f"{s['params']:,}", rel, f"{s['macs'] / 1e6:.1f} M",
                         f"{s['latency_ms']:.2f}", f"{s['acc'] * 100:.1f}"])
    print("Issue 7: size, cost, speed and accuracy together (latency: PyTorch, 1 CPU thread, "
          "batch 1, median; held-out accuracy from the table above).")
    print()
    print(C.table(["model", "params", "× seresnet3", "MACs/clip", "CPU ms @ batch 1",
                   "held-out acc %"], combined))
    print()
    if ref is not None:
        winners = [s for s in summary if s["model"] not in SEED_MODELS
                   and s["params"] <= ref["params"] / 4 and s["acc"] > ref["acc"]]
        if winners:
            names = ", ".join(f"{s['model']} ({s['acc'] * 100:.1f}% with "
                              f"{s['params'] / ref['params']:.2f}× the params)" for s in winners)
            print(f"Goal (a modern model beats seresnet3's {ref['acc'] * 100:.1f}% with at most "
                  f"¼ of its parameters): **met** by {names}.")
        else:
            print(f"Goal (a modern model beats seresnet3's {ref['acc'] * 100:.1f}% with at most "
                  "¼ of its parameters): **not met** in this run.")
        print()
    print("For scale: the seed models reach " + ", ".join(
        f"{m} {v}%" for m, v in SEED_FULL_DATA.items()) + " validation accuracy after training "
        f"on the full dataset (105k clips); here the training split has {sizes['training']:,} "
        "clips and a few minutes of CPU time.")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\nload average {C.load()} at the end; runs and logs in `{out}`; "
          f"CPU threads per training run: {threads}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
