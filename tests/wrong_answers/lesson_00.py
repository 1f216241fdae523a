"""Wrong answers for lesson 00's exercises (tests/test_exercises.py feeds them to the checks)."""

import torch

from nerv_lessons.metrics import bits_per_pixel
from nerv_lessons.viz import png_bytes


def _frame_mse(x, y):
    return (x - y).pow(2).flatten(1).mean(1)


def _png_bytes(frames):
    return sum(len(png_bytes(frame)) for frame in frames)


ANSWERS = {
    "psnr_per_frame": [
        # one MSE over the whole clip, repeated for every frame
        {
            "psnr_per_frame": lambda x, y, peak=1.0: torch.full(
                (len(x),), (10 * torch.log10(peak**2 / (x - y).pow(2).mean())).item()
            )
        },
        # the clip's mean PSNR: one number, not one per frame
        {"psnr_per_frame": lambda x, y, peak=1.0: (10 * torch.log10(1 / _frame_mse(x, y))).mean()},
        # 20 log10, as for an amplitude ratio
        {"psnr_per_frame": lambda x, y, peak=1.0: 20 * torch.log10(peak**2 / _frame_mse(x, y))},
        # the natural logarithm
        {"psnr_per_frame": lambda x, y, peak=1.0: 10 * torch.log(peak**2 / _frame_mse(x, y))},
        # the peak not squared: right for peak 1 only
        {"psnr_per_frame": lambda x, y, peak=1.0: 10 * torch.log10(peak / _frame_mse(x, y))},
        # the peak ignored
        {"psnr_per_frame": lambda x, y, peak=1.0: 10 * torch.log10(1 / _frame_mse(x, y))},
    ],
    "six_bit_prediction": [
        {"six_bit_prediction": 34.35 * 6 / 4},  # PSNR proportional to the bits
        {"six_bit_prediction": 34.35 + 2 * 3},  # 3 dB a bit, as for a power
        {"six_bit_prediction": 34.35 + 1},  # "a little better"
        {"six_bit_prediction": "higher"},  # not a number
    ],
    "png_bpp": [
        # per colour sample, not per pixel
        {"png_bpp": lambda frames: 8 * _png_bytes(frames) / frames.numel()},
        # bytes, not bits
        {
            "png_bpp": lambda frames: (
                bits_per_pixel(_png_bytes(frames), *frames.shape[:1], *frames.shape[-2:]) / 8
            )
        },
        # over one frame's pixels
        {"png_bpp": lambda frames: bits_per_pixel(_png_bytes(frames), 1, *frames.shape[-2:])},
        # only the first frame's file
        {
            "png_bpp": lambda frames: bits_per_pixel(
                _png_bytes(frames[:1]), len(frames), *frames.shape[-2:]
            )
        },
    ],
}


def context():
    """A small clip of 8-bit values, and the quick scale's measured PSNRs of 4- and 6-bit copies."""
    generator = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, 80).expand(4, 3, 40, 80)
    clip = (0.7 * ramp + 0.3 * torch.rand(4, 3, 40, 80, generator=generator)).mul(255).round() / 255
    return {"clip": clip, "four_bit_psnr": 34.35, "six_bit_psnr": 46.75}
