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
# # Lesson 02: upsampling
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/02_upsampling.ipynb)
#
# NeRV's decoder starts from a feature map a few pixels across and must end at the full
# frame: each block multiplies height and width by a stride `s` (5, 2, 2, 2, 2 in the paper).
# There are three common ways to do that, and NeRV's ablation (Table 7 of the lecture notes)
# finds that the choice matters by several dB. This lesson builds all three as one block,
# `nerv_lessons.upsample.Upsample`, counts what each costs, and reruns the ablation on the
# real clip.

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
# %config InlineBackend.figure_formats = ["jpeg"]

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from nerv_lessons.data import load_clip
from nerv_lessons.scales import start_lesson
from nerv_lessons.viz import frame_grid

scale, device = start_lesson()

# %% [markdown]
# ## Three ways to double a feature map
#
# The job: a `C_in x H x W` feature map in, a `C_out x sH x sW` map out.
#
# - **PixelShuffle** (sub-pixel convolution, Shi et al. 2016), NeRV's choice: a convolution
#   at the *low* resolution makes `C_out * s^2` channels, then a fixed rearrangement moves
#   each group of `s^2` channels into an `s x s` patch of pixels. All learned work happens
#   before the map gets big.
# - **Bilinear, then convolve**: enlarge each channel by bilinear interpolation (no
#   parameters), then a convolution at the *high* resolution mixes channels. NeRV's code
#   makes that convolution `2s + 1` wide (5x5 for `s = 2`, 11x11 for `s = 5`) and
#   interpolates with `align_corners=True`; we build it the same way.
# - **Transposed convolution** ("deconv"): each input pixel paints a learned `s x s` patch per
#   output channel. We use kernel size = stride = `s`, as the NeRV code's `deconv` option
#   does: the patches tile the output without overlapping, so there is no checkerboard from
#   uneven overlaps, and it is exactly a 1x1 convolution followed by PixelShuffle.
#
# First, PixelShuffle on a tiny tensor whose values are their own channel-major positions:
# 4 channels of 2x2 become 1 channel of 4x4.

# %%
# NBVAL_CHECK_OUTPUT
tiny = torch.arange(16.0).reshape(1, 4, 2, 2)  # (batch, channels = 1 * 2^2, height, width)
print("input, channel by channel:")
for channel in range(4):
    print(f"  channel {channel}:", tiny[0, channel].int().tolist())
print("nn.PixelShuffle(2) output (1 channel, 4x4):")
print(nn.PixelShuffle(2)(tiny)[0, 0].int())

# %% [markdown]
# Read the output's top-left 2x2 patch: 0, 4, 8, 12, one value from each channel at input
# pixel (0, 0). Output pixel `(s h + i, s w + j)` of channel `c` is input channel
# `c s^2 + i s + j` at pixel `(h, w)`: the channels are the sub-pixel positions. Bilinear
# enlargement of the same first channel, by contrast, only blends neighbours and invents no
# detail:

# %%
# NBVAL_CHECK_OUTPUT
print(F.interpolate(tiny[:, :1], scale_factor=2, mode="bilinear", align_corners=True)[0, 0])

# %% [markdown]
# ## The block
#
# One module holds all three, so a decoder can switch kind with one argument. The first
# cell is the module's docstring and imports.


# %%
#| export upsample
"""Upsampling blocks: PixelShuffle (sub-pixel convolution), bilinear + conv, transposed conv.

``Upsample(c_in, c_out, s, kind)`` maps (B, c_in, H, W) to (B, c_out, s H, s W);
``upsample_cost`` counts its parameters and multiply-accumulates per output frame.
Introduced in lesson 02 (notebooks/02_upsampling.ipynb).
"""

import torch
from torch import nn

UPSAMPLE_KINDS = ("pixelshuffle", "bilinear", "deconv")


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r}: expected a whole number >= 1")


