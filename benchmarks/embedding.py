"""The pretrained speech embedding (issue 13): accuracy on voices a model never heard, cost, and
which model to pick.

Heads over openWakeWord's frozen embedding, each trained by ``kwspot train`` (embeddings
computed once per clip and augmentation copy, then the head alone), on

* **real** clips: ``sc_v2_test_part`` split by speaker as ``benchmarks/accuracy.py`` does
  (``--val-pct 10 --test-pct 20``), scored on the testing speakers;
* **synthetic** speech only (``kwspot synth``, eSpeak NG voices), scored on all 2,913 real clips;
* **real + synthetic**: the real training split with the synthetic set mixed in
  (``--synth``), scored on the same testing speakers as the real-only run.

Model selection uses the validation speakers (``best.pt``); the testing speakers are only
scored. Then: ONNX latency of a 1-s clip (1 thread, batch 1), the cost of one 80-ms streaming
step (the window scorer: 8 mel frames, one new embedding, the head), head training time, and
the table that tells a user which model to pick, with the from-scratch rows taken from the
accuracy section of ``BENCHMARKS.md``.

    python benchmarks/embedding.py                 # ~30-40 min on 2 busy cores
    python benchmarks/embedding.py --quick         # CI: a few clips per class, 2 iterations
    python benchmarks/embedding.py --cost-only     # cost of the finished runs in --out only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C

HEADS = ["emb_conv", "emb_mlp", "emb_gru"]
VAL_PCT, TEST_PCT = 10, 20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny data, 2 iterations (CI)")
    p.add_argument("--heads", default=",".join(HEADS), help="heads trained on the real clips")
    p.add_argument("--mix-heads", default="emb_conv",
                   help="heads trained on synthetic and on real + synthetic speech")
    p.add_argument("--iters", type=int, default=None, help="training iterations (recipe's)")
    p.add_argument("--synth", default=None,
                   help="a `kwspot synth` folder (default: made with `kwspot synth` defaults)")
    p.add_argument("--out", default=None, help="run folders (/tmp/kwspot-bench/embedding)")
    p.add_argument("--latency-runs", type=int, default=300)
    p.add_argument("--cost-only", action="store_true",
                   help="only measure the cost of the real-only heads' finished runs in --out "
                   "(no training, no scoring)")
    p.add_argument("--reuse", action="store_true",
                   help="score run folders in --out that a run of the same command finished")
    a = p.parse_args(argv)
    a.heads = a.heads.split(",")
    a.mix_heads = [h for h in a.mix_heads.split(",") if h]
    if a.quick:
        a.heads, a.mix_heads, a.iters, a.latency_runs = ["emb_mlp"], ["emb_mlp"], 2, 5
    return a


def kwspot(args: list[str], log: Path) -> tuple[int, float, str]:
    """Run ``kwspot ARGS`` (1 thread); exit code, minutes, output."""
    t0 = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "kwspot", *args], capture_output=True,
                          text=True, env=env)
    out = proc.stdout + proc.stderr
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(out)
    return proc.returncode, (time.perf_counter() - t0) / 60, out


def train_cmd(data: Path, head: str, out: Path, args: argparse.Namespace,
              synth: Path | None = None, split: bool = True) -> list[str]:
    cmd = ["train", "--data", str(data), "--model", head, "--device", "cpu", "--threads", "1",
           "--seed", "0", "--out", str(out), "--overwrite"]
    if split:
        cmd += ["--val-pct", str(VAL_PCT), "--test-pct", str(TEST_PCT)]
    if synth is not None:
        cmd += ["--synth", str(synth)]
    if args.iters:
        cmd += ["--iters", str(args.iters), "--log-every", str(args.iters)]
    if args.quick:
        cmd += ["--batch-size", "16", "--feature-copies", "0"]
    return cmd


def reuse(run: Path) -> tuple[int, float, str]:
    """A finished run of the same command (``--reuse``): exit 0, unknown minutes, its log."""
    log = run / "log.txt"
    if (run / "best.pt").is_file() and log.is_file() and "head trained in" in log.read_text():
        return 0, float("nan"), log.read_text()
    return 1, 0.0, ""


def accuracy_on(run: Path, root: Path, split: str | None) -> tuple[float, int]:
    """Accuracy of ``run/best.pt`` on the ``split`` of its own data settings, or (None) on
    every clip of ``root``."""
    import numpy as np

    from kwspot.config import TrainConfig
    from kwspot.data.dataset import DataConfig, load_dataset
    from kwspot.infer.backend import load_classifier

    clf = load_classifier(run / "best.pt", threads=1)
    if split is None:
        data = load_dataset(DataConfig(root=str(root), val_pct=0, test_pct=0), verbose=False)
        part = data.splits["training"]
    else:
        cfg = TrainConfig.resolve(clf.ckpt.config)  # type: ignore[attr-defined]
        part = load_dataset(cfg.data_config(), verbose=False).splits[split]
    correct = 0
    for i in range(0, len(part), 128):
        x = np.asarray(part.waves[i:i + 128], dtype=np.float32) / 32768.0
        correct += int((clf.predict_proba(x).argmax(1) == part.labels[i:i + 128]).sum())
    return correct / len(part), len(part)


def timings(output: str) -> tuple[float, float, float]:
    """Seconds spent precomputing features, training the head, and the head's CPU seconds,
    from the run's log."""
    pre = re.search(r"features of .* in ([\d.]+) s", output)
    head = re.search(r"head trained in ([\d.]+) s(?: \(([\d.]+) s of CPU\))?", output)
    nan = float("nan")
    return (float(pre.group(1)) if pre else nan, float(head.group(1)) if head else nan,
            float(head.group(2)) if head and head.group(2) else nan)


