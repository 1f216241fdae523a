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
# finds that the choice matters by several dB. This lesson takes PixelShuffle apart on a real
# frame, writes the three blocks in plain torch layers, then shows them as one package block,
# `nerv_lessons.upsample.Upsample`, counts what each costs, and reruns the ablation on the real
# clip. You write PixelShuffle by hand, predict a cost, and turn a transposed convolution into a
# 1x1 convolution and a PixelShuffle.

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

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from nerv_lessons._exercises import exercise, right, wrong
from nerv_lessons.data import load_clip
from nerv_lessons.metrics import psnr
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
# ## PixelShuffle on a real frame
#
# Run it backwards on a Bunny frame. `F.pixel_unshuffle(frame, 2)` gathers the four pixels of
# each 2x2 block into four channels, so one `3 x H x W` frame becomes `12 x H/2 x W/2`: four
# half-size images per colour, each taken one pixel over from the next. PixelShuffle puts
# them back. Bilinear enlargement of one of them has the frame's shape but not its detail:

# %%
clip = load_clip(scale, device)
frame = clip[:1]  # (1, 3, H, W): the first frame
quarters = F.pixel_unshuffle(frame, 2)  # (1, 12, H/2, W/2): channel 4c + 2i + j, sub-pixel (i, j)
rebuilt = nn.PixelShuffle(2)(quarters)
enlarged = F.interpolate(quarters[:, 0::4], scale_factor=2, mode="bilinear", align_corners=True)
print(
    f"{tuple(frame.shape)} -> unshuffled {tuple(quarters.shape)} -> shuffled {tuple(rebuilt.shape)}"
)
print(f"PixelShuffle gives the frame back exactly: {torch.equal(rebuilt, frame)}")
blurred = psnr(enlarged.clamp(0, 1), frame).item()
print(f"bilinear enlargement of sub-pixel (0, 0) alone: {blurred:.2f} dB")
sub_images = quarters.view(1, 3, 4, *quarters.shape[-2:])[0].transpose(0, 1)  # (4, 3, H/2, W/2)
frame_grid(sub_images, titles=[f"sub-pixel ({i}, {j})" for i in (0, 1) for j in (0, 1)], width=12)
plt.show()

# %% [markdown]
# The four images look alike; what tells them apart is the fine detail, and that is exactly
# what interpolation cannot make up. A PixelShuffle block's convolution works at the low
# resolution and writes each of the `s^2` sub-pixel images as its own channels, so it can
# choose every sub-pixel separately.
#
# ## Exercise: PixelShuffle by hand
#
# Write `shuffle_by_hand(x, s)` with only `reshape` and `permute` (no `nn.PixelShuffle`):
# `(B, C s^2, H, W)` to `(B, C, s H, s W)`, the same numbers in the same places as
# PixelShuffle. Hint: first name the axes that the `C s^2` channels stand for (which part is
# the colour, which the sub-pixel row, which its column), then decide where each one goes.


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
with exercise("shuffle_by_hand"):
    from nerv_lessons.upsample import Upsample

    for shape, s in [((1, 4, 2, 2), 2), ((2, 18, 3, 5), 3), ((1, 50, 2, 4), 5)]:
        x = torch.randn(shape)
        expected, got = F.pixel_shuffle(x, s), shuffle_by_hand(x, s)
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            wrong(
                f"for {shape} and s={s} you return {found}; PixelShuffle gives "
                f"{tuple(expected.shape)}: C s^2 channels become C channels of s H x s W"
            )
        if not torch.equal(got, expected):
            wrong(
                f"for {shape} and s={s} the shape is right but values sit in the wrong places: "
                "run it on the tiny 0..15 tensor at the top and compare with PixelShuffle's 4x4"
            )
    block = Upsample(8, 3, 2)  # the package's PixelShuffle block: a convolution, then the shuffle
    x = torch.randn(2, 8, 5, 7)
    with torch.no_grad():
        if not torch.equal(shuffle_by_hand(block.layers[0](x), 2), block(x)):
            wrong("the package's block, its convolution followed by yours, gives other numbers")
    right("PixelShuffle is only a reshape and a permute; it has no weights.")

# %% [markdown]
# ## The three blocks, as you would write them
#
# Each way is a line or two of torch layers, `(B, c_in, H, W)` in, `(B, c_out, s H, s W)` out:


# %%
def blocks_by_hand(c_in: int, c_out: int, s: int) -> dict[str, nn.Module]:
    """The three ways up by a factor s, in plain torch layers."""
    return {
        "pixelshuffle": nn.Sequential(
            nn.Conv2d(c_in, c_out * s * s, 3, padding=1), nn.PixelShuffle(s)
        ),
        "bilinear": nn.Sequential(
            nn.Upsample(scale_factor=s, mode="bilinear", align_corners=True),
            nn.Conv2d(c_in, c_out, 2 * s + 1, padding=s),  # NeRV's code: 2s + 1 wide
        ),
        "deconv": nn.ConvTranspose2d(c_in, c_out, s, stride=s),  # kernel = stride
    }


