"""Wrong answers for lesson 11's exercises (tests/test_exercises.py feeds them to the checks)."""

import torch
import torch.nn.functional as F


def _position_over_steps(grid, t):
    """Spreads t over T steps instead of T - 1 intervals: t = 1 lands past the last step."""
    position = t * len(grid)
    lower = position.floor().long().clamp(max=len(grid) - 2)
    weight = (position - lower).reshape(-1, *[1] * (grid.ndim - 1))
    return (1 - weight) * grid[lower] + weight * grid[lower + 1]


def _weights_swapped(grid, t):
    """Gives weight w to the step below and 1 - w to the step above."""
    position = t * (len(grid) - 1)
    lower = position.floor().long().clamp(max=len(grid) - 2)
    weight = (position - lower).reshape(-1, *[1] * (grid.ndim - 1))
    return weight * grid[lower] + (1 - weight) * grid[lower + 1]


def _nearest_step(grid, t):
    """Rounds to the nearest step: right on the steps, wrong between them."""
    return grid[torch.round(t * (len(grid) - 1)).long()]


def _rows_and_columns_swapped(local, height, width):
    """Reads the kernel position as (x mod s, y mod s)."""
    s = local.shape[-1]
    rows, columns = torch.arange(height) % s, torch.arange(width) % s
    return local.transpose(-1, -2)[:, :, rows[:, None], columns[None, :]]


def _blocks_not_tiles(local, height, width):
    """Enlarges each feature to a block (nearest upsampling) instead of tiling the kernel."""
    return F.interpolate(local, size=(height, width), mode="nearest")


ANSWERS = {
    "read_in_time": [
        {"read_in_time": _position_over_steps},
        {"read_in_time": _weights_swapped},
        {"read_in_time": _nearest_step},
        {"read_in_time": lambda grid, t: grid[: len(t)]},  # ignores t
    ],
    "tile_by_modulo": [
        {"tile_by_modulo": _rows_and_columns_swapped},
        {"tile_by_modulo": _blocks_not_tiles},
        {
            "tile_by_modulo": lambda local, height, width: local[..., :1, :1].expand(
                -1, -1, height, width
            )
        },
    ],
    "prediction": [
        {"prediction": "V3"},  # "the local grids are a paper idea, so they must matter more"
        {"prediction": "v1"},  # not one of the two labels
    ],
}


def context():
    """What the checks read from the lesson: the quick scale's measured PSNR of V1 and V3."""
    return {"measured": {"V1 sub-conv 1x1": 26.59, "V3 no local grids": 27.12}}
