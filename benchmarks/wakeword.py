"""Wake words from text: recall on real recordings at <= 1 false alarm per hour, kwspot vs
PocketSphinx.

For each word (default: `wakewords/computer` and `wakewords/snowboy` of the shared data, real
recordings never used for training or threshold choice) this runs the same command, with
nothing set for the word:

    kwspot wakeword WORD --out W/WORD --negatives speech_s2i speech_phone esc10 \
        background_noise --other-words sc_v2_test_part sc_v1_sample --test wakewords/WORD \
        --workers 2

which trains on synthetic speech of the word only (real voices: other words and running
speech as negatives), calibrates its threshold on one part of the negative
files and measures on another part it never saw (`report.json`). It runs twice, with
`--fold 0` and `--fold 1`: each run trains and calibrates on one half of the negative files
and measures on the other, so together they measure all of it (about twice the hours of one
run); the figures pool both (false alarms and hours added up, recall over both runs' hits).
PocketSphinx keyphrase spotting (no training; `benchmarks/_pocketsphinx.py`) runs on the same
test recordings and on the same measured negative files (all of them unless --ps-hours). A
file counts as a hit when the detector fires anywhere in it; unreadable files are named and
skipped.

    python benchmarks/wakeword.py                       # both words, ~1 h on 2 cores
    python benchmarks/wakeword.py --reuse               # kwspot's figures from the last runs
    python benchmarks/wakeword.py --words computer
    python benchmarks/wakeword.py --quick               # CI: tiny sizes
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C
import _pocketsphinx as PS

NEGATIVES = ("speech_s2i", "speech_phone", "esc10", "background_noise")
OTHER_WORDS = ("sc_v2_test_part", "sc_v1_sample")  # real recordings of other words
PS_THRESHOLDS = (1e-30, 1e-20, 1e-10, 1e-5)  # loosest first (higher: fewer detections)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--words", default="computer,snowboy",
                   help="comma-separated folders of wakewords/ to test on")
    p.add_argument("--out", default="/tmp/kwspot-bench/wakeword", help="work folder")
    p.add_argument("--ps-hours", type=float, default=None,
                   help="measure PocketSphinx on only this many hours of kwspot's measured "
                   "negative audio (default: all of it; it takes about 0.1 CPU-s per second "
                   "of audio and threshold)")
    p.add_argument("--reuse", action="store_true",
                   help="take kwspot's figures from the reports of earlier runs of the same "
                   "command in --out instead of running it again")
    p.add_argument("--no-pocketsphinx", action="store_true", help="skip the baseline")
    p.add_argument("--only-pocketsphinx", action="store_true",
                   help="run (and cache) only the baseline")
    p.add_argument("--folds", type=int, choices=(1, 2), default=None,
                   help="kwspot runs per word: 2 (the default; --quick: 1) measure every "
                   "negative file (pooled)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (CI)")
    return p.parse_args(argv)


def kwspot_run(word: str, tests: Path, negatives: list[Path], others: list[Path], out: Path,
               quick: bool, fold: int = 0, reuse: bool = False
               ) -> tuple[dict, str, float | None]:
    """Run ``kwspot wakeword`` (or, with ``reuse``, read back the report of an earlier run of
    it); its report, the command and the seconds it took (None when reused)."""
    cmd = ["kwspot", "wakeword", word, "--out", str(out), "--negatives",
           *map(str, negatives), "--other-words", *map(str, others), "--test", str(tests),
           "--workers", "2", "--overwrite"]  # the benchmark's own folder: synthesis and
    # embeddings are reused, a head trained with other settings is replaced
    if fold:
        cmd += ["--fold", str(fold)]
    if quick:
        cmd += ["--per-phrase", "10", "--per-negative", "3", "--confusables", "2", "--iters",
                "20", "--batch-size", "16", "--copies", "0"]
    kept = out / f"report-fold{fold}.json"
    if reuse and kept.is_file() and (out / "model.onnx").is_file():
        return json.loads(kept.read_text()), shlex.join(cmd), None
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "kwspot", *cmd[1:]], capture_output=True,
                       text=True)
    if r.returncode:
        raise SystemExit(f"{shlex.join(cmd)} failed:\n{r.stderr[-2000:]}")
    report = (out / "report.json").read_text()
    kept.write_text(report)  # the next fold replaces report.json
    return json.loads(report), shlex.join(cmd), time.perf_counter() - t0


def kwspot_row(word: str, reps: list[dict],
               name: str = "kwspot wakeword (synthetic speech only)") -> list[str]:
    """The row of one word, pooled over the runs (one per fold: disjoint measured audio)."""
    dets = [{c["word"]: c for c in rep["det"]}[word] for rep in reps]
    ops = [rep["operating_point"]["per_word"][word] for rep in reps]
    hours = sum(d["hours"] for d in dets)
    hits = [sum(h) for h in zip(*(d["hits"] for d in dets), strict=True)]
    fas = [sum(f) for f in zip(*(d["false_alarms"] for d in dets), strict=True)]
    positives = sum(d["positives"] for d in dets)
    best = max([h / positives for h, f in zip(hits, fas, strict=True) if f <= hours],
               default=0.0)
    op_hits, op_fas = sum(o["hits"] for o in ops), sum(o["false_alarms"] for o in ops)
    thresholds = " / ".join(f"{rep['calibration']['thresholds'][word]:.4g}" for rep in reps)
    return [name, word, str(ops[0]["positives"]),
            f"{hours:.2f}", f"{100 * best:.1f}", f"{100 * op_hits / positives:.1f}",
            f"{op_fas / hours:.2f}", thresholds]


def measurement_files(negatives: list[Path], folds: int) -> list[str]:
    """The negative files kwspot's runs measure on (``kwspot wakeword``'s own split: fold 0
    measures one half, fold 1 the other)."""
    from kwspot.evaluate.posteriors import audio_files
    from kwspot.wakeword.pipeline import negative_parts

    files = audio_files(negatives)
    return sorted(str(f) for fold in range(folds) for f in negative_parts(files, fold)[2])


def baseline(word: str, tests: Path, negatives: list[Path], folds: int, hours: float | None,
             thresholds, out: Path) -> tuple[list[dict], int]:
    """PocketSphinx's sweep (cached in ``out``) and the number of test files."""
    pos = [str(p) for p in audio_list(tests)]
    neg = measurement_files(negatives, folds)
    if hours is not None:
        neg = _first_hours(neg, hours)
    key = {"word": word, "pos": pos, "neg": neg}
    if PS.keyphrase(word) != word:  # spelled with dictionary words
        key["keyphrase"] = PS.keyphrase(word)
    path = out / f"pocketsphinx-{word}.json"
    done: dict[float, dict] = {}  # threshold → its row, from earlier runs on the same audio
    if path.is_file():
        stored = json.loads(path.read_text())
        if {k: v for k, v in stored["key"].items() if k != "thresholds"} == key:
            done = {r["threshold"]: r for r in stored["rows"]}
    missing = [t for t in thresholds if t not in done]
    if missing:
        done.update((r["threshold"], r) for r in PS.sweep(word, pos, neg, thresholds=missing,
                                                           workers=2))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"key": key, "rows": sorted(done.values(),
                                                               key=lambda r: r["threshold"])}))
    return [done[t] for t in sorted(thresholds)], len(pos)


