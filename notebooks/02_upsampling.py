# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
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
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from nerv_lessons.data import load_clip
from nerv_lessons.encoding import PositionalEncoding
from nerv_lessons.metrics import ms_ssim, psnr
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
# Table 7 of the lecture notes trains NeRV three times, changing only the upsampling layer.
# We do the same with a small decoder written here (lesson 03 builds the real NeRV): the
# positional encoding of `t` from lesson 01 (b = 1.25, 80 levels), an MLP to a tiny feature
# map, four `Upsample` blocks of the chosen kind with strides 5, 2, 2, 2, GELU after each,
# and a 1x1 convolution to RGB. Each kind trains the same way as lesson 01's ablation:
# Adam, MSE, cosine learning rate, `scale.epochs` epochs of one frame per step.


# %%
class Lesson02Decoder(nn.Module):
    """gamma(t) -> MLP -> feature map -> four Upsample blocks of one kind -> RGB in [0, 1]."""

    def __init__(self, kind: str, height: int, width: int):
        super().__init__()
        strides, channels = (5, 2, 2, 2), (32, 24, 16, 16, 12)
        grid = math.prod(strides)
        self.encoding = PositionalEncoding(1.25, 80)
        self.base = (channels[0], height // grid, width // grid)
        self.stem = nn.Sequential(
            nn.Linear(self.encoding.dim, 128),
            nn.GELU(),
            nn.Linear(128, math.prod(self.base)),
            nn.GELU(),
        )
        blocks = []
        for stride, c_in, c_out in zip(strides, channels, channels[1:]):
            blocks += [Upsample(c_in, c_out, stride, kind), nn.GELU()]
        self.blocks = nn.Sequential(*blocks, nn.Conv2d(channels[-1], 3, 1))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        features = self.stem(self.encoding(t)).reshape(len(t), *self.base)
        return (torch.tanh(self.blocks(features)) + 1) / 2


def train_decoder(model: nn.Module, clip: torch.Tensor, epochs: int) -> tuple[torch.Tensor, list]:
    """Fit model(t) to the clip, one frame per step; (the final reconstruction, and the PSNR of
    each epoch's mean training loss, which costs nothing extra to record)."""
    frames = len(clip)
    times = torch.arange(frames, device=clip.device) / frames
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * frames)
    curve = []
    for _ in range(epochs):
        total = 0.0
        for index in torch.randperm(frames, device=clip.device).split(1):
            loss = F.mse_loss(model(times[index]), clip[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        curve.append(10 * math.log10(frames / total))  # PSNR of the epoch's mean MSE
    with torch.no_grad():
        return torch.cat([model(t) for t in times.split(8)]), curve


# %%
clip = load_clip(scale, device)
paper_table_7 = {
    "bilinear": (29.56, 0.873),
    "deconv": (36.63, 0.967),
    "pixelshuffle": (37.26, 0.970),
}
results, outputs, curves = {}, {}, {}
for kind in ("bilinear", "deconv", "pixelshuffle"):
    torch.manual_seed(0)
    model = Lesson02Decoder(kind, scale.height, scale.width).to(device)
    start = time.perf_counter()
    outputs[kind], curves[kind] = train_decoder(model, clip, scale.epochs)
    seconds = time.perf_counter() - start
    quality = psnr(outputs[kind], clip).mean().item(), ms_ssim(outputs[kind], clip).mean().item()
    results[kind] = (*quality, sum(p.numel() for p in model.parameters()), seconds)

print(
    f"scale {scale.name}: {scale.frames} frames of {scale.height}x{scale.width}, "
    f"{scale.epochs} epochs, batch 1, device {device}"
)
print(f"{'upsampling':>12} | {'params':>7} | {'PSNR':>6} | {'MS-SSIM':>7} || paper PSNR | MS-SSIM")
for kind, (quality_psnr, quality_ssim, params, seconds) in results.items():
    paper = paper_table_7[kind]
    print(
        f"{kind:>12} | {params:7,d} | {quality_psnr:6.2f} | {quality_ssim:7.4f} || "
        f"{paper[0]:10.2f} | {paper[1]:7.3f}   ({seconds:.0f} s)"
    )

# %%
figure, axis = plt.subplots(figsize=(6, 3))
for kind, curve in curves.items():
    axis.plot(range(1, len(curve) + 1), curve, label=kind)
axis.set(xlabel="epoch", ylabel="training PSNR (dB)", title=f"training at the {scale.name} scale")
axis.legend(fontsize=8)
figure.tight_layout()
plt.show()

# %%
last = scale.frames - 1
kinds = list(outputs)
frame_grid(
    torch.stack([clip[last]] + [outputs[kind][last] for kind in kinds]),
    columns=4,
    titles=[f"frame {last}"] + kinds,
    width=12,
)
plt.show()

# %% [markdown]
# The paper's numbers are NeRV (about 3M parameters) on the UVG videos at 1080p, 150 epochs,
# batch 1; ours are a decoder of a few tens of thousands to a quarter of a million
# parameters on `scale.frames` Bunny frames for `scale.epochs` epochs, so compare the order
# and the gaps, not the values. The PixelShuffle decoder is the same network, seed and
# training as lesson 01's PE row, so those two numbers should agree.
#
# Our three decoders share their channel widths, as the NeRV code's `conv_type` switch does,
# so they do not share a parameter count (the params column): part of PixelShuffle's lead is
# capacity. The times column shows the other side of the cost table: the bilinear block runs
# a `(2s + 1)`-wide convolution over maps `s^2` times larger, the most MACs of the three, and
# is the slowest on a CPU.
#
# Look at the pictures too. The bilinear decoder's frame is smooth: interpolation can only
# blend, and its convolutions have few weights to add detail with. The deconv frame is made
# of tiles: with kernel = stride each input pixel paints its own patch and never sees its
# neighbours, so patch edges show until training smooths them. PixelShuffle's 3x3
# convolutions see neighbours *and* choose each sub-pixel separately.
#
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
