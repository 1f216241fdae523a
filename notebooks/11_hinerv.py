# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: cellView,jupyter,-all
#     notebook_metadata_filter: kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 11: Beyond HNeRV, HiNeRV's grids and bilinear upsampling
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/11_hinerv.ipynb)
#
# HiNeRV (Kwan et al., NeurIPS 2023) ends the NeRV line of the lecture notes. On UVG at about
# 3.2M it scores 36.27 dB against HNeRV's 33.63 and NeRV's 31.63 (the notes' Table 4), from
# three changes to the decoder:
#
# 1. its input is a **learned grid** of features read at the frame's time, not NeRV's fixed
#    sines of t and not an embedding per frame;
# 2. it enlarges feature maps by **bilinear upsampling**, which has no parameters, and spends
#    the parameters on ConvNeXt-style blocks instead of sub-pixel convolutions;
# 3. after each upsampling it adds a **hierarchical encoding**: a small grid in time with one
#    feature per position inside the upsampling kernel.
#
# You write the grid's interpolation in time and the hierarchical encoding's tiling; the
# lesson builds the `hinerv` module from them, stores a HiNeRV in lesson 08's file format and
# runs the notes' ablations (Table 4) at equal size, over three seeds.

# %%
# Colab only: fetch the course (code and the Bunny clip) and install it. Elsewhere nothing happens.
import sys

if "google.colab" in sys.modules:
    import subprocess

    url, home = "https://github.com/nerv-lessons/nerv-lessons", "/content/nerv-lessons"
    subprocess.run(["git", "clone", "-q", "--depth", "1", url, home], check=False)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", home], check=True)
    sys.path.insert(0, home)

# %%
# %config InlineBackend.figure_formats = ["png"]
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from nerv_lessons._exercises import exercise, right, wrong
from nerv_lessons.data import load_clip
from nerv_lessons.scales import start_lesson

scale, device = start_lesson()
notebook_start = time.perf_counter()
video = load_clip(scale, device)
frames, _, height, width = video.shape
print(f"clip: {frames} frames of {height}x{width}")

# %% [markdown]
# ## A grid in time
#
# NeRV's input for frame t is gamma(t), sines and cosines that nothing learns. HNeRV's is an
# embedding per frame, which the file stores frame by frame. HiNeRV's is a table of learned
# numbers at a few *time steps*, fewer than the frames: frame t reads it between the two steps
# around it, by linear interpolation. With steps 0, 1, ..., T - 1 spread over t in [0, 1],
# t sits at position p = t (T - 1); with k = floor(p) and w = p - k,
#
#     grid(t) = (1 - w) grid[k] + w grid[k + 1]
#
# (at t = 1, p = T - 1 is the last step: use k = T - 2, w = 1). Every frame between two steps
# shares their numbers, so the grid grows with the clip's length far slower than one
# embedding per frame does.
#
# ### Exercise: read a grid at time t
#
# Write `read_in_time(grid, t)`: `grid` is (T, ...) with T >= 2 steps, `t` a (B,) float tensor
# of times in [0, 1]; return (B, ...), each t read as above. Use tensor operations (no Python
# loop over t). The check compares yours with torch's `grid_sample` at integer and
# fractional positions, on a grid of HiNeRV's shape; the cells after it use the package's
# `sample_time`.


# %%
def read_in_time(grid: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of `grid` (T, ...) along its first axis at times t (B,) in [0, 1]."""
    ### BEGIN SOLUTION
    position = t * (len(grid) - 1)
    lower = position.floor().long().clamp(max=len(grid) - 2)
    weight = (position - lower).reshape(-1, *[1] * (grid.ndim - 1))
    return (1 - weight) * grid[lower] + weight * grid[lower + 1]
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
import torch.nn.functional as F


def torch_reads(grid: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The same reading done by torch's grid_sample (linear, corners aligned: t = 0 and 1 are
    the first and last steps), as HiNeRV's reference code reads its grids."""
    steps = grid.reshape(len(grid), -1).T[None, :, None, :]  # (1, numbers, 1, T)
    where = torch.stack([2 * t - 1, torch.zeros_like(t)], dim=-1)[None, None]  # (1, 1, B, 2)
    read = F.grid_sample(steps, where, mode="bilinear", align_corners=True)  # (1, numbers, 1, B)
    return read[0, :, 0].T.reshape(len(t), *grid.shape[1:])


with exercise("read_in_time"):
    steps = torch.randn(5, 3, 2, 4, generator=torch.Generator().manual_seed(0))  # (T, C, h, w)
    cases = {
        "integer positions (t = k / 4)": torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]),
        "fractional positions": torch.tensor([0.1, 0.3, 0.62, 0.99]),
    }
    for what, t in cases.items():
        got, expected = read_in_time(steps, t), torch_reads(steps, t)
        if tuple(got.shape) != tuple(expected.shape):
            wrong(
                f"at {what} you return shape {tuple(got.shape)}, not {tuple(expected.shape)}: "
                "one (C, h, w) map per time, read from the grid's first axis"
            )
        if not torch.allclose(got, expected, atol=1e-5):
            bad = (got - expected).flatten(1).abs().amax(1).argmax().item()
            wrong(
                f"at {what}, t = {t[bad]:.2f} reads {got[bad, 0, 0, 0]:.4f} where the grid holds "
                f"{expected[bad, 0, 0, 0]:.4f}: position t (T - 1) with T the grid's steps, "
                "weight 1 - w on the step below and w on the step above"
            )
    right("a time reads the two steps around it, weighted by how near it is to each.")


# %% [markdown]
# The package's version (folded: click to show) also refuses what a grid cannot answer: a
# time outside [0, 1] (the grid holds nothing beyond the clip) or a grid of one step.

