"""Wrong answers for lesson 03's exercises (tests/test_exercises.py feeds them to the checks)."""

import math

from torch import nn


def _block(out="c_out s^2", padding=1, kernel=3, activation=nn.GELU, kind="pixelshuffle"):
    """NeRV's block built one way or another."""

    def block(c_in, c_out, stride):
        if kind == "bilinear":
            return nn.Sequential(
                nn.Upsample(scale_factor=stride, mode="bilinear", align_corners=True),
                nn.Conv2d(c_in, c_out, 2 * stride + 1, padding=stride),
                activation(),
            )
        channels = c_out * stride * stride if out == "c_out s^2" else c_out
        layers = [nn.Conv2d(c_in, channels, kernel, padding=padding), nn.PixelShuffle(stride)]
        return nn.Sequential(*layers, *([activation()] if activation else []))

    return block


def _schedule(warmup_from=0.1, cosine="after warm-up", floor=0.0, decay="cosine"):
    """NeRV's warm-up + cosine with one of a student's slips."""

    def schedule(step, total_steps, warmup):
        progress = step / total_steps
        if progress < warmup:
            return warmup_from + (1 - warmup_from) * progress / warmup
        done = (progress - warmup) / (1 - warmup) if cosine == "after warm-up" else progress
        if decay == "linear":
            return 1 - done
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * done))

    return schedule


ANSWERS = {
    "nerv_block": [
        {"nerv_block": _block(out="c_out")},  # the convolution makes c_out channels only
        {"nerv_block": _block(padding=0)},  # the map shrinks by 2 before the shuffle
        {"nerv_block": _block(kernel=1, padding=0)},
        {"nerv_block": _block(activation=nn.ReLU)},
        {"nerv_block": _block(activation=None)},
        {"nerv_block": _block(kind="bilinear")},
    ],
    "warmup_cosine": [
        {"warmup_cosine": _schedule(warmup_from=0.0)},  # warm-up from zero
        {"warmup_cosine": _schedule(cosine="whole run")},  # cosine counted from step 0
        {"warmup_cosine": _schedule(decay="linear")},
        {"warmup_cosine": _schedule(floor=0.1)},  # down to 0.1, not 0
        {"warmup_cosine": lambda step, total_steps, warmup: 1.0},  # a constant rate
        {"warmup_cosine": lambda step, total_steps, warmup: 0.5 * (1 + math.cos(math.pi * step))},
    ],
    "stem_percent": [
        {"stem_percent": 20},  # this scale's share, taken for NeRV-S's
        {"stem_percent": 95},
        {"stem_percent": 35},
        {"stem_percent": "60 %"},
        {"stem_percent": True},
    ],
}


def context():
    """The stem's share of the quick scale's model and of NeRV-S, as the lesson measures it."""
    import torch

    from nerv_lessons.nerv import NeRV, count_parameters, nerv_bunny, nerv_for_scale
    from nerv_lessons.scales import SCALES

    shares = {}
    for name, config in [("this scale", nerv_for_scale(SCALES["quick"])), ("NeRV-S", nerv_bunny())]:
        with torch.device("meta"):
            built = NeRV(config)
        shares[name] = count_parameters(built.stem) / count_parameters(built)
    return {"stem_shares": shares}
