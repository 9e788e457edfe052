"""Run every benchmark script and (with ``--write``) regenerate ``BENCHMARKS.md`` from their output.

    python benchmarks/run_all.py --quick                 # CI smoke run, every script tiny
    python benchmarks/run_all.py --write                 # full run (~1.5 h on 2 cores)
    python benchmarks/run_all.py --only accuracy --write # redo one section, keep the others
    python benchmarks/run_all.py --only embedding --write -- --reuse   # options for that script

Each script prints its own tables; this runner streams that output, and ``--write`` puts each
script's output in its section of ``BENCHMARKS.md`` together with the machine, the date, the
git commit and the exact command. Sections of scripts not run this time are kept as they were
(each carries its own date and commit), so no figure in the file is ever typed by hand.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import _common as C

HERE = Path(__file__).resolve().parent
OUTPUT = C.REPO / "BENCHMARKS.md"
# name → (title used for output that is not markdown, prints markdown tables?)
SCRIPTS: dict[str, tuple[str, bool]] = {
    "frontend": ("Front-ends", True),
    "pipeline": ("Input pipeline", True),
    "train_speed": ("Training throughput", True),
    "inference": ("Inference", True),
    "streaming": ("Streaming detection", True),
    "accuracy": ("Accuracy", True),
    "synth_ablation": ("Synthetic speech", True),
    "embedding": ("Pretrained speech embedding", True),
    "crossval": ("Cross-validated accuracy", True),
    "wakeword": ("Wake words from text", True),
}
BEGIN, END = "<!-- BEGIN {} -->", "<!-- END {} -->"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: each script < 60 s")
    p.add_argument("--only", default=None,
                   help=f"comma-separated subset of {','.join(SCRIPTS)}")
    p.add_argument("--write", action="store_true",
                   help="regenerate BENCHMARKS.md (full mode only)")
    p.add_argument("--output", default=str(OUTPUT), help="file --write regenerates")
    p.add_argument("script_args", nargs="*", metavar="-- ARG",
                   help="options given to the script (with one --only script)")
    a = p.parse_args(argv)
    a.only = a.only.split(",") if a.only else list(SCRIPTS)
    unknown = [s for s in a.only if s not in SCRIPTS]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(SCRIPTS)}")
    if a.script_args and len(a.only) != 1:
        p.error("options after -- go to one script: name it with --only")
    if a.write and a.quick:
        p.error("--write needs a full run (quick figures do not go into BENCHMARKS.md)")
    return a


def run_script(name: str, quick: bool, extra: list[str]) -> tuple[int, str, float, str, str]:
    """Run one script, echoing its stdout; returns exit code, stdout, seconds, loads."""
    cmd = [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if quick else []), *extra]
    load_before = C.load()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=C.REPO,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    rc = proc.wait()
    return rc, "".join(lines), time.perf_counter() - t0, load_before, C.load()


def section(name: str, out: str, seconds: float, loads: tuple[str, str],
            info: dict, command: str) -> str:
    title, markdown = SCRIPTS[name]
    body = out.strip()
    if not markdown:
        body = f"## {title}\n\nCommand: `python benchmarks/{name}.py`\n\n```text\n{body}\n```"
    dirty = f" (with uncommitted changes to {', '.join(info['uncommitted'])})" \
        if info["uncommitted"] else ""
    meta = (f"_Measured {info['date']} at commit `{info['commit']}`{dirty} by "
            f"`{command}`; "
            f"{seconds / 60:.1f} min; load average {loads[0]} before, {loads[1]} after "
            f"({info['cores']} cores)._")
    return f"{BEGIN.format(name)}\n{body}\n\n{meta}\n{END.format(name)}"


def old_sections(text: str) -> dict[str, str]:
    found = {}
    for name in SCRIPTS:
        m = re.search(re.escape(BEGIN.format(name)) + r".*?" + re.escape(END.format(name)),
                      text, re.S)
        if m:
            found[name] = m.group(0)
    return found


def document(sections: dict[str, str], info: dict) -> str:
    rows = [[k, str(info[k])] for k in ("cpu", "cores", "torch_threads", "gpu", "os", "python",
                                        "torch", "numpy", "onnxruntime", "librosa",
                                        "torchaudio")]
    parts = [
        "# kwspot benchmarks",
        "",
        "Generated by `python benchmarks/run_all.py --write` from the output of the scripts in "
        "`benchmarks/` — no figure here is typed by hand. Each section says when, at which "
        "commit and with which command it was measured, and the load on the machine "
        "(timings on a shared machine are noisy: compare figures within one table, where "
        "they were measured side by side in one run). Rerun one section with "
        "`python benchmarks/run_all.py --only NAME --write`; every script also runs on its "
        "own and has `--quick` (tiny sizes) and `--help`.",
        "",
        f"Machine of the latest run ({info['date']}, commit `{info['commit']}`):",
        "",
        C.table(["", "value"], rows, "ll"),
        "",
    ]
    goals = [f"- {SCRIPTS[name][0]}: {line[len('Goal '):]}" for name in SCRIPTS
             if name in sections for line in sections[name].splitlines()
             if line.startswith("Goal (")]
    if goals:
        parts += ["Goals, as each section's script judged them from its own figures:", "",
                  *goals, ""]
    for name in SCRIPTS:
        if name in sections:
            parts += [sections[name], ""]
    return "\n".join(parts)


def write(path: Path, new: dict[str, str], info: dict) -> None:
    """Replace the sections in ``new`` in ``path`` (creating it), keeping the others."""
    text = path.read_text() if path.is_file() else ""
    sections = {**old_sections(text), **new}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(document(sections, info))
    os.replace(tmp, path)
    print(f"\nwrote {path} ({', '.join(new) or 'no new sections'})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    new: dict[str, str] = {}
    info = C.machine()
    command = " ".join(["python", "benchmarks/run_all.py", *(sys.argv[1:] if argv is None
                                                             else argv)])
    for name in args.only:
        if not (HERE / f"{name}.py").is_file():
            print(f"\n(benchmarks/{name}.py does not exist: skipped)\n")
            results.append([name, "missing", "–"])
            continue
        print(f"\n===== benchmarks/{name}.py{' --quick' if args.quick else ''} =====\n",
              flush=True)
        rc, out, seconds, lb, la = run_script(name, args.quick, args.script_args)
        results.append([name, str(rc), f"{seconds:.1f}"])
        if rc == 0:
            new[name] = section(name, out, seconds, (lb, la), info, command)
    print("\n## Summary\n")
    print(C.table(["script", "exit code", "seconds"], results))
    failed = [r[0] for r in results if r[1] not in ("0", "missing")]
    if args.write:
        write(Path(args.output), new, info)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