class Upsample(nn.Module):
    """(B, channels_in, H, W) -> (B, channels_out, scale H, scale W) in one of three ways.

    pixelshuffle: Conv2d(c_in, c_out * s^2, k, padding k // 2), then PixelShuffle(s) (NeRV);
    bilinear:     bilinear upsampling by s (align_corners=True), then Conv2d(c_in, c_out,
                  2s + 1, padding s), as NeRV's code builds it (k is not used);
    deconv:       ConvTranspose2d(c_in, c_out, kernel_size=s, stride=s) (k is not used).
    `kernel_size` afterwards holds the kernel the block's convolution really has.
    """

    def __init__(
        self,
        channels_in: int,
        channels_out: int,
        scale: int,
        kind: str = "pixelshuffle",
        kernel_size: int = 3,
    ):
        super().__init__()
        for name, value in [
            ("channels_in", channels_in),
            ("channels_out", channels_out),
            ("scale", scale),
            ("kernel_size", kernel_size),
        ]:
            _check_size(name, value)
        if kind not in UPSAMPLE_KINDS:
            raise ValueError(f"unknown kind {kind!r}: choose one of {', '.join(UPSAMPLE_KINDS)}")
        if kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size={kernel_size}: use an odd kernel, so that padding k // 2 keeps "
                "the size of the map"
            )
        self.channels_in, self.channels_out, self.scale = channels_in, channels_out, scale
        if kind == "bilinear":  # NeRV's code: the kernel grows with the stride, 2s + 1
            kernel_size = 2 * scale + 1
        self.kind, self.kernel_size = kind, kernel_size
        padding = kernel_size // 2
        if kind == "pixelshuffle":
            self.layers = nn.Sequential(
                nn.Conv2d(channels_in, channels_out * scale**2, kernel_size, padding=padding),
                nn.PixelShuffle(scale),
            )
        elif kind == "bilinear":
            self.layers = nn.Sequential(
                nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=True),
                nn.Conv2d(channels_in, channels_out, kernel_size, padding=padding),
            )
        else:  # deconv: each input pixel paints its own s x s patch, no overlaps
            self.layers = nn.ConvTranspose2d(channels_in, channels_out, scale, stride=scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels_in:
            raise ValueError(
                f"input has shape {tuple(x.shape)}; expected (B, {self.channels_in}, H, W)"
            )
        return self.layers(x)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, scale={self.scale}"


# %% [markdown]
# What does each cost? Parameters are weights plus biases. Multiply-accumulates (MACs) per
# output frame count each convolution weight once per position it is applied at: at the
# input's `H x W` for PixelShuffle and deconv, at the output's `sH x sW` for bilinear (the
# interpolation itself, a few MACs per value, is left out).


# %%
#| export upsample
def upsample_cost(block: Upsample, height: int, width: int) -> dict[str, int]:
    """Parameters and multiply-accumulates (MACs) of `block` for one height x width input map.

    MACs count the convolution only; bilinear interpolation and PixelShuffle's rearrangement
    are left out (a few operations per value, no weights).
    """
    _check_size("height", height)
    _check_size("width", width)
    c_in, c_out, s, k = block.channels_in, block.channels_out, block.scale, block.kernel_size
    if block.kind == "pixelshuffle":  # a k x k conv to c_out s^2 channels at H x W
        weights, biases, positions = c_in * c_out * s * s * k * k, c_out * s * s, height * width
    elif block.kind == "bilinear":  # a k x k (k = 2s + 1) conv to c_out channels at sH x sW
        weights, biases, positions = c_in * c_out * k * k, c_out, s * s * height * width
    else:  # deconv: an s x s patch of c_out values from each of the H x W inputs
        weights, biases, positions = c_in * c_out * s * s, c_out, height * width
    return {"params": weights + biases, "macs": weights * positions}


# %% [markdown]
# A NeRV-like block (64 channels in and out, stride 2, 3x3 kernels) on a 45x80 map, which it
# turns into 90x160:

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'kind':>12} | {'output shape':>16} | {'params':>7} | {'MMACs':>7}")
for kind in UPSAMPLE_KINDS:
    block = Upsample(64, 64, 2, kind)
    shape = tuple(block(torch.zeros(1, 64, 45, 80)).shape)
    cost = upsample_cost(block, 45, 80)
    assert cost["params"] == sum(p.numel() for p in block.parameters())
    print(f"{kind:>12} | {str(shape):>16} | {cost['params']:7,d} | {cost['macs'] / 1e6:7.1f}")

# %% [markdown]
# PixelShuffle spends `s^2 x 9` weights per channel pair at the *low* resolution; NeRV's
# bilinear block spends `(2s + 1)^2` at the *high* one. So for `s = 2` the bilinear block
# holds 25/36 of PixelShuffle's weights but does `(2s + 1)^2 / 9` = 2.8 times its MACs (13
# times for `s = 5`): interpolation makes the map big before any learned work. For a
# representation whose weights *are* the video, PixelShuffle's weights are capacity bought
# cheaply. The deconv with kernel = stride is the cheapest: it sees one input pixel per
# output patch, no neighbours at all.
#
# ## Exercise: PixelShuffle by hand
#
# Write `shuffle_by_hand(x, s)` with only `reshape` and `permute`: `(B, C s^2, H, W)` to
# `(B, C, s H, s W)`, giving the same result as `nn.PixelShuffle(s)`. Hint: split the channel
# axis into `(C, s, s)`, move the two `s` axes next to `H` and `W`, and merge.