# %% cellView="form" jupyter={"source_hidden": true}
#| export hinerv
"""HiNeRV (Kwan et al., NeurIPS 2023), frame-wise: grid encodings and bilinear upsampling.

    t in [0, 1] -> base encoding: levels of learned (T_l, C_l, h, w) grids read at t
      -> 1x1 stem -> per stage: bilinear upsampling (no parameters)
                                + the stage's local grid read at t, tiled (y mod s, x mod s)
                                -> ConvNeXt-style block
      -> 3x3 head -> (tanh + 1) / 2

The grids are part of the representation's size, as HNeRV's embeddings are, and the file
stores them quantized as embeddings. This is the lecture notes' V9 "frame-wise" variant (the
paper's best model reads patches). Introduced in lesson 11 (notebooks/11_hinerv.ipynb).
"""

import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from nerv_lessons.bitstream import ModelKind, draw_at_frame_times, register_kind
from nerv_lessons.data import check_strides, stride_options
from nerv_lessons.encoding import fourier_features, pixel_coordinates
from nerv_lessons.experiments import Experiment, Row, Setup, register, register_model
from nerv_lessons.hnerv import LayerNorm2d
from nerv_lessons.nerv import count_parameters, expect_shape
from nerv_lessons.train import frame_times


def check_times(t: torch.Tensor) -> None:
    """Times are a (B,) float tensor in [0, 1]: a grid holds nothing outside the clip."""
    if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim != 1:
        raise TypeError(
            f"t must be a (B,) float tensor of times in [0, 1] (frame i of T is i / (T - 1)), "
            f"got {t!r}"
        )
    if t.numel() and not t.is_meta and (t.min() < 0 or t.max() > 1):  # meta: shapes only
        raise ValueError(
            f"times must lie in [0, 1] (frame i of T is i / (T - 1)), got {t.min():.3g} to "
            f"{t.max():.3g}: a grid is only defined over the clip"
        )


