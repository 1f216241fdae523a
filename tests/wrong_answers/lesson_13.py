"""Wrong answers for lesson 13's exercises (tests/test_exercises.py feeds them to the checks)."""

import torch
import torch.nn.functional as F

from nerv_lessons.videoinr import pixel_centres


def _grid(height, width, ys, xs, order="xy"):
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x, y] if order == "xy" else [y, x], dim=-1)


def _y_first(height, width):
    """(y, x) pairs: the order of tensor indices, not grid_sample's."""
    ys = (2 * torch.arange(height) + 1) / height - 1
    xs = (2 * torch.arange(width) + 1) / width - 1
    return _grid(height, width, ys, xs, order="yx")


def _corners_aligned(height, width):
    """Puts the first and last centres on the edges (align_corners=True)."""
    return _grid(height, width, torch.linspace(-1, 1, height), torch.linspace(-1, 1, width))


def _pixel_edges(height, width):
    """Gives each pixel's left/top edge, not its centre."""
    ys = 2 * torch.arange(height) / height - 1
    xs = 2 * torch.arange(width) / width - 1
    return _grid(height, width, ys, xs)


def _unit_square(height, width):
    """Centres in [0, 1], not [-1, 1]."""
    ys = (torch.arange(height) + 0.5) / height
    xs = (torch.arange(width) + 0.5) / width
    return _grid(height, width, ys, xs)


def _flat(height, width):
    """The right centres as a (H W, 2) list: the (H, W, 2) shape is lost."""
    return pixel_centres(height, width).reshape(-1, 2)


def _warper(sign=1.0, channels=(0, 1), per_pixel=2.0, padding="border", mode="bilinear"):
    def warp_by(features, flow):
        h, w = features.shape[-2:]
        moved = flow[:, list(channels)].permute(0, 2, 3, 1)
        grid = pixel_centres(h, w) + sign * moved * torch.tensor([per_pixel / w, per_pixel / h])
        return F.grid_sample(features, grid, mode=mode, padding_mode=padding, align_corners=False)

    return warp_by


ANSWERS = {
    "centres": [
        {"centres": _y_first},
        {"centres": _corners_aligned},
        {"centres": _pixel_edges},
        {"centres": _unit_square},
        {"centres": _flat},
    ],
    "warp_by": [
        {"warp_by": _warper(sign=-1.0)},  # a forward warp: reads p - M
        {"warp_by": _warper(channels=(1, 0))},  # x and y swapped
        {"warp_by": _warper(per_pixel=1.0)},  # a pixel taken as 1 / W, not 2 / W
        {"warp_by": _warper(padding="zeros")},  # black past the edge
        {"warp_by": _warper(mode="nearest")},  # no reading between pixels
        {"warp_by": lambda features, flow: features},  # ignores the flow
    ],
}


def context():
    """What the exercise cells read from the lesson: the package's pixel centres."""
    return {"pixel_centres": pixel_centres}
