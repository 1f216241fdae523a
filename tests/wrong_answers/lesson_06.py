"""Wrong answers for lesson 06's exercises (tests/test_exercises.py feeds them to the checks)."""

import torch
import torch.nn.functional as F


def _base(lowres, size, mode="bicubic", antialias=True, clamp=True, round_=True):
    """An upsampled base made one way or another (the ways a student might)."""
    if mode == "nearest":
        base = F.interpolate(lowres, size=size, mode=mode)
    else:
        base = F.interpolate(lowres, size=size, mode=mode, antialias=antialias)
    if clamp:
        base = base.clamp(0, 1)
    if round_:
        base = torch.round(base * 255) / 255
    return base


def _residual(**how):
    return lambda frames, lowres: frames - _base(lowres, frames.shape[-2:], **how)


ANSWERS = {
    "bicubic_residual": [
        {"bicubic_residual": _residual(antialias=False)},  # PyTorch's bicubic, a = -0.75
        {"bicubic_residual": _residual(mode="bilinear")},
        {"bicubic_residual": _residual(mode="nearest")},
        {"bicubic_residual": _residual(round_=False)},  # not on the 8-bit grid
        {"bicubic_residual": _residual(clamp=False, round_=False)},  # overshoot kept
        {"bicubic_residual": _residual(clamp=False)},  # rounded, overshoot kept
        {"bicubic_residual": lambda frames, lowres: _base(lowres, frames.shape[-2:]) - frames},
        {"bicubic_residual": lambda frames, lowres: _base(lowres, frames.shape[-2:])},  # the base
        {"bicubic_residual": lambda frames, lowres: frames - lowres.mean()},
    ],
    "predicted_gain": [
        {"predicted_gain": 6.0},  # four times the samples, four times less squared error
        {"predicted_gain": 12},
        {"predicted_gain": 0.3},  # "5x10 or 10x20, both are a blur"
        {"predicted_gain": "2.5 dB"},
        {"predicted_gain": True},
    ],
}


def context():
    # Measured at the quick scale (the committed run): the 10x20 base's gain over the 5x10
    # one, and the two low-resolution frames' shares of the 0.05M budget.
    return {"finer_gain": 2.70, "finer_share": 0.192, "share": 0.048}