def sample_time(grid: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of ``grid`` (T, ...) along its first axis at times t (B,) in
    [0, 1]: t = 0 reads grid[0], t = 1 grid[-1]. Returns (B, ...)."""
    check_times(t)
    if len(grid) < 2:
        raise ValueError(f"a grid in time needs at least 2 time steps, got {len(grid)}")
    position = t.to(grid.dtype) * (len(grid) - 1)
    lower = position.floor().long().clamp(max=len(grid) - 2)  # t = 1: the last interval's end
    weight = (position - lower).reshape(-1, *[1] * (grid.ndim - 1))
    return torch.lerp(grid[lower], grid[lower + 1], weight)


# %% [markdown]
# ## The base encoding: levels of grids
#
# HiNeRV's base encoding stacks L such grids, each a (T_l, C_l, h, w) table on the base
# resolution h x w (the frame divided by the strides' product). Level 0 has the most steps in
# time and the fewest channels; each next level halves the steps and doubles the channels, so
# slow content gets many numbers at few times and fast content few numbers at many. Frame t
# reads every level at t and stacks the channels. V4 of the ablations replaces the grids with
# Fourier features of (y, x, t), the positional encoding of lesson 01, which learns nothing.


# %% cellView="form" jupyter={"source_hidden": true}
#| export hinerv
def level_frames(steps: int, level: int) -> int:
    """Time steps of grid level ``level``: level 0's ``steps`` halved per level, at least 2."""
    return max(steps >> level, 2)


class GridEncoding(nn.Module):
    """The base encoding: levels l = 0..L-1 of learned grids (T_l, C_l, h, w), T halving and
    C doubling per level; frame t -> every level read at t, stacked: (B, sum C_l, h, w)."""

    def __init__(self, steps: int, channels: int, levels: int, grid: tuple[int, int]):
        super().__init__()
        shapes = [(level_frames(steps, l), channels << l, *grid) for l in range(levels)]
        # Small random values: every position starts different, as a grid must to be read.
        self.grids = nn.ParameterList(nn.Parameter(0.1 * torch.randn(s)) for s in shapes)
        self.channels = sum(shape[1] for shape in shapes)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return torch.cat([sample_time(grid, t) for grid in self.grids], dim=1)


FOURIER_LEVELS = 8  # V4: 8 frequencies (base 2) of each of y, x and t: 48 channels


class FourierEncoding(nn.Module):
    """V4: Fourier features of (y, x, t) at every base position; no parameters."""

    def __init__(self, grid: tuple[int, int], levels: int = FOURIER_LEVELS):
        super().__init__()
        self.grid, self.levels, self.channels = grid, levels, 3 * 2 * levels
        self.register_buffer("space", pixel_coordinates(*grid), persistent=False)  # (h*w, 2)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        check_times(t)
        times = t.to(self.space.dtype).repeat_interleave(len(self.space))[:, None]
        points = torch.cat([self.space.repeat(len(t), 1), times], dim=1)  # (B*h*w, 3)
        features = fourier_features(points, b=2.0, levels=self.levels)
        return features.reshape(len(t), *self.grid, -1).permute(0, 3, 1, 2)


# %%
# NBVAL_CHECK_OUTPUT
encoding = GridEncoding(steps=8, channels=8, levels=3, grid=(5, 10))
for level, grid in enumerate(encoding.grids):
    print(f"level {level}: {tuple(grid.shape)} = {grid.numel():,} numbers (T, C, h, w)")
print("frames at t = 0, 0.5, 1 ->", tuple(encoding(torch.tensor([0.0, 0.5, 1.0])).shape))
print("V4's Fourier features ->", tuple(FourierEncoding((5, 10))(torch.tensor([0.5])).shape))

# %% [markdown]
# ## Upsampling without parameters
#
# NeRV and HNeRV enlarge a map by a sub-pixel convolution: a k x k convolution to s^2 times the
# channels, then PixelShuffle (lesson 02). HiNeRV upsamples bilinearly, which learns nothing,
# and spends those parameters on its blocks. Its ablations V1 and V2 put the sub-pixel
# convolutions back (1x1 and 3x3), V11 upsamples by nearest neighbour. What each costs at a
# stage of 40 channels and stride 2:

# %% cellView="form" jupyter={"source_hidden": true}
#| export hinerv
UPSAMPLERS = ("bilinear", "nearest", "subconv1", "subconv3")  # V11 nearest; V1, V2 sub-pixel


def make_upsampler(kind: str, channels: int, stride: int) -> nn.Module:
    """Enlarge a map by ``stride``: bilinear or nearest (no parameters), or a sub-pixel
    convolution (k x k to stride^2 times the channels, then PixelShuffle), as NeRV's."""
    if kind in ("bilinear", "nearest"):
        corners = {"align_corners": False} if kind == "bilinear" else {}
        return nn.Upsample(scale_factor=stride, mode=kind, **corners)
    if kind in ("subconv1", "subconv3"):
        kernel = int(kind[-1])
        conv = nn.Conv2d(channels, channels * stride**2, kernel, padding=kernel // 2)
        return nn.Sequential(conv, nn.PixelShuffle(stride))
    raise ValueError(f"upsample={kind!r}: choose one of {', '.join(UPSAMPLERS)}")


# %%
# NBVAL_CHECK_OUTPUT
from nerv_lessons.nerv import count_parameters

for kind in UPSAMPLERS:
    upsampler = make_upsampler(kind, channels=40, stride=2)
    out = upsampler(torch.zeros(1, 40, 5, 10))
    print(f"{kind:<9} {count_parameters(upsampler):6,d} parameters -> {tuple(out.shape)}")

# %% [markdown]
# ## The hierarchical encoding: one feature per position in the kernel
#
# After a stage upsamples by s, every output pixel sits at one of s x s positions inside the
# kernel that made it: (y mod s, x mod s). HiNeRV gives each stage a small grid in time of
# shape (T, C, s, s) and adds, to every pixel, the feature of its position read at t (the
# "modulo of the coordinates" in the notes' Figure 2). It costs T C s^2 numbers per stage and
# tells the block which sub-pixel it is drawing, which bilinear upsampling alone smears. V3
# of the ablations removes it.
#
# ### Exercise: tile by position modulo the stride
#
# Write `tile_by_modulo(local, height, width)`: `local` is (B, C, s, s); return (B, C, height,
# width) where pixel (y, x) holds `local[:, :, y % s, x % s]`. Height and width are multiples
# of s. Index with tensors of row and column positions (no loop over pixels). The check
# compares yours with the definition, pixel by pixel, on maps of several sizes; the cells
# after it use the package's `tile_local`.


# %%
def tile_by_modulo(local: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, C, s, s) features -> (B, C, height, width), pixel (y, x) gets (y mod s, x mod s)."""
    ### BEGIN SOLUTION
    s = local.shape[-1]
    rows = torch.arange(height) % s
    columns = torch.arange(width) % s
    return local[:, :, rows[:, None], columns[None, :]]
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("tile_by_modulo"):
    local = torch.arange(2 * 3 * 2 * 2.0).reshape(2, 3, 2, 2)  # B 2, C 3, s 2
    three = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(1))  # s 3
    for features, (h, w) in [(local, (4, 6)), (local, (2, 2)), (three, (6, 9))]:
        got, s = tile_by_modulo(features, h, w), features.shape[-1]
        expected_shape = (*features.shape[:2], h, w)
        if tuple(got.shape) != expected_shape:
            wrong(f"for a {h}x{w} map you return {tuple(got.shape)}, not {expected_shape}")
        for y in range(h):  # the definition, pixel by pixel
            for x in range(w):
                if not torch.equal(got[..., y, x], features[..., y % s, x % s]):
                    wrong(
                        f"pixel (y={y}, x={x}) of a {h}x{w} map holds {got[0, 0, y, x]:g}; its "
                        f"kernel position's feature is local[..., {y % s}, {x % s}] = "
                        f"{features[0, 0, y % s, x % s]:g}: rows follow y, columns x"
                    )
    right("each pixel gets the feature of its place inside the kernel.")


# %% [markdown]
# The package's version repeats the s x s block over the map (the same result), and refuses a
# map that is not whole kernels:


# %% cellView="form" jupyter={"source_hidden": true}
#| export hinerv
def tile_local(local: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, C, s, s) local features -> (B, C, height, width): pixel (y, x) of the map gets
    feature (y mod s, x mod s), its position inside the upsampling kernel."""
    s = local.shape[-1]
    if height % s or width % s:
        raise ValueError(f"a {height}x{width} map is not whole {s}x{s} kernels: sides must be x{s}")
    return local.repeat(1, 1, height // s, width // s)


# %% [markdown]
# A 2x2 local grid (four features, one colour each) tiled over an 8x12 map: the picture a
# stage of stride 2 adds to its upsampled map, at one time t.

# %%
kernel_colours = torch.tensor(
    [[[1.0, 0.2], [0.2, 1.0]], [[0.3, 0.9], [0.6, 0.1]], [[0.1, 0.5], [0.9, 0.4]]]
)
figure, axes = plt.subplots(1, 2, figsize=(7, 2.4), gridspec_kw={"width_ratios": [1, 3]})
axes[0].imshow(kernel_colours.permute(1, 2, 0), interpolation="nearest")
axes[0].set_title("local grid (s = 2)", fontsize=9)
axes[1].imshow(tile_local(kernel_colours[None], 8, 12)[0].permute(1, 2, 0), interpolation="nearest")
axes[1].set_title("tiled: pixel (y, x) gets (y mod 2, x mod 2)", fontsize=9)
for axis in axes:
    axis.set(xticks=[], yticks=[])
figure.tight_layout()
plt.show()

# %% [markdown]
# ## The block and the model
#
# A HiNeRV block upsamples (no parameters), adds the hierarchical encoding at t, then runs a
# ConvNeXt-style block: depthwise k x k convolution, LayerNorm over the channels, 1x1 to 4x
# the output width, GELU, 1x1 to the output width, plus its input when the widths match. The
# last (full-resolution) block's MLP is 1x the width, as the reference's Bunny configurations
# set it (a 4x MLP at full resolution would cost most of the compute). V8 replaces the block
# with a 3x3 convolution and GELU. The widths shrink by r = 1.2 per stage, as HNeRV's.
#
# Folded (click to show): the block, the configuration (every size and choice a field, so the
# file's header rebuilds the model) and the model.

# %% cellView="form" jupyter={"source_hidden": true}
#| export hinerv
ENCODINGS = ("grid", "fourier")  # the base encoding (V4: Fourier features of y, x, t)
BLOCKS = ("convnext", "conv3")  # V8: a 3x3 conv instead of the ConvNeXt-style block


class HiNeRVBlock(nn.Module):
    """Upsample (no parameters), add the hierarchical encoding read at t, transform:
    depthwise k x k -> LayerNorm -> 1x1 to expansion x out -> GELU -> 1x1 to out, plus the
    input when the widths match (ConvNeXt-style); or V8's 3x3 conv + GELU."""

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int, config: "HiNeRVConfig"):
        super().__init__()
        self.upsample = make_upsampler(config.upsample, c_in, stride)
        # Zeros: the encoding starts adding nothing and learns what each position needs.
        shape = (config.local_steps, c_in, stride, stride)
        self.local = nn.Parameter(torch.zeros(shape)) if config.local else None
        self.residual = c_in == c_out
        if config.block == "convnext":
            k = config.kernel
            self.body = nn.Sequential(
                nn.Conv2d(c_in, c_in, k, padding=k // 2, groups=c_in),
                LayerNorm2d(c_in),
                nn.Conv2d(c_in, expansion * c_out, 1),
                nn.GELU(),
                nn.Conv2d(expansion * c_out, c_out, 1),
            )
        else:
            self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.GELU())

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = self.upsample(x)
        if self.local is not None:
            x = x + tile_local(sample_time(self.local, t), *x.shape[-2:])
        y = self.body(x)
        return x + y if self.residual else y


@dataclass
class HiNeRVConfig:
    """Every size and choice of the frame-wise HiNeRV; ``width0`` is the knob the budget turns."""

    height: int = 640
    width: int = 1280
    strides: tuple[int, ...] = (4, 4, 2, 2, 2)  # the base grid is the frame / their product
    frames: int = 132  # the clip's frames: the grids' steps in time follow it
    width0: int = 64  # channels after the stem; each stage divides them by `reduction`
    reduction: float = 1.2
    min_width: int = 12
    # The grids: the reference's Bunny configurations give the base grid 2 channels and
    # about a third as many steps as frames; here a quarter, and local grids an eighth.
    grid_channels: int = 2  # C_0 of the base grid (doubling per level)
    grid_levels: int = 3
    grid_steps: int | None = None  # T_0 of the base grid (None: a quarter of the frames)
    local_steps: int | None = None  # T of each stage's local grid (None: an eighth)
    kernel: int = 3  # the blocks' depthwise kernel (the reference's Bunny configurations: 3)
    expansion: int = 4  # the blocks' MLP width, times the output width...
    last_expansion: int = 1  # ...except the last (full-resolution) block's
    encoding: str = "grid"
    local: bool = True  # V3: False, no hierarchical encoding
    upsample: str = "bilinear"
    block: str = "convnext"

    def __post_init__(self):
        self.strides = tuple(int(s) for s in self.strides)
        check_strides(self.height, self.width, self.strides)
        for name, value, allowed in [
            ("encoding", self.encoding, ENCODINGS),
            ("upsample", self.upsample, UPSAMPLERS),
            ("block", self.block, BLOCKS),
        ]:
            if value not in allowed:
                raise ValueError(f"{name}={value!r}: choose one of {', '.join(allowed)}")
        if self.frames < 1:
            raise ValueError(f"frames={self.frames}: a clip has at least one frame")
        self.grid_steps = self.grid_steps or max(self.frames // 4, 2)
        self.local_steps = self.local_steps or max(self.frames // 8, 2)
        sizes = (self.width0, self.min_width, self.grid_channels, self.grid_levels)
        if min(sizes) < 1 or min(self.grid_steps, self.local_steps) < 2:
            raise ValueError(
                "widths, grid channels and levels must be >= 1 and grids need >= 2 steps, got "
                f"width0 {self.width0}, min_width {self.min_width}, grid_channels "
                f"{self.grid_channels}, grid_levels {self.grid_levels}, steps "
                f"{self.grid_steps} and {self.local_steps}"
            )
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel={self.kernel}: odd kernels keep the map's size")

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) of the base grid."""
        total = math.prod(self.strides)
        return self.height // total, self.width // total

    def widths(self) -> list[int]:
        """Each stage's output channels: width0 / reduction per stage, at least min_width."""
        widths, width = [], self.width0
        for _ in self.strides:
            width = max(round(width / self.reduction), self.min_width)
            widths.append(width)
        return widths


class HiNeRV(nn.Module):
    """t (B,) in [0, 1] -> base encoding -> 1x1 stem -> HiNeRV blocks -> frames (B, 3, H, W)."""

    def __init__(self, config: HiNeRVConfig):
        super().__init__()
        self.config = config
        if config.encoding == "grid":
            self.encoding = GridEncoding(
                config.grid_steps, config.grid_channels, config.grid_levels, config.grid
            )
        else:
            self.encoding = FourierEncoding(config.grid)
        self.stem = nn.Conv2d(self.encoding.channels, config.width0, 1)
        expansions = [config.expansion] * (len(config.strides) - 1) + [config.last_expansion]
        blocks, channels = [], config.width0
        for stride, width, expansion in zip(config.strides, config.widths(), expansions):
            blocks.append(HiNeRVBlock(channels, width, stride, expansion, config))
            channels = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        x = self.stem(self.encoding(t))
        for block in self.blocks:
            x = block(x, t)
        config = self.config
        expect_shape(x, (len(t), x.shape[1], config.height, config.width), "last block")
        return (torch.tanh(self.head(x)) + 1) / 2  # NeRV's and HNeRV's output squash


# %% [markdown]
# ## Equal size: the budget
#
# Table 4 compares models of about the same size, and a HiNeRV's size counts its grids as an
# HNeRV's counts its embeddings. `hinerv_budget` bisects the stem's width `width0` for the
# widest model whose grids and network fit the budget. The strides are the largest total
# stride that leaves a base grid at least 5 pixels high (the reference's base grids are larger
# than HNeRV's 2x4: 18x32 at 720p). Folded: the solver and the model family.


# %% cellView="form" jupyter={"source_hidden": true}
#| export hinerv
def hinerv_strides(height: int, width: int) -> tuple[int, ...]:
    """The largest total stride (strides of 2 to 5) that leaves a base grid >= 5 pixels high."""
    for strides in stride_options(height, width):
        if height // math.prod(strides) >= 5:
            return strides
    raise ValueError(
        f"no strides of 2 to 5 leave a base grid at least 5 pixels high for {height}x{width}: "
        "use a frame whose sides share a factor such as 16 (e.g. 80x160), or pass strides="
    )


def grid_numbers(config: HiNeRVConfig) -> int:
    """How many numbers the grids hold (base and local): part of the representation."""
    with torch.device("meta"):
        model = HiNeRV(config)
    return sum(p.numel() for name, p in model.named_parameters() if is_grid(name))


def is_grid(name: str) -> bool:
    """Whether a HiNeRV parameter is a grid (a base level or a stage's local grid)."""
    return name.startswith("encoding.grids.") or name.endswith(".local")


def hinerv_size(config: HiNeRVConfig) -> int:
    """Grids + network: every number a decoder needs."""
    with torch.device("meta"):
        return count_parameters(HiNeRV(config))


def hinerv_budget(size: float, frames: int, height: int, width: int, **changes) -> HiNeRVConfig:
    """The widest HiNeRV (largest width0) whose grids + network fit ``size`` million numbers."""
    changes.setdefault("strides", hinerv_strides(height, width))
    shape = HiNeRVConfig(height=height, width=width, frames=frames, **changes)
    fits = lambda w: hinerv_size(replace(shape, width0=w)) <= size * 1e6  # noqa: E731
    if not fits(shape.min_width):
        smallest = hinerv_size(replace(shape, width0=shape.min_width)) / 1e6
        raise ValueError(
            f"a {size}M budget is too small for HiNeRV on {frames} frames of {height}x{width}: "
            f"its narrowest network with these grids takes {smallest:.4f}M. Raise the budget, "
            "or shrink the grids (grid_channels, grid_levels, grid_steps)"
        )
    low, high = shape.min_width, 2 * shape.min_width
    while fits(high):  # the size grows with width0: double past the budget, then bisect
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return replace(shape, width0=low)


def build_hinerv(video: torch.Tensor, budget: float, **changes) -> Setup:
    """HiNeRV of about ``budget`` million numbers (grids + network) for this clip; its input
    is the frame's time, as NeRV's."""
    frames, _, height, width = video.shape
    config = hinerv_budget(budget, frames, height, width, **changes)
    return Setup(HiNeRV(config), frame_times, hinerv_size(config))


register_model("hinerv", build_hinerv)

# %% [markdown]
# At this scale's budget, where the numbers go:

# %%
from nerv_lessons.hnerv import hnerv_budget

config = hinerv_budget(scale.model_params, frames, height, width)
grids = grid_numbers(config)
print(
    f"strides {config.strides}: base grid {config.grid}, widths {config.width0}, {config.widths()}"
)
size = hinerv_size(config)
print(f"grids {grids:,} + network {size - grids:,} = {size:,} numbers ({grids / size:.1%} grids)")
hnerv = hnerv_budget(scale.model_params, frames, height, width)
embedding_numbers = frames * hnerv.embed_dim * hnerv.grid[0] * hnerv.grid[1]
share = embedding_numbers / (scale.model_params * 1e6)
print(f"HNeRV at the same budget: {embedding_numbers:,} numbers of embeddings ({share:.1%})")

# %% [markdown]
# Both spend a small share of the budget on what they learn per moment of the clip. The two
# grow differently with the clip: HNeRV's embeddings by one per frame, HiNeRV's grids by their
# steps in time (a quarter of the frames at level 0, fewer at the coarser levels).
#
# Its stages, with the shape each one outputs, from one forward pass of two frame times:

# %%
from nerv_lessons._diagram import architecture

model = HiNeRV(config).to(device)
architecture(
    model,
    torch.tensor([0.0, 0.5], device=device),
    expand=("blocks",),
    title=f"HiNeRV at the {scale.name} scale: each stage's output shape (batch left out)",
)
plt.show()

# %% [markdown]
# ## A real file
#
# A HiNeRV keeps nothing per frame: its file holds the whole model, grids included, and draws
# frame i from the time i / (T - 1), as NeRV's does. The grids are learned features, not
# weights, so lesson 08's `quantize_model` gives them the embeddings' bits (6) and the
# network's weights 8. Registered here as the kind "hinerv" of lesson 08's format; the round
# trip runs below on a trained model.


# %% cellView="form" jupyter={"source_hidden": true}
#| export hinerv
register_kind(
    "hinerv",
    ModelKind(
        HiNeRV,
        HiNeRVConfig,
        lambda model: model,
        HiNeRV,
        draw_at_frame_times,
        (),
        is_feature=is_grid,
    ),
)

# %% [markdown]
# ## Table 4 at our scale
#
# The notes' Table 4 (UVG, about 3.2M each, PSNR averaged over 7 videos) beside our Bunny
# clip at the scale's budget. Each model trains with its own paper's recipe: NeRV and HNeRV
# with HNeRV's (lesson 04's rows, read from the cache), HiNeRV with HiNeRV's
# (`TrainConfig.recipe("hinerv")`: Adam, lr 2e-3 times the scale's factor, 0.7 L1 + 0.3
# MS-SSIM, batch 1, gradients clipped to norm 1 as the reference's `--max-norm 1.0`). A
# control row trains HNeRV with HiNeRV's recipe, so that the model is the only difference
# (the paper does not claim that order; we measure it). Our HiNeRV row is the notes' V9, the
# frame-wise model (36.10 on UVG; the paper's headline 36.27 reads patches). What the
# reference does that we do not: three blocks per stage (we use one), a floor of 2e-5 under
# the lr's cosine, and 300 epochs followed by pruning and quantization-aware fine-tuning.
# Folded: the registered experiments (the size sweep is for the plot further down).

# %% cellView="form" jupyter={"source_hidden": true}
#| export hinerv
HINERV_PAPER = "HiNeRV (NeurIPS 2023), lecture notes"
# label -> (changes to HiNeRV, the notes' Table 4 PSNR on UVG)
ABLATIONS = {
    "V1 sub-conv 1x1": ({"upsample": "subconv1"}, 34.78),
    "V3 no local grids": ({"local": False}, 35.95),
}
# Left out to keep the lessons within CI's 30 minutes (each row is three HiNeRVs, about a
# minute on two cores); the code builds every one. Add any back and rerun the table:
LEFT_OUT = {
    "V2 sub-conv 3x3": ({"upsample": "subconv3"}, 33.70),  # V1's point, more strongly
    "V4 Fourier encoding": ({"encoding": "fourier"}, 35.92),  # last quick run: within noise
    "V8 conv 3x3 block": ({"block": "conv3"}, 35.12),  # last quick run: V9 above, it holds
    "V11 nearest": ({"upsample": "nearest"}, 36.08),  # 0.02 dB from V9 on UVG
}
HINERV_ROW = "HiNeRV (V9)"
HNERV_AS_HINERV = "HNeRV, HiNeRV's recipe"
HINERV_TABLE4 = register(
    Experiment(
        "hinerv-ablations",
        HINERV_PAPER,
        "Table 4, HiNeRV vs HNeRV vs NeRV and ablations (UVG avg; ours Bunny)",
        "hinerv",
        rows=(
            # NeRV and HNeRV as lesson 04 trains them (HNeRV's recipe), HiNeRV with its own.
            Row("NeRV", "baseline_nerv", paper_psnr=31.63, paper_recipe="hnerv"),
            Row("HNeRV", "hnerv", paper_psnr=33.63, paper_recipe="hnerv"),
            Row(HNERV_AS_HINERV, "hnerv"),  # HNeRV with HiNeRV's recipe, as a control
            Row(HINERV_ROW, "hinerv", paper_psnr=36.10),
            *(Row(label, "hinerv", c, paper_psnr=p) for label, (c, p) in ABLATIONS.items()),
        ),
        claims=(
            (HINERV_ROW, "HNeRV"),
            (HINERV_ROW, "NeRV"),
            ("HNeRV", "NeRV"),
            *((HINERV_ROW, label) for label in ABLATIONS),
        ),
    )
)
# Table 4's three models alone, for larger scales (`nerv-lessons run hinerv-vs-hnerv --scale cpu`)
HINERV_VS_HNERV = register(
    Experiment(
        "hinerv-vs-hnerv",
        HINERV_PAPER,
        "Table 4's first rows: HiNeRV vs HNeRV vs NeRV (UVG avg; ours Bunny)",
        "hinerv",
        rows=tuple(row for row in HINERV_TABLE4.rows if row.label in ("NeRV", "HNeRV", HINERV_ROW)),
        claims=HINERV_TABLE4.claims[:3],
    )
)
# name -> (family, recipe): each as in the table above (None: the experiment's, HiNeRV's)
SIZE_FAMILIES = {
    "NeRV": ("baseline_nerv", "hnerv"),
    "HNeRV": ("hnerv", "hnerv"),
    "HiNeRV": ("hinerv", None),
}
SIZES = (0.5, 1.0)  # times the scale's budget (2.0 adds three models: 91 s of training)
HINERV_SIZES = register(
    Experiment(
        "hinerv-size",
        HINERV_PAPER,
        "PSNR against size, the three models of Table 4",
        "hinerv",
        rows=tuple(
            Row(f"{name} x{size:g}", family, size=size, paper_recipe=recipe)
            for name, (family, recipe) in SIZE_FAMILIES.items()
            for size in SIZES
        ),
    )
)

# %% [markdown]
# Eighteen models, three seeds each row. Two worker processes train them side by side
# (on two cores about 1.4x sooner than one after the other). A worker imports the package, so it
# trains the package's `hinerv`, which is the code above as long as that reads the same; a
# cell you edited makes the table train here instead, one model at a time, with your code.

# %%
from nerv_lessons.experiments import fit, results_folder, run, verdict

start = time.perf_counter()
results = run("hinerv-ablations", scale, seeds=3, device=device, video=video)
print(f"run: {time.perf_counter() - start:.0f} s")
measured = {
    label: results[label]["psnr_mean"] for label in ("V1 sub-conv 1x1", "V3 no local grids")
}

# %% [markdown]
# ### Predict: which idea is worth more here?
#
# Two ablations take one idea each away from HiNeRV at the same size: V1 puts a sub-pixel
# 1x1 convolution back in place of the bilinear upsampling (its parameters come out of the
# blocks' widths), V3 drops the local grids (their few numbers go back to the widths). On the
# notes' UVG, V1 loses 1.49 dB and V3 0.32. At our scale, which of the two scores *lower*?
# Write "V1" or "V3", then run the check (the table itself comes after it).

# %%
# Your guess: "V1" or "V3", the one with the lower PSNR at this scale.
### BEGIN SOLUTION
prediction = "V1"
### END SOLUTION

# %%
# Check: says right or wrong, and why.
with exercise("prediction"):
    if prediction not in ("V1", "V3"):
        wrong(f'write "V1" or "V3", got {prediction!r}')
    v1, v3 = measured["V1 sub-conv 1x1"], measured["V3 no local grids"]
    lower = "V1" if v1 < v3 else "V3"
    if prediction != lower:
        wrong(
            f"V1 scores {v1:.2f} dB and V3 {v3:.2f} dB (three seeds): {lower} is lower. Count "
            "what each change moves: how many parameters does a sub-pixel conv take, against "
            "a few local grids?"
        )
    right(
        f"V1 {v1:.2f} dB, V3 {v3:.2f} dB: a sub-pixel conv at every stage takes a large share "
        "of a small budget away from the blocks, while the local grids cost a few numbers."
    )

# %%
results.show()
_ = results.save(results_folder(scale))

# %% [markdown]
# How to read it: every learned row should clear the mean-frame floor; the verdicts compare
# the means against twice the seeds' combined spread. What the rows say at this scale is
# summed up after the size sweep, which asks whether the order changes with the budget.
#
# ## PSNR against size
#
# The three models of Table 4 at half and once the scale's budget (one seed each; the
# budget's own rows come from the table above, through the cache). Twice the budget adds
# three models, 91 s of training in our last quick run: add 2.0 to `SIZES` to see them.

# %%
sizes = run("hinerv-size", scale, seeds=1, device=device, video=video)
_ = sizes.save(results_folder(scale))
figure, axis = plt.subplots(figsize=(6.4, 3.6))
for name in SIZE_FAMILIES:
    lines = [sizes[f"{name} x{size:g}"] for size in SIZES]
    axis.plot(
        [line["params"] / 1e6 for line in lines],
        [line["psnr_mean"] for line in lines],
        "o-",
        label=name,
    )
floor = sizes.rows[0]
axis.axhline(floor["psnr_mean"], color="gray", ls="--", label=floor["row"])
axis.set(
    xscale="log",
    xticks=[size * scale.model_params for size in SIZES],
    xticklabels=[f"{size * scale.model_params:g}" for size in SIZES],
    xlabel="size (million numbers: network + grids or embeddings)",
    ylabel="PSNR (dB)",
)
axis.xaxis.set_minor_formatter(plt.NullFormatter())  # only the sweep's sizes' labels
axis.set_title(f"{scale.name} scale, seed 0, each model with its own recipe", fontsize=9)
axis.legend(fontsize=8)
figure.tight_layout()
plt.show()
for size in SIZES:
    scores = {name: sizes[f"{name} x{size:g}"]["psnr_mean"] for name in SIZE_FAMILIES}
    print(f"x{size:g}: " + ", ".join(f"{name} {psnr:.2f} dB" for name, psnr in scores.items()))

# %% [markdown]
# ## The whole clip
#
# The quick clip is 16 frames. On all 132 (the `cpu` scale: the same frame size and budget),
# HNeRV's embeddings take eight times as many numbers, and HiNeRV's grids grow by their steps.
# That run takes about 25 minutes on two cores, too long for a lesson, so the command line
# trains it: `nerv-lessons run hinerv-vs-hnerv --scale cpu --seeds 3 --out results/cpu`.
# Its committed table, when there is one:

# %%
from nerv_lessons.experiments import results_root
from nerv_lessons.report import collect

saved = collect(results_root()).get("hinerv-vs-hnerv", {})
if "cpu" not in saved:
    print("no committed cpu-scale table yet: run the command above")
for at, (rows, sidecar) in saved.items():
    clip, seeds = sidecar["provenance"]["clip"], sidecar["provenance"]["seeds"]
    print(f"{at} scale ({clip[0]} frames of {clip[2]}x{clip[3]}), seeds {seeds}:")
    for line in rows:
        score = f"{line['psnr_mean']:6.2f} +- {line['psnr_std'] or 0:.2f} dB"
        quality = f"MS-SSIM {line['ms_ssim_mean']:.4f}, {line['params']:,} numbers"
        print(f"  {line['row']:<24} {score}, {quality}")
    for judged in sidecar["verdicts"]:
        print(f"  paper: {judged['better']} > {judged['worse']}: {judged['verdict']}")

# %% [markdown]
# Read the sizes with the scores: on 132 frames HNeRV's embeddings alone take a third of the
# budget, and its row comes out larger than the budget and than HiNeRV's (the numbers column).
#
# ## What the grids hold
#
# The trained seed-0 HiNeRV's base encoding, level by level, read at three times. Each level
# has C_l channels at every base position; the picture shows its three main directions
# (principal components over the positions and the three times, as red, green and blue, one
# basis and one range per level), so that alike features get alike colours and a colour that
# changes from t = 0 to t = 1 is a feature that changes. The numbers under the picture say how
# much each level changes across the clip.

# %%
hinerv_setup, _ = fit("hinerv-ablations", HINERV_ROW, scale, 0, device, video)
trained = hinerv_setup.model.eval()
times = torch.tensor([0.0, 0.5, 1.0], device=device)


def principal_colours(features: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) features -> (N, h, w, 3) in [0, 1]: their first three principal
    components, one basis and one range for all N maps (so colours compare across them)."""
    points = features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])  # (N*h*w, C)
    points = points - points.mean(0)
    _, _, directions = torch.linalg.svd(points, full_matrices=False)
    colours = points @ directions[:3].T  # (N*h*w, 3), or fewer columns when C < 3
    colours = torch.nn.functional.pad(colours, (0, 3 - colours.shape[1]))
    low, high = colours.min(0).values, colours.max(0).values
    colours = (colours - low) / (high - low).clamp_min(1e-8)
    return colours.reshape(len(features), *features.shape[2:], 3)


with torch.no_grad():
    levels = [sample_time(grid, times) for grid in trained.encoding.grids]  # (3, C_l, h, w)
figure, axes = plt.subplots(len(levels), len(times), figsize=(8, 1.3 * len(levels) + 0.4))
for row, (grid, read) in enumerate(zip(trained.encoding.grids, levels)):
    pictures = principal_colours(read).cpu()
    for column, t in enumerate(times.tolist()):
        axes[row, column].imshow(pictures[column], interpolation="nearest")
        axes[row, column].set_title(f"level {row} {tuple(grid.shape[:2])}, t = {t:g}", fontsize=8)
        axes[row, column].axis("off")
figure.tight_layout()
plt.show()
for level, read in enumerate(levels):
    change = ((read[-1] - read[0]).norm() / read[0].norm()).item()
    print(f"level {level}: |grid(1) - grid(0)| / |grid(0)| = {change:.2f}")

# %% [markdown]
# ## The file, and its bits per pixel
#
# The trained HiNeRV through lesson 08's format: `encode` writes every tensor (grids at 6
# bits, weights at 8), Huffman-codes the symbols, and `decode` draws the frames back. The
# decoded frames must equal the quantized model's bit for bit; bpp is the file's length.
# HNeRV's file, at the same budget and bits, stands beside it.

# %%
from nerv_lessons.bitstream import decode, encode, quantized_frames, read_header
from nerv_lessons.hnerv import embed_frames
from nerv_lessons.metrics import bits_per_pixel, psnr

data = encode(trained, frames=frames)
decoded = decode(data, device)
exact = torch.equal(decoded, quantized_frames(trained, frames=frames, device=device))
print(f"HiNeRV file: {len(data):,} bytes, decoded bit-exact: {exact}")
tensors = read_header(data)[0]["tensors"]
grid_bits = sorted({entry["bits"] for entry in tensors if is_grid(entry["name"])})
print(f"grids stored at {grid_bits} bits, weights at 8")
hnerv_setup, _ = fit("hinerv-ablations", "HNeRV", scale, 0, device, video)
hnerv_model = hnerv_setup.model.eval()
hnerv_data = encode(hnerv_model, embed_frames(hnerv_model, video))
for name, file in [("HiNeRV", data), ("HNeRV", hnerv_data)]:
    frames_back = decoded if name == "HiNeRV" else decode(hnerv_data, device)
    quality = psnr(frames_back, video).mean().item()
    bpp = bits_per_pixel(len(file), frames, height, width)
    print(f"{name:<7} {len(file):,} bytes = {bpp:.3f} bpp, {quality:.2f} dB after the file")
assert exact, "decode must draw exactly the quantized model's frames"

# %% [markdown]
# ## Ours beside the paper's
#
# Table 4 is UVG: seven 1080p videos of 600 frames, about 3.2M numbers each, 300 epochs
# (plus pruning and quantization-aware fine-tuning), the reference's code. Ours is 16 frames
# of Bunny at 80x160, the scale's budget, the scale's epochs and three seeds (all printed in
# the table's first line). Compare orders and signs, not dB. The cell reads the table back
# and says, from the verdicts, which of the paper's orders hold here; then it measures two
# things that explain the ablations' sizes: how much of each model's budget sits in its
# upsampling, and how large the seeds' noise is next to the paper's gaps.

# %%
floor = results.rows[0]
learned = results.rows[1:]
beaten = sum(line["psnr_mean"] > floor["psnr_mean"] for line in learned)
print(f"{beaten} of {len(learned)} rows beat the {floor['row']} ({floor['psnr_mean']:.2f} dB)")
control = [
    fit("hinerv-ablations", HNERV_AS_HINERV, scale, seed, device, video)[1] for seed in range(3)
]
per_seed = ", ".join(f"{record['psnr'].mean():.2f}" for record in control)
own = results["HNeRV"]["psnr_mean"]
print(f"HNeRV: {own:.2f} dB with its own recipe; with HiNeRV's, seeds {per_seed} dB")
same_recipe, gap, noise = verdict(results[HINERV_ROW], results[HNERV_AS_HINERV])
print(f"HiNeRV vs HNeRV with the same recipe (ours, not a paper's claim): {same_recipe}")
for judged in results.verdicts():
    claim = f"{judged['better']} > {judged['worse']}"
    print(f"  paper: {claim}: {judged['verdict']} (gap {judged['gap']:+.2f} dB)")
print("share of each model's numbers in its upsampling layers (sub-pixel convolutions):")
for label in (HINERV_ROW, "V1 sub-conv 1x1"):
    changes = dict(ABLATIONS.get(label, ({}, None))[0])
    built = HiNeRV(hinerv_budget(scale.model_params, frames, height, width, **changes))
    upsampling = sum(count_parameters(block.upsample) for block in built.blocks)
    print(
        f"  {label:<17} {upsampling / count_parameters(built):5.1%}, width0 {built.config.width0}"
    )
spread = sum(results[label]["psnr_std"] for label in ABLATIONS) / len(ABLATIONS)
print(f"seed-to-seed std of the ablation rows: {spread:.2f} dB on average")

# %% [markdown]
# How to read these lines (the numbers are this run's; a rerun moves them in the second decimal,
# the verdicts are computed again each time):
#
# - Each model with its own recipe, the paper's order holds here: HiNeRV above HNeRV above
#   NeRV, beyond the seeds' noise, and at both sizes of the sweep.
# - The control row tempers it. Trained with HiNeRV's recipe, HNeRV's good seeds score *above*
#   HiNeRV, and one seed fails (the per-seed line): at this scale much of HiNeRV's lead comes
#   from its recipe (MS-SSIM in the loss, batch 1, twice the lr), and HNeRV's decoder does not
#   train stably at that lr. The paper gives each baseline its own training; so do we, and we
#   print the control so that nobody reads the architecture's share off our table.
# - V1's sub-pixel convolutions take a large share of a small budget (the share
#   line), so its blocks are narrower: the reason the paper gives for bilinear upsampling,
#   measured.
# - Where the paper's gap is a few tenths of a dB (V3: 0.15 dB below V9 on UVG), our three
#   seeds spread by about as much (the std line), and "within noise" says our
#   scale cannot show the effect, not that it is absent.
#
# ## Summary
#
# - HiNeRV's input is a learned grid read at t by linear interpolation (`sample_time`), in
#   levels that trade steps in time for channels; its size counts, like HNeRV's embeddings.
# - It upsamples bilinearly (no parameters), adds a local grid per stage, one feature per
#   position inside the kernel (`tile_local`), and spends its parameters on ConvNeXt-style
#   blocks; its file keeps the grids at the embeddings' bits and decodes bit-exact.
# - At our scale, each model with its own recipe, HiNeRV > HNeRV > NeRV over three seeds and at
#   two sizes; a control with one recipe for both shows how much of that is the recipe.
#   Dropping bilinear upsampling (V1) costs the most of what we ran, as in the paper; the
#   paper's smallest gaps are below what three seeds resolve here.
# - On the whole clip (the committed cpu-scale table, when there is one), compare HiNeRV and
#   HNeRV with their sizes: the verdict there is computed from its own three seeds.
# - Next: lesson 12 trains for the file itself (learned quantization and an entropy model).

# %%
print(f"lesson time: {time.perf_counter() - notebook_start:.0f} s on {device} ({scale.name} scale)")