# %% [markdown]
# On the real frame (the weights are random, so only the shapes mean something yet), and
# against the package's block with the same weights:

# %%
from nerv_lessons.upsample import UPSAMPLE_KINDS, Upsample  # the package's block, shown below

for kind, block in blocks_by_hand(3, 3, 2).items():
    package = Upsample(3, 3, 2, kind).to(device)
    block.load_state_dict(package.layers.state_dict())  # the package block's weights
    block.to(device)
    with torch.no_grad():
        ours, theirs = block(frame), package(frame)
    torch.testing.assert_close(ours, theirs)
    print(f"{kind:>12}: {tuple(frame.shape)} -> {tuple(ours.shape)}, same as the package's block")

# %% [markdown]
# ## The package's block
#
# `nerv_lessons.upsample.Upsample` is those three behind one argument, so a decoder switches
# kind with `kind=`. What the code adds (folded: click to show):
#
# - checks of every size (whole numbers >= 1, an odd kernel) and of the kind, with messages
#   that name the choices;
# - `kernel_size` holds the kernel the convolution really has (`2s + 1` for bilinear);
# - `forward` refuses an input with the wrong number of channels, naming the shape it expects;
# - `extra_repr`, so that a printed model shows each block's kind and scale.
#
# The first cell is the module's docstring and imports.


# %% cellView="form" jupyter={"source_hidden": true}
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
# PixelShuffle does its learned work at the *low* resolution, NeRV's bilinear block at the
# *high* one. So for `s = 2` the bilinear block holds fewer weights than PixelShuffle but does
# 2.8 times its MACs: interpolation makes the map big before any learned work. For a
# representation whose weights *are* the video, PixelShuffle's weights are capacity bought
# cheaply. The deconv with kernel = stride is the cheapest: it sees one input pixel per
# output patch, no neighbours at all.
#
# ## Predict: NeRV's first block
#
# NeRV's first block has stride 5: it turns NeRV-S's 9x16 grid of 26 channels into 45x80.
# How many times PixelShuffle's MACs does the bilinear block do there? The next cell measures
# it with `upsample_cost` without printing it; write your prediction (a number) in the cell
# after, then run the check, which prints the measurement (right within 15 %).

# %%
# Measured now, printed only by the check below: NeRV-S's first block, 26 -> 26 channels,
# stride 5, on the 9x16 grid of a 720x1280 frame, built each way.
first_block_macs = {
    kind: upsample_cost(Upsample(26, 26, 5, kind), 9, 16)["macs"] for kind in UPSAMPLE_KINDS
}

# %%
# Your prediction: the bilinear block's MACs / PixelShuffle's, at stride 5 (a number).
### BEGIN SOLUTION
macs_ratio = 13.4
### END SOLUTION

# %%
# Check: says right or wrong, and why.
with exercise("macs_ratio"):
    measured = first_block_macs["bilinear"] / first_block_macs["pixelshuffle"]
    if isinstance(macs_ratio, bool) or not isinstance(macs_ratio, (int, float)):
        wrong(f"write the prediction as a number, such as 4.5; got {macs_ratio!r}")
    if macs_ratio < 0.85 * measured:
        wrong(
            f"you predicted {macs_ratio:g}x, the blocks measure {measured:.1f}x: more. Which "
            "part of the bilinear block grows with the stride, besides the map it runs on?"
        )
    if macs_ratio > 1.15 * measured:
        wrong(
            f"you predicted {macs_ratio:g}x, the blocks measure {measured:.1f}x: less. Both "
            "blocks do more work as the stride grows; count how much more each one does"
        )
    right(
        f"bilinear {first_block_macs['bilinear'] / 1e6:.1f} MMACs, PixelShuffle "
        f"{first_block_macs['pixelshuffle'] / 1e6:.1f}, deconv "
        f"{first_block_macs['deconv'] / 1e6:.2f}: the bilinear block does {measured:.1f}x "
        "PixelShuffle's work."
    )

# %% [markdown]
# Why: PixelShuffle makes `s^2` times the channels at the low resolution (`s^2 x 9` weights
# per channel pair, applied at `H x W`); the bilinear block applies `(2s + 1)^2` weights per
# channel pair at `s^2` times the positions. The `s^2` cancel, and the ratio is
# `(2s + 1)^2 / 9`: 2.8 at `s = 2`, 13.4 at `s = 5`, where it also holds only
# `121 / 225` of PixelShuffle's weights.
#
# ## Exercise: a transposed convolution is a 1x1 convolution and a PixelShuffle
#
# With kernel = stride = `s`, a transposed convolution paints one `s x s` patch per input
# pixel: output pixel `(s h + i, s w + j)` of channel `c` is the sum over input channels `k`
# of `weight[k, c, i, j]` times input pixel `(h, w)` of channel `k`, plus `bias[c]`. No
# neighbour enters, so a 1x1 convolution that makes the `s^2` sub-pixels of every output
# channel, followed by PixelShuffle, computes the same map.
#
# Write `deconv_as_shuffle(deconv)`: from an `nn.ConvTranspose2d(c_in, c_out, s, stride=s)`,
# return an `nn.Sequential` of an `nn.Conv2d(c_in, c_out * s^2, kernel_size=1)` that holds the
# deconv's weights and biases, rearranged, then `nn.PixelShuffle(s)`. The check compares it
# with the package's deconv blocks on random inputs.


