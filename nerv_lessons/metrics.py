# Generated from notebooks/00_video_as_data.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Quality and size: PSNR and MS-SSIM per frame, bits per pixel and parameters per pixel.

Frames are T x 3 x H x W floats in [0, peak] (peak 1 unless you say otherwise). Quality is
given per frame, as a tensor of T values; the papers report the mean over frames.
Introduced in lesson 00 (notebooks/00_video_as_data.ipynb).
"""

import torch
from pytorch_msssim import ms_ssim as _pytorch_ms_ssim

from nerv_lessons.data import check_frames


def _check_pair(x: torch.Tensor, y: torch.Tensor, peak: float) -> None:
    check_frames(x, "x", peak)
    check_frames(y, "y", peak)
    if x.shape != y.shape:
        raise ValueError(
            f"x is {tuple(x.shape)} but y is {tuple(y.shape)}: compare clips of one size"
        )


def mse(x: torch.Tensor, y: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """Mean squared error of each frame: a tensor of T values."""
    _check_pair(x, y, peak)
    return (x.float() - y.float()).pow(2).flatten(1).mean(1)


def psnr_from_mse(error, peak: float = 1.0) -> torch.Tensor:
    """10 log10(peak^2 / MSE) in dB; an MSE of 0 gives +inf."""
    return 10 * torch.log10(peak**2 / torch.as_tensor(error, dtype=torch.float32))


def psnr(x: torch.Tensor, y: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """PSNR of each frame in dB: a tensor of T values (identical frames give +inf)."""
    return psnr_from_mse(mse(x, y, peak), peak)


def ms_ssim_window(height: int, width: int) -> int:
    """The Gaussian window of five-scale MS-SSIM at this frame size.

    The standard window is 11 pixels, which needs a short side over 160 pixels (the coarsest
    of five scales is 1/16 of the frame). Smaller frames get the largest odd window that fits;
    report it with the numbers, since it changes the metric slightly.
    """
    window = 11
    while window >= 3 and min(height, width) <= (window - 1) * 16:
        window -= 2
    if window < 3:
        raise ValueError(
            f"{height}x{width} frames are too small for five-scale MS-SSIM: the short side "
            "must be over 32 pixels; compare larger frames or use PSNR"
        )
    return window


def ms_ssim(x: torch.Tensor, y: torch.Tensor, peak: float = 1.0, chunk: int = 16) -> torch.Tensor:
    """MS-SSIM of each frame (1 = identical): T values, computed `chunk` frames at a time."""
    _check_pair(x, y, peak)
    window = ms_ssim_window(*x.shape[-2:])
    scores = [
        _pytorch_ms_ssim(a.float(), b.float(), data_range=peak, size_average=False, win_size=window)
        for a, b in zip(x.split(chunk), y.split(chunk))
    ]
    return torch.cat(scores)


def bits_per_pixel(num_bytes: int, frames: int, height: int, width: int) -> float:
    """8 * num_bytes / (T * H * W): the bits stored per pixel position of the clip."""
    return 8 * num_bytes / (frames * height * width)


def params_per_pixel(num_params: float, frames: int, height: int, width: int) -> float:
    """num_params / (T * H * W): how many model parameters each pixel position costs."""
    return num_params / (frames * height * width)
