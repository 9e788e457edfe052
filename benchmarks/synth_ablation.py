"""Which perturbations make synthetic speech teach models that hear real voices?

For each arm (a set of `kwspot synth` options) this synthesizes the default 20-word set and
scores, on every real clip of `sc_v2_test_part` (2,913 clips, 142 speakers, none heard in
training), two learners that saw only that set: a model trained by `kwspot train` (best
checkpoint chosen on held-out synthetic voices), and a logistic regression on the frozen
pretrained speech embedding. The first is a chain of `kwspot` commands, printed with the
figures:

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
# Not background_noise: the real test set's _silence_ clips are cut from those recordings.
NOISE_FOLDERS = ("esc10",)
# Every arm starts from clean speech with the original spreads, then adds its options (argparse
# keeps the last value of a repeated option), so changing kwspot synth's defaults changes no arm.
CLEAN = ["--clean", "--tract-spread", "0.05", "--rate-spread", "0.08", "--neural-share", "0"]
ALL = ["--reverb", "0.6", "--device", "0.6", "--telephone", "0.15", "--tract-spread", "0.1",
       "--rate-spread", "0.15", "--noise", "0.5", "--noise-dirs", "{noise}"]
# arm -> (what it changes, kwspot synth options); "{noise}" is the real-noise folders.
ARMS: dict[str, tuple[str, list[str]]] = {
    "baseline": ("clean eSpeak speech (the synth of issue 13's 34 %)", CLEAN),
    "reverb": ("+ simulated rooms (60 % of clips)", [*CLEAN, "--reverb", "0.6"]),
    "device": ("+ device colouring (60 %) and telephone (15 %)",
               [*CLEAN, "--device", "0.6", "--telephone", "0.15"]),
    "voices": ("+ wider vocal-tract lengths (spread 0.10) and tempo (0.15)",
               [*CLEAN, "--tract-spread", "0.1", "--rate-spread", "0.15"]),
    "noise": ("+ real noise (50 %, SNR 5-30 dB) from esc10",
              [*CLEAN, "--noise", "0.5", "--noise-dirs", "{noise}"]),
    "neural": ("+ a neural voice (Piper's joe) for 25 % of training speakers",
               [*CLEAN, "--neural-share", "0.25"]),
    "all": ("all of the above but the neural voice", [*CLEAN, *ALL]),
    "all+neural": ("all of the above (`kwspot synth`'s defaults)",
                   [*CLEAN, *ALL, "--neural-share", "0.25"]),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2 arms, tiny sizes (CI)")
    p.add_argument("--arms", default=None, help=f"comma-separated ({','.join(ARMS)})")
    p.add_argument("--model", default="dscnn_m", help="model trained in every arm")
    p.add_argument("--per-word", type=int, default=200, help="synthesized clips per word")
    p.add_argument("--iters", type=int, default=300, help="training iterations")
    p.add_argument("--batch-size", type=int, default=128, help="training batch size")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (synthesis and training)")
    p.add_argument("--probes", default=None,
                   help="train (the model above, trained on the set; --train-arms) and/or "
                   "embedding "
                   "(frozen pretrained embedding + logistic regression); default both "
                   "(--quick: train)")
    p.add_argument("--train-arms", default="baseline,all",
                   help="arms the train probe runs on (one run takes ~15 min of a busy 2-core "
                   "CPU; 'every' for all arms)")
    p.add_argument("--out", default=None,
                   help="synth sets and runs go here (/tmp/kwspot-bench/synth_ablation)")
    a = p.parse_args(argv)
    a.arms = a.arms.split(",") if a.arms else (["baseline", "all"] if a.quick else list(ARMS))
    unknown = [x for x in a.arms if x not in ARMS]
    if unknown:
        p.error(f"unknown arm(s) {', '.join(unknown)}; known: {', '.join(ARMS)}")
    a.seeds = [int(s) for s in a.seeds.split(",")]
    a.probes = [x for x in (a.probes or ("train" if a.quick else "train,embedding")).split(",")
                if x]
    if not set(a.probes) <= {"train", "embedding"} or not a.probes:
        p.error(f"--probes {','.join(a.probes)}: choose from train,embedding")
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


def train_probe(cmds: list[list[str]]) -> float:
    """Train the model on the synthetic set, evaluate on the real clips (cached in real.json)."""
    figures = Path(cmds[2][cmds[2].index("--json") + 1])
    if not figures.is_file():  # a finished arm is kept: rerun after removing it
        shutil.rmtree(figures.parent, ignore_errors=True)
        for cmd in cmds[1:]:
            run(cmd)
    return accuracy(figures)


def embedding_probe(synth_dir: Path, real: Path, out: Path) -> float:
    """Frozen openWakeWord embedding, mean+max pooled, logistic regression (scikit-learn).

    Trained on the synthetic training split (12 classes as `kwspot train` labels it),
    scored on every real clip. Features are cached by `kwspot.feature_bank`.
    """
    figures = out / f"embedding-probe-{synth_dir.name}.json"
    if figures.is_file():
        return float(json.loads(figures.read_text())["accuracy"])
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from kwspot.data.dataset import DataConfig, load_dataset
    from kwspot.feature_bank import build_bank
    from kwspot.features import Frontend, FrontendConfig

    torch.set_num_threads(1)
    frontend = Frontend(FrontendConfig(kind="embedding")).eval()

    def pooled(waves: np.ndarray) -> np.ndarray:
        feats = build_bank(frontend, np.asarray(waves), None, 0).feats[0].float().squeeze(1)
        return torch.cat([feats.mean(-1), feats.amax(-1)], 1).numpy()

    train = load_dataset(DataConfig(root=str(synth_dir)), verbose=False).splits["training"]
    test = load_dataset(DataConfig(root=str(real), val_pct=0, test_pct=0), verbose=False,
                        for_training=False).splits["training"]
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=3000))
    probe.fit(pooled(train.waves), np.asarray(train.labels))
    acc = float(np.mean(probe.predict(pooled(test.waves)) == np.asarray(test.labels)))
    figures.write_text(json.dumps({"accuracy": acc, "clips": len(test.labels)}) + "\n")
    return acc


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    real = C.speech_commands()
    if real is None:
        return 0
    noise = ",".join(str(C.data_dir() / f) for f in NOISE_FOLDERS)
    tmp = tempfile.TemporaryDirectory() if a.quick else None
    out = Path(tmp.name if tmp else (a.out or DEFAULT_OUT))
    out.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, str], list[float]] = {}
    commands: dict[str, list[str]] = {}
    for arm in a.arms:
        for seed in a.seeds:
            cmds = arm_commands(arm, seed, a, real, out, noise)
            synth_dir = Path(cmds[0][cmds[0].index("--out") + 1])
            t0 = time.perf_counter()
            run(cmds[0])  # a set already there with the same options is kept
            for probe in a.probes:
                if probe == "train" and a.train_arms != "every" \
                        and arm not in a.train_arms.split(","):
                    continue
                kept = (Path(cmds[2][cmds[2].index("--json") + 1]) if probe == "train"
                        else out / f"embedding-probe-{synth_dir.name}.json").is_file()
                acc = (train_probe(cmds) if probe == "train"
                       else embedding_probe(synth_dir, real, out))
                results.setdefault((probe, arm), []).append(acc)
                how = ("figure kept from an earlier run" if kept else
                       f"{(time.perf_counter() - t0) / 60:.1f} min, load {C.load()}")
                print(f"{arm} seed {seed}, {probe} probe: {acc:.2%} on real clips ({how})",
                      flush=True)
            trained = "train" in a.probes and (a.train_arms == "every"
                                               or arm in a.train_arms.split(","))
            commands.setdefault(arm, [shlex.join(c[3:]).replace(str(out), "OUT")
                                      for c in (cmds if trained else cmds[:1])])
    print_report(a, results, commands)
    if tmp:
        tmp.cleanup()
    return 0


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def synth_defaults() -> str:
    """What `kwspot synth` applies when given no perturbation options."""
    import inspect

    from kwspot.data.synth import DEFAULT_PERTURBATIONS as D
    from kwspot.data.synth import SynthSettings, synthesize

    spreads = {k: v.default for k, v in inspect.signature(synthesize).parameters.items()
               if k.endswith("_spread")}
    return (f"reverb {D.reverb}, device {D.device}, telephone {D.telephone}, real noise "
            f"{D.noise} (when --noise-dirs is given, SNR {D.snr_db[0]:g}-{D.snr_db[1]:g} dB), "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in spreads.items())
            + f", neural voice share {SynthSettings.neural_share} of training speakers")


def print_report(a: argparse.Namespace, results: dict[tuple[str, str], list[float]],
                 commands: dict[str, list[str]]) -> None:
    def cell(probe: str, arm: str) -> str:
        accs = results.get((probe, arm))
        if not accs:
            return "not run"
        mean = sum(accs) / len(accs)
        text = f"{mean:.1%}" + (f" ({' / '.join(f'{x:.1%}' for x in accs)})"
                                if len(accs) > 1 else "")
        base = results.get((probe, "baseline"))
        if base and arm != "baseline":
            text += f", {(mean - sum(base) / len(base)) * 100:+.1f}"
        return text

    names = {"train": f"`{a.model}` trained on it", "embedding": "embedding + linear probe"}
    rows = [[arm, ARMS[arm][0], *(cell(p, arm) for p in a.probes)] for arm in a.arms]
    print()
    print("## Synthetic speech: which perturbations help (synthetic-only training → real clips)")
    print()
    print("Accuracy on all 2,913 real clips of `sc_v2_test_part` (12 classes, 142 speakers, "
          "none heard in training) of models that learned from `kwspot synth` speech only "
          f"({a.per_word} clips per word, 10 words + 10 unknown words; seeds "
          f"{', '.join(map(str, a.seeds))}; after a comma: points vs baseline). Probes: "
          f"`{a.model}` trained {a.iters} iterations (batch {a.batch_size}, 1 thread), best "
          "checkpoint by held-out synthetic voices; and openWakeWord's frozen embedding "
          "(`kwspot.features` `embedding` front-end, clips padded 0.5 s each side), mean+max "
          "pooled, with a logistic regression (scikit-learn, C 0.5) on the synthetic training "
          "split.")
    print()
    print(C.table(["arm", "synthetic speech", *(names[p] for p in a.probes)], rows,
                  "ll" + "r" * len(a.probes)))
    print()
    for probe in a.probes:
        base = results.get((probe, "baseline"))
        if base:
            better = [arm for arm in a.arms if arm != "baseline" and (probe, arm) in results
                      and _mean(results[(probe, arm)]) > _mean(base)]
            print(f"- {names[probe]}: above baseline with {', '.join(better) or 'none'}.")
    print(f"- `kwspot synth` defaults now: {synth_defaults()}.")
    print()
    print("Commands of each arm (first seed; `kwspot` = `python -m kwspot`; OUT = "
          f"`{a.out or DEFAULT_OUT}`; an arm whose `real.json` is there is not run again; "
          "the embedding probe runs inside this script on the set the first command writes):")
    print()
    for arm, cmds in commands.items():
        print(f"- {arm}: " + "; ".join(f"`kwspot {c}`" for c in cmds))


if __name__ == "__main__":
    raise SystemExit(main())
