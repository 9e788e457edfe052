"""The settings of exporting a checkpoint to ONNX (torch-free: the command line reads them
without torch). :func:`kwspot.infer.export.export_checkpoint` applies them."""

from __future__ import annotations

from dataclasses import dataclass

from kwspot.errors import KwspotError
from kwspot.settings import setting

INPUTS = ("float", "int16")
"""The input types an exported model may take: float32 in [-1, 1] or int16 PCM."""


@dataclass(frozen=True)
class ExportSettings:
    """What the ONNX file takes and how its classifier is stored."""

    quantize: str | None = setting(
        None, "int8 classifier (the front-end stays float): static quantization calibrated "
        "on `calibrate` clips, else on the checkpoint's training data when it is on this "
        "machine, else dynamic (weights only; slow for convolutions)", choices=("int8",))
    calibrate: str | None = setting(None, "folder of audio clips (searched recursively) to "
                                    "calibrate int8 activations on", metavar="DIR")
    calibrate_clips: int = setting(256, "clips drawn from `calibrate`")
    input_dtype: str = setting("float", "input type: float32 in [-1, 1] or int16 PCM",
                               choices=INPUTS, flag="input")
    opset: int = setting(17, "ONNX opset")

    def __post_init__(self) -> None:
        if self.calibrate and not self.quantize:
            raise KwspotError("`calibrate` only applies with `quantize` int8")
