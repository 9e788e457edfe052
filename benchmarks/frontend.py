"""Front-end speed and agreement: kwspot's batched torch front-end vs librosa.

Log mel and MFCC (40×101 per 1-s clip, kwspot's recipe: n_fft 512, 400-sample Hann window,
hop 160, 40 Slaney mel bands 20-8000 Hz, ``log(mel + 1e-6)``, orthonormal DCT-II) for a batch
of real clips, timed after a warm-up call (median of several runs):

* kwspot: ``kwspot.features.Frontend`` on the whole batch, 1 thread and all threads;
* the plain batched torch recipe (``torch.stft`` + power + mel matmul, one pass);
* librosa clip by clip (``librosa.feature.melspectrogram`` + log, then
  ``librosa.feature.mfcc(S=log_mel)``) and librosa on the batch as one array, with numpy's
  BLAS on one thread (``threadpoolctl``; librosa's mel matmul is a BLAS call, and a
  multi-threaded BLAS call per clip is far slower on a busy machine: shown in one extra row).

    python benchmarks/frontend.py            # 1,000 clips
    python benchmarks/frontend.py --quick    # 32 clips, 2 repeats
"""

from __future__ import annotations

import argparse
import sys

import _common as C
import numpy as np

KW = dict(sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=40, fmin=20.0,
          fmax=8000.0, center=True, pad_mode="constant")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="32 clips, 2 repeats (CI)")
    p.add_argument("--clips", type=int, default=1000, help="batch of real clips (1000)")
    p.add_argument("--repeats", type=int, default=7, help="timed runs of the torch variants")
    a = p.parse_args(argv)
    if a.quick:
        a.clips, a.repeats = min(a.clips, 32), min(a.repeats, 2)
    return a


def librosa_log_mel(x: np.ndarray) -> np.ndarray:
    import librosa

    return np.log(librosa.feature.melspectrogram(y=x, **KW) + 1e-6)


def librosa_mfcc(x: np.ndarray) -> np.ndarray:
    import librosa

    return librosa.feature.mfcc(S=librosa_log_mel(x), n_mfcc=40)


