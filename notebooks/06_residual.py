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
# # Lesson 06: residual connections
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/06_residual.ipynb)
#
# A residual connection (He et al., 2016) lets a network learn a *correction* to something it
# already has. Two papers bring it to video representations, in two different places:
#
# - **RC-HNeRV** (Hayami & Watanabe, 2024, paper 000) adds it at the *output*: a tiny
#   low-resolution copy of each frame (5x10 pixels at 640x1280), upsampled with bicubic
#   interpolation, plus HNeRV's decoder output, which now only models the residual.
# - **Res-NeRV** (Tarchouli et al., ICIP 2024, paper 004) adds it *inside* the decoder blocks.
#
# This lesson builds both on top of lesson 04's HNeRV (module `residual`) and compares them at
# equal total size.

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

from nerv_lessons._exercises import exercise, right, wrong
from nerv_lessons.data import load_clip
from nerv_lessons.scales import start_lesson

scale, device = start_lesson()
notebook_start = time.perf_counter()
video = load_clip(scale, device)
print(f"clip: {tuple(video.shape)} on {video.device}")

# %% [markdown]
# ## The low-resolution frame
#
# The reference code of paper 000 shrinks each 640x1280 frame by 128 on each side, to 5x10
# pixels, with torchvision's antialiased bicubic `resize` on 8-bit frames. The course's smaller
# scales keep the *same fraction* of each side: the factor is `s = 128 * H / 640`, so the
# low-resolution frame is 5x10 at every scale (s = 16 at 80x160, 64 at 320x640, 128 at
# 640x1280). It is stored as 8-bit pixels, like any image: rounded to the 8-bit grid, and so
# clamped into [0, 1] (bicubic can overshoot; this is storage, not training).
#
# First by hand, on this scale's frames: one antialiased bicubic resize, then the 8-bit grid.