# %%
def deconv_as_shuffle(deconv: nn.ConvTranspose2d) -> nn.Sequential:
    """The map of a kernel = stride transposed convolution, as a 1x1 conv and a PixelShuffle."""
    ### BEGIN SOLUTION
    c_in, c_out, s, _ = deconv.weight.shape
    conv = nn.Conv2d(c_in, c_out * s * s, kernel_size=1)
    # weight[k, c, i, j] -> conv channel c s^2 + i s + j, PixelShuffle's sub-pixel (i, j)
    weight = deconv.weight.detach().permute(1, 2, 3, 0).reshape(c_out * s * s, c_in, 1, 1)
    conv.weight = nn.Parameter(weight.clone())
    conv.bias = nn.Parameter(deconv.bias.detach().repeat_interleave(s * s))
    return nn.Sequential(conv, nn.PixelShuffle(s))
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("deconv_as_shuffle"):
    from nerv_lessons.upsample import Upsample

    for c_in, c_out, s in [(3, 2, 2), (8, 6, 2), (4, 3, 5)]:
        deconv = Upsample(c_in, c_out, s, "deconv").layers  # the package's ConvTranspose2d
        x = torch.randn(2, c_in, 3, 4)
        for biases in ("zero", "random"):
            with torch.no_grad():
                if biases == "zero":
                    deconv.bias.zero_()
                else:
                    deconv.bias.normal_()
            built = deconv_as_shuffle(deconv)
            layers = list(built.modules()) if isinstance(built, nn.Module) else []
            convs = [layer for layer in layers if type(layer) is nn.Conv2d]
            if (
                len(convs) != 1
                or convs[0].kernel_size != (1, 1)
                or not any(isinstance(layer, nn.PixelShuffle) for layer in layers)
                or any(isinstance(layer, nn.ConvTranspose2d) for layer in layers)
            ):
                wrong(
                    "return one 1x1 nn.Conv2d followed by an nn.PixelShuffle (as an "
                    "nn.Sequential), without the transposed convolution itself"
                )
            with torch.no_grad():
                if biases == "zero" and convs[0].bias is not None:
                    convs[0].bias.zero_()  # weights first: the biases get their own test
                expected, got = deconv(x), built(x)
            if got.shape != expected.shape:
                wrong(
                    f"for c_in={c_in}, c_out={c_out}, s={s} your map gives {tuple(got.shape)}, "
                    f"the deconv {tuple(expected.shape)}: the 1x1 conv makes s^2 channels "
                    "for every output channel"
                )
            if not torch.allclose(got, expected, atol=1e-5):
                gap = (got - expected).abs().max().item()
                if biases == "zero":
                    wrong(
                        f"with zero biases the outputs still differ by up to {gap:.3g} (c_in="
                        f"{c_in}, c_out={c_out}, s={s}): each of the conv's output channels must "
                        "hold the weights of the (colour, sub-pixel) that PixelShuffle sends "
                        "it to; print deconv.weight.shape and name its four axes"
                    )
                wrong(
                    f"the weights are right, the biases not (outputs differ by up to {gap:.3g}): "
                    "all s^2 sub-pixels of an output channel share that channel's one bias, "
                    "and they sit in PixelShuffle's channel order"
                )
    right(
        "a kernel = stride transposed convolution is a 1x1 convolution then PixelShuffle: "
        "the same numbers. The PixelShuffle block's 3x3 kernel is what adds the neighbours."
    )

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
#   `c s^2 + i s + j` becomes sub-pixel `(i, j)`; on a real frame it undoes
#   `pixel_unshuffle` exactly, where bilinear enlargement only blurs.
# - NeRV's bilinear + `(2s + 1)` conv does its learned work at the high resolution: fewer
#   weights than PixelShuffle, several times the MACs (13.4x at NeRV's stride 5); a kernel =
#   stride transposed convolution is a 1x1 convolution followed by PixelShuffle, the cheapest
#   of the three, and it never sees a neighbour.
# - `nerv_lessons.upsample` holds `Upsample`, `UPSAMPLE_KINDS` and `upsample_cost`: the three
#   blocks you wrote in torch layers, behind one argument.
#
# Next, lesson 03: the whole NeRV, an encoded frame time in and a frame out.
