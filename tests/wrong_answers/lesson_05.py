"""Wrong answers for lesson 05's exercises (tests/test_exercises.py feeds them to the checks)."""


def _nearest_in_order(index, trained_indices):
    """Takes the trained list as sorted: the last frame below and the first above, as listed."""
    below = [i for i in trained_indices if i < index]
    above = [i for i in trained_indices if i > index]
    if not below or not above:
        raise ValueError("outside")
    left, right = below[-1], above[0]
    return left, right, (index - left) / (right - left)


def _weight_from_the_right(index, trained_indices):
    below = [i for i in trained_indices if i < index]
    above = [i for i in trained_indices if i > index]
    if not below or not above:
        raise ValueError("outside")
    left, right = max(below), min(above)
    return left, right, (right - index) / (right - left)


def _clamps_outside(index, trained_indices):
    """Clamps a frame outside the trained range to the nearest end instead of refusing it."""
    below = [i for i in trained_indices if i < index] or [min(trained_indices)]
    above = [i for i in trained_indices if i > index] or [max(trained_indices)]
    left, right = max(below), min(above)
    return left, right, 0.0 if left == right else (index - left) / (right - left)


ANSWERS = {
    "embedding_between": [
        {"embedding_between": lambda first, second, weight: weight * first + (1 - weight) * second},
        {"embedding_between": lambda first, second, weight: (first + second) / 2},
        {"embedding_between": lambda first, second, weight: first + weight * second},
        {"embedding_between": lambda first, second, weight: ((1 - weight) * first).mean(1)},
    ],
    "prediction": [
        {"prediction": "lower"},  # "fewer frequencies, so worse everywhere"
        {"prediction": "same"},  # not one of the two words
    ],
    "neighbours_and_weight": [
        {"neighbours_and_weight": _nearest_in_order},
        {"neighbours_and_weight": _weight_from_the_right},
        {"neighbours_and_weight": _clamps_outside},
    ],
}


def context():
    """What the checks read from the lesson: stored embeddings (random stand-ins of their
    shape), the package's interpolation, and the quick scale's measured held-out PSNR."""
    import torch

    from nerv_lessons.hnerv import interpolate_embeddings

    generator = torch.Generator().manual_seed(0)
    return {
        "embeddings": torch.randn(8, 16, 2, 4, generator=generator),
        "interpolate_embeddings": interpolate_embeddings,
        "heldout_psnr": {"every level": 10.74, "unaliased only": 20.96},
    }