# %%
s = 128 * scale.height // 640  # the paper's factor (128 at 640 rows), scaled with the frame
small = F.interpolate(
    video, size=(scale.height // s, scale.width // s), mode="bicubic", antialias=True
)  # (T, 3, H, W) -> (T, 3, H / s, W / s)
small = torch.round(small.clamp(0, 1) * 255) / 255  # 8-bit pixels: 256 levels in [0, 1]
print(f"s = {s}: {tuple(video.shape[1:])} -> {tuple(small.shape[1:])}, {small.numel()} numbers")

# %% [markdown]
# The package's version (module `residual`). The first cell (folded: click to show) holds the
# module's docstring with the two models' layout, its imports, the paper's constants and
# `lowres_factor` / `check_factor`, which turn `s = 128 * H / 640` (or a factor you pass) into
# a whole number that divides both sides, with errors that say the fix. The second is
# `downsize`, the same resize and 8-bit rounding as above, and how many numbers the
# low-resolution frames hold and the bits per pixel they add. (`upsize`, the way back, comes
# after the exercise below.)

# %% cellView="form" jupyter={"source_hidden": true}
#| export residual
"""Residual connections for HNeRV: low-resolution frames (paper 000) and residual blocks (004).

    RC-HNeRV:  frame -> encoder -> embedding -> HNeRV decoder -> tanh -> residual in (-1, 1)
               frame -> bicubic down to (H/s) x (W/s), 8-bit -> bicubic up ------+--> frame
    Res-HNeRV: every decoder block is followed by a skip around two 3x3 convs:
               y = block(x);  out = y + conv3x3(GELU(conv3x3(y)))

The representation of RC-HNeRV is embeddings + decoder + low-resolution frames, and all three
count in its size. Introduced in lesson 06 (notebooks/06_residual.ipynb).
"""

import numbers
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from nerv_lessons.experiments import (
    Experiment,
    Row,
    Setup,
    register,
    register_floor,
    register_model,
)
from nerv_lessons.hnerv import (
    BaselineNeRV,
    BaselineNeRVConfig,
    Decoder,
    Encoder,
    HNeRV,
    HNeRVBlock,
    HNeRVConfig,
    frames_in,
    hnerv_budget,
)
from nerv_lessons.nerv import count_parameters, expect_shape, make_activation

PAPER_LOWRES_FACTOR = 128  # the reference code's size_n: 640x1280 -> 5x10
PAPER_HEIGHT = 640  # the crop that factor was chosen for
LOWRES_BITS = 8  # each low-resolution pixel is stored as an 8-bit number


def lowres_factor(height: int, width: int) -> int:
    """s = 128 * H / 640: the paper's factor scaled with the frame, so the low-resolution
    frame keeps the same fraction of each side (5x10 at 80x160, 320x640 and 640x1280)."""
    factor = PAPER_LOWRES_FACTOR * height / PAPER_HEIGHT
    if factor < 1 or factor != int(factor) or height % factor or width % factor:
        raise ValueError(
            f"a {height}x{width} frame has no whole low-resolution factor 128 * H / 640 "
            f"(got {factor:g}): use a height that is a multiple of 5 whose factor divides "
            "both sides, such as 80x160, 320x640 or 640x1280, or pass factor=... yourself"
        )
    return int(factor)


def check_factor(factor, height: int, width: int) -> int:
    """The low-resolution factor to use: lowres_factor(height, width) if `factor` is None,
    else `factor` itself, which must be a whole number >= 1 dividing both sides."""
    if factor is None:
        return lowres_factor(height, width)
    if isinstance(factor, bool) or not isinstance(factor, numbers.Integral):
        raise TypeError(
            f"factor must be a whole number (int) or None, got {factor!r} "
            f"({type(factor).__name__}): pass e.g. factor=16, or None for 128 * H / 640"
        )
    if factor < 1 or height % factor or width % factor:
        raise ValueError(
            f"factor {factor} must be >= 1 and divide both sides of the {height}x{width} "
            "frame (the low-resolution frame is (H / s) x (W / s)): pick a common divisor "
            "of height and width, or None for 128 * H / 640"
        )
    return int(factor)


# %%
#| export residual
def downsize(frames: torch.Tensor, factor: int) -> torch.Tensor:
    """Bicubic (antialiased) shrink by `factor`, rounded to 8-bit pixels: what gets stored.
    Bicubic can overshoot [0, 1]; 8-bit pixels cannot, so the stored frame is clamped."""
    height, width = frames.shape[-2:]
    factor = check_factor(factor, height, width)
    small = F.interpolate(
        frames, size=(height // factor, width // factor), mode="bicubic", antialias=True
    )
    levels = 2**LOWRES_BITS - 1
    return torch.round(small.clamp(0, 1) * levels) / levels


def lowres_numbers(frames: int, height: int, width: int, factor: int | None = None) -> int:
    """How many numbers the low-resolution frames hold: T * 3 * (H / s) * (W / s)."""
    factor = check_factor(factor, height, width)
    return frames * 3 * (height // factor) * (width // factor)


def lowres_bpp(height: int, width: int, factor: int | None = None) -> float:
    """Bits per pixel the 8-bit low-resolution frames add: 3 * 8 / s^2 (0.00146 at s = 128)."""
    return LOWRES_BITS * lowres_numbers(1, height, width, factor) / (height * width)


# %%
# torch.allclose: torch.testing.assert_close's first call imports seconds of torch.distributed
assert torch.allclose(small, downsize(video, lowres_factor(scale.height, scale.width)), atol=1e-6)
print("by hand == downsize: the same 8-bit low-resolution frames")

# %% [markdown]
# Each low-resolution number costs 8 bits. So the frames add
# `bpp_lowres = 3 * 8 * (H/s) * (W/s) / (H * W) = 24 / s^2` bits per pixel: 0.00146 bpp at
# the paper's s = 128 (this is our reconstruction of the paper's lost Eq. 2). The paper's text
# counts them in the bitrate and so do we; its reference code counts them nowhere in its bpp.
# Lesson 08 writes RC-HNeRV to a real file, low-resolution frames included. In *size* (the
# count the papers use for "1.5M") each low-resolution pixel counts as one number, just like an
# embedding value: `size = T*d*h*w + decoder parameters + T*3*(H/s)*(W/s)`.

# %% [markdown]
# ## Exercise: the bicubic residual
#
# RC-HNeRV's decoder does not draw the frame. It draws what the stored low-resolution frame,
# blown back up, misses: the *residual*. Write `bicubic_residual(frames, lowres)`:
#
# 1. upsample `lowres` (B, 3, h, w) to the frames' size (B, 3, H, W) the way the reference
#    code does, with bicubic interpolation using PIL's kernel, Keys' cubic with a = -0.5
#    (PyTorch's plain bicubic uses -0.75; its antialiased path is PIL's);
# 2. keep that base as an image of 8-bit pixels, as the reference's `resize` of an 8-bit image
#    returns it;
# 3. return the residual: what must be added to the base to give back the frames.
#
# The check compares your residual with one made from the package's `upsize`, on frames it
# makes up with hard edges (where bicubic overshoots).


# %%
def bicubic_residual(frames, lowres):
    """What RC-HNeRV's decoder must learn: the frames minus the 8-bit bicubic base of lowres."""
    ### BEGIN SOLUTION
    base = F.interpolate(lowres, size=frames.shape[-2:], mode="bicubic", antialias=True)
    base = torch.round(base.clamp(0, 1) * 255) / 255
    return frames - base
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("bicubic_residual"):
    from nerv_lessons.residual import upsize

    torch.manual_seed(0)
    frames = torch.rand(2, 3, 40, 80)
    lowres = (torch.rand(2, 3, 5, 10) > 0.5).float()  # hard 0 / 1 pixels: bicubic overshoots
    got = bicubic_residual(frames, lowres)
    want = frames - upsize(lowres, 40, 80)
    if not torch.is_tensor(got) or got.shape != want.shape:
        wrong(
            f"got {getattr(got, 'shape', type(got).__name__)}: the residual is one number per "
            f"pixel of the frames, {tuple(want.shape)}"
        )
    if torch.allclose(got, -want, atol=1e-5):
        wrong(
            "your residual has the wrong sign: the decoder's output is added to the base, "
            "so base + residual must give the frames back"
        )
    if torch.allclose(got, frames - want, atol=1e-5):
        wrong("that is the base itself; return what the decoder must add to it")
    base, reference = frames - got, frames - want  # the base each residual implies
    gap = (base - reference).abs().max().item()
    if gap > 1e-5:
        if base.min() < -1e-5 or base.max() > 1 + 1e-5:
            wrong(
                f"your base runs from {base.min():.3f} to {base.max():.3f}: bicubic overshoots "
                "at sharp edges, and an 8-bit image cannot leave [0, 1]"
            )
        if gap <= 0.5 / 255 + 1e-5:
            wrong(
                f"your base is off by up to {gap:.4f}, under half an 8-bit step: the "
                "reference upsamples an 8-bit image and gets an 8-bit image back"
            )
        wrong(
            f"your base differs from the reference's by up to {gap:.3f}: it is bicubic with "
            "PIL's kernel (a = -0.5), softer than PyTorch's default bicubic (a = -0.75) and "
            "sharper than bilinear; step 1 above says which path of interpolate is PIL's"
        )
    right(
        "base + residual gives the frames back: the decoder learns only what 5x10 pixels "
        "cannot hold, and a residual can be negative, so it ends in tanh, in (-1, 1)"
    )

# %% [markdown]
# The package's `upsize` (do the exercise first), the base the decoder corrects:


# %%
#| export residual
def upsize(lowres: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bicubic interpolation back to height x width, the base the decoder corrects: as the
    reference's resize(..., BICUBIC, antialias=True) on 8-bit frames, a = -0.5 and the result
    rounded (and so clamped) to 8-bit pixels."""
    big = F.interpolate(lowres, size=(height, width), mode="bicubic", antialias=True)
    levels = 2**LOWRES_BITS - 1
    return torch.round(big.clamp(0, 1) * levels) / levels


# %% [markdown]
# The low-resolution frames of this clip, what they cost, how good their bicubic base is, and
# the residual left to learn:

# %%
from nerv_lessons.metrics import psnr

factor = lowres_factor(scale.height, scale.width)
lowres = downsize(video, factor)
base = upsize(lowres, scale.height, scale.width)
print(f"factor s = {factor}: {scale.height}x{scale.width} -> {tuple(lowres.shape[-2:])}")
count = lowres_numbers(scale.frames, scale.height, scale.width)
print(f"low-res numbers for {scale.frames} frames: {count}")
share, paper_share = count / (scale.model_params * 1e6), lowres_numbers(132, 640, 1280) / 1.5e6
print(
    f"their share of the {scale.model_params}M budget: {share:.1%} (paper, 1.5M: {paper_share:.1%})"
)
added, paper_added = lowres_bpp(scale.height, scale.width), lowres_bpp(640, 1280)
print(f"bits per pixel they add: {added:.5f} (at 640x1280: {paper_added:.5f})")
baseline_psnr = psnr(base.clamp(0, 1), video).mean().item()
print(f"PSNR of the bicubic upsampling alone: {baseline_psnr:.2f} dB")
to_learn = video - base  # what RC-HNeRV's decoder must add
print(
    f"residual to learn: mean |r| {to_learn.abs().mean():.4f}, max |r| {to_learn.abs().max():.3f}"
)

# %% [markdown]
# ## Predict: a finer low-resolution frame
#
# Halve the factor: s / 2 gives a 10x20 low-resolution frame, four times the numbers. How many
# dB does the bicubic base alone gain over the 5x10 base's PSNR printed above? The next cell
# measures it without printing it; write your prediction in the cell after (a number of dB),
# then run the check, which prints the measurement (right within 1 dB).

# %%
# Measured now, printed only by the check below: the base from a 10x20 low-res frame.
finer = lowres_factor(scale.height, scale.width) // 2
finer_base = upsize(downsize(video, finer), scale.height, scale.width)
finer_gain = psnr(finer_base, video).mean().item() - baseline_psnr
finer_share = lowres_numbers(scale.frames, scale.height, scale.width, finer) / (
    scale.model_params * 1e6
)

# %%
# Your prediction: the dB the bicubic base gains when s is halved (a number).
### BEGIN SOLUTION
predicted_gain = 2.5
### END SOLUTION

# %%
# Check: says right or wrong, and why.
with exercise("predicted_gain"):
    if isinstance(predicted_gain, bool) or not isinstance(predicted_gain, (int, float)):
        wrong(f"write the prediction as a number of dB, such as 1.5; got {predicted_gain!r}")
    if predicted_gain > finer_gain + 1:
        wrong(
            f"you predicted {predicted_gain:+g} dB, the base gained {finer_gain:+.2f} dB: four "
            "times the samples is far from four times less error. A 5x10 base misses edges "
            "and texture, and a 10x20 one still misses most of them"
        )
    if predicted_gain < finer_gain - 1:
        wrong(
            f"you predicted {predicted_gain:+g} dB, the base gained {finer_gain:+.2f} dB: "
            "more than that. The extra samples put the large shapes (the bunny, the grass, "
            "the sky) where a 5x10 grid smears them, and those carry much of the error"
        )
    right(
        f"the base gains {finer_gain:+.2f} dB, but 10x20 frames would take {finer_share:.1%} "
        f"of this scale's budget instead of {share:.1%}: numbers the decoder no longer gets"
    )

# %% [markdown]
# ## RC-HNeRV: HNeRV that learns the residual
#
# The decoder is lesson 04's, untouched; its `raw` method runs the stem, blocks and head but
# not the last squash, so we can choose the output's range. The residual is `tanh(raw)` in
# (-1, 1), as in the reference code, and the frame is `upsampled + residual`. That sum can
# leave [0, 1] (say 0.9 + 0.3): we do **not** clip it in training (a clip would stop the
# gradient of every pixel past the edge); the loss sees the raw sum, and only `reconstruct` /
# `evaluate` clamp to [0, 1] for display and metrics, as for every model in the course. The
# reference code scores the unclamped sum; since every true pixel is in [0, 1], clamping can
# only bring a pixel closer, so our PSNR is never below what the reference would print.
#
# First by hand, from lesson 04's encoder and decoder and the two functions above:


# %%
def rc_hnerv_by_hand(encoder, decoder, frames, factor):
    """RC-HNeRV's forward pass: the bicubic base of the stored frame + a learned residual."""
    lowres = downsize(frames, factor)  # stored: (B, 3, H / s, W / s), 8-bit
    base = upsize(lowres, *frames.shape[-2:])  # (B, 3, H, W), nothing learned
    residual = torch.tanh(decoder.raw(encoder(frames)))  # lesson 04's HNeRV, in (-1, 1)
    return base + residual  # not clamped in training


# %% [markdown]
# The package's class does the same, split in two halves like lesson 04's HNeRV: `encode`
# gives what is stored for a frame (embedding, 8-bit low-resolution frame), `decode` turns it
# back into the frame, and `parts` returns the base and the residual separately for plots.


# %%
#| export residual
class RCHNeRV(nn.Module):
    """HNeRV + low-resolution residual connection: frame = bicubic_up(lowres) + tanh(decoder).

    `encode` gives the two stored parts of a frame (embedding, 8-bit low-resolution frame),
    `decode` turns them back into the frame; forward(frames) does both (input: `frames_in`)."""

    def __init__(self, config: HNeRVConfig, factor: int | None = None):
        super().__init__()
        self.config = config
        self.factor = check_factor(factor, config.height, config.width)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        config = self.config
        expect_shape(frames, (frames.shape[0], 3, config.height, config.width), "RCHNeRV input")
        return self.encoder(frames), downsize(frames, self.factor)

    def parts(self, embedding: torch.Tensor, lowres: torch.Tensor) -> dict[str, torch.Tensor]:
        """The pieces of a reconstruction: upsampled low-res, learned residual, their sum."""
        upsampled = upsize(lowres, self.config.height, self.config.width)
        residual = torch.tanh(self.decoder.raw(embedding))  # in (-1, 1)
        return {"upsampled": upsampled, "residual": residual, "frame": upsampled + residual}

    def decode(self, embedding: torch.Tensor, lowres: torch.Tensor) -> torch.Tensor:
        # Not clamped: the loss must see (and push back) pixels that leave [0, 1].
        return self.parts(embedding, lowres)["frame"]

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.decode(*self.encode(frames))


# %%
# NBVAL_CHECK_OUTPUT
from nerv_lessons.hnerv import HNeRVConfig

torch.manual_seed(0)
tiny = HNeRVConfig(height=40, width=80, strides=(5, 2, 2), encoder_width=8, embed_dim=4, fc_dim=16)
rc_tiny, frames = RCHNeRV(tiny, factor=8), torch.rand(2, 3, 40, 80)
with torch.no_grad():
    by_hand = rc_hnerv_by_hand(rc_tiny.encoder, rc_tiny.decoder, frames, factor=8)
    assert torch.allclose(by_hand, rc_tiny(frames), atol=1e-6)
print(f"by hand == RCHNeRV on {tuple(frames.shape)} random frames (s = 8)")

# %% [markdown]
# ## Res-NeRV's residual blocks
#
# Paper 004 puts skip connections "inside the decoder blocks" but never says what the block
# holds. Our choice: keep the HNeRV block (conv, PixelShuffle, GELU) that upscales, then add a
# residual unit at the new size, `y + conv3x3(GELU(conv3x3(y)))`, the basic block of ResNet.
# Why this one: an upscaling block cannot have an identity skip across it (its input is
# smaller and wider), so the skip goes around the part that keeps the shape. Its cost, as
# the paper's complexity table counts it: a block's upscaling conv costs `k^2 C_in C_out` MACs
# per output pixel, the two 3x3 convs `2 * 9 * C_out^2`. For NeRV's 3x3 blocks with
# `C_out` near `C_in` that is twice as much again, about 3x in all (Res-NeRV reports 3.01x
# GMACs over NeRV); HNeRV's later blocks use 5x5 kernels, so the unit adds a smaller share
# (printed below at both sizes). The last conv starts at zero, so a fresh residual block is
# exactly the plain block: training starts from HNeRV.


# %%
#| export residual
class ResidualBlock(nn.Module):
    """An HNeRV block, then a residual unit at its output size: y + conv(act(conv(y)))."""

    def __init__(self, in_channels, out_channels, stride, kernel_size, activation="gelu"):
        super().__init__()
        self.upscale = HNeRVBlock(in_channels, out_channels, stride, kernel_size, activation)
        self.refine = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
            make_activation(activation),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
        )
        # Zero last conv: the block starts as the plain HNeRV block (the skip carries all).
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.upscale(x)
        return y + self.refine(y)


def residual_blocks(config: HNeRVConfig) -> nn.ModuleList:
    """A decoder's blocks for `config`, each a ResidualBlock (same shapes as the plain ones)."""
    channels = [config.fc_dim, *config.widths()]
    return nn.ModuleList(
        ResidualBlock(channels[i], channels[i + 1], stride, kernel, config.activation)
        for i, (stride, kernel) in enumerate(zip(config.strides, config.kernels()))
    )


def res_hnerv(config: HNeRVConfig) -> HNeRV:
    """Lesson 04's HNeRV with every decoder block swapped for a ResidualBlock (same shapes)."""
    model = HNeRV(config)
    model.decoder.blocks = residual_blocks(config)
    return model


def res_nerv(config: BaselineNeRVConfig) -> BaselineNeRV:
    """HNeRV's NeRV baseline (lesson 04) with every block a ResidualBlock: Res-NeRV's place
    for them (paper 004 builds on NeRV), with the same 3x3 blocks as NeRV."""
    if not isinstance(config, BaselineNeRVConfig):
        raise TypeError(
            f"res_nerv takes a BaselineNeRVConfig (lesson 04's NeRV), got "
            f"{type(config).__name__}: for HNeRV use res_hnerv"
        )
    model = BaselineNeRV(config)
    model.blocks = residual_blocks(config)
    return model


# %%
# NBVAL_CHECK_OUTPUT
from nerv_lessons.nerv import count_parameters

torch.manual_seed(0)
block, x = ResidualBlock(16, 8, 2, 3), torch.rand(1, 16, 5, 10)
with torch.no_grad():
    assert torch.allclose(block(x), block.upscale(x), atol=1e-6)  # zero conv: the skip carries all
print(
    f"a fresh residual block == its HNeRV block, {tuple(x.shape[1:])} -> "
    f"{tuple(block(x).shape[1:])}; its residual unit adds {count_parameters(block.refine)} "
    f"parameters to the block's {count_parameters(block.upscale)}"
)

# %% [markdown]
# ## Size and cost, counted the same way for all three
#
# `representation_size` counts what is kept: embeddings, decoder parameters and, for RC-HNeRV,
# the low-resolution frames (never the encoder). `residual_budget` sizes plain HNeRV as every
# lesson does, with lesson 04's `hnerv_budget` (the paper's c2). The two variants hold more per
# c2, so each gets the widest first width c2 whose total stays within the budget, searching up
# and down from `hnerv_budget`'s; when no c2 fits above the width floor (`min_width`, 12) it
# tries lower floors, which only happens for the residual blocks at the quick scale's budget.
# `count_macs` adds up the multiply-accumulates of every convolution and linear layer for one
# input; `decode_seconds` times one decoding call (for RC-HNeRV: decoder, bicubic upsampling
# and the addition). The second cell (folded: click to show) holds those three: a search,
# a hook that counts, and a timer that takes the fastest of several runs on one thread.

# %%
#| export residual
KINDS = ("hnerv", "lowres", "resblocks")  # plain HNeRV, RC-HNeRV, HNeRV with residual blocks


def build(kind: str, config: HNeRVConfig) -> nn.Module:
    """The model of one kind: "hnerv", "lowres" (RC-HNeRV) or "resblocks" (Res-NeRV blocks)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    return {"hnerv": HNeRV, "lowres": RCHNeRV, "resblocks": res_hnerv}[kind](config)


def representation_size(model: nn.Module, frames: int) -> int:
    """Numbers kept for `frames` frames: embeddings + decoder (+ low-resolution frames)."""
    config = model.config
    size = config.embedding_numbers(frames) + count_parameters(model.decoder)
    if isinstance(model, RCHNeRV):
        size += lowres_numbers(frames, config.height, config.width, model.factor)
    return size


# %% cellView="form" jupyter={"source_hidden": true}
#| export residual
def residual_budget(
    kind: str, size: float, frames: int, height: int, width: int, **changes
) -> HNeRVConfig:
    """The config of `kind` for about `size` million numbers. Plain HNeRV ("hnerv") is sized
    as everywhere in the course, by `hnerv_budget` (the paper's c2: 68 at 1.5M). The other
    kinds hold more per c2 (low-resolution frames, refining convs), so for them: the largest
    representation_size <= size million, the widest c2 at the width floor min_width or, if
    none fits, the largest over lower floors, searched both ways from hnerv_budget's c2."""
    start = hnerv_budget(size, frames, height, width, **changes)
    if kind == "hnerv":
        return start

    def total(config: HNeRVConfig) -> int:
        with torch.device("meta"):  # counts without allocating weights
            return representation_size(build(kind, config), frames)

    def widest(floor: int) -> HNeRVConfig | None:
        """The widest c2 >= floor that fits at this floor (None if even c2 = floor does not)."""
        config = replace(start, fc_dim=max(start.fc_dim, floor), min_width=floor)
        if total(config) <= size * 1e6:  # fits: widen while the next c2 still fits
            while total(wider := replace(config, fc_dim=config.fc_dim + 1)) <= size * 1e6:
                config = wider
            return config
        while config.fc_dim > floor:  # too big: narrow until it fits
            config = replace(config, fc_dim=config.fc_dim - 1)
            if total(config) <= size * 1e6:
                return config
        return None

    best = widest(start.min_width)
    if best is not None:
        return best  # fits at the usual floor: keep it
    for floor in range(start.min_width - 1, 0, -1):
        config = widest(floor)
        if config is not None and (best is None or total(config) > total(best)):
            best = config
    if best is None:
        raise ValueError(
            f"a {size}M budget is too small for {kind} on {frames} frames of {height}x{width}, "
            "even with a 1-channel width floor: raise the budget or lower embed_dim"
        )
    return best


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of every Conv2d and Linear in one forward pass on `inputs`."""
    total = 0

    def add(layer, _inputs, output):
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            per_output = (
                layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
            )
        else:
            per_output = layer.in_features
        total += output.numel() * per_output

    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    hooks = [layer.register_forward_hook(add) for layer in layers]
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return total


def decode_seconds(decode, *inputs: torch.Tensor, repeats: int = 10) -> float:
    """Fastest wall time of `repeats` calls decode(*inputs), after one warm-up call: the run
    least disturbed by other work. Pass the whole decoding step (for RC-HNeRV that is
    model.decode(embedding, lowres), upsampling included). On CUDA it synchronizes; on CPU
    it times one thread (restored after), as threads that wait for each other on a busy
    shared machine can stall for far longer than the work takes."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    cuda = any(x.is_cuda for x in inputs)
    threads = torch.get_num_threads()
    times = []
    try:
        if not cuda:
            torch.set_num_threads(1)
        with torch.no_grad():
            for _ in range(repeats + 1):  # the first pass warms up and is dropped
                if cuda:
                    torch.cuda.synchronize()
                start = time.perf_counter()
                decode(*inputs)
                if cuda:
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return min(times[1:])


# %% [markdown]
# The three models at the scale's budget, with lesson 03's NeRV at the same budget for
# reference (Res-NeRV's complexity table compares against NeRV), and what one frame costs to
# decode. A decoding time is the fastest of 10 runs on this machine (on one thread on a CPU);
# to show how much such timings wobble, HNeRV is timed a second time at the end.
# (Folded: click to show the code that builds the table.)

# %% cellView="form" jupyter={"source_hidden": true}
from nerv_lessons.nerv import NeRV, nerv_for_scale, parameters_of
from nerv_lessons.scales import SCALES

configs = {
    kind: residual_budget(kind, scale.model_params, scale.frames, scale.height, scale.width)
    for kind in KINDS
}
names = {"hnerv": "HNeRV", "lowres": "HNeRV + low-res", "resblocks": "HNeRV + res. blocks"}
probe = video[:1]
print(
    f"budget {scale.model_params}M at {scale.height}x{scale.width}, {scale.frames} frames, {device}"
)
print(
    f"{'model':<20} {'c2':>3} {'size (M)':>9} {'decoder':>8} {'MMACs/frame':>12} {'decode ms':>10}"
)
torch.manual_seed(0)
nerv_config = nerv_for_scale(scale)
nerv = NeRV(nerv_config).to(device).eval()
t_probe = torch.zeros(1, device=device)
macs, seconds, built = {}, {}, {}
macs["nerv"], seconds["nerv"] = count_macs(nerv, t_probe), decode_seconds(nerv, t_probe)
nerv_size = parameters_of(nerv_config)
print(
    f"{'NeRV':<20} {'-':>3} {nerv_size / 1e6:>9.4f} {nerv_size:>8} "
    f"{macs['nerv'] / 1e6:>12.2f} {seconds['nerv'] * 1e3:>10.2f}"
)
for kind, config in configs.items():
    torch.manual_seed(0)
    model = build(kind, config).to(device).eval()
    with torch.no_grad():
        stored = model.encode(probe)  # HNeRV: the embedding; RC-HNeRV: (embedding, low-res)
    stored = stored if isinstance(stored, tuple) else (stored,)
    macs[kind] = count_macs(model.decoder, stored[0])  # convolutions and linear layers
    seconds[kind] = decode_seconds(model.decode, *stored)  # all of decoding
    built[kind] = model, stored
    size, decoder = representation_size(model, scale.frames), count_parameters(model.decoder)
    print(
        f"{names[kind]:<20} {config.fc_dim:>3} {size / 1e6:>9.4f} {decoder:>8}"
        f" {macs[kind] / 1e6:>12.2f} {seconds[kind] * 1e3:>10.2f}"
    )
hnerv_model, hnerv_stored = built["hnerv"]
again = decode_seconds(hnerv_model.decode, *hnerv_stored)
print(f"HNeRV timed again: {again * 1e3:.2f} ms (vs {seconds['hnerv'] * 1e3:.2f} ms above)")
bicubic = 3 * scale.height * scale.width * 8  # separable bicubic: 4 taps across, 4 down
print(f"not in the MACs column: bicubic upsampling, about {bicubic / 1e6:.2f} MMACs per frame")
macs_ratio = macs["resblocks"] / macs["hnerv"]
time_ratio = seconds["resblocks"] / seconds["hnerv"]
print(f"res. blocks / HNeRV here: {macs_ratio:.2f}x MACs, {time_ratio:.2f}x decoding time")
lowres_ratio = seconds["lowres"] / seconds["hnerv"]
print(f"HNeRV + low-res / HNeRV here: {lowres_ratio:.2f}x decoding time")

# The same at the paper's 1.5M, 640x1280 (counted on the meta device: nothing is allocated).
paper_scale = SCALES["paper"]
with torch.device("meta"):
    big = {"nerv": count_macs(NeRV(nerv_for_scale(paper_scale)), torch.zeros(1))}
    for kind in ("hnerv", "resblocks"):
        config = residual_budget(kind, 1.5, 132, 640, 1280)
        model = build(kind, config)
        big[kind] = count_macs(model.decoder, torch.empty(1, config.embed_dim, *config.grid))
        print(
            f"at 1.5M, 640x1280: {names[kind]} has c2 = {config.fc_dim}, "
            f"{representation_size(model, 132) / 1e6:.4f}M, {big[kind] / 1e9:.1f} GMACs/frame"
        )
print(
    f"at 1.5M, 640x1280: res. blocks / HNeRV = {big['resblocks'] / big['hnerv']:.2f}x MACs "
    f"per frame; HNeRV / NeRV = {big['hnerv'] / big['nerv']:.2f}x, "
    f"res. blocks / NeRV = {big['resblocks'] / big['nerv']:.2f}x"
)
print("paper 004 (ReadySetGo, RTX 3090): Res-NeRV / NeRV = 3.01x GMACs, 1.26x decoding time")

# %% [markdown]
# RC-HNeRV at this scale's budget, drawn from one forward pass of one frame: the encoder's
# stages, the decoder's stem, blocks and head (the residual, before its tanh). The bicubic base
# is no module, so it has no box: it is added after the head.

# %%
from nerv_lessons._diagram import architecture

rc_model = built["lowres"][0]
architecture(
    rc_model,
    probe,
    expand=("encoder", "decoder"),
    title=f"RC-HNeRV at {scale.model_params}M, {scale.height}x{scale.width}: the head gives "
    "the residual (before tanh), which is added to the bicubic base",
)
plt.show()

# %% [markdown]
# Paper 004 puts its residual blocks on NeRV, whose blocks are all 3x3, not on HNeRV. So we
# measure them there too: lesson 04's NeRV baseline (3x3 blocks) at this scale's budget and
# at the paper's 1.5M, with and without residual blocks (`res_nerv`; same widths, so the
# residual units add parameters on top, as a block added to a given network does). The cost
# of one training step is the fastest of 5 forward + backward + Adam steps on a batch of 2
# frames (one thread on a CPU), after one warm-up step. (Folded: click to show.)


# %% cellView="form" jupyter={"source_hidden": true}
from nerv_lessons.hnerv import BaselineNeRV, baseline_nerv_budget
from nerv_lessons.residual import res_nerv


def step_seconds(model, inputs, target, repeats=5) -> float:
    """Fastest wall time of one training step (forward, L2 loss, backward, Adam)."""
    optimizer, times, threads = torch.optim.Adam(model.parameters()), [], torch.get_num_threads()
    if not inputs.is_cuda:
        torch.set_num_threads(1)  # as decode_seconds: one thread on a shared CPU
    try:
        for _ in range(repeats + 1):
            if inputs.is_cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            loss = F.mse_loss(model(inputs), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if inputs.is_cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return min(times[1:])


baseline = baseline_nerv_budget(scale.model_params, scale.height, scale.width)
times_in = torch.tensor([0.0, 0.5], device=device)
print(f"NeRV (lesson 04's baseline) at {scale.model_params}M, {scale.height}x{scale.width}:")
print(f"{'model':<22} {'params':>8} {'MMACs/frame':>12} {'decode ms':>10} {'step ms':>8}")
nerv_cost = {}
for name, make in (("NeRV", BaselineNeRV), ("NeRV + res. blocks", res_nerv)):
    torch.manual_seed(0)
    model = make(baseline).to(device)
    nerv_cost[name] = (
        count_parameters(model),
        count_macs(model, times_in[:1]),
        decode_seconds(model, times_in[:1]),
        step_seconds(model, times_in, video[:2]),
    )
    params, mac, decode, step = nerv_cost[name]
    print(f"{name:<22} {params:8,} {mac / 1e6:12.2f} {decode * 1e3:10.2f} {step * 1e3:8.2f}")
(p0, m0, d0, s0), (p1, m1, d1, s1) = nerv_cost.values()
print(
    f"res. blocks / NeRV here: {p1 / p0:.2f}x params, {m1 / m0:.2f}x MACs, "
    f"{d1 / d0:.2f}x decoding time, {s1 / s0:.2f}x training step"
)
with torch.device("meta"):
    paper_nerv = baseline_nerv_budget(1.5, 640, 1280)
    big_nerv = [count_macs(make(paper_nerv), torch.zeros(1)) for make in (BaselineNeRV, res_nerv)]
print(
    f"at 1.5M, 640x1280: res. blocks / NeRV = {big_nerv[1] / big_nerv[0]:.2f}x MACs "
    "(paper 004: 3.01x GMACs, 1.26x decoding time)"
)

# %% [markdown]
# Res-NeRV's 3x is residual units on NeRV's 3x3 blocks: the NeRV measurement above puts our
# residual unit where the paper puts it, and its MACs ratio is the one to set beside 3.01x.
# On HNeRV's blocks, whose 5x5 kernels already dominate the cost, and at equal size (their
# parameters come out of the width: a lower c2, or a lower width floor at the quick scale),
# the MACs rise by the smaller printed ratios.
# Decoding times are wall times on whatever machine ran this: compare the two HNeRV timings
# to see the noise before reading anything into a small difference. Time need not follow
# MACs: at small widths a convolution's time goes largely into moving feature maps, and each
# residual unit adds two passes over full-size maps. The low-resolution
# connection costs one bicubic upsampling and an addition per frame (included in its time)
# and its low-res frames' share of the budget.
#
# Steps of c2 are coarse (at 1.5M one step moves HNeRV by several percent). Plain HNeRV keeps
# the paper's c2 (68 at 1.5M), which the reference's quadratic lands a little over the budget
# (1.5052M); the variants take the widest c2 that fits, so they land a little under (their
# sizes are printed).
#
# ## Training at equal size: the experiment
#
# The comparison is a registered experiment, so `nerv-lessons run rc-hnerv-vs-hnerv` prints
# the same table. Its RC-HNeRV family ("rc_hnerv") builds `RCHNeRV` sized by
# `residual_budget` and reports as its size what the paper counts: embeddings, decoder and
# the low-resolution frames. The HNeRV row is lesson 04's family with lesson 04's budget and
# recipe, so the training cache shares it with lesson 04's tables. The recipe is HNeRV's
# (`TrainConfig.hnerv`: Adam (0.9, 0.999), L2, warm-up 0.1, batch 2, lr 1e-3, which the quick
# scale multiplies by 5); the reference code of paper 000 trains both of its models with
# HNeRV's recipe too (lr 0.00099). Besides the mean frame, the table's floor is the bicubic
# upsampling of the stored low-resolution frames alone: RC-HNeRV's base, no decoder at all.
# The residual blocks' table is registered too (`nerv-lessons run res-hnerv-vs-hnerv`, no
# paper column: paper 004 gives only BD-rates); the lesson does not train it, to keep within
# its time budget, and measures their cost instead (above). The next cell (folded: click to
# show) registers the two families, the floor and the two tables with paper 000's numbers.


# %% cellView="form" jupyter={"source_hidden": true}
#| export residual
def build_rc_hnerv(video: torch.Tensor, budget: float, **changes) -> Setup:
    """RC-HNeRV within `budget` million numbers for this clip (residual_budget); its size
    counts embeddings, decoder and low-resolution frames; its input is the frames."""
    frames, _, height, width = video.shape
    model = RCHNeRV(residual_budget("lowres", budget, frames, height, width, **changes))
    return Setup(model, frames_in, representation_size(model, frames))


def build_res_hnerv(video: torch.Tensor, budget: float, **changes) -> Setup:
    """HNeRV with Res-NeRV's residual blocks within `budget` million numbers (embeddings +
    decoder), by residual_budget; its input is the frames."""
    frames, _, height, width = video.shape
    model = res_hnerv(residual_budget("resblocks", budget, frames, height, width, **changes))
    return Setup(model, frames_in, representation_size(model, frames))


def bicubic_lowres(video: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """A floor that learns nothing: each frame's 8-bit low-resolution copy (paper 000's
    factor), upsampled bicubically, i.e. RC-HNeRV's base without its decoder."""
    height, width = video.shape[-2:]
    return upsize(downsize(video, lowres_factor(height, width)), height, width)


register_model("rc_hnerv", build_rc_hnerv)
register_model("res_hnerv", build_res_hnerv)
register_floor("bicubic low-res", bicubic_lowres)

# Paper 000's DAVIS averages (49 videos, 640x1280 crop, 300 epochs in its reference code).
RC_HNERV_VS_HNERV = register(
    Experiment(
        "rc-hnerv-vs-hnerv",
        "RC-HNeRV (Hayami & Watanabe 2024)",
        "DAVIS average, HNeRV vs RC-HNeRV at equal size",
        "hnerv",
        rows=(
            Row("HNeRV", "hnerv", paper_psnr=31.28, paper_ms_ssim=0.9236),
            Row("RC-HNeRV", "rc_hnerv", paper_psnr=31.68, paper_ms_ssim=0.9280),
        ),
        claims=(("RC-HNeRV", "HNeRV"),),
        floors=("mean frame", "bicubic low-res"),
    )
)
# Paper 004 reports BD-rates against NeRV only, so this table has no paper column or claim.
RES_HNERV_VS_HNERV = register(
    Experiment(
        "res-hnerv-vs-hnerv",
        "Res-NeRV (ICIP 2024)",
        "residual blocks on HNeRV at equal size (paper: BD-rate vs NeRV only)",
        "hnerv",
        rows=(Row("HNeRV", "hnerv"), Row("HNeRV + res. blocks", "res_hnerv")),
    )
)

# %%
from nerv_lessons.experiments import fit, results_folder, run

start = time.perf_counter()
rc_results = run(RC_HNERV_VS_HNERV, scale, seeds=3, device=device)
rc_results.show()
rc_results.save(results_folder(scale))
print(f"table: {time.perf_counter() - start:.0f} s (trainings in the cache are not rerun)")
rc, plain = rc_results["RC-HNeRV"], rc_results["HNeRV"]
print(
    f"low-res gain: paper +0.40 dB (DAVIS); ours {rc['psnr_mean'] - plain['psnr_mean']:+.2f} dB "
    f"(Bunny, {rc['epochs']} epochs, 3 seeds)"
)
floor = rc_results["floor: bicubic low-res"]["psnr_mean"]
print(
    f"over the bicubic floor: HNeRV {plain['psnr_mean'] - floor:+.2f} dB, RC-HNeRV "
    f"{rc['psnr_mean'] - floor:+.2f} dB"
)
for kind in ("hnerv", "resblocks"):
    config = configs[kind]
    print(f"{names[kind]:<20} block widths {config.widths()} (c2 {config.fc_dim})")

# %% [markdown]
# The seeds one by one: PSNR, the final training loss and the loss after a quarter of the
# epochs, and how large the learned residual is on average (`mean |r|`, RC-HNeRV only). A
# seed far from the others is what makes a wide standard deviation.

# %%
trained_models, per_frame = {}, {}
print(f"{'row':<9} {'seed':>4} {'PSNR':>6} {'loss':>8} {'loss 1/4':>9} {'mean |r|':>9}")
for label, kind in (("HNeRV", "hnerv"), ("RC-HNeRV", "lowres")):
    for seed in range(3):
        setup, record = fit(RC_HNERV_VS_HNERV, label, scale, seed=seed, device=device)
        loss = record["history"]["loss"]
        residual = "-"
        if kind == "lowres":
            with torch.no_grad():
                pieces = setup.model.eval().parts(*setup.model.encode(video))
            residual = f"{pieces['residual'].abs().mean():.4f}"
        print(
            f"{label:<9} {seed:>4} {record['psnr'].mean():6.2f} {loss[-1]:8.5f} "
            f"{loss[len(loss) // 4]:9.5f} {residual:>9}"
        )
        if seed == 0:  # the seed-0 models are the ones drawn below
            trained_models[kind], per_frame[kind] = setup.model, record["psnr"]

# %% [markdown]
# Paper 000 reports DAVIS averages (many fast, varied videos) after full training. Ours is
# Bunny at the printed scale after short training, so only directions can be compared. Read
# the verdict with the per-seed table. In the committed run (quick scale, CPU) two RC-HNeRV
# seeds end above every HNeRV seed and one far below, with a final training loss about three
# times the others' and a smaller learned residual (`mean |r|`), after being level at a
# quarter of the epochs (`loss 1/4`): it stalled later. Such a seed alone makes the standard
# deviation (which seed stalls can change with the CPU's thread count), so the
# paper's +0.40 dB is "within noise" here: three seeds cannot settle it. Both trained rows
# beat both floors; the bicubic floor is below the mean frame at this size because 5x10
# pixels hold little of an 80x160 frame. At the quick scale the low-res frames also take a
# larger share of the budget than at the paper's (printed near the top).
#
# ## Frame by frame

# %%
fig, ax = plt.subplots(figsize=(8, 3))
for kind in per_frame:
    ax.plot(per_frame[kind], marker=".", label=names[kind])
ax.plot(psnr(base.clamp(0, 1), video).cpu(), "k--", label="bicubic low-res only")
ax.set(xlabel="frame", ylabel="PSNR (dB)", title=f"per-frame PSNR, {scale.name} scale")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## What each part draws
#
# The low-resolution frame (shown blown up with nearest pixels), its bicubic upsampling, the
# learned residual (grey = 0, shown as `0.5 + residual`) and their sum, for one frame.

# %%
from nerv_lessons.viz import to_image

index = scale.frames // 2
with torch.no_grad():
    rc = trained_models["lowres"].eval()
    embedding, small = rc.encode(video[index : index + 1])
    pieces = rc.parts(embedding, small)
nearest = torch.nn.functional.interpolate(small, size=video.shape[-2:], mode="nearest")
panels = {
    f"low-res {tuple(small.shape[-2:])}": nearest,
    "bicubic upsampling": pieces["upsampled"].clamp(0, 1),
    "learned residual (0.5 + r)": (0.5 + pieces["residual"]).clamp(0, 1),
    "sum (clamped for display)": pieces["frame"].clamp(0, 1),
    "original": video[index : index + 1],
}
fig, axes = plt.subplots(1, len(panels), figsize=(15, 2.2))
for ax, (title, image) in zip(axes, panels.items()):
    ax.imshow(to_image(image[0]))
    ax.set_title(title, fontsize=8)
    ax.axis("off")
plt.show()
outside = ((pieces["frame"] < 0) | (pieces["frame"] > 1)).float().mean().item()
print(f"pixels of the raw sum outside [0, 1]: {100 * outside:.2f} %")

# %% [markdown]
# ## Summary
#
# - RC-HNeRV stores a 5x10 8-bit copy of each frame (24 / s^2 bpp) and its decoder learns
#   only the residual over the bicubic upsampling; the sum is clamped only for evaluation.
#   A finer copy buys base PSNR with budget the decoder no longer gets.
# - Res-NeRV's residual blocks (our design: a skip around two 3x3 convs after each upscaling
#   block) add MACs and time by the printed ratios: on NeRV's 3x3 blocks, where paper 004
#   puts them, and on HNeRV's 5x5 blocks, where they add a smaller share and, at equal size,
#   take their parameters from the width.
# - Compare at equal total size, low-res frames included; the table shows what each buys here.

# %%
print(f"lesson time: {time.perf_counter() - notebook_start:.0f} s on {device} ({scale.name} scale)")
