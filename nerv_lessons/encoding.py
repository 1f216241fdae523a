# Generated from notebooks/01_positional_encoding.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Positional encoding: sines and cosines of a position at geometrically growing frequencies.

``gamma(p) = (sin(b^0 pi p), cos(b^0 pi p), ..., sin(b^(l-1) pi p), cos(b^(l-1) pi p))``: NeRV
feeds its network gamma(t) of a frame's time t in [0, 1], with b = 1.25 and l = 80 levels by
default (160 numbers). The same encoding of each pixel coordinate gives Fourier features for
fitting an image as f(x, y). Introduced in lesson 01 (notebooks/01_positional_encoding.ipynb).
"""

import math

import torch
from torch import nn

NERV_BASE = 1.25  # b in the NeRV code
NERV_LEVELS = 80  # l, the NeRV code's default (its README's Bunny command uses 40)


def _check_base_and_levels(b: float, levels: int) -> None:
    if isinstance(levels, bool) or not isinstance(levels, int):
        raise TypeError(f"levels is {levels!r}; expected a whole number of frequencies, e.g. 80")
    if levels < 1:
        raise ValueError(
            f"levels={levels}: the encoding needs at least one frequency (levels >= 1)"
        )
    if not isinstance(b, (int, float)) or isinstance(b, bool) or not b > 0:
        raise ValueError(
            f"b={b!r}: the frequency base must be a positive number (NeRV uses 1.25, NeRF 2)"
        )


def positional_encoding(t: torch.Tensor, b: float = NERV_BASE, levels: int = NERV_LEVELS):
    """Encode positions t of shape (B,) as a (B, 2 * levels) tensor, interleaved:
    [sin(b^0 pi t), cos(b^0 pi t), sin(b^1 pi t), cos(b^1 pi t), ...]."""
    _check_base_and_levels(b, levels)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t is a {type(t).__name__}; expected a torch.Tensor of shape (B,)")
    if not t.is_floating_point():
        raise TypeError(
            f"t has dtype {t.dtype}; expected float times in [0, 1]. "
            "For frame indices use index / frames, e.g. torch.arange(T) / T"
        )
    if t.ndim != 1:
        raise ValueError(
            f"t has shape {tuple(t.shape)}; expected (B,), one time per frame "
            "(flatten it with t.reshape(-1))"
        )
    # b^i pi in double precision, then in t's dtype: the NeRV code multiplies a Python float too
    frequencies = (b ** torch.arange(levels, dtype=torch.float64) * math.pi).to(t)
    angles = t[:, None] * frequencies  # (B, levels)
    # (B, levels, 2) -> (B, 2 * levels): sine and cosine of each level side by side
    return torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)


class PositionalEncoding(nn.Module):
    """gamma(t) as a layer without parameters; `dim` is its output size, 2 * levels."""

    def __init__(self, b: float = NERV_BASE, levels: int = NERV_LEVELS):
        super().__init__()
        _check_base_and_levels(b, levels)
        self.b, self.levels, self.dim = b, levels, 2 * levels

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return positional_encoding(t, self.b, self.levels)

    def extra_repr(self) -> str:
        return f"b={self.b}, levels={self.levels}, dim={self.dim}"


def fourier_features(coords: torch.Tensor, b: float = 2.0, levels: int = 8) -> torch.Tensor:
    """Encode each column of coords (N, D) with positional_encoding: (N, D * 2 * levels)."""
    if not isinstance(coords, torch.Tensor) or coords.ndim != 2:
        shape = tuple(coords.shape) if isinstance(coords, torch.Tensor) else type(coords).__name__
        raise ValueError(f"coords is {shape}; expected an (N, D) tensor, one row per point")
    return torch.cat([positional_encoding(column, b, levels) for column in coords.T], dim=1)


def pixel_coordinates(height: int, width: int, device="cpu") -> torch.Tensor:
    """(height * width, 2) coordinates (y, x) in [0, 1] of a frame's pixels, row by row."""
    if height < 1 or width < 1:
        raise ValueError(f"a {height}x{width} frame has no pixels: both sides must be >= 1")
    ys = torch.linspace(0, 1, height, device=device)
    xs = torch.linspace(0, 1, width, device=device)
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).reshape(-1, 2)