def baseline_row(word: str, rows: list[dict], n_pos: int) -> list[str]:
    loosest = rows[0]
    return ["PocketSphinx keyphrase (no training)", word, str(n_pos),
            f"{loosest['hours']:.2f}", f"{100 * PS.recall_at(rows, 1.0):.1f}",
            f"{100 * loosest['recall']:.1f}", f"{loosest['fa_per_hour']:.2f}",
            f"{loosest['threshold']:g}"]


def audio_list(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".wav", ".flac"))


def _first_hours(files: list[str], hours: float) -> list[str]:
    """Files from the start of a seeded shuffle of ``files`` adding up to ``hours``."""
    import numpy as np
    import soundfile as sf

    order = np.random.default_rng(0).permutation(len(files))
    out, total = [], 0.0
    for i in order:
        try:
            total += sf.info(files[i]).duration / 3600
        except RuntimeError:
            continue
        out.append(files[i])
        if total >= hours:
            break
    return sorted(out)


def quick_negatives(data: Path, folder: Path, names: tuple[str, ...] = NEGATIVES
                    ) -> list[Path]:
    """A few files of each of the folders ``names``, linked into ``folder`` (CI)."""
    for name in names:
        files = sorted(p for p in (data / name).rglob("*") if p.suffix in (".flac", ".wav"))
        (folder / name).mkdir(parents=True, exist_ok=True)
        for f in files[:4]:
            link = folder / name / f.name
            if not link.exists():
                link.symlink_to(f)
    return [folder / n for n in names]


