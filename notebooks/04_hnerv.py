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
# # Lesson 04: HNeRV
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/04_hnerv.ipynb)
#
# NeRV draws every frame from its time `t` alone. HNeRV (Chen et al., CVPR 2023) gives the
# decoder a hint instead: a tiny embedding of each frame (16 x 2 x 4 numbers at 640x1280), made
# by a ConvNeXt encoder from the frame itself. Its decoder spends parameters more evenly across
# its stages than NeRV's. This lesson first writes HNeRV in 25 lines and trains it on Bunny,
# then builds the module `hnerv` (the same decoder, checked equal, with the paper's encoder
# and budget solver) and compares it with NeRV.

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
import torch.nn.functional as F
from torch import nn

from nerv_lessons._exercises import exercise, right, wrong
from nerv_lessons.data import load_clip
from nerv_lessons.scales import start_lesson

scale, device = start_lesson()
notebook_start = time.perf_counter()

# %% [markdown]
# ## HNeRV in 25 lines
#
# The whole idea first, as short as it goes. The **encoder** squeezes a frame to an embedding:
# one strided convolution per stage (kernel = stride, so each output pixel sees its own
# patch), ending in `d` = 16 channels on a 2x4 grid. The **decoder** grows it back: a 1x1
# convolution to c2 channels, then per stride one *HNeRV block* (a k x k convolution to
# `width * s * s` channels, which `PixelShuffle(s)` folds into `width` channels at `s` times the
# size, then a GELU), a 3x3 head to RGB, and `(tanh + 1) / 2` into [0, 1]. The kernels grow
# with depth (1, 3, 5, 5, ...) and the widths shrink by r = 1.2 a block, never below 12.
# Only the embeddings and the decoder are stored: the encoder is thrown away once every frame
# is encoded.


# %%
class TinyHNeRV(nn.Module):
    """HNeRV's idea: strided convs squeeze a frame to a d x h x w embedding, and HNeRV blocks
    (conv k -> PixelShuffle(s) -> GELU) grow it back to the frame."""

    def __init__(self, strides, c1=32, d=16, c2=20, r=1.2, min_width=12):
        super().__init__()
        encoder, channels = [], 3
        for i, s in enumerate(strides):
            out = d if i == len(strides) - 1 else c1
            encoder += [nn.Conv2d(channels, out, kernel_size=s, stride=s), nn.GELU()]
            channels = out
        self.encoder = nn.Sequential(*encoder[:-1])  # the embedding: the last conv's output
        decoder, channels = [nn.Conv2d(d, c2, kernel_size=1), nn.GELU()], c2
        for i, s in enumerate(strides):
            k, width = min(1 + 2 * i, 5), max(round(channels / r), min_width)
            conv = nn.Conv2d(channels, width * s * s, kernel_size=k, padding=k // 2)
            decoder += [conv, nn.PixelShuffle(s), nn.GELU()]
            channels = width
        self.decoder = nn.Sequential(*decoder, nn.Conv2d(channels, 3, kernel_size=3, padding=1))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(self.decoder(self.encoder(frames))) + 1) / 2


# %% [markdown]
# Trained as HNeRV trains (an L2 loss, Adam, two random frames a step) for 200 steps on this
# scale's clip, with strides that take its frames down to a 2x4 grid (lesson 00's
# `factor_strides`): a dozen lines, seconds on a CPU at the quick scale.

# %%
from nerv_lessons.data import factor_strides
from nerv_lessons.metrics import psnr
from nerv_lessons.nerv import count_parameters

