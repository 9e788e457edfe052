"""Inference: latency of one 1-s clip at batch 1 and throughput at batch 64, PyTorch vs
onnxruntime (float and int8), per model; model size on disk, params and MACs.

Every model is built with its own front-end (random weights: speed does not depend on them),
run in PyTorch (eval, ``inference_mode``) and exported with ``kwspot.infer.export.export_net``
(front-end inside the graph) to a float ONNX file and to an int8 one (static quantization
calibrated on 64 real clips when they are present, else dynamic), then run with onnxruntime.
Both frameworks get the same number of CPU threads (``--threads``, default 1).

    python benchmarks/inference.py                    # every model
    python benchmarks/inference.py --models vggnet1,bcresnet3 --threads 2
    python benchmarks/inference.py --quick            # 1 model, few runs (CI)
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import warnings
from pathlib import Path

import _common as C
import numpy as np

QUICK_MODELS = ["vggnet1"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 model, few runs (CI)")
    p.add_argument("--models", default=None, help="comma-separated (default: every model)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for both frameworks")
    p.add_argument("--latency-runs", type=int, default=100, help="timed batch-1 runs")
    p.add_argument("--batch", type=int, default=64, help="batch for the throughput column")
    p.add_argument("--batch-runs", type=int, default=5, help="timed runs at that batch")
    a = p.parse_args(argv)
    if a.quick:
        a.latency_runs, a.batch, a.batch_runs = min(a.latency_runs, 5), min(a.batch, 8), 1
        a.models = a.models or ",".join(QUICK_MODELS)
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    C.header("Inference: PyTorch vs onnxruntime",
             [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    import torch

    from kwspot import models
    from kwspot.data.labels import DEFAULT_WORDS
    from kwspot.models.profile import count_macs, count_params
    from kwspot.network import build_net, frontend_for

    try:
        from kwspot.infer.export import export_net
    except ImportError as exc:
        export_net = None
        print(f"note: kwspot.infer.export is not available ({exc}): PyTorch columns only\n")
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
        print("note: onnxruntime is not installed: PyTorch columns only\n")

    torch.set_num_threads(args.threads)
    # onnxruntime's quantizer logs a warning per normalisation weight it leaves per-tensor
    logging.getLogger().setLevel(logging.ERROR)
    root = C.speech_commands()
    if root is not None:
        clips = C.load_all_clips(root)
        pick = np.random.default_rng(0).choice(len(clips), size=64 + args.batch, replace=False)
        calib = clips[pick[:64]].astype(np.float32) / 32768.0
        batch_x = clips[pick[64:]].astype(np.float32) / 32768.0
        calib_note = "static int8, calibrated on 64 real clips"
    else:
        calib = None
        batch_x = C.synthetic_clips(args.batch).astype(np.float32) / 32768.0
        calib_note = "dynamic int8 (no real clips to calibrate on)"
    one = batch_x[:1]
    labels = [*DEFAULT_WORDS, "silence", "unknown"]
    names = args.models.split(",") if args.models else models.list_models()

    def measure(fn, x: np.ndarray) -> tuple[float, float]:
        """(batch-1 latency ms, clips/s at the batch)."""
        lat = C.timed(lambda: fn(one), args.latency_runs, warmup=3)
        thr = C.timed(lambda: fn(x), args.batch_runs, warmup=1)
        return C.median(lat) * 1e3, len(x) / C.median(thr)

    def session(path: Path):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.inter_op_num_threads = 1
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    rows, sizes, notes = [], [], []
    with tempfile.TemporaryDirectory(prefix="kwspot-infer-") as tmp:
        for name in names:
            torch.manual_seed(0)
            net = build_net(name, len(labels), frontend_for(name)).eval()
            params = count_params(net.classifier)
            macs = count_macs(net.classifier, net.frontend.cfg.output_shape())
            pt_path = Path(tmp) / f"{name}.pt"
            torch.save(net.state_dict(), pt_path)

            def torch_fn(x: np.ndarray, net=net) -> np.ndarray:
                with torch.inference_mode():
                    return torch.softmax(net(torch.from_numpy(x)), 1).numpy()

            cells = {"pytorch": measure(torch_fn, batch_x)}
            size = {"pytorch": pt_path.stat().st_size}
            if export_net is not None and ort is not None:
                for variant, quant in (("onnx", None), ("onnx int8", "int8")):
                    path = Path(tmp) / f"{name}-{variant.replace(' ', '-')}.onnx"
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            export_net(net, labels, path, model_name=name, quantize=quant,
                                       calibration=calib if quant else None)
                        sess = session(path)
                    except Exception as exc:  # report the failure in the table, go on
                        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                        notes.append(f"{name} {variant}: export failed ({first[:120]})")
                        continue

                    def ort_fn(x: np.ndarray, sess=sess) -> np.ndarray:
                        return sess.run(["probs"], {"audio": x})[0]

                    if variant == "onnx":
                        diff = np.abs(ort_fn(batch_x) - torch_fn(batch_x)).max()
                        notes.append(f"{name}: max |Δ prob| onnx vs pytorch {diff:.1e}")
                    cells[variant] = measure(ort_fn, batch_x)
                    size[variant] = path.stat().st_size
            row = [name, f"{params:,}", f"{macs / 1e6:.1f} M"]
            for v in ("pytorch", "onnx", "onnx int8"):
                lat, thr = cells.get(v, (None, None))
                row += ["–", "–"] if lat is None else [f"{lat:.2f}", f"{thr:,.0f}"]
            rows.append(row)
            sizes.append([name, *(f"{size[v] / 1024:,.0f}" if v in size else "–"
                                  for v in ("pytorch", "onnx", "onnx int8"))])
            print(f"{name}: done (load {C.load()})", flush=True)

    print(f"\n{args.threads} CPU thread(s) for each framework; latency = median of "
          f"{args.latency_runs} runs of one 1-s clip (after 3 warm-up runs); throughput = "
          f"clips/s at batch {args.batch} (median of {args.batch_runs} run(s)). Front-end "
          f"included in every column. int8: {calib_note}; the front-end stays float. "
          f"onnxruntime {ort.__version__ if ort else 'not installed'}, torch "
          f"{torch.__version__}.\n")
    b = args.batch
    print(C.table(["model", "params", "MACs/clip", "PyTorch ms @1", f"PyTorch clips/s @{b}",
                   "ONNX ms @1", f"ONNX clips/s @{b}", "int8 ms @1", f"int8 clips/s @{b}"],
                  rows))
    print("\nSize on disk, KiB (PyTorch: `state_dict` with the front-end buffers, float32):\n")
    print(C.table(["model", "PyTorch .pt", "ONNX float", "ONNX int8"], sizes))
    if notes:
        print()
        print("\n".join(f"- {n}" for n in notes))
    print(f"\nload average {C.load()} at the end.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
