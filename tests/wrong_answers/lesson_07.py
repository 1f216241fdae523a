"""Wrong answers for lesson 07's exercises (tests/test_exercises.py feeds them to the checks)."""

import numpy as np
import torch


def _mask(shift=torch.fft.ifftshift, extra=0, half=lambda rate, side: int(rate * (side // 2))):
    """A high-pass mask made one way or another (the ways a student might)."""

    def mask(height, width, rate):
        keep = torch.ones(height, width, dtype=torch.bool)
        ch, cw = height // 2, width // 2
        dh, dw = half(rate, height), half(rate, width)
        keep[ch - dh : ch + dh + extra, cw - dw : cw + dw + extra] = False
        return shift(keep)

    return mask


def _inverted(height, width, rate):
    return ~_mask()(height, width, rate)


ANSWERS = {
    "highpass_mask_by_hand": [
        {"highpass_mask_by_hand": _mask(shift=lambda keep: keep)},  # left in the centred layout
        {"highpass_mask_by_hand": _mask(shift=torch.fft.fftshift)},  # the wrong way back (odd)
        {"highpass_mask_by_hand": _mask(extra=1)},  # the slice's end included
        {"highpass_mask_by_hand": _mask(half=lambda rate, side: int(rate * side / 2))},
        {"highpass_mask_by_hand": _mask(half=lambda rate, side: round(rate * (side // 2)))},
        {"highpass_mask_by_hand": _inverted},  # True where removed
        {"highpass_mask_by_hand": lambda h, w, rate: _mask()(h, w, rate).float()},
        {"highpass_mask_by_hand": lambda h, w, rate: np.asarray(_mask()(h, w, rate))},
    ],
    "predicted_energy": [
        {"predicted_energy": 36},  # as much as white noise keeps
        {"predicted_energy": 64},
        {"predicted_energy": 20},
        {"predicted_energy": 5},
        {"predicted_energy": 0.001},
        {"predicted_energy": 0},
        {"predicted_energy": "0.1 %"},
    ],
}


def context():
    # Measured at the quick scale (the committed run): the share of the middle frame's
    # energy, and of white noise's, that the 0.8 filter leaves, in percent.
    return {"energy_left": 0.156, "noise_left": 35.0}
