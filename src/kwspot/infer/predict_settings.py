"""The settings of labelling audio files with a model (torch-free: the command line reads
them without torch). :func:`kwspot.infer.predict.predict_files` and
:func:`~kwspot.infer.predict.write_csv` apply them."""

from __future__ import annotations

from dataclasses import dataclass

from kwspot.settings import setting


@dataclass(frozen=True)
class PredictSettings:
    """How files are read and classified, and what the CSV holds."""

    batch_size: int = setting(256, "clips per forward pass")
    resample: bool = setting(False, "convert files that are not 16 kHz mono instead of "
                             "skipping them")
    workers: int | None = setting(None, "threads reading files (default: 2 per CPU core, at "
                                  "most 8)")
    probs: bool = setting(False, "add one probability column per class (p_yes, p_no, ...)")
    tta: bool = setting(False, "average each clip's probabilities over shifted (±50, ±100 ms) "
                        "and ±3 dB copies of it (7 passes; about a point more accurate on "
                        "new speakers for the embedding models)")
