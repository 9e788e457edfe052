"""Small building blocks shared by the model families."""

from __future__ import annotations

from torch import Tensor, nn


class ConvBn1d(nn.Module):
    """Conv1d followed by BatchNorm1d; 'same' padding for odd kernels."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1,
                 bias: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_ch, out_ch, kernel_size, stride, padding=kernel_size // 2,
                              bias=bias)
        self.bn = nn.BatchNorm1d(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


class ConvBn2d(nn.Module):
    """Conv2d followed by BatchNorm2d; 'same' padding for odd kernels."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int | tuple[int, int] = 3,
                 stride: int | tuple[int, int] = 1, bias: bool = False) -> None:
        super().__init__()
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.conv = nn.Conv2d(in_ch, out_ch, k, stride, padding=(k[0] // 2, k[1] // 2),
                              bias=bias)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))
