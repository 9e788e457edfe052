"""Cross-validated accuracy on speakers a model never heard: every clip of ``sc_v2_test_part``
is scored once, by a model trained without its speaker.

Fold ``i`` of ``k`` trains with ``--val-pct 10 --test-pct 100/k --split-offset 100*i/k`` (the
hash rule rotated, so the testing shares of the ``k`` folds partition the speakers; with
``k = 5`` fold 0 is the split of ``benchmarks/accuracy.py`` and ``benchmarks/embedding.py``),
picks its checkpoint on its validation speakers, and is scored on its testing speakers by
``kwspot evaluate``. The pooled figure counts every clip once; its Wilson 95% interval and the
spread over folds say how far the figure of one split can be trusted.

    python benchmarks/crossval.py                          # the CPU recipes, ~1.5 h on 2 cores
    python benchmarks/crossval.py --recipes emb_mlp --reuse
    python benchmarks/crossval.py --recipes emb_mlp-ft1000 --device cuda --json ft.json
    python benchmarks/crossval.py --reuse --merge ft.json  # table with results measured elsewhere
    python benchmarks/crossval.py --reuse --tta            # also score with test-time augmentation
    python benchmarks/crossval.py --name mine -- --model emb_gru --iters 800   # any options
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C

# name → (what it is, options of `kwspot train`, runs on a CPU in reasonable time?)
RECIPES: dict[str, tuple[str, list[str], bool]] = {
    "emb_mlp": ("MLP head, frozen embedding", ["--model", "emb_mlp"], True),
    "emb_conv": ("conv head, frozen embedding", ["--model", "emb_conv"], True),
    "emb_gru": ("GRU head, frozen embedding", ["--model", "emb_gru"], True),
    "emb_mlp+synth": ("MLP head, frozen, real + synthetic (ratio 0.25; the `--synth` set)",
                      ["--model", "emb_mlp", "--synth-ratio", "0.25"], True),
    "emb_mlp-ft9": ("MLP head, the embedding's last 9 of 20 layers fine-tuned at lr x 0.1, "
                    "1,000 iterations, 8 augmented copies",
                    ["--model", "emb_mlp", "--embedding-lr-scale", "0.1",
                     "--embedding-tune-layers", "9", "--feature-copies", "8", "--iters", "1000",
                     "--batch-size", "128", "--log-every", "100"], True),
    "emb_mlp-ft1000": ("MLP head, embedding fine-tuned at lr x 0.1, 1,000 iterations",
                       ["--model", "emb_mlp", "--embedding-lr-scale", "0.1", "--iters", "1000",
                        "--batch-size", "128", "--log-every", "100"], False),
}
# name → (what it is, the recipes whose fold runs it averages, the head trained once on the
# `--synth` set alone that joins them, or None), each fold one `kwspot ensemble` (heads of one
# model: it refuses others). The three frozen heads of different models averaged by `kwspot
# evaluate --ensemble` on each fold's testing speakers scored 94.2% pooled (2,743/2,913),
# no better than `emb_conv` alone.
ENSEMBLES: dict[str, tuple[str, list[str], str | None]] = {
    "emb_mlp+synth-head": ("`kwspot ensemble` of `emb_mlp` and an MLP head trained on the "
                           "`--synth` set alone", ["emb_mlp"], "emb_mlp"),
}
SYNTH = Path("/tmp/kwspot-bench/embedding/synth")  # benchmarks/embedding.py's synthetic set


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny data, a tiny model, 2 folds (CI)")
    p.add_argument("--recipes", default=None,
                   help=f"comma-separated, of {', '.join(RECIPES)} (default: those a CPU "
                   "trains in minutes)")
    p.add_argument("--name", default=None,
                   help="name of a recipe given as train options after --")
    p.add_argument("--data", default=None, help="labeled folder (default: sc_v2_test_part)")
    p.add_argument("--synth", default=str(SYNTH),
                   help="`kwspot synth` folder of the real + synthetic recipe")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--only", default=None, help="comma-separated fold numbers to run")
    p.add_argument("--val-pct", type=float, default=10.0)
    p.add_argument("--out", default="/tmp/kwspot-bench/crossval", help="run folders")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument("--merge", action="append", default=[],
                   help="a --json file of results measured elsewhere (e.g. on a GPU) to show in "
                   "the table; repeatable")
    p.add_argument("--reuse", action="store_true",
                   help="score finished run folders instead of training them again (and "
                   "keep their scores when the checkpoint has not changed since)")
    p.add_argument("--tta", action="store_true",
                   help="also score with test-time augmentation (`kwspot evaluate --tta`)")
    a = p.parse_args(argv)
    if a.folds < 2 or a.val_pct + 100.0 / a.folds > 100:
        p.error("--folds must be >= 2 and leave room for --val-pct")
    if extra and not a.name:
        p.error("train options after -- need --name")
    names = [r for r in (a.recipes or "").split(",") if r]
    unknown = [r for r in names if r not in RECIPES and r not in ENSEMBLES]
    if unknown:
        p.error(f"unknown recipe(s) {', '.join(unknown)}; known: "
                f"{', '.join([*RECIPES, *ENSEMBLES])}")
    if not names and not a.name:
        names = [r for r, (_, _, cpu) in RECIPES.items() if cpu or a.device != "cpu"]
        names += [e for e, (_, members, _) in ENSEMBLES.items() if set(members) <= set(names)]
    a.recipes = names
    if a.quick:
        a.folds, a.recipes, a.name = 2, [], "quick"
        extra = ["--model", "dscnn_s", "--iters", "2", "--batch-size", "16", "--log-every", "2"]
    return a, extra


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of ``k`` successes in ``n`` trials."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def kwspot(args: list[str], log: Path, threads: int) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with log.open("w") as f:
        return subprocess.run([sys.executable, "-m", "kwspot", *args], stdout=f,
                              stderr=subprocess.STDOUT, env=env).returncode


def run_fold(a: argparse.Namespace, options: list[str], data: Path, out: Path, i: int) -> dict:
    """Train (unless reused) and score fold ``i``; its counts."""
    test_pct = 100.0 / a.folds
    split = ["--val-pct", f"{a.val_pct:g}", "--test-pct", f"{test_pct:g}",
             "--split-offset", f"{i * test_pct:g}"]
    run = out / f"fold{i}"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (a.reuse and (run / "best.pt").is_file()):
        cmd = ["train", "--data", str(data), "--device", a.device, "--threads", str(a.threads),
               "--out", str(run), "--overwrite", *split, *options]
        if kwspot(cmd, out / f"fold{i}.train.txt", a.threads) != 0:
            raise SystemExit(f"fold {i}: kwspot train failed, see {out / f'fold{i}.train.txt'}")
    minutes = (time.perf_counter() - t0) / 60
    if minutes < 0.1:  # reused: the finished run's own figures
        minutes = run_seconds(run) / 60
    return score_fold(a, run, out, i, minutes)


def score_fold(a: argparse.Namespace, run: Path, out: Path, i: int, minutes: float) -> dict:
    """Score the checkpoint of fold ``i`` (``run``) on its testing speakers; its counts."""
    figures = out / f"fold{i}.json"
    cmd = ["evaluate", "--checkpoint", str(run / "best.pt"), "--split", "testing",
           "--json", str(figures), "--plot", str(out / f"fold{i}.png"), "--device", a.device,
           "--threads", str(a.threads), *(["--tta"] if a.tta else [])]
    if not (a.reuse and scored(figures, run / "best.pt", a.tta)) and \
            kwspot(cmd, out / f"fold{i}.eval.txt", a.threads) != 0:
        raise SystemExit(f"fold {i}: kwspot evaluate failed, see {out / f'fold{i}.eval.txt'}")
    m = json.loads(figures.read_text())["models"][0]
    n = int(m["count"])
    fold = {"fold": i, "n": n, "correct": round(m["accuracy"] * n), "acc": m["accuracy"],
            "train_minutes": round(minutes, 2)}
    if "tta" in m:
        fold.update(tta_correct=round(m["tta"]["accuracy"] * n), tta_acc=m["tta"]["accuracy"])
    return fold


def scored(figures: Path, checkpoint: Path, tta: bool) -> bool:
    """Whether ``figures`` (an evaluate --json) scored ``checkpoint`` as it is now, with
    test-time augmentation when ``tta``."""
    if not figures.is_file() or figures.stat().st_mtime < checkpoint.stat().st_mtime:
        return False
    m = json.loads(figures.read_text())["models"][0]
    return not tta or "tta" in m


def run_seconds(run: Path) -> float:
    """Wall seconds a finished run spent on its features and its training loop."""
    rows = (run / "metrics.jsonl").read_text().splitlines()
    loop = json.loads(rows[-1])["time_s"] if rows else 0.0
    found = re.search(r"augmented copies\) in ([0-9.]+) s", (run / "log.txt").read_text())
    return loop + (float(found.group(1)) if found else 0.0)


def run_recipe(a: argparse.Namespace, name: str, what: str, options: list[str],
               data: Path, out: Path) -> dict:
    folds = []
    for i in wanted_folds(a):
        folds.append(run_fold(a, options, data, out / name, i))
        f = folds[-1]
        # Progress, not part of the section BENCHMARKS.md gets (that is stdout).
        print(f"{name} fold {i}: {f['acc']:.2%} of {f['n']} clips "
              f"(trained in {f['train_minutes']:.1f} min)", file=sys.stderr, flush=True)
    return recipe_result(a, name, what, options, data, folds)


def wanted_folds(a: argparse.Namespace) -> list[int]:
    """The folds to run: all, or those of ``--only``."""
    return list(range(a.folds)) if a.only is None else [int(x) for x in a.only.split(",")]


def recipe_result(a: argparse.Namespace, name: str, what: str, options: list[str], data: Path,
                  folds: list[dict]) -> dict:
    """A recipe's figures: its folds' counts, pooled."""
    return pooled({"name": name, "what": what, "train_options": options, "device": a.device,
                   "folds": a.folds, "val_pct": a.val_pct, "data": str(data),
                   "per_fold": folds})


def run_ensemble(a: argparse.Namespace, name: str, what: str, members: list[str],
                 synth_model: str | None, data: Path, out: Path) -> dict | None:
    """Per fold, `kwspot ensemble` of the members' fold runs (and of a head trained once on
    the `--synth` set alone), scored as a recipe is; None when a member was not run."""
    synth_head = None
    if synth_model is not None:
        if not Path(a.synth, "yes").is_dir():
            print(f"note: {name} skipped: no `kwspot synth` folder at {a.synth}")
            return None
        synth_head = out / f"synth-only-{synth_model}"
        if not (a.reuse and (synth_head / "best.pt").is_file()):
            cmd = ["train", "--data", a.synth, "--model", synth_model, "--device", a.device,
                   "--threads", str(a.threads), "--seed", "0", "--out", str(synth_head),
                   "--overwrite"]
            if kwspot(cmd, out / f"synth-only-{synth_model}.train.txt", a.threads) != 0:
                raise SystemExit(f"{name}: kwspot train on {a.synth} failed")
    folds = []
    for i in wanted_folds(a):
        runs = [out / m / f"fold{i}" / "best.pt" for m in members]
        if not all(r.is_file() for r in runs):
            print(f"note: {name} skipped: run its members ({', '.join(members)}) first")
            return None
        runs += [synth_head / "best.pt"] if synth_head is not None else []
        ens = out / name / f"fold{i}"
        ens.mkdir(parents=True, exist_ok=True)
        cmd = ["ensemble", *(x for r in runs for x in ("--checkpoint", str(r))),
               "--out", str(ens / "best.pt"), "--overwrite"]
        if kwspot(cmd, out / name / f"fold{i}.ensemble.txt", a.threads) != 0:
            raise SystemExit(f"{name} fold {i}: kwspot ensemble failed")
        folds.append(score_fold(a, ens, out / name, i, 0.0))
        print(f"{name} fold {i}: {folds[-1]['acc']:.2%} of {folds[-1]['n']} clips",
              file=sys.stderr, flush=True)
    return recipe_result(a, name, what, [], data, folds)


def pooled(result: dict) -> dict:
    """Counts over the folds; with test-time augmentation in every fold, its counts too."""
    folds = result["per_fold"]
    k, n = sum(f["correct"] for f in folds), sum(f["n"] for f in folds)
    out = {**result, "correct": k, "n": n, "acc": k / n if n else 0.0,
           "wilson95": list(wilson(k, n))}
    if folds and all("tta_correct" in f for f in folds):
        t = sum(f["tta_correct"] for f in folds)
        out.update(tta_correct=t, tta_acc=t / n if n else 0.0, tta_wilson95=list(wilson(t, n)))
    return out


def table(results: list[dict], folds: int) -> str:
    """One row per recipe; a column of test-time-augmented figures when any were measured."""
    with_tta = any("tta_acc" in r for r in results)
    rows = []
    for r in results:
        per = {f["fold"]: f["acc"] for f in r["per_fold"]}
        lo, hi = r["wilson95"]
        tta = (f"**{r['tta_acc']:.1%}** ({r['tta_correct']:,})" if "tta_acc" in r else "–")
        mins = [f["train_minutes"] for f in r["per_fold"] if f.get("train_minutes")]
        rows.append([f"`{r['name']}`", r["what"], r["device"],
                     *(f"{per[i]:.1%}" if i in per else "–" for i in range(folds)),
                     f"**{r['acc']:.1%}** ({r['correct']:,}/{r['n']:,})", f"{lo:.1%}–{hi:.1%}",
                     *([tta] if with_tta else []),
                     f"{sum(mins) / len(mins):.1f}" if mins else "–"])
    return C.table(["recipe", "what", "trained on", *(f"fold {i}" for i in range(folds)),
                    "pooled", "95% interval", *(["pooled, with `--tta`"] if with_tta else []),
                    "train min per fold"], rows, "lll" + "r" * (folds + 3 + with_tta))


def main(argv: list[str] | None = None) -> int:
    a, extra = parse_args(argv)
    data = Path(a.data) if a.data else C.speech_commands()
    if data is None:
        print("skipped: cross-validation needs the real clips")
        return 0
    out = Path(a.out)
    with tempfile.TemporaryDirectory() as tmp:
        if a.quick:
            data = C.small_copy(data, Path(tmp) / "small", 12)
            out = Path(tmp) / "runs"
        jobs = [(r, RECIPES[r][0], RECIPES[r][1]) for r in a.recipes if r in RECIPES]
        if a.name:
            jobs.append((a.name, " ".join(extra), extra))
        results = []
        for name, what, options in jobs:
            if "--synth-ratio" in options:
                if not Path(a.synth, "yes").is_dir():
                    print(f"note: {name} skipped: no `kwspot synth` folder at {a.synth} "
                          "(make one with `kwspot synth` or `benchmarks/embedding.py`)")
                    continue
                options = [*options, "--synth", a.synth]
            results.append(run_recipe(a, name, what, options, data, out))
        for name in (r for r in a.recipes if r in ENSEMBLES):
            what, members, synth_model = ENSEMBLES[name]
            result = run_ensemble(a, name, what, members, synth_model, data, out)
            results += [result] if result is not None else []
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    for path in a.merge:
        results += [pooled(r) for r in json.loads(Path(path).read_text())]
    same = ("; fold 0 is the split of the accuracy and embedding sections"
            if (a.folds, a.val_pct) == (5, 10) else "")
    print(f"## Cross-validated accuracy: every clip scored once, by a model that never heard its "
          f"speaker\n\n{a.folds} folds of `{data.name}` by speaker (validation "
          f"{a.val_pct:g}%, testing {100 / a.folds:g}% of speakers per fold{same}). Each fold "
          "picks its checkpoint on its own validation speakers; results measured elsewhere "
          "(`--merge`) say where they were trained.\n")
    print(table(results, a.folds))
    goals(results)
    return 0


def goals(results: list[dict]) -> None:
    """Issue 13's accuracy targets, judged on the pooled figures (all clips, every speaker),
    scored in one pass and, where measured, with test-time augmentation."""
    real = [r for r in results if "--synth" not in r["train_options"]
            and "+synth" not in r["name"] and r["n"] and r["folds"] == 5]
    if not real:
        return
    lines = []
    for key, how in (("acc", "one pass"), ("tta_acc", "with `--tta`")):
        scored = [r for r in real if key in r]
        if scored:
            best = max(scored, key=lambda r, k=key: r[k])
            lines.append(f"real only ≥ 96% ({how}): best {best[key]:.1%} (`{best['name']}`, "
                         f"{best['device']}) — **{'met' if best[key] >= 0.96 else 'not met'}**")
    by_name = {r["name"]: r for r in results}
    gains = []  # (points above real only, recipe, its real-only recipe)
    for r in results:
        base = by_name.get(r["name"].split("+synth")[0])
        if "+synth" in r["name"] and base is not None:
            gains.append(((r["acc"] - base["acc"]) * 100, r["name"], base["name"]))
    if gains:
        gains.sort(reverse=True)
        gain, name, base_name = gains[0]
        others = "".join(f"; `{n}` {g:+.1f}" for g, n, _ in gains[1:])
        lines.append(f"real + synthetic ≥ 1 point above real only: best `{name}` {gain:+.1f} "
                     f"points against `{base_name}`{f' ({others[2:]})' if others else ''} — "
                     f"**{'met' if gain >= 1 else 'not met'}**")
    print("\nGoal (issue 13, cross-validated): " + "; ".join(lines) + ".")


if __name__ == "__main__":
    raise SystemExit(main())