# %%
def shuffle_by_hand(x: torch.Tensor, s: int) -> torch.Tensor:
    """PixelShuffle with reshape and permute: (B, C s^2, H, W) -> (B, C, s H, s W)."""
    ### BEGIN SOLUTION
    b, channels, h, w = x.shape
    c = channels // (s * s)
    x = x.reshape(b, c, s, s, h, w)  # channel c s^2 + i s + j -> (c, i, j)
    x = x.permute(0, 1, 4, 2, 5, 3)  # (b, c, h, i, w, j)
    return x.reshape(b, c, h * s, w * s)
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
for shape, s in [((1, 4, 2, 2), 2), ((2, 18, 3, 5), 3), ((1, 50, 2, 4), 5)]:
    x = torch.randn(shape)
    expected, got = nn.PixelShuffle(s)(x), shuffle_by_hand(x, s)
    if got.shape != expected.shape:
        raise AssertionError(
            f"for {shape} and s={s} you return {tuple(got.shape)}; PixelShuffle gives "
            f"{tuple(expected.shape)}: C s^2 channels become C channels of s H x s W"
        )
    if not torch.equal(got, expected):
        raise AssertionError(
            f"for {shape} and s={s} the shape is right but values sit in the wrong places: "
            "channel c s^2 + i s + j goes to row s h + i, column s w + j"
        )
print("Right: PixelShuffle is only a reshape and a permute; it has no weights.")

# %% [markdown]
# ## The ablation: PixelShuffle vs bilinear vs transposed convolution
#
# Table 7 of the NeRV paper trains NeRV three times, changing only the upsampling layer. The
# course runs it once, as the experiment `nerv-upsampling`: the real NeRV of lesson 03 (its
# code and the experiment runner are shown there), NeRV's recipe, three seeds per row, and a
# floor row, the clip's mean frame. A bilinear or transposed-conv block holds fewer weights
# than a PixelShuffle block of the same width, so each row is the widest NeRV of its kind
# within the scale's budget: the three compare at (nearly) equal parameters, printed in the
# params column, so PixelShuffle's lead is not extra capacity.

# %%
from nerv_lessons.experiments import NERV_UPSAMPLING, fit, results_folder, run

upsampling_table = run(NERV_UPSAMPLING, scale, seeds=3, device=device)
upsampling_table.save(results_folder(scale))
upsampling_table.show()

# %%
clip = load_clip(scale, device)
labels = [row.label for row in NERV_UPSAMPLING.rows]
figure, axis = plt.subplots(figsize=(6, 3))
last_frames = []
for label in labels:
    setup, record = fit(NERV_UPSAMPLING, label, scale, seed=0, device=device)
    axis.plot(record["history"]["epoch"], record["history"]["psnr"], label=label)
    with torch.no_grad():
        last_frames.append(setup.model(torch.tensor([1.0], device=device))[0])
axis.axhline(upsampling_table.rows[0]["psnr_mean"], color="grey", ls=":", label="floor: mean frame")
axis.set(xlabel="epoch", ylabel="training PSNR (dB)", title=f"seed 0, {scale.name} scale")
axis.legend(fontsize=8)
figure.tight_layout()
plt.show()
frame_grid(
    torch.stack([clip[-1], *last_frames]), columns=4, titles=["last frame", *labels], width=12
)
plt.show()

# %% [markdown]
# The paper's numbers are NeRV (about 3M parameters) on the UVG videos at 1080p, 150 epochs,
# batch 1; ours are the quick clip and a 0.05M model, so compare the order, judged by the
# verdict lines against the seeds' spread, not the values. The cost table above shows the
# other side: the bilinear block runs a `(2s + 1)`-wide convolution over maps
# `s^2` times larger, the most MACs of the three.
#
# Look at the pictures too. The bilinear model's frame is smooth: interpolation can only
# blend. The transposed-conv frame is made of tiles: with kernel = stride each input pixel
# paints its own patch and never sees its neighbours. PixelShuffle's 3x3 convolutions see
# neighbours *and* choose each sub-pixel separately.
#
# ## Summary
#
# - PixelShuffle is a convolution at low resolution followed by a weightless reshape: channel
#   `c s^2 + i s + j` becomes sub-pixel `(i, j)`.
# - NeRV's bilinear + `(2s + 1)` conv does its learned work at the high resolution: fewer
#   weights than PixelShuffle, several times the MACs; a kernel = stride transposed
#   convolution is a 1x1 convolution followed by PixelShuffle, the cheapest of the three.
# - `nerv_lessons.upsample` holds `Upsample`, `UPSAMPLE_KINDS` and `upsample_cost`.
#
# Next, lesson 03: the whole NeRV, an encoded frame time in and a frame out.
