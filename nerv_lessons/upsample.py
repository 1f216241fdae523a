# Generated from notebooks/02_upsampling.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Upsampling blocks: PixelShuffle (sub-pixel convolution), bilinear + conv, transposed conv.

``Upsample(c_in, c_out, s, kind)`` maps (B, c_in, H, W) to (B, c_out, s H, s W);
``upsample_cost`` counts its parameters and multiply-accumulates per output frame.
Introduced in lesson 02 (notebooks/02_upsampling.ipynb).
"""

import torch
from torch import nn

UPSAMPLE_KINDS = ("pixelshuffle", "bilinear", "deconv")


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r}: expected a whole number >= 1")


class Upsample(nn.Module):
    """(B, channels_in, H, W) -> (B, channels_out, scale H, scale W) in one of three ways.

    pixelshuffle: Conv2d(c_in, c_out * s^2, k, padding k // 2), then PixelShuffle(s) (NeRV);
    bilinear:     bilinear upsampling by s (align_corners=True), then Conv2d(c_in, c_out,
                  2s + 1, padding s), as NeRV's code builds it (k is not used);
    deconv:       ConvTranspose2d(c_in, c_out, kernel_size=s, stride=s) (k is not used).
    `kernel_size` afterwards holds the kernel the block's convolution really has.
    """

    def __init__(
        self,
        channels_in: int,
        channels_out: int,
        scale: int,
        kind: str = "pixelshuffle",
        kernel_size: int = 3,
    ):
        super().__init__()
        for name, value in [
            ("channels_in", channels_in),
            ("channels_out", channels_out),
            ("scale", scale),
            ("kernel_size", kernel_size),
        ]:
            _check_size(name, value)
        if kind not in UPSAMPLE_KINDS:
            raise ValueError(f"unknown kind {kind!r}: choose one of {', '.join(UPSAMPLE_KINDS)}")
        if kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size={kernel_size}: use an odd kernel, so that padding k // 2 keeps "
                "the size of the map"
            )
        self.channels_in, self.channels_out, self.scale = channels_in, channels_out, scale
        if kind == "bilinear":  # NeRV's code: the kernel grows with the stride, 2s + 1
            kernel_size = 2 * scale + 1
        self.kind, self.kernel_size = kind, kernel_size
        padding = kernel_size // 2
        if kind == "pixelshuffle":
            self.layers = nn.Sequential(
                nn.Conv2d(channels_in, channels_out * scale**2, kernel_size, padding=padding),
                nn.PixelShuffle(scale),
            )
        elif kind == "bilinear":
            self.layers = nn.Sequential(
                nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=True),
                nn.Conv2d(channels_in, channels_out, kernel_size, padding=padding),
            )
        else:  # deconv: each input pixel paints its own s x s patch, no overlaps
            self.layers = nn.ConvTranspose2d(channels_in, channels_out, scale, stride=scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels_in:
            raise ValueError(
                f"input has shape {tuple(x.shape)}; expected (B, {self.channels_in}, H, W)"
            )
        return self.layers(x)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, scale={self.scale}"


def upsample_cost(block: Upsample, height: int, width: int) -> dict[str, int]:
    """Parameters and multiply-accumulates (MACs) of `block` for one height x width input map.

    MACs count the convolution only; bilinear interpolation and PixelShuffle's rearrangement
    are left out (a few operations per value, no weights).
    """
    _check_size("height", height)
    _check_size("width", width)
    c_in, c_out, s, k = block.channels_in, block.channels_out, block.scale, block.kernel_size
    if block.kind == "pixelshuffle":  # a k x k conv to c_out s^2 channels at H x W
        weights, biases, positions = c_in * c_out * s * s * k * k, c_out * s * s, height * width
    elif block.kind == "bilinear":  # a k x k (k = 2s + 1) conv to c_out channels at sH x sW
        weights, biases, positions = c_in * c_out * k * k, c_out, s * s * height * width
    else:  # deconv: an s x s patch of c_out values from each of the H x W inputs
        weights, biases, positions = c_in * c_out * s * s, c_out, height * width
    return {"params": weights + biases, "macs": weights * positions}
