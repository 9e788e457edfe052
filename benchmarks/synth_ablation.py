"""Which perturbations make synthetic speech teach models that hear real voices?

For each arm (a set of `kwspot synth` options) this synthesizes the default 20-word set,
trains a model on it alone, and evaluates the best checkpoint (chosen on held-out synthetic
voices) on every real clip of `sc_v2_test_part` (2,913 clips, 142 speakers, none heard in
training). Each step is a `kwspot` command, printed with the figures:

    kwspot synth --out S --per-word P --seed 0 --workers 1 ARM-OPTIONS
    kwspot train --data S --model M --iters N --batch-size B --threads 1 --out R
    kwspot evaluate --checkpoint R/best.pt --data sc_v2_test_part --val-pct 0 --test-pct 0 \
        --split training --threads 1 --json R/real.json

    python benchmarks/synth_ablation.py                  # ~6 arms x ~4 min on a shared 2-core CPU
    python benchmarks/synth_ablation.py --arms baseline,all --seeds 0,1
    python benchmarks/synth_ablation.py --quick          # CI: 2 arms, tiny sizes
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C

DEFAULT_OUT = "/tmp/kwspot-bench/synth_ablation"
NOISE_FOLDERS = ("esc10", "background_noise")
# arm -> (what it changes, kwspot synth options); "{noise}" is the real-noise folders.
ARMS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("clean eSpeak speech (the synth of issue 13's 34 %)", ["--clean"]),
    "reverb": ("+ simulated rooms (60 % of clips)", ["--clean", "--reverb", "0.6"]),
    "device": ("+ device colouring (60 %) and telephone (15 %)",
               ["--clean", "--device", "0.6", "--telephone", "0.15"]),
    "voices": ("+ wider vocal-tract lengths (spread 0.10) and tempo (0.15)",
               ["--clean", "--tract-spread", "0.1", "--rate-spread", "0.15"]),
    "noise": ("+ real noise (50 %, SNR 5-30 dB) from esc10 and background_noise",
              ["--clean", "--noise", "0.5", "--noise-dirs", "{noise}"]),
    "all": ("all of the above",
            ["--reverb", "0.6", "--device", "0.6", "--telephone", "0.15",
             "--tract-spread", "0.1", "--rate-spread", "0.15", "--noise", "0.5",
             "--noise-dirs", "{noise}"]),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 arms, tiny sizes (CI)")
    p.add_argument("--arms", default=None, help=f"comma-separated ({','.join(ARMS)})")
    p.add_argument("--model", default="dscnn_m", help="model trained in every arm")
    p.add_argument("--per-word", type=int, default=200, help="synthesized clips per word")
    p.add_argument("--iters", type=int, default=800, help="training iterations")
    p.add_argument("--batch-size", type=int, default=128, help="training batch size")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (synthesis and training)")
    p.add_argument("--out", default=None,
                   help="synth sets and runs go here (/tmp/kwspot-bench/synth_ablation)")
    a = p.parse_args(argv)
    a.arms = a.arms.split(",") if a.arms else (["baseline", "all"] if a.quick else list(ARMS))
    unknown = [x for x in a.arms if x not in ARMS]
    if unknown:
        p.error(f"unknown arm(s) {', '.join(unknown)}; known: {', '.join(ARMS)}")
    a.seeds = [int(s) for s in a.seeds.split(",")]
    if a.quick:
        a.per_word, a.iters, a.model, a.batch_size = 6, 4, "dscnn_s", 16
    return a


def run(cmd: list[str]) -> None:
    """Run a kwspot command quietly; on failure show its output and stop."""
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=C.REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"failed ({proc.returncode}): {shlex.join(cmd)}")


def arm_commands(arm: str, seed: int, a: argparse.Namespace, real: Path, out: Path,
                 noise: str) -> list[list[str]]:
    synth_dir = out / f"synth-{arm}-p{a.per_word}-s{seed}"
    run_dir = out / f"run-{arm}-{a.model}-p{a.per_word}-i{a.iters}-s{seed}"
    options = [o.replace("{noise}", noise) for o in ARMS[arm][1]]
    kw = [sys.executable, "-m", "kwspot"]
    return [
        [*kw, "synth", "--out", str(synth_dir), "--per-word", str(a.per_word), "--seed",
         str(seed), "--workers", "1", *options],
        [*kw, "train", "--data", str(synth_dir), "--model", a.model, "--iters", str(a.iters),
         "--batch-size", str(a.batch_size), "--warmup-iters", str(min(100, a.iters // 10)),
         "--log-every", str(max(1, a.iters // 4)), "--seed", str(seed), "--threads", "1",
         "--out", str(run_dir)],
        [*kw, "evaluate", "--checkpoint", str(run_dir / "best.pt"), "--data", str(real),
         "--val-pct", "0", "--test-pct", "0", "--split", "training", "--threads", "1",
         "--json", str(run_dir / "real.json"), "--plot", str(run_dir / "confusion_real.png")],
    ]


def accuracy(path: Path) -> float:
    data = json.loads(path.read_text())
    return float(data["models"][0]["accuracy"])


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    real = C.speech_commands()
    if real is None:
        return 0
    noise = ",".join(str(C.data_dir() / f) for f in NOISE_FOLDERS)
    tmp = tempfile.TemporaryDirectory() if a.quick else None
    out = Path(tmp.name if tmp else (a.out or DEFAULT_OUT))
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[float]] = {}
    commands: dict[str, list[str]] = {}
    for arm in a.arms:
        for seed in a.seeds:
            cmds = arm_commands(arm, seed, a, real, out, noise)
            t0 = time.perf_counter()
            figures = Path(cmds[2][cmds[2].index("--json") + 1])
            if not figures.is_file():  # a finished arm is kept: rerun after removing it
                shutil.rmtree(figures.parent, ignore_errors=True)
                for cmd in cmds:
                    run(cmd)
            acc = accuracy(figures)
            results.setdefault(arm, []).append(acc)
            commands.setdefault(arm, [shlex.join(c[3:]).replace(str(out), "OUT")
                                      for c in cmds])
            print(f"{arm} seed {seed}: {acc:.2%} on real clips "
                  f"({(time.perf_counter() - t0) / 60:.1f} min, load {C.load()})", flush=True)
    print_report(a, results, commands)
    if tmp:
        tmp.cleanup()
    return 0


def print_report(a: argparse.Namespace, results: dict[str, list[float]],
                 commands: dict[str, list[str]]) -> None:
    base = results.get("baseline")
    rows = []
    for arm, accs in results.items():
        mean = sum(accs) / len(accs)
        delta = f"{(mean - sum(base) / len(base)) * 100:+.1f}" if base and arm != "baseline" \
            else "–"
        rows.append([arm, ARMS[arm][0], " / ".join(f"{x:.1%}" for x in accs), f"{mean:.1%}",
                     delta])
    print()
    print("## Synthetic speech: which perturbations help (synthetic-only training → real clips)")
    print()
    print(f"Model `{a.model}` trained {a.iters} iterations (batch {a.batch_size}, 1 thread) "
          f"on `kwspot synth` speech only ({a.per_word} clips per word, 10 words + 10 unknown "
          "words, seeds "
          f"{', '.join(map(str, a.seeds))}); best checkpoint by held-out synthetic voices; "
          "accuracy on all 2,913 real clips of `sc_v2_test_part` (12 classes, 142 speakers "
          "never heard).")
    print()
    print(C.table(["arm", "synthetic speech", "real accuracy per seed", "mean",
                   "Δ vs baseline (points)"], rows, "llrrr"))
    print()
    print("Commands of each arm (first seed; `kwspot` = `python -m kwspot`; OUT = "
          f"`{a.out or DEFAULT_OUT}`; an arm whose `real.json` is there is not run again):")
    print()
    for arm, cmds in commands.items():
        print(f"- {arm}: " + "; ".join(f"`kwspot {c}`" for c in cmds))


if __name__ == "__main__":
    raise SystemExit(main())