def threadpool_info_blas() -> str:
    from threadpoolctl import threadpool_info

    return ",".join(str(p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    C.header("Front-ends: log mel and MFCC, kwspot vs librosa",
             [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    import torch
    from threadpoolctl import threadpool_limits

    from kwspot.features import Frontend, FrontendConfig

    root = C.speech_commands()
    if root is not None:
        waves = C.load_all_clips(root, args.clips)
        what = f"{len(waves):,} real clips of `{root.name}`"
    else:
        waves = C.synthetic_clips(args.clips)
        what = f"{len(waves):,} synthetic clips (tone + noise; the real clips are absent)"
    x_np = waves.astype(np.float32) / 32768.0
    x = torch.from_numpy(x_np)
    n = len(x)
    mel_fe = Frontend(FrontendConfig(kind="mel")).eval()
    mfcc_fe = Frontend(FrontendConfig(kind="mfcc")).eval()
    threads = torch.get_num_threads()

    def stft_recipe(wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave, 512, 160, window=mel_fe.window, center=True,
                          pad_mode="constant", return_complex=True)
        power = spec.real.square() + spec.imag.square()
        return torch.log(torch.matmul(power.transpose(1, 2), mel_fe.mel_fb) + 1e-6)

    def per_clip(fn) -> tuple[float, float]:
        fn(x_np[0])
        reps = 1 if args.quick else 3
        return per_clip_ms(C.timed(lambda: [fn(c) for c in x_np], reps, warmup=0))

    def batched(fn, k: int = args.repeats) -> tuple[float, float]:
        with torch.inference_mode():
            return per_clip_ms(C.timed(fn, k, warmup=1))

    def per_clip_ms(t: C.Timing) -> tuple[float, float]:
        return C.median(t) / n * 1e3, C.median(t.cpu) / n * 1e3

    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for t in sorted({1, threads}):
        torch.set_num_threads(t)
        label = f"{t} thread{'s' if t > 1 else ''}"
        rows[f"kwspot `Frontend`, batched, {label}"] = {
            "mel": batched(lambda: mel_fe(x)), "mfcc": batched(lambda: mfcc_fe(x))}
        rows[f"`torch.stft` + mel matmul, batched, {label}"] = {
            "mel": batched(lambda: stft_recipe(x))}
    torch.set_num_threads(threads)
    with threadpool_limits(limits=1, user_api="blas"):
        rows["librosa, clip by clip"] = {"mel": per_clip(librosa_log_mel),
                                         "mfcc": per_clip(librosa_mfcc)}
        rows["librosa, whole batch as one array"] = {
            "mel": batched(lambda: librosa_log_mel(x_np), 1 if args.quick else 3)}
    # The same without limiting numpy's BLAS threads: librosa's mel matmul is then a
    # multi-threaded BLAS call per clip (timed on a few clips only).
    few = x_np[:min(n, 4 if args.quick else 50)]
    librosa_log_mel(few[0])
    t = C.timed(lambda: [librosa_log_mel(c) for c in few], 1, warmup=0)
    blas = threadpool_info_blas()
    rows[f"librosa, clip by clip, numpy BLAS at its default {blas} threads ({len(few)} clips)"] \
        = {"mel": (C.median(t) / len(few) * 1e3, C.median(t.cpu) / len(few) * 1e3)}

    # agreement with librosa on every clip (kwspot's [B, 1, F, T] vs librosa's [B, F, T])
    with torch.inference_mode():
        k_mel, k_mfcc = mel_fe(x)[:, 0].numpy(), mfcc_fe(x)[:, 0].numpy()
    with threadpool_limits(limits=1, user_api="blas"):
        l_mel, l_mfcc = librosa_log_mel(x_np), librosa_mfcc(x_np)
    d_mel, d_mfcc = np.abs(k_mel - l_mel).max(), np.abs(k_mfcc - l_mfcc).max()

    lib = rows["librosa, clip by clip"]
    out = []
    for name, r in rows.items():
        cells = [name]
        for kind in ("mel", "mfcc"):
            wall, cpu = r.get(kind, (None, None))
            cells += ["–", "–"] if wall is None else [f"{wall:.3f}", f"{cpu:.3f}"]
        wall, cpu = r["mel"]
        cells.append(f"{lib['mel'][0] / wall:.1f}× / {lib['mel'][1] / cpu:.1f}×")
        out.append(cells)
    out.append(["torchaudio: not installed (needs torch 2.9.1; kwspot pins torch 2.13)",
                "–", "–", "–", "–", "–"])
    reps = 1 if args.quick else 3
    print(f"{what}, features 40×101 per clip. Milliseconds per clip, wall clock and process "
          f"CPU time (all threads), median of {args.repeats} batched runs or {reps} "
          f"pass{'es' if reps > 1 else ''} clip by clip, after a warm-up call. Last column: "
          "librosa clip by clip ÷ this row, log mel (wall / CPU).\n")
    print(C.table(["front-end", "log mel wall", "log mel CPU", "MFCC wall", "MFCC CPU",
                   "× librosa"], out))
    print()
    print(f"Agreement with librosa over all {n:,} clips: max |difference| {d_mel:.1e} on log "
          f"mel, {d_mfcc:.1e} on MFCC (values span {l_mel.min():.1f} … {l_mel.max():.1f}).")
    kw_rows = [v["mel"] for k, v in rows.items() if k.startswith("kwspot")]
    best_wall = lib["mel"][0] / min(w for w, _ in kw_rows)
    best_cpu = lib["mel"][1] / min(c for _, c in kw_rows)
    ok = min(best_wall, best_cpu) >= 3 and d_mel <= 1e-4
    print(f"Goal (≥ 3× librosa per clip on CPU, log mel within 1e-4): "
          f"{'**met**' if ok else '**not met**'} (best kwspot row: {best_wall:.1f}× in wall "
          f"time, {best_cpu:.1f}× in CPU time; max difference {d_mel:.1e}).")
    print(f"\nload average {C.load()} at the end; torch {torch.__version__}, "
          f"{threads} threads by default.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