def onnx_latency(run: Path, out: Path, runs: int) -> tuple[C.Timing, int]:
    """One 1-s clip through the exported ONNX model (1 thread, batch 1); the file's size."""
    import numpy as np
    import onnxruntime as ort

    onnx_path = out / f"{run.name}.onnx"
    rc, _, text = kwspot(["export", "--checkpoint", str(run / "best.pt"), "--out", str(onnx_path),
                          "--overwrite"],
                         out / f"{run.name}.export.txt")
    if rc != 0:
        raise RuntimeError(f"kwspot export failed: {text.strip().splitlines()[-1]}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(0, 0.05, (1, 16000)).astype(np.float32)
    return C.timed(lambda: sess.run(["probs"], {"audio": x}), runs, warmup=5), \
        onnx_path.stat().st_size


def stream_steps(run: Path, runs: int) -> dict[str, C.Timing]:
    """One 80-ms step of the streaming window scorer once its caches are full (1 thread): the
    ONNX step graph that `detect`/`listen` use, and the PyTorch scorer it replaced."""
    import numpy as np
    import torch

    from kwspot.embedding.scorer import EmbeddingWindowScorer
    from kwspot.infer.backend import load_classifier

    torch.set_num_threads(1)
    clf = load_classifier(run / "best.pt", threads=1)
    scorers = {"ONNX step": clf.stream_scorer(),
               "PyTorch": EmbeddingWindowScorer(clf.net.frontend.embedding, clf.net.classifier,
                                                clf.clip_samples)}
    audio = np.random.default_rng(0).normal(0, 0.05, 16000 * 3 + 1280 * (runs + 5))
    audio = audio.astype(np.float32)
    times = {}
    for name, scorer in scorers.items():
        scorer.push(audio[:48000])
        chunks = iter(range(48000, len(audio), 1280))

        def step(scorer=scorer, chunks=chunks) -> None:  # noqa: ANN001
            i = next(chunks)
            probs, _ = scorer.push(audio[i:i + 1280])
            assert len(probs) == 1  # one window per step

        times[name] = C.timed(step, runs, warmup=3)
    return times


def cost(run: Path, out: Path, runs: int) -> dict[str, float]:
    """Medians in ms (wall and CPU) of one head's 1-s clip in ONNX and streaming step."""
    clip, size = onnx_latency(run, out, runs)
    steps = stream_steps(run, runs)
    ms = {"clip": clip, "step": steps["ONNX step"], "torch_step": steps["PyTorch"]}
    res = {"onnx_mb": size / 1e6}
    for key, t in ms.items():
        res[f"{key}_ms"], res[f"{key}_cpu_ms"] = C.median(t) * 1e3, C.median(t.cpu) * 1e3
    return res


def from_scratch_rows(bench: Path) -> tuple[list[list[str]], str]:
    """The from-scratch models of BENCHMARKS.md's accuracy section: rows and its command."""
    try:
        text = bench.read_text()
    except OSError:
        return [], ""
    part = text.split("<!-- BEGIN accuracy -->")[-1].split("<!-- END accuracy -->")[0]
    cmd = re.search(r"Command: `([^`]*)`", part)
    rows = []
    for line in part.split("Issue 7")[-1].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[1].replace(",", "").isdigit():
            rows.append(cells)
    return rows, cmd.group(1) if cmd else ""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    C.header("Pretrained speech embedding: held-out accuracy, cost, which model to pick",
             [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    root = C.speech_commands()
    if root is None:
        print("skipped: the embedding benchmark needs the real clips")
        return 0
    try:
        import pyopen_wakeword  # noqa: F401 (only its model files are used)
    except ImportError:
        print("skipped: pyopen-wakeword (openWakeWord's feature models) is not installed")
        return 0
    with tempfile.TemporaryDirectory(prefix="kwspot-embedding-") as tmp:
        out = Path(tmp) if args.quick else Path(args.out or "/tmp/kwspot-bench/embedding")
        if args.cost_only:
            return cost_only(args, out, Path(tmp))
        return run(args, root, out, Path(tmp))


def cost_only(args: argparse.Namespace, out: Path, tmp: Path) -> int:
    """The cost table of the finished real-only runs in ``out`` (exports go to ``tmp``)."""
    from kwspot.checkpoint import load_checkpoint

    runs = {h: out / f"real-{h}" for h in args.heads if (out / f"real-{h}" / "best.pt").is_file()}
    if not runs:
        print(f"no finished real-only runs in {out}")
        return 1
    chosen = max(runs, key=lambda h: load_checkpoint(runs[h] / "best.pt").best_acc)
    print_costs({h: cost(run, tmp, args.latency_runs) for h, run in runs.items()},
                args.latency_runs, chosen)
    return 0


def run(args: argparse.Namespace, root: Path, out: Path, tmp: Path) -> int:
    real = C.small_copy(root, tmp / "real_small", 12) if args.quick else root
    synth = Path(args.synth) if args.synth else out / "synth"
    synth_cmd = ["synth", "--out", str(synth), *(["--per-word", "4"] if args.quick else [])]
    if not args.synth:
        rc, minutes, text = kwspot(synth_cmd, out / "synth.txt")
        if rc != 0:
            print(f"kwspot synth failed: {text.strip().splitlines()[-1]}")
            return 1
    jobs = [("real", h, real, None, "testing") for h in args.heads]
    jobs += [("synthetic", h, synth, None, None) for h in args.mix_heads]
    jobs += [("real + synthetic", h, real, synth, "testing") for h in args.mix_heads]
    rows, results = [], []
    for what, head, data, mix, split in jobs:
        name = f"{what.replace(' + ', '+')}-{head}"
        cmd = train_cmd(data, head, out / name, args, synth=mix, split=what != "synthetic")
        print(f"{name}: `kwspot {shlex.join(cmd)}`", flush=True)
        rc, minutes, text = reuse(out / name) if args.reuse else (1, 0.0, "")
        if rc == 0:
            print(f"{name}: reusing the finished run in {out / name} (--reuse)", flush=True)
        else:
            rc, minutes, text = kwspot(cmd, out / f"{name}.txt")
        if rc != 0:
            print(f"{name}: kwspot train failed (exit {rc}): "
                  f"{' / '.join(text.strip().splitlines()[-3:])}")
            continue
        acc, n = accuracy_on(out / name, real if split is None else data, split)
        pre_s, head_s, head_cpu = timings(text)
        from kwspot.checkpoint import load_checkpoint

        val = load_checkpoint(out / name / "best.pt").best_acc
        tested = "all real clips" if split is None else "testing speakers"
        results.append({"what": what, "head": head, "run": str(out / name), "acc": acc,
                        "n": n, "val": val, "minutes": minutes, "pre_s": pre_s,
                        "head_s": head_s, "head_cpu_s": head_cpu})
        rows.append([what, head, f"{val * 100:.1f}", f"{acc * 100:.1f}", f"{n:,} ({tested})",
                     C.fmt(pre_s), C.fmt(head_s), C.fmt(head_cpu), C.fmt(minutes)])
        print(f"{name}: {acc * 100:.1f}% on {n} clips ({tested}); load average {C.load()}",
              flush=True)
    print()
    print(f"Synthetic set: `kwspot {shlex.join(synth_cmd)}`" if not args.synth
          else f"Synthetic set: {synth}")
    print()
    print(C.table(["training data", "head", "val acc %", "held-out acc %", "scored on",
                   "features s", "head s", "head CPU s", "run min"], rows, "llrrlrrrr"))
    print()
    if args.quick:
        print("**Quick run: tiny data and 2 iterations; the accuracies mean nothing.**\n")
    if not results:
        return 1
    summarize(args, results, out)
    return 0


def summarize(args: argparse.Namespace, results: list[dict], out: Path) -> None:
    from kwspot import models
    from kwspot.features import FrontendConfig
    from kwspot.models.profile import count_params
    from kwspot.network import frontend_for

    def best(what: str) -> dict | None:
        cands = [r for r in results if r["what"] == what]
        return max(cands, key=lambda r: r["val"]) if cands else None

    chosen = best("real")
    pick_rows = []
    emb_params = 0
    costs = {}
    if chosen is not None:
        from kwspot.features import Frontend

        fe = Frontend(FrontendConfig(kind="embedding"))
        emb_params = sum(p.numel() for p in fe.embedding.embedding.parameters())
        costs = {r["head"]: cost(Path(r["run"]), out, args.latency_runs)
                 for r in results if r["what"] == "real"}
        print_costs(costs, args.latency_runs, chosen["head"])
        for r in results:
            if r["what"] != "real":
                continue
            head = models.create(r["head"], 12)
            pick_rows.append([f"{r['head']} (embedding, frozen)",
                              f"{count_params(head):,} + {emb_params:,}",
                              f"{costs[r['head']]['clip_ms']:.2f} (ONNX)",
                              f"{r['acc'] * 100:.1f}", "this section"])
    scratch, scratch_cmd = from_scratch_rows(C.REPO / "BENCHMARKS.md")
    for cells in scratch:
        pick_rows.append([f"{cells[0]} (from scratch)", cells[1], f"{cells[4]} (PyTorch)",
                          cells[5], f"`{scratch_cmd}`"])
    pick_rows.sort(key=lambda r: -float(r[3]))
    print("Which model to pick (accuracy on speakers never heard, same speaker split of "
          "`sc_v2_test_part`; params: head + frozen embedding; latency per 1-s clip on 1 CPU "
          "thread at batch 1):")
    print()
    print(C.table(["model", "params", "ms per clip", "held-out acc %", "measured by"],
                  pick_rows, "lrrrl"))
    print()
    goals(results)
    fe_cfg = frontend_for(results[0]["head"])
    print(f"\nFront-end: `{fe_cfg.kind}`, clips padded by {fe_cfg.embedding_pad_ms:g} ms "
          f"on each side. Runs and logs in `{out}`; load average {C.load()} at the end.")
    (out / "summary.json").write_text(json.dumps(results, indent=1))


def print_costs(costs: dict[str, dict[str, float]], runs: int, chosen: str) -> None:
    """The cost table (one row per head) and the cost goals, judged on the chosen head."""
    def both(c: dict[str, float], key: str) -> str:
        return f"{c[key + '_ms']:.2f} / {c[key + '_cpu_ms']:.2f}"

    rows = [[head, both(c, "clip"), both(c, "step"), both(c, "torch_step"), f"{c['onnx_mb']:.1f}"]
            for head, c in costs.items()]
    print(f"Cost on one CPU thread, median of {runs} runs, wall / CPU ms (the CPU time counts "
          f"only the work; the wall time also waits for a core on this shared machine; load "
          f"average {C.load()}). A streaming step is 80 ms of new audio once the caches are "
          "full: 8 mel frames, one new embedding, the head over the last embeddings.")
    print()
    print(C.table(["head", "ONNX per 1-s clip", "streaming step (ONNX step graph, what "
                   "detect/listen run)", "streaming step (PyTorch scorer)", "ONNX MB"],
                  rows, "lrrrr"))
    print()
    c = costs[chosen]
    for what, key, goal in (("1-s clip (ONNX)", "clip", 10.0), ("80-ms streaming step", "step",
                                                                2.0)):
        met = "met" if c[key + "_cpu_ms"] <= goal else "not met"
        print(f"- {what} ≤ {goal:g} ms ({chosen}, the best real-only head on the validation "
              f"speakers): {both(c, key)} ms wall / CPU — **{met}** (CPU time)")
    print()


def goals(results: list[dict]) -> None:
    def top(what: str) -> dict | None:
        cands = [r for r in results if r["what"] == what]
        return max(cands, key=lambda r: r["val"]) if cands else None

    real, syn, mix = top("real"), top("synthetic"), top("real + synthetic")
    lines = []
    if real:
        lines.append(f"real only ≥ 96%: {real['acc'] * 100:.1f}% ({real['head']}) — "
                     f"**{'met' if real['acc'] >= 0.96 else 'not met'}**")
    if syn:
        lines.append(f"synthetic only ≥ 80% on every real clip: {syn['acc'] * 100:.1f}% — "
                     f"**{'met' if syn['acc'] >= 0.80 else 'not met'}**")
    if mix and real:
        gain = (mix["acc"] - real["acc"]) * 100
        lines.append(f"real + synthetic ≥ 1 point above real only: {gain:+.1f} points — "
                     f"**{'met' if gain >= 1 else 'not met'}**")
    cpu = [r["head_cpu_s"] for r in results if r["head_cpu_s"] == r["head_cpu_s"]]
    if cpu:
        lines.append(f"a head trains in ≤ 5 min: longest {max(cpu) / 60:.1f} min of CPU time "
                     f"on 1 thread (wall time on this shared machine in the table) — "
                     f"**{'met' if max(cpu) <= 300 else 'not met'}**")
    print("Goal (issue 13 targets): " + "; ".join(lines) + ".")


if __name__ == "__main__":
    sys.exit(main())
