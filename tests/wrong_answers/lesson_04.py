"""Wrong answers for lesson 04's exercises (tests/test_exercises.py feeds them to the checks)."""

import math


def _width(numbers, strides, kernels, reduction, stem_per_channel, power=1, squared=True, fit=None):
    """A quadratic solver for c2 with one of a student's likely slips switched on."""
    a = sum(
        k**2 * (s**2 if squared else s) / reduction ** (2 * i + power)
        for i, (s, k) in enumerate(zip(strides, kernels))
    )
    b = stem_per_channel
    root = (-b + math.sqrt(b * b + 4 * a * numbers)) / (2 * a)
    return (fit or math.floor)(root)


ANSWERS = {
    "first_width": [
        # both widths of block i taken as c2 / r^i (r^(2i), not r^(2i+1))
        {"first_width": lambda *args: _width(*args, power=0)},
        # the stride counted once, not s^2 sub-pixels
        {"first_width": lambda *args: _width(*args, squared=False)},
        # rounded to the nearest width instead of down (it no longer fits)
        {"first_width": lambda *args: _width(*args, fit=round)},
        # the stem left out of the count
        {"first_width": lambda n, s, k, r, stem: _width(n, s, k, r, 0)},
    ],
    "prediction": [
        {"prediction": "lower"},  # "more embedding-like layers cost more"
        {"prediction": "same"},  # "the budget is the same, so the width is too"
        {"prediction": "Higher"},  # not one of the three words
    ],
}


def context():
    """What the checks read from the lesson: c2 at the quick scale for r = 1.2 and r = 2."""
    from nerv_lessons.hnerv import hnerv_budget

    budget = (0.05, 16, 80, 160)
    return {"measured_c2": {r: hnerv_budget(*budget, reduction=r).fc_dim for r in (1.2, 2.0)}}
