"""Wrong answers for lesson 01's exercises (tests/test_exercises.py feeds them to the checks)."""

import math

import torch


def _angles(t, b, levels, first=0, turn=math.pi):
    return t[:, None] * (b ** torch.arange(first, first + levels) * turn)


def _interleave(first, second):
    return torch.stack([first, second], dim=-1).flatten(1)


ANSWERS = {
    "gamma": [
        # all the sines, then all the cosines
        {
            "gamma": lambda t, b, levels: torch.cat(
                [_angles(t, b, levels).sin(), _angles(t, b, levels).cos()], 1
            )
        },
        # cosine before sine
        {
            "gamma": lambda t, b, levels: _interleave(
                _angles(t, b, levels).cos(), _angles(t, b, levels).sin()
            )
        },
        # 2 pi instead of pi: every level twice too fast
        {
            "gamma": lambda t, b, levels: _interleave(
                _angles(t, b, levels, turn=2 * math.pi).sin(),
                _angles(t, b, levels, turn=2 * math.pi).cos(),
            )
        },
        # no pi at all
        {
            "gamma": lambda t, b, levels: _interleave(
                _angles(t, b, levels, turn=1).sin(), _angles(t, b, levels, turn=1).cos()
            )
        },
        # levels counted from 1: b^1 .. b^levels
        {
            "gamma": lambda t, b, levels: _interleave(
                _angles(t, b, levels, first=1).sin(), _angles(t, b, levels, first=1).cos()
            )
        },
        # only the sines
        {"gamma": lambda t, b, levels: _angles(t, b, levels).sin()},
        # levels x positions, transposed
        {
            "gamma": lambda t, b, levels: (
                _interleave(_angles(t, b, levels).sin(), _angles(t, b, levels).cos()).T
            )
        },
    ],
    "lowest_held_out": [
        {"lowest_held_out": 80},  # more levels, more detail
        {"lowest_held_out": 40},
        {"lowest_held_out": 10},  # fewest levels, smoothest fit
        {"lowest_held_out": 25},  # not one of the four
    ],
    "first_aliased_level": [
        # the last level that is not aliased yet
        {"first_aliased_level": lambda frames, b: math.floor(math.log(frames, b))},
        # right except where frames is a power of b (64 = 2^6 is not yet aliased)
        {"first_aliased_level": lambda frames, b: math.ceil(math.log(frames, b))},
        # a float
        {"first_aliased_level": lambda frames, b: math.log(frames, b)},
        # one too many
        {"first_aliased_level": lambda frames, b: math.floor(math.log(frames, b)) + 2},
    ],
}


def context():
    """The held-out experiment's errors as the quick-scale run measured them (CPU, seed 0)."""
    return {
        "held_out": {
            10: {"seen": 0.0692, "held out": 0.0714},
            20: {"seen": 0.0002, "held out": 0.0015},
            40: {"seen": 0.0000, "held out": 0.1539},
            80: {"seen": 0.0000, "held out": 0.2939},
        }
    }
