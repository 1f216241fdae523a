"""Architecture diagrams: shapes come from a real forward pass."""

import matplotlib
import pytest
import torch
from torch import nn

from nerv_lessons._diagram import architecture, trace_shapes

matplotlib.use("Agg")


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GELU())
        self.up = nn.PixelShuffle(2)
        self.head = nn.Conv2d(2, 3, 1)

    def forward(self, x):
        return self.head(self.up(self.stem(x)))


def test_shapes_follow_the_forward_pass():
    stages = trace_shapes(Tiny(), torch.rand(1, 3, 4, 6))
    assert stages == [
        ("stem.0", "Conv2d", (1, 8, 4, 6)),
        ("up", "PixelShuffle", (1, 2, 8, 12)),
        ("head", "Conv2d", (1, 3, 8, 12)),
    ]  # the GELU keeps the shape and is left out


def test_drawing_and_bad_input():
    ax = architecture(Tiny(), torch.rand(1, 3, 4, 6), title="tiny")
    assert ax.get_title() == "tiny" and len(ax.patches) == 4
    with pytest.raises(ValueError, match="needs the model's input"):
        trace_shapes(Tiny())
    with pytest.raises(ValueError, match="nothing to draw"):
        trace_shapes(nn.Identity(), torch.rand(1))
