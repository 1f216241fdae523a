"""Wrong answers for lesson 02's exercises (tests/test_exercises.py feeds them to the checks)."""

import torch
from torch import nn


def _shuffle(order, split="colour first"):
    """PixelShuffle by hand, with the axes split and moved one way or another."""

    def shuffle(x, s):
        b, channels, h, w = x.shape
        c = channels // (s * s)
        if split == "colour first":
            x = x.reshape(b, c, s, s, h, w)
        else:  # the sub-pixel axes taken as the slow ones
            x = x.reshape(b, s, s, c, h, w)
        return x.permute(*order).reshape(b, c, h * s, w * s)

    return shuffle


def _deconv_as_shuffle(weights="right", biases="right", layers="conv"):
    """A 1x1 conv + PixelShuffle built from a deconv, with the usual slips."""

    def build(deconv):
        c_in, c_out, s, _ = deconv.weight.shape
        if layers == "deconv":
            return nn.Sequential(deconv, nn.PixelShuffle(1))
        conv = nn.Conv2d(c_in, c_out * s * s, kernel_size=1)
        with torch.no_grad():
            if weights == "right":
                weight = deconv.weight.permute(1, 2, 3, 0)
            elif weights == "i and j swapped":
                weight = deconv.weight.permute(1, 3, 2, 0)
            else:  # reshaped as it is stored, no permute
                weight = deconv.weight
            conv.weight.copy_(weight.reshape(c_out * s * s, c_in, 1, 1))
            if biases == "right":
                conv.bias.copy_(deconv.bias.repeat_interleave(s * s))
            elif biases == "tiled":
                conv.bias.copy_(deconv.bias.repeat(s * s))
            elif biases == "zero":
                conv.bias.zero_()
            # "left": the conv's own random initial biases
        if layers == "no shuffle":
            return nn.Sequential(conv)
        return nn.Sequential(conv, nn.PixelShuffle(s))

    return build


ANSWERS = {
    "shuffle_by_hand": [
        {"shuffle_by_hand": _shuffle((0, 1, 4, 3, 5, 2))},  # row and column sub-pixels swapped
        {"shuffle_by_hand": _shuffle((0, 3, 4, 1, 5, 2), split="sub-pixel first")},
        {"shuffle_by_hand": _shuffle((0, 1, 2, 3, 4, 5))},  # reshaped, never permuted
        {"shuffle_by_hand": lambda x, s: x.reshape(x.shape[0], -1, x.shape[2], x.shape[3])},
        {"shuffle_by_hand": lambda x, s: nn.functional.interpolate(x, scale_factor=s)},
    ],
    "macs_ratio": [
        {"macs_ratio": 2.8},  # stride 2's ratio, as if the kernel did not grow
        {"macs_ratio": 25},  # s^2: the positions, not the kernels
        {"macs_ratio": 0.54},  # the weights' ratio
        {"macs_ratio": 121},  # the bilinear kernel alone
        {"macs_ratio": "13x"},
        {"macs_ratio": True},
    ],
    "deconv_as_shuffle": [
        {"deconv_as_shuffle": _deconv_as_shuffle(weights="not permuted")},
        {"deconv_as_shuffle": _deconv_as_shuffle(weights="i and j swapped")},
        {"deconv_as_shuffle": _deconv_as_shuffle(biases="tiled")},
        {"deconv_as_shuffle": _deconv_as_shuffle(biases="zero")},
        {"deconv_as_shuffle": _deconv_as_shuffle(biases="left")},
        {"deconv_as_shuffle": _deconv_as_shuffle(layers="deconv")},
        {"deconv_as_shuffle": _deconv_as_shuffle(layers="no shuffle")},
    ],
}


def context():
    """What the prediction's check reads: the cost of NeRV-S's first block, built each way."""
    from nerv_lessons.upsample import UPSAMPLE_KINDS, Upsample, upsample_cost

    return {
        "first_block_macs": {
            kind: upsample_cost(Upsample(26, 26, 5, kind), 9, 16)["macs"] for kind in UPSAMPLE_KINDS
        }
    }