video = load_clip(scale, device)
tiny_strides = factor_strides(scale.height // 2)  # to a 2-row grid: 2x4 for 1:2 frames
torch.manual_seed(0)
tiny = TinyHNeRV(tiny_strides).to(device)
optimizer = torch.optim.Adam(tiny.parameters(), lr=5e-3)
steps, losses = 200, []
for _ in range(steps):
    batch = video[torch.randint(len(video), (2,), device=device)]
    loss = F.mse_loss(tiny(batch), batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
with torch.no_grad():
    tiny_embeddings = torch.cat([tiny.encoder(part) for part in video.split(8)])
    tiny_copy = torch.cat([(tiny.decoder(e).tanh() + 1) / 2 for e in tiny_embeddings.split(8)])
tiny_psnr = psnr(tiny_copy, video)
floor = psnr(video.mean(0, keepdim=True).expand_as(video), video).mean()
print(f"strides {tiny_strides}: embedding {tuple(tiny_embeddings.shape[1:])} per frame")
print(f"after {steps} steps: {tiny_psnr.mean():.2f} dB (the mean frame scores {floor:.2f} dB)")
stored = tiny_embeddings.numel() + count_parameters(tiny.decoder)
print(
    f"stored: {tiny_embeddings.numel():,} embedding numbers + "
    f"{count_parameters(tiny.decoder):,} decoder parameters = {stored:,}; "
    f"the encoder's {count_parameters(tiny.encoder):,} are not stored"
)

# %%
from nerv_lessons.viz import to_image

figure, axes = plt.subplots(1, 3, figsize=(12, 2.4), width_ratios=(1.4, 1, 1))
axes[0].plot(-10 * torch.tensor(losses).log10())
axes[0].set(xlabel="step", ylabel="batch PSNR (dB)", title="TinyHNeRV training")
for axis, (title, frame) in zip(
    axes[1:], [("frame 0", video[0]), (f"TinyHNeRV, {tiny_psnr[0]:.2f} dB", tiny_copy[0])]
):
    axis.imshow(to_image(frame), interpolation="nearest")  # true pixels, no smoothing
    axis.set_title(title)
    axis.axis("off")
figure.tight_layout()
plt.show()

# %% [markdown]
# That is HNeRV. Trained longer by lesson 03's `train`, with the paper's encoder, the package's
# HNeRV does better (Table 2 below). Its version keeps the decoder exactly (a check loads the
# tiny decoder's trained weights into it and gets the same frames) and adds, one line each:
#
# - **strides for any frame size**, with a one-line note when the paper's 2x4 grid does not fit;
# - **`HNeRVConfig`**: every size a field (so `asdict(config)` rebuilds the model), the width
#   and kernel rules above as methods, and errors that name a bad field;
# - **the paper's encoder**, ConvNeXt stages in place of plain strided convolutions;
# - **shape checks** with readable errors, and `encode` / `decode` halves (lessons 05 and 08
#   use them apart);
# - **the budget solver**: the first width c2 for a size, as the paper's code solves it;
# - **HNeRV's NeRV baseline** and the paper's tables, registered as experiments.

# %% [markdown]
# ## Strides: from a frame to a 2x4 grid
#
# HNeRV's encoder and decoder mirror each other: five stages with strides 5, 4, 4, 2, 2 take a
# 640x1280 frame down to a 2x4 grid and back (5 * 4 * 4 * 2 * 2 = 320 = 640 / 2). The paper
# keeps that 2x4 grid at all three of its frame sizes and changes the strides; lesson 00's
# `factor_strides` rule (the most stages up to five, then the largest strides first) gives
# exactly its strides for each. The course's smaller scales get the same 2x4 grid with fewer
# or smaller strides.
#
# Any other frame gets the grid nearest the paper's in cells (h * w closest to 8) among those
# its sides allow (`stride_options`): 9x16 for 720x1280 (HiNeRV's grid), 2x5 for 128x320. A
# grid other than 2x4 is said in one line, with a crop that gives 2x4 when the grid has over 4x
# its 8 cells (beyond the paper's own grid ablation, 1x2 to 4x8).
#
# Folded below (click to show): the module's docstring and imports, the paper's strides,
# `hnerv_choice` (the nearest-grid rule as code) and `hnerv_strides` with its messages for the
# frames it does not fit. The cell after it prints its choices.

# %% cellView="form" jupyter={"source_hidden": true}
#| export hnerv
"""HNeRV: a hybrid neural representation (Chen et al., CVPR 2023).

    frame (B, 3, H, W) -> ConvNeXt encoder -> embedding (B, d, h, w), 16 x 2 x 4 at 640x1280
      -> 1x1 conv to c2 channels -> [conv k -> PixelShuffle(s) -> GELU] per stride
      -> 3x3 head -> (tanh + 1) / 2

The encoder is a tool for making embeddings: once the video is encoded, only the embeddings
and the decoder are kept, so "size" counts those two and never the encoder. `hnerv_budget`
picks the first decoder width c2 for a target size, as the paper's Table 15 does.
Introduced in lesson 04 (notebooks/04_hnerv.ipynb).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from nerv_lessons.data import (
    check_size,
    check_strides,
    factor_strides,
    grid_of,
    no_strides_error,
    stride_options,
    strides_line,
    suggest_crop,
)
from nerv_lessons.encoding import PositionalEncoding
from nerv_lessons.experiments import Experiment, Row, Setup, register, register_model
from nerv_lessons.nerv import count_parameters, expect_shape, make_activation
from nerv_lessons.train import frame_times

# The paper's strides for its three frame sizes (Table 15), all to a 2x4 grid. hnerv_strides
# does not look them up: factor_strides' rule gives each of them (a test checks).
PAPER_STRIDES = {
    (640, 1280): (5, 4, 4, 2, 2),
    (480, 960): (5, 4, 3, 2, 2),
    (960, 1920): (5, 4, 4, 3, 2),
}
PAPER_GRID = (2, 4)
PAPER_CELLS = 8  # 2 x 4; the paper's grid ablation (Table 10) spans 1x2 to 4x8: 2 to 32 cells


def hnerv_choice(height: int, width: int) -> tuple[int, ...] | None:
    """The strides whose grid is nearest the paper's 8 cells (|h * w - 8| smallest) among those
    the frame allows, or None when it allows none. Every grid of a frame has the frame's
    aspect ratio, and two grids never tie (their cell counts c < c' differ by a square ratio
    (T / T')^2, and no two such whole counts sum to 16), so no tie-break is needed."""
    options = stride_options(height, width)
    if not options:
        return None
    return min(options, key=lambda s: abs(math.prod(grid_of(height, width, s)) - PAPER_CELLS))


def _hnerv_fits(height: int, width: int) -> bool:
    """Whether the frame's nearest grid lies in the paper's ablation range (2 to 32 cells)."""
    strides = hnerv_choice(height, width)
    return bool(strides) and 2 <= math.prod(grid_of(height, width, strides)) <= 4 * PAPER_CELLS


def _grids_allowed(height: int, width: int) -> str:
    grids = [grid_of(height, width, s) for s in stride_options(height, width)]
    return ", ".join(f"{h}x{w}" for h, w in grids[:6]) or "none"


def _strides_to_grid(height: int, width: int, grid: Sequence[int]) -> tuple[int, ...]:
    """factor_strides' strides for the total stride that shrinks the frame to `grid`."""
    check_size(height, width)
    grid_h, grid_w = grid
    check_size(grid_h, grid_w, names=("grid[0]", "grid[1]"))
    if height % grid_h or width % grid_w or height // grid_h != width // grid_w:
        raise ValueError(
            f"a {height}x{width} frame does not shrink evenly to a {grid_h}x{grid_w} grid: "
            f"the frame's aspect ratio must equal the grid's. Grids it allows: "
            f"{_grids_allowed(height, width)} (leave grid= out to get the nearest to 2x4)"
        )
    total = height // grid_h
    strides = factor_strides(total)
    if strides is None:
        raise ValueError(
            f"no strides of 2 to 5 (at most five) shrink {height}x{width} to a {grid_h}x{grid_w} "
            f"grid (that needs a total stride of {total}): choose a grid it allows "
            f"({_grids_allowed(height, width)}), or leave grid= out, or pass strides=... yourself"
        )
    return strides


def hnerv_strides(height: int, width: int, grid: Sequence[int] | None = None) -> tuple[int, ...]:
    """Strides that shrink a frame to an embedding grid and back (factor_strides' rule): for
    `grid` (h, w) if given, else for the grid `hnerv_choice` picks, the paper's 2x4 whenever it
    fits (so the paper's three sizes get its strides), else the nearest, said in one line.
    A frame that no strides fit raises, naming sizes that work."""
    if grid is not None:
        return _strides_to_grid(height, width, grid)
    strides = hnerv_choice(height, width)
    if strides is None:
        raise no_strides_error("HNeRV", height, width, _hnerv_fits)
    cells = math.prod(grid_of(height, width, strides))
    if cells > 4 * PAPER_CELLS and (crop := suggest_crop(height, width)):
        why = f"{cells} cells, over 4x the paper's 2x4: crop={crop} gives 2x4"
        print(strides_line("HNeRV", height, width, strides, why))
    elif grid_of(height, width, strides) != PAPER_GRID:
        print(strides_line("HNeRV", height, width, strides, "the paper's 2x4 does not fit"))
    return strides


# %%
# NBVAL_CHECK_OUTPUT
for (height, width), strides in PAPER_STRIDES.items():
    print(f"{height}x{width}: the paper's {strides}, picked {hnerv_strides(height, width)}")
for height, width in [(320, 640), (80, 160), (720, 1280), (128, 320)]:
    print(f"{height}x{width}: picked {hnerv_strides(height, width)}")

# %% [markdown]
# ## The configuration
#
# Every size and choice is a field, as for NeRV, so `asdict(config)` rebuilds the model. The
# decoder's widths start at `fc_dim` (the paper's c2) and shrink by r = 1.2 per block, never
# below 12 channels; kernels grow from 1 to 5. Both rules are methods (the tiny model's two
# lines), so a lesson can print them without building anything. Folded (click to show): the
# dataclass, whose `__post_init__` checks every field and names a bad one.


# %% cellView="form" jupyter={"source_hidden": true}
#| export hnerv
@dataclass
class HNeRVConfig:
    """Every size and choice of HNeRV. The defaults are the paper's 1.5M Bunny model."""

    height: int = 640  # frame height; the strides' product must divide it into the grid
    width: int = 1280  # frame width, likewise
    strides: tuple[int, ...] = (5, 4, 4, 2, 2)  # encoder and decoder, one per stage
    encoder_width: int = 64  # c1: ConvNeXt channels in every stage but the last
    embed_dim: int = 16  # d: channels of the embedding (the last encoder stage's width)
    fc_dim: int = 68  # c2: the decoder's first width, the knob that sets the size
    reduction: float = 1.2  # r: each decoder block divides the width by r...
    min_width: int = 12  # ...but never goes below this (the paper's Ch_min)
    kernel_min: int = 1  # the first block's kernel; each later block adds 2...
    kernel_max: int = 5  # ...up to this (K_min, K_max = 1, 5 in the paper)
    activation: str = "gelu"

    def __post_init__(self):
        self.strides = tuple(int(s) for s in self.strides)  # lists from JSON/asdict -> tuple
        check_strides(self.height, self.width, self.strides)
        make_activation(self.activation)  # raises on an unknown name, listing the choices
        if self.reduction < 1:
            raise ValueError(f"reduction r must be >= 1 (widths shrink), got {self.reduction}")
        kernels = {"kernel_min": self.kernel_min, "kernel_max": self.kernel_max}
        even = [f"{name}={value}" for name, value in kernels.items() if value % 2 == 0]
        if even:  # an even kernel with padding k // 2 grows the map by one pixel
            raise ValueError(
                f"kernels must be odd (1, 3, 5, ...) so that a block keeps the map's size, "
                f"got {', '.join(even)}"
            )
        if not 1 <= self.kernel_min <= self.kernel_max:
            raise ValueError(
                f"kernels need 1 <= kernel_min <= kernel_max, "
                f"got kernel_min={self.kernel_min}, kernel_max={self.kernel_max}"
            )
        if min(self.encoder_width, self.embed_dim, self.fc_dim, self.min_width) < 1:
            raise ValueError("widths must be >= 1")

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) of the embedding: the frame divided by the strides' product."""
        total = math.prod(self.strides)
        return self.height // total, self.width // total

    def kernels(self) -> list[int]:
        """Each decoder block's kernel: kernel_min, then +2 per block, capped at kernel_max."""
        return [min(self.kernel_min + 2 * i, self.kernel_max) for i in range(len(self.strides))]

    def widths(self) -> list[int]:
        """Each decoder block's output channels: C_out = max(round(C_in / r), min_width)."""
        widths, width = [], self.fc_dim
        for _ in self.strides:
            width = max(round(width / self.reduction), self.min_width)
            widths.append(width)
        return widths

    def embedding_numbers(self, frames: int) -> int:
        """How many numbers the embeddings of `frames` frames hold (d * h * w each)."""
        grid_h, grid_w = self.grid
        return frames * self.embed_dim * grid_h * grid_w


# %% [markdown]
# ## The encoder: ConvNeXt, one block per stage
#
# Each stage is a patchify convolution (kernel = stride, so each output pixel sees its own
# patch) with a LayerNorm, then one ConvNeXt block: a depthwise 7x7 convolution, a LayerNorm,
# a 4x MLP with GELU, and a tiny layer scale on the residual branch. As in HNeRV's code (and
# ConvNeXt), the first stage normalizes after its convolution and the later ones before it,
# every LayerNorm has eps 1e-6, and the encoder starts from truncated-normal weights
# (std 0.02) and zero biases. The last stage has `d` = 16 channels: that is the embedding,
# 16 x 2 x 4 = 128 numbers for a 640x1280 frame.


# %%
#| export hnerv
class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of a (B, C, H, W) map, at every pixel (ConvNeXt's norm,
    with its eps of 1e-6)."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """x + scale * MLP(norm(depthwise 7x7 conv(x))): the ConvNeXt block (Liu et al., 2022)."""

    def __init__(self, channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, kernel_size=7, padding=3, groups=channels)
        self.norm = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, 4 * channels, kernel_size=1)
        self.activation = nn.GELU()
        self.project = nn.Conv2d(4 * channels, channels, kernel_size=1)
        # Layer scale starts tiny, so each block starts close to the identity.
        self.scale = nn.Parameter(torch.full((channels, 1, 1), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.activation(self.expand(self.norm(self.depthwise(x)))))
        return x + self.scale * y


class Encoder(nn.Module):
    """Frames (B, 3, H, W) -> embeddings (B, d, h, w), one stage per stride, widths c1, ...,
    c1, d. Stage 1: patchify conv (kernel = stride) -> LayerNorm -> ConvNeXt block; later
    stages: LayerNorm -> patchify conv -> ConvNeXt block (ConvNeXt's order, as HNeRV's code)."""

    def __init__(self, config: HNeRVConfig):
        super().__init__()
        widths = [config.encoder_width] * (len(config.strides) - 1) + [config.embed_dim]
        stages, channels = [], 3
        for index, (stride, width) in enumerate(zip(config.strides, widths)):
            patchify = nn.Conv2d(channels, width, kernel_size=stride, stride=stride)
            if index == 0:
                downsample = [patchify, LayerNorm2d(width)]
            else:
                downsample = [LayerNorm2d(channels), patchify]
            stages.append(nn.Sequential(*downsample, ConvNeXtBlock(width)))
            channels = width
        self.stages = nn.Sequential(*stages)
        self.apply(_init_encoder_layer)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.stages(frames)


def _init_encoder_layer(layer: nn.Module) -> None:
    """ConvNeXt's (and HNeRV's) start: conv weights ~ truncated normal(std 0.02), biases 0."""
    if isinstance(layer, (nn.Conv2d, nn.Linear)):
        nn.init.trunc_normal_(layer.weight, std=0.02)
        nn.init.zeros_(layer.bias)


# %% [markdown]
# ## The decoder: HNeRV blocks
#
# A 1x1 convolution lifts the embedding to c2 channels; then, per stride, a convolution whose
# kernel grows with depth, a PixelShuffle and a GELU; a 3x3 head to RGB. `HNeRV` is the two
# halves: `encode` frames to embeddings and `decode` embeddings to frames. For `train` the
# model's input is the frames themselves (`frames_in`), where NeRV's was the frame time.


# %%
#| export hnerv
class HNeRVBlock(nn.Module):
    """conv k x k (C_in -> C_out * s^2) -> PixelShuffle(s) -> activation: upscale by s."""

    def __init__(self, in_channels, out_channels, stride, kernel_size, activation="gelu"):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels * stride**2, kernel_size, padding=kernel_size // 2
        )
        self.shuffle = nn.PixelShuffle(stride)
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.shuffle(self.conv(x)))


class Decoder(nn.Module):
    """Embeddings (B, d, h, w) -> frames (B, 3, H, W) in [0, 1]. Everything here counts in size."""

    def __init__(self, config: HNeRVConfig):
        super().__init__()
        self.config = config
        self.stem = self.make_stem(config)
        blocks, channels = [], config.fc_dim
        for stride, kernel, width in zip(config.strides, config.kernels(), config.widths()):
            blocks.append(HNeRVBlock(channels, width, stride, kernel, config.activation))
            channels = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(channels, 3, kernel_size=3, padding=1)

    def make_stem(self, config: HNeRVConfig) -> nn.Module:
        """Embedding (B, d, h, w) -> the c2 x h x w grid: a 1x1 conv and the activation."""
        conv = nn.Conv2d(config.embed_dim, config.fc_dim, kernel_size=1)
        return nn.Sequential(conv, make_activation(config.activation))

    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks and the head, from the (B, c2, h, w) grid to (B, 3, H, W), unsquashed."""
        config, batch = self.config, x.shape[0]
        h, w = config.grid
        for index, (block, stride, width) in enumerate(
            zip(self.blocks, config.strides, config.widths())
        ):
            x = block(x)  # (B, C, h, w) -> (B, width, h*stride, w*stride)
            h, w = h * stride, w * stride
            expect_shape(x, (batch, width, h, w), f"block {index + 1} (stride {stride})")
        return self.head(x)

    def raw(self, embedding: torch.Tensor) -> torch.Tensor:
        """Stem, blocks and head, before the output squash (lessons 06-07 squash it their way)."""
        config = self.config
        shape = (embedding.shape[0], config.embed_dim, *config.grid)
        expect_shape(embedding, shape, "decoder input (embedding)")
        return self.upscale(self.stem(embedding))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(self.raw(embedding)) + 1) / 2  # NeRV's output squash, as HNeRV's code


class HNeRV(nn.Module):
    """Frames (B, 3, H, W) -> encoder -> embeddings -> decoder -> frames (B, 3, H, W).

    `encode` and `decode` are the two halves: lesson 05 decodes embeddings the encoder never
    made (interpolations), lesson 08 stores the embeddings and the decoder, not the encoder."""

    def __init__(self, config: HNeRVConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        config = self.config
        expect_shape(frames, (frames.shape[0], 3, config.height, config.width), "HNeRV input")
        return self.encoder(frames)

    def decode(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.decoder(embedding)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(frames))


def frames_in(video: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """HNeRV's input for a batch of frame indices: the frames themselves (for `train`)."""
    return video[indices]


@torch.no_grad()
def embed_frames(model: nn.Module, frames: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """model.encode of every frame, `chunk` frames at a time and without gradients: the
    encoder's activations take about 70 MB per 640x1280 frame, too much for a whole clip."""
    return torch.cat([model.encode(part) for part in frames.split(chunk)])


# %% [markdown]
# ### The tiny decoder is the package's
#
# `Decoder` holds the layers of `TinyHNeRV.decoder` in the same order (stem, blocks, head), so
# the tiny model's trained weights load into it one for one. From the same embeddings of the
# clip's frames it must draw the same frames.

# %%
tiny_config = HNeRVConfig(scale.height, scale.width, tiny_strides, embed_dim=16, fc_dim=20)
package_decoder = Decoder(tiny_config).to(device)
weights = dict(zip(package_decoder.state_dict(), tiny.decoder.state_dict().values()))
package_decoder.load_state_dict(weights)  # raises if any shape differs
with torch.no_grad():
    torch.testing.assert_close(package_decoder(tiny_embeddings[:8]), tiny_copy[:8])
print(
    f"same frames from the same {len(weights)} tensors: widths {tiny_config.widths()}, "
    f"kernels {tiny_config.kernels()}"
)

# %% [markdown]
# ## Size, and the budget solver
#
# The paper's size is embeddings + decoder. The encoder is left out because it is not needed
# to play the video back: once every frame is encoded, the embeddings are stored and the
# encoder is thrown away. `hnerv_budget` picks c2 exactly as the paper's code does: it writes
# the decoder's size as a quadratic in c2 (with un-rounded widths c2 / r^i, no floor, no
# biases, and the stem counted as 9 d weights per channel, the code's own approximation of the
# 1x1 conv's d), solves it and rounds down. Every course model called "HNeRV" is sized so.
#
# ### Exercise: the width that fits a budget
#
# Write `first_width(numbers, strides, kernels, reduction, stem_per_channel)`: the largest whole
# c2 whose decoder, counted as the paper's code counts it, holds at most `numbers` parameters.
# Block i (from 0) is a k_i x k_i convolution from C_i = c2 / r^i channels to C_(i+1) * s_i^2
# channels (PixelShuffle folds each s_i^2 of them into one channel at s_i times the size):
# count its weights with those un-rounded widths, and no biases, no head, no width floor; the
# stem costs `stem_per_channel` weights per channel of c2. The check solves the paper's Table 15
# with it (the budget minus the embeddings, 132 frames of 16 x 2 x 4 numbers) and HNeRV's
# NeRV baseline, whose stem is a linear layer of 160 x 8 x 16 weights per channel.


# %%
def first_width(numbers, strides, kernels, reduction, stem_per_channel) -> int:
    """The largest c2 whose decoder (counted as above) holds at most `numbers` parameters."""
    ### BEGIN SOLUTION
    per_c2_squared = sum(
        k**2 * s**2 / reduction ** (2 * i + 1) for i, (s, k) in enumerate(zip(strides, kernels))
    )
    a, b = per_c2_squared, stem_per_channel
    return math.floor((-b + math.sqrt(b * b + 4 * a * numbers)) / (2 * a))
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("first_width"):
    stored = 132 * 16 * 2 * 4  # Table 15's models store 132 embeddings of 16 x 2 x 4
    table15_cases = [  # (strides, budget in M, the paper's c2); kernels 1, 3, 5, 5, 5; r 1.2
        ((5, 4, 4, 2, 2), 0.35, 32),
        ((5, 4, 4, 2, 2), 0.75, 48),
        ((5, 4, 4, 2, 2), 1.5, 68),
        ((5, 4, 4, 2, 2), 3.0, 97),
        ((5, 4, 3, 2, 2), 3.0, 110),  # 480x960
        ((5, 4, 4, 3, 2), 3.0, 92),  # 960x1920
    ]
    for paper_strides, size, paper_c2 in table15_cases:
        got = first_width(size * 1e6 - stored, paper_strides, (1, 3, 5, 5, 5), 1.2, 9 * 16)
        if got != paper_c2:
            side = (
                "too wide: your decoder costs too little per c2, or you rounded up"
                if got > paper_c2
                else "too narrow: your decoder costs too much per c2"
            )
            wrong(
                f"{size}M with strides {paper_strides} gives c2 = {got}, the paper's Table 15 "
                f"has {paper_c2}: {side}. Count each block's weights from its window, the s^2 "
                "outputs PixelShuffle folds into one, and both its widths (each c2 over a power "
                "of r); then keep the largest whole c2 that still fits"
            )
    got = first_width(1.5e6, (5, 4, 2, 2), (3, 3, 3, 3), 2.0, 160 * 8 * 16)
    if got != 54:
        wrong(
            f"HNeRV's NeRV baseline at 1.5M gives c2 = {got}, its code uses 54: here the stem "
            "(160 x 8 x 16 weights per channel of c2) is most of the decoder, so it must count"
        )
    right(
        "every c2 of the paper's Table 15 and the NeRV baseline's 54, as the package's "
        "`reference_c2` below gives them: the decoder's size is a quadratic in c2."
    )


# %%
#| export hnerv
def hnerv_size(config: HNeRVConfig, frames: int) -> int:
    """The paper's size: embeddings of all frames + decoder parameters (no encoder)."""
    with torch.device("meta"):  # counts without allocating any weights
        decoder = count_parameters(Decoder(config))
    return config.embedding_numbers(frames) + decoder


def hnerv_shape(height: int, width: int, **changes) -> HNeRVConfig:
    """An HNeRVConfig for this frame size: `changes` are its fields, or grid=(h, w) to let
    `hnerv_strides` pick the strides for that grid (by default it picks the grid too)."""
    if "strides" in changes and "grid" in changes:
        raise ValueError(
            f"give grid= or strides=, not both (got grid={changes['grid']}, "
            f"strides={changes['strides']}): the strides set the grid"
        )
    if "strides" not in changes:
        changes["strides"] = hnerv_strides(height, width, changes.pop("grid", None))
    return HNeRVConfig(height=height, width=width, **changes)


def reference_c2(decoder_numbers: float, config: HNeRVConfig, stem_per_channel: float) -> int:
    """The first decoder width c2 as HNeRV's code solves it: the decoder's numbers written as
    a c2^2 + b c2, where a c2^2 counts each block's conv weights k^2 s^2 C_i C_(i+1) with
    C_i = c2 / r^i (not rounded, no width floor), and b c2 is the stem. Biases and the head
    are not counted; the root is rounded down."""
    r = config.reduction
    a = sum(
        kernel**2 * stride**2 / r ** (2 * i + 1)
        for i, (stride, kernel) in enumerate(zip(config.strides, config.kernels()))
    )
    b = stem_per_channel
    if decoder_numbers <= 0:
        return 0
    return math.floor((-b + math.sqrt(b * b + 4 * a * decoder_numbers)) / (2 * a))


def hnerv_budget(
    size: float, frames: int, height: int = 640, width: int = 1280, **changes
) -> HNeRVConfig:
    """The HNeRV of about `size` million numbers (embeddings + decoder) for `frames` frames,
    by choosing the decoder's first width c2 exactly as the paper's code does
    (`reference_c2`, its stem counted as 9 d where the 1x1 conv has d weights per channel).
    This gives every c2 of the paper's Table 15 (1.5M at 640x1280 -> 68); the real size can
    land a little over or under the budget (1.5052M for 1.5M), as in the paper.
    `changes` go to `hnerv_shape`: HNeRVConfig fields, or grid=(h, w)."""
    shape = hnerv_shape(height, width, **changes)
    decoder = size * 1e6 - shape.embedding_numbers(frames)
    fc_dim = reference_c2(decoder, shape, stem_per_channel=9 * shape.embed_dim)
    if fc_dim < shape.min_width:
        raise ValueError(
            f"a {size}M budget is too small for HNeRV on {frames} frames of {height}x{width}: "
            f"the embeddings alone take {shape.embedding_numbers(frames) / 1e6:.4f}M, and the "
            f"first width would be {fc_dim}, below the {shape.min_width}-channel floor. Raise "
            "the budget, or lower embed_dim or min_width"
        )
    return replace(shape, fc_dim=fc_dim)


# %% [markdown]
# Two small helpers for later: the embedding between two frames (lesson 05 decodes it),
# and the parameters of each decoder stage (the parameter-balance chart below).


# %%
#| export hnerv
def interpolate_embeddings(
    first: torch.Tensor, second: torch.Tensor, weight: float
) -> torch.Tensor:
    """(1 - weight) * first + weight * second: an embedding between two frames' (lesson 05)."""
    if first.shape != second.shape:
        raise ValueError(
            f"embeddings to interpolate must have one shape, got {tuple(first.shape)} "
            f"and {tuple(second.shape)}"
        )
    if not 0 <= weight <= 1:
        raise ValueError(f"weight must be in [0, 1] (0 gives first, 1 second), got {weight}")
    return torch.lerp(first, second, weight)


def stage_parameters(decoder: nn.Module) -> dict[str, int]:
    """Parameters of each part of a decoder, in order: stem, block 1..n, head."""
    parts = {"stem": decoder.stem}
    parts |= {f"block {i + 1}": block for i, block in enumerate(decoder.blocks)}
    parts["head"] = decoder.head
    return {name: count_parameters(part) for name, part in parts.items()}


# %% [markdown]
# ## From a Bunny frame to its embedding, and back
#
# The lesson's HNeRV (sized for this scale's budget) runs one real frame of the clip; each box
# is a stage with the shape it puts out (channels x height x width). Every encoder stage
# divides the frame by its stride; the last one leaves `d` channels on the 2x4 grid, the
# embedding; the decoder's stem lifts it to c2 channels and each block multiplies the grid by
# its stride back to the frame.

# %%
from nerv_lessons._diagram import architecture

config = hnerv_budget(scale.model_params, scale.frames, scale.height, scale.width)
torch.manual_seed(0)
model = HNeRV(config).to(device)
title = f"HNeRV at the {scale.name} scale, one frame: encoder stages, embedding, decoder blocks"
architecture(model, video[:1], expand=("encoder", "decoder"), title=title)
plt.show()
embedding = embed_frames(model, video[:1])
print(
    f"embedding {tuple(embedding.shape[1:])}: {embedding.numel()} numbers for a frame of "
    f"{video[0].numel():,}"
)

# %% [markdown]
# Which parts count in HNeRV's size? To play the video back you need the embeddings (one per
# frame) and the decoder. The encoder only *made* the embeddings: once every frame is encoded
# it is thrown away, just as a video codec's decoder does not ship the encoder. So "size" is
# embeddings + decoder, and the encoder's parameters are free. Counted at this scale and at
# the paper's 1.5M (on the `meta` device: no memory spent):

# %%
# NBVAL_CHECK_OUTPUT
paper_config = hnerv_budget(1.5, 132)  # the paper's Bunny model: 132 frames of 640x1280


def show_size_parts(name, config, frames):
    """Embeddings, decoder and encoder of a config, counted on the meta device."""
    with torch.device("meta"):
        built = HNeRV(config)
    parts = {
        "embeddings": config.embedding_numbers(frames),
        "decoder": count_parameters(built.decoder),
        "encoder (not stored)": count_parameters(built.encoder),
    }
    print(f"{name}: {config.height}x{config.width}, {frames} frames")
    for part, count in parts.items():
        print(f"  {part:<22} {count:>10,}")
    print(f"  {'size (hnerv_size)':<22} {hnerv_size(config, frames):>10,}")


show_size_parts("paper 1.5M", paper_config, 132)

# %%
show_size_parts(f"{scale.name} scale", config, scale.frames)

# %% [markdown]
# ## The budget solver against the paper's Table 15
#
# The paper lists the first decoder width c2 it used for each size. `hnerv_budget` solves for
# c2 from the size alone; here are its answers beside the paper's, with the size each gives.

# %%
# NBVAL_CHECK_OUTPUT
table15 = [  # (height, width, size in M, the paper's c2)
    (640, 1280, 0.35, 32),
    (640, 1280, 0.75, 48),
    (640, 1280, 1.5, 68),
    (640, 1280, 3, 97),
    (480, 960, 3, 110),
    (960, 1920, 3, 92),
]
print(f"{'frame':>9} {'size':>5} {'strides':>15} | {'paper c2':>8} | {'ours c2':>7} {'total':>10}")
for height, width, size, paper_c2 in table15:
    solved = hnerv_budget(size, 132, height, width)
    total = hnerv_size(solved, 132)
    print(
        f"{height}x{width:<5} {size:5} {str(solved.strides):>15} | {paper_c2:8d} | "
        f"{solved.fc_dim:7d} {total:10,}"
    )

# %%
print(f"this lesson's model ({scale.describe()}):\n{config}")
print(f"size {hnerv_size(config, scale.frames):,} for a budget of {scale.model_params}M")

# %% [markdown]
# ### Predict: the first width at r = 2
#
# The paper's Table 9 tries r = 2: each block halves the width, where the baseline divides it
# by 1.2. Solved by `hnerv_budget` for the same budget at this scale, will the first width c2
# come out higher, lower, or the same (within 10 %) as the baseline's, printed above? The
# next cell measures it without printing; write your guess, then run the check.

# %%
budget = (scale.model_params, scale.frames, scale.height, scale.width)
measured_c2 = {r: hnerv_budget(*budget, reduction=r).fc_dim for r in (1.2, 2.0)}  # r = 1.2, 2

# %%
# Your guess: "higher", "lower" or "same" (within 10 %), for c2 at r = 2 against r = 1.2.
### BEGIN SOLUTION
prediction = "higher"
### END SOLUTION

# %%
# Check: says right or wrong, and why.
with exercise("prediction"):
    if prediction not in ("higher", "lower", "same"):
        wrong(f'write "higher", "lower" or "same", got {prediction!r}')
    base, halving = measured_c2[1.2], measured_c2[2.0]
    ratio = halving / base
    measured = "higher" if ratio > 1.1 else "lower" if ratio < 1 / 1.1 else "same"
    if prediction != measured:
        wrong(
            f"c2 is {base} at r = 1.2 and {halving} at r = 2 ({ratio:.1f}x): {measured}. Ask "
            "what one channel of c2 costs in each block: r sets how wide the later blocks, "
            "with their 5x5 kernels, stay for a given c2"
        )
    right(
        f"c2 is {base} at r = 1.2 and {halving} at r = 2 ({ratio:.1f}x). Halving the width "
        "each block makes the later blocks, with their large kernels, cheap, so the same "
        "budget buys a much wider first block; the chart below shows where parameters land."
    )

# %% [markdown]
# ## Where the parameters go: NeRV blocks against HNeRV blocks
#
# A NeRV block has a 3x3 kernel everywhere and halves the width each time; an HNeRV block
# starts with a 1x1 kernel, grows it to 5, and divides the width by only 1.2. Solve both for
# the same budget with `hnerv_budget` and count each stage with `stage_parameters`: NeRV-style
# blocks put nearly everything in the first block, which works on the tiny 2x4 grid, while
# HNeRV spreads the parameters towards the late, high-resolution stages where the detail is.
# Each panel prints both sizes and their ratio: the budget is the same, the sizes may not be.

# %%
styles = {
    "NeRV blocks (K=3, r=2)": dict(kernel_min=3, kernel_max=3, reduction=2.0),
    "HNeRV blocks (K=1..5, r=1.2)": dict(),
}
settings = [("paper, 1.5M", 1.5, 132, 640, 1280)]
settings.append(
    (
        f"{scale.name}, {scale.model_params}M",
        scale.model_params,
        scale.frames,
        scale.height,
        scale.width,
    )
)
figure, axes = plt.subplots(1, len(settings), figsize=(12, 3.4))
for axis, (title, size, frames, height, width) in zip(axes, settings):
    print(f"{title} ({height}x{width}):")
    totals = []
    for offset, (style, changes) in zip((-0.2, 0.2), styles.items()):
        chosen = hnerv_budget(size, frames, height, width, **changes)
        totals.append(hnerv_size(chosen, frames))
        with torch.device("meta"):
            counts = stage_parameters(Decoder(chosen))
        (h, w), shapes = chosen.grid, [f"{chosen.fc_dim}x{chosen.grid[0]}x{chosen.grid[1]}"]
        for stride, channels in zip(chosen.strides, chosen.widths()):
            h, w = h * stride, w * stride
            shapes.append(f"{channels}x{h}x{w}")
        shapes.append(f"3x{h}x{w}")
        print(f"  {style}: c2 {chosen.fc_dim}, size {hnerv_size(chosen, frames):,}")
        for (stage, count), shape in zip(counts.items(), shapes):
            print(f"    {stage:<8} {count:>9,}  -> {shape}")
        positions = [i + offset for i in range(len(counts))]
        axis.bar(positions, list(counts.values()), width=0.4, label=style)
    print(f"  size of NeRV blocks / HNeRV blocks: {totals[0] / totals[1]:.2f}")
    axis.set_xticks(range(len(counts)), list(counts))
    axis.set(title=title, ylabel="parameters", yscale="log")
    axis.legend(fontsize=8)
figure.tight_layout()
plt.show()

# %% [markdown]
# At the paper's size both styles land within about 1 % of 1.5M. At the quick scale the
# 12-channel floor (`min_width`) catches most widths: the NeRV-style decoder cannot shrink
# below it and overshoots the budget (about 70k numbers against HNeRV's 52k there), so that
# panel compares unequal sizes, and the two styles differ less than at the paper's size: the
# balance argument needs room to show.


# %% [markdown]
# ## The NeRV that HNeRV's paper compares with
#
# HNeRV's tables do not use NeRV-S/M/L from lesson 03. Its code builds its NeRV baseline from
# the same decoder as HNeRV (`--embed pe_1.25_80 --fc_hw 8_16 --dec_strds 5 4 2 2 --ks 0_3_3
# --reduce 2 --lower_width 12`): gamma(t) with 80 levels (160 numbers), one linear layer to a
# c2 x 8 x 16 grid, then HNeRV blocks with 3x3 kernels that halve the width down to a floor
# of 12, and the 3x3 head. Its c2 comes from the same quadratic, whose stem term is now the
# linear layer's 160 x 8 x 16 weights per channel: at 1.5M, c2 = 54 and most of the
# parameters sit in that linear stem. `BaselineNeRV` is this model; it takes the frame time
# `i / (T - 1)` from `train.frame_times` (HNeRV's code feeds `i / T`, a 1 % stretch of the
# time axis on Bunny). At other frame sizes the strides stay the paper's and the grid
# shrinks with the frame (1x2 at 80x160, 4x8 at 320x640).


# %%
#| export hnerv
@dataclass
class BaselineNeRVConfig(HNeRVConfig):
    """HNeRV's NeRV baseline (its Tables 2-3): the code's --embed pe_1.25_80 --fc_hw 8_16
    --dec_strds 5 4 2 2 --ks 0_3_3 --reduce 2 --lower_width 12. The defaults are its 1.5M
    Bunny model. embed_dim and encoder_width are not used: the input is gamma(t)."""

    strides: tuple[int, ...] = (5, 4, 2, 2)  # 640x1280 / 80: the 8x16 grid
    fc_dim: int = 54
    reduction: float = 2.0
    min_width: int = 12
    kernel_min: int = 3  # 3x3 kernels in every block
    kernel_max: int = 3
    pe_base: float = 1.25
    pe_levels: int = 80  # gamma(t) has 2 * 80 = 160 numbers


class BaselineNeRV(Decoder):
    """Frame times (B,) -> frames: gamma(t) -> linear layer to the c2 x h x w grid -> GELU ->
    the HNeRV decoder's blocks and 3x3 head -> (tanh + 1) / 2. All of it counts in size."""

    def __init__(self, config: BaselineNeRVConfig):
        super().__init__(config)
        self.embed = PositionalEncoding(config.pe_base, config.pe_levels)

    def make_stem(self, config: BaselineNeRVConfig) -> nn.Module:
        """gamma(t) (B, 2 levels) -> (B, c2 h w): the reference's 1x1 conv on a 1x1 map."""
        grid_h, grid_w = config.grid
        linear = nn.Linear(2 * config.pe_levels, config.fc_dim * grid_h * grid_w)
        return nn.Sequential(linear, make_activation(config.activation))

    def raw(self, t: torch.Tensor) -> torch.Tensor:
        if t.ndim != 1:
            raise ValueError(f"BaselineNeRV takes frame times shaped (B,), got {tuple(t.shape)}")
        grid = self.stem(self.embed(t)).view(len(t), self.config.fc_dim, *self.config.grid)
        return self.upscale(grid)


def baseline_nerv_budget(
    size: float, height: int = 640, width: int = 1280, **changes
) -> BaselineNeRVConfig:
    """HNeRV's NeRV baseline of about `size` million parameters (it stores no embeddings),
    c2 by `reference_c2` with the linear stem's 2 * levels * h * w weights per channel:
    1.5M at 640x1280 -> c2 = 54, 1,507,868 parameters."""
    shape = BaselineNeRVConfig(height=height, width=width, **changes)
    grid_h, grid_w = shape.grid
    fc_dim = reference_c2(size * 1e6, shape, 2 * shape.pe_levels * grid_h * grid_w)
    if fc_dim < 1:
        raise ValueError(
            f"a {size}M budget is too small for the NeRV baseline at {height}x{width}: its "
            f"linear stem alone takes {2 * shape.pe_levels * grid_h * grid_w} per channel"
        )
    config = replace(shape, fc_dim=fc_dim)
    # The quadratic ignores the width floor. At the paper's sizes that costs under 1 %, but
    # at a tiny budget the floor alone overshoots it (80x160 at 0.05M: 86k), so there we
    # lower the floor, as lesson 07 does for its tiny decoders, until within 5 % of it.
    while _parameters(BaselineNeRV, config) > 1.05 * size * 1e6 and config.min_width > 1:
        config = replace(config, min_width=config.min_width - 1)
    return config


def _parameters(model_class: type, config) -> int:
    with torch.device("meta"):  # counts without allocating any weights
        return count_parameters(model_class(config))


# %%
# NBVAL_CHECK_OUTPUT
baseline = baseline_nerv_budget(1.5)
with torch.device("meta"):
    counts = stage_parameters(BaselineNeRV(baseline))
print(f"NeRV baseline at 1.5M, 640x1280: c2 {baseline.fc_dim}, widths {baseline.widths()}")
for stage, count in counts.items():
    print(f"  {stage:<8} {count:>10,}")
print(f"  {'total':<8} {sum(counts.values()):>10,}")

# %% [markdown]
# ## The experiments: HNeRV's tables as data
#
# Both models of Table 2 get the same budget (the scale's) and HNeRV's recipe
# (`TrainConfig.hnerv`: Adam (0.9, 0.999), L2, warm-up 0.1, batch 2), which HNeRV's code also
# trains its NeRV baseline with. Each lesson registers its model families for the experiments
# of lesson 03: here HNeRV (sized by `hnerv_budget`, its input the frames) and the NeRV
# baseline (`baseline_nerv_budget`, its input the time). Table 3 asks whether HNeRV leads at
# every epoch count, so the pair also trains for half the epochs; the ablations (Tables 8-11)
# change one choice at a time from the baseline row, which is HNeRV itself: the cache trains it
# once per seed for all of them. Rows whose ordering the paper claims run three seeds.


# %%
#| export hnerv
def build_hnerv(video: torch.Tensor, budget: float, **changes) -> Setup:
    """HNeRV of about `budget` million numbers (embeddings + decoder) for this clip, solved by
    `hnerv_budget`; its input is the frames themselves."""
    frames, _, height, width = video.shape
    config = hnerv_budget(budget, frames, height, width, **changes)
    return Setup(HNeRV(config), frames_in, hnerv_size(config, frames))


def build_baseline_nerv(video: torch.Tensor, budget: float, **changes) -> Setup:
    """HNeRV's NeRV baseline of about `budget` million parameters; its input is the time."""
    _, _, height, width = video.shape
    model = BaselineNeRV(baseline_nerv_budget(budget, height, width, **changes))
    return Setup(model, frame_times, count_parameters(model))


register_model("hnerv", build_hnerv)
register_model("baseline_nerv", build_baseline_nerv)


# %% [markdown]
# Folded (click to show): the five experiments as data, each row's model family, its changes
# from the baseline, its paper numbers, and the orderings (claims) the paper argues for.

# %% cellView="form" jupyter={"source_hidden": true}
#| export hnerv
HNERV_PAPER = "HNeRV (CVPR 2023)"
# Table 2 at 1.5M (Bunny 640x1280, 300 epochs), and the same pair trained for half the epochs
# (Table 3 asks whether HNeRV leads at every epoch count).
HNERV_VS_NERV = register(
    Experiment(
        "hnerv-vs-nerv",
        HNERV_PAPER,
        "Tables 2-3, HNeRV vs NeRV at equal size",
        "hnerv",
        rows=(
            Row("NeRV", "baseline_nerv", paper_psnr=30.87),
            Row("HNeRV", "hnerv", paper_psnr=35.19),
            Row("NeRV, 1/2 epochs", "baseline_nerv", epochs=0.5),
            Row("HNeRV, 1/2 epochs", "hnerv", epochs=0.5),
        ),
        claims=(("HNeRV", "NeRV"), ("HNeRV, 1/2 epochs", "NeRV, 1/2 epochs")),
    )
)
# Tables 8, 9 and 11 (Bunny, 1.5M): the baseline row (K 1,5; r 1.2; d 16) is HNeRV above, so
# the cache trains it once for all of them.
BASELINE = dict(paper_psnr=35.19, paper_ms_ssim=0.9773)
HNERV_KERNELS = register(
    Experiment(
        "hnerv-kernels",
        HNERV_PAPER,
        "Table 8, kernel sizes K_min, K_max",
        "hnerv",
        rows=(
            Row("1,5", "hnerv", **BASELINE),
            Row(
                "3,3",
                "hnerv",
                {"kernel_min": 3, "kernel_max": 3},
                paper_psnr=33.09,
                paper_ms_ssim=0.9587,
            ),
        ),
        claims=(("1,5", "3,3"),),
    )
)
HNERV_REDUCTION = register(
    Experiment(
        "hnerv-reduction",
        HNERV_PAPER,
        "Table 9, channel reduction r",
        "hnerv",
        rows=(
            Row("1.2", "hnerv", **BASELINE),
            Row("2", "hnerv", {"reduction": 2.0}, paper_psnr=34.32, paper_ms_ssim=0.9715),
        ),
        claims=(("1.2", "2"),),
    )
)
HNERV_CHANNELS = register(
    Experiment(
        "hnerv-channels",
        HNERV_PAPER,
        "Table 11, embedding channels d",
        "hnerv",
        rows=(
            Row("16", "hnerv", **BASELINE),
            Row("8", "hnerv", {"embed_dim": 8}, paper_psnr=35.13, paper_ms_ssim=0.9770),
        ),
        claims=(("16", "8"),),
    )
)
HNERV_GRID = register(
    Experiment(
        "hnerv-grid",
        HNERV_PAPER,
        "Table 10, embedding grid h x w",
        "hnerv",
        rows=(
            Row("2x4", "hnerv", **BASELINE),
            Row("1x2", "hnerv", {"grid": (1, 2)}, paper_psnr=34.79, paper_ms_ssim=0.9735),
            Row("4x8", "hnerv", {"grid": (4, 8)}, paper_psnr=35.12, paper_ms_ssim=0.9761),
        ),
    )
)

# %% [markdown]
# ## HNeRV against NeRV at equal size (Tables 2 and 3)

# %%
from nerv_lessons.experiments import fit, results_folder, run
from nerv_lessons.train import TrainConfig, reconstruct

print(TrainConfig.hnerv(scale))
start = time.perf_counter()
table2 = run(HNERV_VS_NERV, scale, seeds=3, device=device, video=video)  # the clip above
table2.save(results_folder(scale))
print(f"{time.perf_counter() - start:.0f} s\n")
table2.show()
paper_gain = 35.19 - 30.87
gain = table2["HNeRV"]["psnr_mean"] - table2["NeRV"]["psnr_mean"]
print(
    f"HNeRV - NeRV: paper {paper_gain:+.2f} dB at 1.5M; "
    f"ours {gain:+.2f} dB at {scale.model_params}M"
)
print(f"size HNeRV / NeRV: {table2['HNeRV']['params'] / table2['NeRV']['params']:.3f}")

# %% [markdown]
# The paper's numbers are 300 epochs of 132 frames at 640x1280 (Table 3: 0.75M, 300 to 3600
# epochs, HNeRV ahead at every count: 32.81 vs 28.46 dB at 300); ours are the scale printed
# above. The sizes are equal to about a percent (at the quick scale `baseline_nerv_budget`
# lowers NeRV's width floor to get there). This NeRV is HNeRV's baseline (one linear stem,
# HNeRV blocks, HNeRV's L2 recipe at batch 2), not lesson 03's NeRV (an MLP stem, NeRV
# blocks, NeRV's L1 + SSIM recipe at batch 1), so the two NeRV rows of the course differ a
# little. The training curves of seed 0 show where HNeRV passes NeRV.

# %%
nerv_setup, nerv_record = fit(HNERV_VS_NERV, "NeRV", scale, 0, device, video)
hnerv_setup, hnerv_record = fit(HNERV_VS_NERV, "HNeRV", scale, 0, device, video)
figure, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(10, 3.2))
for name, record in [("NeRV", nerv_record), ("HNeRV", hnerv_record)]:
    history = record["history"]
    by_epoch.plot(history["epoch"], history["psnr"], label=name)
    by_time.plot(history["seconds"], history["psnr"], label=name)
for axis in (by_epoch, by_time):
    axis.axhline(table2.rows[0]["psnr_mean"], color="grey", ls=":", label="floor: mean frame")
    axis.legend()
by_epoch.set(xlabel="epoch", ylabel="training PSNR (dB)", title="PSNR per epoch (seed 0)")
by_time.set(xlabel=f"seconds ({device})", ylabel="training PSNR (dB)", title="PSNR per second")
figure.tight_layout()
plt.show()
nerv_history, hnerv_history = nerv_record["history"], hnerv_record["history"]
passes = [
    e
    for e, p in zip(hnerv_history["epoch"], hnerv_history["psnr"])
    if p >= nerv_history["psnr"][-1]
]
print(
    f"NeRV's final training PSNR ({nerv_history['psnr'][-1]:.2f} dB after {nerv_record['epochs']} "
    "epochs): " + (f"HNeRV passes it at epoch {passes[0]}" if passes else "HNeRV never reaches it")
)

# %% [markdown]
# ## The paper's four ablations, at this scale (Tables 8-11)
#
# One choice at a time from the baseline (K 1,5; r 1.2; 2x4 grid; d 16), each variant solved
# for the same budget by `hnerv_budget`; each table prints each row's size. Three seeds for the
# orderings the paper argues for (a wider kernel range, r = 1.2, d = 16, each against the
# alternative it argues against most); the grid table runs one seed, and its 1x2 and 4x8 rows
# also change the strides, so the number of blocks (printed below it).

# %%
start = time.perf_counter()
ablations, ablations_order = {}, [HNERV_KERNELS, HNERV_REDUCTION, HNERV_CHANNELS, HNERV_GRID]
for experiment, seeds in [
    (HNERV_KERNELS, 3),
    (HNERV_REDUCTION, 3),
    (HNERV_CHANNELS, 3),
    (HNERV_GRID, 1),
]:
    print(f"{experiment.name}:")
    ablations[experiment.name] = run(experiment, scale, seeds=seeds, device=device, video=video)
    ablations[experiment.name].save(results_folder(scale))
print(f"all ablations: {time.perf_counter() - start:.0f} s")
for results in ablations.values():
    print()
    results.show()
grids = {"1x2": (1, 2), "2x4": (2, 4), "4x8": (4, 8)}
strides = {
    name: hnerv_shape(scale.height, scale.width, grid=g).strides for name, g in grids.items()
}
print("strides: " + ", ".join(f"{name} {value}" for name, value in strides.items()))

# %% [markdown]
# HNeRV beats NeRV at equal size with three seeds, and every Table 2 row beats the floor.
# For three of the verdicts that read "within noise", the per-seed scores below say why
# (channels d = 8 against 16 is the fourth: its gap is under the noise). At half the epochs
# HNeRV is still catching up (the seed-0 curves above: it needs about half of the full run to
# reach NeRV's final PSNR, because its encoder must first learn embeddings that carry the
# frame, while NeRV's input, the time, is useful from the first step), so its seeds straddle
# NeRV's. In the kernel table a seed of K 3,3 that stalls near the floor (see its per-seed
# line) makes the spread larger than the gap. A row under the floor is printed with its
# training PSNR, to tell a model that cannot fit the clip from one that fits but scores badly.


# %%
def per_seed(experiment, label, seeds):
    return [fit(experiment, label, scale, seed, device, video)[1] for seed in range(seeds)]


for experiment, label, seeds in [
    (HNERV_VS_NERV, "HNeRV, 1/2 epochs", 3),
    (HNERV_KERNELS, "3,3", 3),
    (HNERV_REDUCTION, "2", 3),
]:
    scores = [f"{record['psnr'].mean():.2f}" for record in per_seed(experiment, label, seeds)]
    print(f"{experiment.name} {label}: per seed {', '.join(scores)} dB")
for experiment, results in [(HNERV_VS_NERV, table2), *zip(ablations_order, ablations.values())]:
    floor = results.rows[0]["psnr_mean"]
    for line in results.rows[1:]:
        if line["psnr_mean"] < floor:
            record = fit(experiment, line["row"], scale, 0, device, video)[1]
            print(
                f"{experiment.name} {line['row']}: {line['psnr_mean']:.2f} dB, under the floor "
                f"({floor:.2f}); its training PSNR ends at {record['history']['psnr'][-1]:.2f} dB"
            )

# %% [markdown]
# The sizes are the budget solver's: where the 12-channel width floor binds (K 3,3; r 2) a
# variant holds more parameters than the baseline, as printed. The 1x2 grid needs five blocks
# from a 1x2 map at this frame size (strides above) and stores 32 numbers per frame; 4x8
# stores 512 and needs three blocks. At the lesson or paper scale on a GPU, where runs are long
# enough not to stall, rerun the lesson to test the paper's smaller gaps.
#
# ## The copy, frame by frame
#
# HNeRV's worst frame next to the original and NeRV's copy of the same frame:

# %%
from nerv_lessons.viz import to_image

hnerv_model, nerv_model = hnerv_setup.model, nerv_setup.model
hnerv_quality, nerv_quality = hnerv_record, nerv_record
worst = int(hnerv_quality["psnr"].argmin())
hnerv_copy = reconstruct(hnerv_model, video, frames_in)[worst]
nerv_copy = reconstruct(nerv_model, video, frame_times)[worst]
copies = {
    "original": video[worst],
    f"HNeRV, {hnerv_quality['psnr'][worst]:.2f} dB": hnerv_copy,
    f"NeRV, {nerv_quality['psnr'][worst]:.2f} dB": nerv_copy,
}
figure, axes = plt.subplots(1, 3, figsize=(12, 2.6))
for axis, (title, frame) in zip(axes, copies.items()):
    axis.imshow(to_image(frame), interpolation="nearest")  # true pixels, no smoothing
    axis.set_title(f"{title} (frame {worst})")
    axis.axis("off")
figure.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# - HNeRV encodes each frame to a tiny embedding (16x2x4 at 640x1280) and decodes it; only the
#   embeddings and the decoder count as size, because the encoder is thrown away after encoding.
# - The idea fits in 25 lines (`TinyHNeRV`): strided convolutions down, HNeRV blocks (conv,
#   PixelShuffle, GELU) up. The package's `Decoder` is that decoder (same weights, same
#   frames); its encoder is the paper's ConvNeXt.
# - HNeRV blocks (kernels 1 to 5, widths / 1.2) spread the parameters across the stages where
#   NeRV blocks pile them into the first; `hnerv_budget` picks c2 for a size by solving a
#   quadratic in c2 (Table 15's c2s), and a faster width reduction buys a wider first block.
# - At equal size HNeRV beats NeRV: by about 4 dB in the paper, and by the gap printed above
#   over three seeds at this scale, both far above the mean-frame floor. The experiments
#   (`hnerv-vs-nerv`, `hnerv-kernels`, ...) are registered here; `nerv-lessons run` runs them.
# - The ablations' verdicts are computed from the seeds; short runs stall now and then, so
#   the paper's tenths of a dB need the larger scales.

# %%
print(f"lesson time: {time.perf_counter() - notebook_start:.0f} s on {device} ({scale.name} scale)")