def quick_tests(tests: Path, folder: Path) -> Path:
    out = folder / tests.name
    out.mkdir(parents=True, exist_ok=True)
    for f in audio_list(tests)[:6]:
        if not (out / f.name).exists():
            (out / f.name).symlink_to(f)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.folds = args.folds or (1 if args.quick else 2)
    C.header("Wake words from text: kwspot wakeword vs PocketSphinx", sys.argv if argv is None
             else ["benchmarks/wakeword.py", *argv])
    data = C.data_dir()
    words = [w.strip() for w in args.words.split(",") if w.strip()]
    missing = [n for n in (*NEGATIVES, *OTHER_WORDS, *(f"wakewords/{w}" for w in words))
               if not (data / n).is_dir()]
    if missing:
        print(f"{data}/{missing[0]} not found: benchmark skipped")
        return 0
    out = Path(args.out) / ("quick" if args.quick else "full")
    tmp = Path(tempfile.mkdtemp(prefix="kwspot-wake-"))
    negatives = quick_negatives(data, tmp) if args.quick else [data / n for n in NEGATIVES]
    others = (quick_negatives(data, tmp, OTHER_WORDS) if args.quick
              else [data / n for n in OTHER_WORDS])
    ps_reason = None if not args.no_pocketsphinx else "--no-pocketsphinx"
    ps_reason = ps_reason or PS.available()
    thresholds = PS_THRESHOLDS[1:2] if args.quick else PS_THRESHOLDS
    rows, commands = [], []
    for word in words:
        tests = data / "wakewords" / word
        if args.quick:
            tests = quick_tests(tests, tmp)
        if not args.only_pocketsphinx:
            reps = []
            for fold in range(args.folds):  # one folder: synthesis and embeddings shared
                rep, cmd, secs = kwspot_run(word, tests, negatives, others, out / word,
                                            args.quick, fold, args.reuse)
                took = "reused run" if secs is None else f"{secs / 60:.1f} min"
                commands.append(f"`{cmd}` ({took})")
                reps.append(rep)
            rows.append(kwspot_row(word, reps))
            if all("without_confirmation" in rep for rep in reps):  # the same heads
                rows.append(kwspot_row(word, [rep["without_confirmation"] for rep in reps],
                                       "  the same, without phonetic confirmation"))
            skipped = {Path(s["path"]).name for rep in reps for s in rep["skipped"]}
            if skipped:
                print(f"{word}: skipped unreadable files: " + ", ".join(sorted(skipped)))
        if ps_reason is None:
            ps_rows, n_pos = baseline(word, tests, negatives, args.folds,
                                      0.02 if args.quick else args.ps_hours, thresholds, out)
            rows.append(baseline_row(word, ps_rows, n_pos))
    print(C.table(["detector", "word", "test files", "negative h", "recall % at <= 1 FA/h",
                   "recall % at its threshold", "FA/h there", "threshold"], rows, "llrrrrrr"))
    print()
    print("Recall at <= 1 FA/h: the best threshold of a sweep on the measured audio itself "
          "(optimistic for every detector). At its threshold: kwspot's calibrated on other "
          "negative files (target 0.5 FA/h), never on the measured ones or the test words; "
          f"kwspot's figures pool {args.folds} run(s) per word (`--fold`), each measured on "
          "negative files it neither trained nor calibrated on (thresholds: one per run); "
          "PocketSphinx's loosest threshold of the sweep "
          f"({', '.join(f'{t:g}' for t in thresholds)}), measured on "
          f"{'a part of ' if args.quick or args.ps_hours else ''}the same negative files as "
          "kwspot's runs.")
    if ps_reason:
        print(f"\nPocketSphinx skipped: {ps_reason}")
    print("\nCommands:\n\n" + "\n".join(f"- {c}" for c in commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
