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
# # Lesson 07: two streams, high and low frequencies
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/07_two_streams.ipynb)
#
# HNeRV's embedding carries everything about a frame, including its smooth, slowly changing
# parts, which neighbouring frames share. Hayami et al. (2024, paper 001) split the work:
#
# - an **HF stream** (hybrid, like HNeRV) sees only a *high-pass-filtered* frame and draws
#   details and edges;
# - an **LF stream** (index-based, like NeRV) sees only the frame's time `t` and draws the
#   smooth picture. It is a function of `t` alone, through sines of `t` at 30 frequencies:
#   the slow ones change little from one frame to the next, the fast ones a lot (see below).
#
# The two outputs are added, like a residual connection (lesson 06). This lesson builds the
# module `two_stream` from lesson 04's HNeRV parts and lesson 01's positional encoding.

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

from nerv_lessons._exercises import exercise, right, wrong
from nerv_lessons.data import load_clip
from nerv_lessons.scales import start_lesson

scale, device = start_lesson()
notebook_start = time.perf_counter()
video = load_clip(scale, device)
print(f"clip: {tuple(video.shape)} on {video.device}")

# %% [markdown]
# ## The high-pass filter
#
# The paper's filter "removes 80 % of the frequency bandwidth". The reference code takes each
# channel's 2-D FFT, centres it (`fftshift`), zeroes the central rectangle that spans 80 % of
# each axis (`rate = 0.8`: every frequency below 0.8 x Nyquist in *both* directions, DC
# included) and transforms back. That is 80 % of each axis but only about 0.8^2 = 64 % of the
# coefficients; anything fast in either direction survives. The code filters the uncropped
# 1080p frame; we filter the course's frames (already cropped and resized).
#
# Where `fft2` puts each frequency, along one axis of 8 samples (in cycles per sample; 0.5 is
# Nyquist), and where `fftshift` moves it:

# %%
# NBVAL_CHECK_OUTPUT
print("fft2's order:  ", torch.fft.fftfreq(8).tolist())  # 0 first, the negatives at the end
print("after fftshift:", torch.fft.fftshift(torch.fft.fftfreq(8)).tolist())  # 0 at index 8 // 2

# %% [markdown]
# ## Exercise: the high-pass mask
#
# Write `highpass_mask_by_hand(height, width, rate)`: a (height, width) tensor of booleans in
# `fft2`'s layout, True where a frequency is kept. Build it as the reference code does, in the
# centred layout, where frequency 0 sits at row `ch = height // 2` and column `cw = width // 2`
# (as printed above):
#
# 1. start from all True;
# 2. zero the central rectangle: `dh = int(rate * ch)` rows on each side of frequency 0, from
#    row `ch - dh` up to but not including row `ch + dh` (a Python slice), and likewise
#    `dw = int(rate * cw)` columns;
# 3. move the mask back to `fft2`'s layout, where frequency 0 is at [0, 0]: the inverse of
#    `fftshift`, which differs from `fftshift` itself when a side is odd.
#
# The check compares it with the package's `highpass_mask` at several sizes, odd ones included.


# %%
def highpass_mask_by_hand(height, width, rate):
    """(height, width) booleans in fft2's layout: False on the centred low-frequency rectangle."""
    ### BEGIN SOLUTION
    keep = torch.ones(height, width, dtype=torch.bool)
    ch, cw = height // 2, width // 2
    dh, dw = int(rate * ch), int(rate * cw)
    keep[ch - dh : ch + dh, cw - dw : cw + dw] = False
    return torch.fft.ifftshift(keep)
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("highpass_mask_by_hand"):
    from nerv_lessons.two_stream import highpass_mask

    for height, width, rate in [(8, 8, 0.8), (80, 160, 0.8), (81, 97, 0.5), (9, 15, 0.9)]:
        got, want = highpass_mask_by_hand(height, width, rate), highpass_mask(height, width, rate)
        call = f"highpass_mask_by_hand({height}, {width}, {rate})"
        if not torch.is_tensor(got):
            wrong(f"{call} gave a {type(got).__name__}: the filter multiplies torch tensors")
        if got.shape != want.shape or got.dtype != torch.bool:
            wrong(
                f"{call} gave {got.dtype} {tuple(got.shape)}: expected ({height}, {width}) booleans"
            )
        if torch.equal(got, ~want):
            wrong(f"{call} is True where the filter removes: True marks a kept frequency")
        if got[0, 0]:
            wrong(
                f"{call} keeps frequency 0, the frame's mean colour, which fft2 stores at "
                "[0, 0]: the rectangle is centred in fftshift's layout, not in fft2's"
            )
        removed, expected = (~got).sum().item(), (~want).sum().item()
        if removed != expected:
            wrong(
                f"{call} removes {removed} coefficients, the reference {expected}: count the "
                "rectangle's rows and columns again (how int rounds, where a slice ends)"
            )
        if not torch.equal(got, want):
            wrong(
                f"{call} removes the right number of coefficients but not the right ones: "
                "for an odd side, fftshift and the shift back move by different amounts"
            )
    removed = 1 - highpass_mask(80, 160, 0.8).float().mean().item()
    right(
        f"at the paper's rate 0.8 the mask removes {removed:.0%} of the coefficients: 80 % of "
        "each axis is a smaller share of the plane, and anything fast in either direction "
        "survives"
    )

# %% [markdown]
# The package's version (module `two_stream`), in three cells: the module's docstring with
# the model's layout, its imports, the paper's constants and `check_rate`, which refuses a rate
# outside (0, 1) and says the fix (folded: click to show); `highpass_mask` (folded too: it is
# the exercise's answer); and `highpass`, the whole filter: per channel FFT, mask, inverse FFT.

# %% cellView="form" jupyter={"source_hidden": true}
#| export two_stream
"""Two streams (Hayami et al., 2024): high frequencies from the frame, low ones from time.

    HF: frame -> high-pass (FFT, zero 80 % of each axis) -> ConvNeXt encoder -> embedding
          -> HNeRV decoder (HFD) -> tanh -> (-1, 1)
    LF: t -> positional encoding (b = 1.25, n = 30 levels) -> levels [0, m) -> LFD1
                                                          -> levels [m, n) -> LFD2
          LFD = MLP -> 5 x 10 grid -> NeRV-style blocks;  (tanh(LFD1 + LFD2) + 1) / 2
          (our MLP has a hidden layer and the blocks a 1x1 stem; the reference code uses
          one Linear + GELU straight to the grid)
    frame = HF + LF        sizes HFD : LFD1 : LFD2 = 20 : 1 : 5

Built from lesson 04's Encoder/Decoder and lesson 01's positional encoding.
Introduced in lesson 07 (notebooks/07_two_streams.ipynb).
"""

import math
import numbers
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from nerv_lessons.encoding import positional_encoding
from nerv_lessons.experiments import Experiment, Row, Setup, register, register_model
from nerv_lessons.hnerv import Decoder, Encoder, HNeRVConfig, hnerv_shape, reference_c2
from nerv_lessons.nerv import count_parameters, expect_shape, make_activation

FILTER_RATE = 0.8  # the paper's "removes 80 % of the frequency bandwidth"
PE_BASE, PE_LEVELS, PE_LOW = 1.25, 30, 10  # b, n, m of the paper (n levels as its code)
SIZE_RATIO = (20, 1, 5)  # HFD : LFD1 : LFD2
LF_GRID = (5, 10)  # the LF decoders start from a 5 x 10 grid, as the reference code


def check_rate(rate: float) -> None:
    """Raise unless `rate` is a real number strictly between 0 and 1 (NumPy numbers allowed)."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(
            f"filter rate must be a real number strictly between 0 and 1, got {rate!r} "
            f"({type(rate).__name__}): pass e.g. rate=0.8 (for a tensor, rate.item())"
        )
    if not 0 < rate < 1:
        raise ValueError(
            f"filter rate {rate!r} must be a number strictly between 0 and 1: the fraction of "
            "each frequency axis to remove (the paper's 0.8). 0 would keep the whole frame, "
            "1 would remove it"
        )


# %% cellView="form" jupyter={"source_hidden": true}
#| export two_stream
def highpass_mask(height: int, width: int, rate: float = FILTER_RATE) -> torch.Tensor:
    """(height, width) booleans in fft2's layout: True where a frequency is kept. Removed:
    the centred rectangle |f_y| < rate * Nyquist and |f_x| < rate * Nyquist (DC included)."""
    check_rate(rate)
    keep = torch.ones(height, width, dtype=torch.bool)
    ch, cw = height // 2, width // 2  # where fftshift puts frequency 0
    dh, dw = int(rate * ch), int(rate * cw)
    keep[ch - dh : ch + dh, cw - dw : cw + dw] = False
    return torch.fft.ifftshift(keep)  # back to fft2's layout (frequency 0 at [0, 0])


# %%
#| export two_stream
def highpass(frames: torch.Tensor, rate: float = FILTER_RATE) -> torch.Tensor:
    """The high-pass-filtered frames (..., H, W): per channel FFT, mask, inverse FFT."""
    return keep_frequencies(frames, highpass_mask(*frames.shape[-2:], rate).to(frames.device))


def keep_frequencies(frames: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The frames (..., H, W) with only the frequencies where `keep` (fft2's layout) is True."""
    return torch.fft.ifft2(torch.fft.fft2(frames) * keep).real


# %% [markdown]
# ## Predict: how much of a frame survives the filter?
#
# At rate 0.8 the mask keeps 36 % of the coefficients. White noise spreads its energy evenly
# over all frequencies, so the filter leaves about 36 % of a noise image's energy. What share
# of a Bunny frame's energy (the mean of its squared pixels) does it leave? The next cell
# measures it on the middle frame without printing it; write your prediction, in percent, in
# the cell after (right within a factor of 10 either way), then run the check.

# %%
# Measured now, printed only by the check below: the share of the energy the filter leaves.
frame = video[scale.frames // 2]
filtered = highpass(frame)
energy_left = 100 * (filtered.pow(2).mean() / frame.pow(2).mean()).item()  # in percent
noise = torch.randn_like(frame)  # white noise: the same energy at every frequency
noise_left = 100 * (highpass(noise).pow(2).mean() / noise.pow(2).mean()).item()

# %%
# Your prediction: the percentage of the frame's energy that the high-pass filter leaves.
### BEGIN SOLUTION
predicted_energy = 0.1
### END SOLUTION

# %%
# Check: says right or wrong, and why.
with exercise("predicted_energy"):
    number = isinstance(predicted_energy, (int, float)) and not isinstance(predicted_energy, bool)
    if not number or predicted_energy <= 0:
        wrong(
            f"write the prediction as a percentage above 0, such as 5 for 5 %; "
            f"got {predicted_energy!r}"
        )
    if predicted_energy > 10 * energy_left:
        wrong(
            f"you predicted {predicted_energy:g} %; the filter leaves {energy_left:.2f} % of the "
            f"frame's energy (and {noise_left:.0f} % of white noise's). A frame is nothing like "
            "noise: nearly all its energy sits in its lowest frequencies (its mean colour and "
            "smooth shading), and those are what the filter removes"
        )
    if predicted_energy < energy_left / 10:
        wrong(
            f"you predicted {predicted_energy:g} %; the filter leaves {energy_left:.2f} %, more "
            "than that: edges and fine texture are fast in at least one direction, and survive"
        )
    right(
        f"the filter leaves {energy_left:.2f} % of the frame's energy and {noise_left:.0f} % of "
        "white noise's: the HF stream's encoder sees edges and texture, a sliver of the frame, "
        "and the LF stream has to draw nearly all of the picture"
    )

# %% [markdown]
# The frame, its spectrum, the high-passed frame and what is left of the spectrum:

# %%
from nerv_lessons.viz import to_image


def log_spectrum(image):
    """log(1 + |FFT|) of the grey image, centred: bright = strong frequency."""
    return torch.fft.fftshift(torch.fft.fft2(image.mean(0))).abs().log1p().cpu()


kept = highpass_mask(*frame.shape[-2:]).float().mean().item()
spread = filtered.abs().quantile(0.99).item()  # 99 % of the filtered values lie within it
fig, axes = plt.subplots(1, 4, figsize=(14, 2.2))
panels = [
    (to_image(frame), "frame"),
    (log_spectrum(frame), "its spectrum (centred)"),
    # Stretched for display: so little energy is left that 0.5 + x is a uniform grey.
    (to_image((0.5 + 0.5 * filtered / spread).clamp(0, 1)), "high-passed (stretched)"),
    (log_spectrum(filtered), f"after the filter: {kept:.0%} kept"),
]
for ax, (image, title) in zip(axes, panels):
    ax.imshow(image, cmap="magma" if image.ndim == 2 else None)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
plt.show()
print(f"energy left: {filtered.pow(2).mean() / frame.pow(2).mean():.2%} of the frame's")

# %% [markdown]
# The filtered frame keeps edges and textures, almost no energy, and nothing of the colours:
# the HF stream's encoder never sees what is smooth, so its embedding is spent on details.
#
# ## The LF stream's input: one encoding, two halves
#
# The frame's time `t = index / T` in [0, 1) (as the reference code) goes through lesson 01's
# positional encoding with b = 1.25 and n = 30 levels. The paper writes gamma_{0,n} (which
# would be 31 levels); its code uses 30, so do we. The first m = 10 levels (20 numbers, slow
# sines) feed LFD1, the other 20 levels (40 numbers, fast ones) feed LFD2.
#
# Each LF decoder maps its half to a 5x10 grid with an MLP, then runs NeRV-style blocks
# (lesson 04's decoder) up to the frame. Two parts are our choice, not the reference code's
# (one Linear + GELU straight to the grid, then the blocks): the MLP has a hidden layer, whose
# width is the fine knob that lets these small decoders hit 20 : 1 : 5 (below), and the blocks
# start with lesson 04's 1x1 stem.


# %%
#| export two_stream
def split_encoding(
    t: torch.Tensor, b: float = PE_BASE, levels: int = PE_LEVELS, low: int = PE_LOW
) -> tuple[torch.Tensor, torch.Tensor]:
    """gamma(t) cut after `low` levels: (B, 2 low) for LFD1 and (B, 2 (levels - low)) for LFD2."""
    if not 0 < low < levels:
        raise ValueError(
            f"the split m = {low} must satisfy 0 < m < n = {levels}: both decoders need at "
            "least one level (the paper uses m = 10 of n = 30)"
        )
    encoded = positional_encoding(t, b, levels)  # interleaved sin, cos: level i at 2i, 2i + 1
    return encoded[:, : 2 * low], encoded[:, 2 * low :]


def lf_strides(height: int, width: int, grid: tuple[int, int] = LF_GRID) -> tuple[int, ...]:
    """Strides from the LF grid (5 x 10) to the frame: 4s first, then a 3 or 2 (4,4,4,2 at 640)."""
    total = height // grid[0]
    if height % grid[0] or width % grid[1] or width // grid[1] != total:
        raise ValueError(
            f"a {height}x{width} frame is no whole multiple of the {grid[0]}x{grid[1]} LF grid "
            "(the frame must be 1:2 with a height divisible by 5)"
        )
    strides = []
    for stride in (4, 3, 2):
        while total % stride == 0 and total > 1:
            strides.append(stride)
            total //= stride
    if total != 1:
        raise ValueError(f"{height // grid[0]} is not a product of 4s, 3s and 2s")
    return tuple(strides)


class LFDecoder(nn.Module):
    """An LF decoder: MLP (in_dim -> hidden -> channels x 5 x 10) then lesson 04's decoder
    (1x1 stem, NeRV-style blocks with kernels 3, 5, 5, ..., widths / 1.2) up to the frame;
    raw output. The hidden layer and the stem are our choice (the reference code: one
    Linear + GELU to the grid, then the blocks): `hidden` is the fine knob of lf_budget."""

    def __init__(self, in_dim, hidden, channels, height, width, activation="gelu"):
        super().__init__()
        self.config = HNeRVConfig(
            height=height,
            width=width,
            strides=lf_strides(height, width),
            embed_dim=channels,
            fc_dim=channels,
            min_width=1,  # tiny decoders (LFD1 is 1/26 of the budget) need narrow blocks
            kernel_min=3,
            kernel_max=5,
            activation=activation,
        )
        grid_h, grid_w = self.config.grid
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden),
            make_activation(activation),
            nn.Linear(hidden, channels * grid_h * grid_w),
            make_activation(activation),
        )
        self.decoder = Decoder(self.config)

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        grid = self.mlp(encoded).view(len(encoded), self.config.embed_dim, *self.config.grid)
        return self.decoder.raw(grid)  # (B, 3, H, W), before any squash


# %% [markdown]
# ## The model
#
# First the whole forward pass by hand, from lesson 04's encoder and decoder, lesson 01's
# positional encoding and the LF decoders above:

# %%
from nerv_lessons.encoding import positional_encoding


def two_streams_by_hand(encoder, hf_decoder, lfd1, lfd2, frames, t):
    """frame = HF stream (details, from the high-passed frame) + LF stream (smooth, from t)."""
    hf = torch.tanh(hf_decoder.raw(encoder(highpass(frames))))  # (B, 3, H, W) in (-1, 1)
    gamma = positional_encoding(t, 1.25, 30)  # (B, 60): sin and cos of 30 levels, slow first
    lf = lfd1(gamma[:, :20]) + lfd2(gamma[:, 20:])  # levels 0-9 to LFD1, 10-29 to LFD2
    return hf + (torch.tanh(lf) + 1) / 2  # the LF stream in (0, 1); the sum is not clamped


# %% [markdown]
# The package's version: `TwoStreamConfig` holds the HF stream's HNeRV config and each LF
# decoder's (hidden width, channels). The model's input is a pair, the frames and their times
# (`frames_and_times`); `streams` returns every stream's output so we can look at them one by
# one. As in lesson 06 the sum HF + LF can leave [0, 1]: training sees it unclamped,
# evaluation clamps it. The filter's mask is made once and kept as a buffer, so it moves with
# the model to the GPU.


# %%
#| export two_stream
@dataclass
class TwoStreamConfig:
    """Every size of the two-stream model; the defaults are the paper's settings."""

    hf: HNeRVConfig = field(default_factory=HNeRVConfig)  # the HF stream: HNeRV's sizes
    lf1: tuple[int, int] = (64, 8)  # LFD1: (MLP hidden width, channels of the 5 x 10 grid)
    lf2: tuple[int, int] = (128, 16)  # LFD2, likewise
    pe_base: float = PE_BASE
    levels: int = PE_LEVELS  # n
    low: int = PE_LOW  # m: levels [0, m) go to LFD1, [m, n) to LFD2
    filter_rate: float = FILTER_RATE

    def __post_init__(self):
        check_rate(self.filter_rate)
        if not 0 < self.low < self.levels:
            raise ValueError(f"the split m = {self.low} must satisfy 0 < m < n = {self.levels}")
        if min(*self.lf1, *self.lf2) < 1:
            raise ValueError(f"LF widths must be >= 1, got {self.lf1} and {self.lf2}")


class TwoStream(nn.Module):
    """(frames (B, 3, H, W), times (B,)) -> frames: HF stream + LF stream."""

    def __init__(self, config: TwoStreamConfig):
        super().__init__()
        self.config = config
        hf = config.hf
        self.encoder = Encoder(hf)  # sees the high-passed frame only
        # The filter's mask, made once and moved with the model: building it on the CPU in
        # every step would copy it to the GPU each time, a sync per step.
        keep = highpass_mask(hf.height, hf.width, config.filter_rate)
        self.register_buffer("keep", keep, persistent=False)  # not stored: rebuilt from config
        self.hf_decoder = Decoder(hf)
        low, high = 2 * config.low, 2 * (config.levels - config.low)
        self.lfd1 = LFDecoder(low, *config.lf1, hf.height, hf.width, hf.activation)
        self.lfd2 = LFDecoder(high, *config.lf2, hf.height, hf.width, hf.activation)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        hf = self.config.hf
        expect_shape(frames, (frames.shape[0], 3, hf.height, hf.width), "two-stream input")
        return self.encoder(keep_frequencies(frames, self.keep))

    def streams(self, embedding: torch.Tensor, t: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each stream's output: hf in (-1, 1), lf1 and lf in (0, 1), and frame = hf + lf."""
        config = self.config
        low, high = split_encoding(t, config.pe_base, config.levels, config.low)
        lf1, lf2 = self.lfd1(low), self.lfd2(high)
        hf = torch.tanh(self.hf_decoder.raw(embedding))
        lf = (torch.tanh(lf1 + lf2) + 1) / 2
        return {"hf": hf, "lf1": (torch.tanh(lf1) + 1) / 2, "lf": lf, "frame": hf + lf}

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        frames, t = inputs
        if t.shape != (len(frames),):
            raise ValueError(f"expected one time per frame, ({len(frames)},), got {tuple(t.shape)}")
        return self.streams(self.encode(frames), t)["frame"]  # not clamped: see lesson 06


def frames_and_times(video: torch.Tensor, indices: torch.Tensor) -> tuple:
    """The two-stream input for a batch: the frames and their times index / T in [0, 1)."""
    return video[indices], indices.float() / len(video)


def stream_parameters(model: TwoStream) -> dict[str, int]:
    """Parameters of the three decoders: HFD, LFD1, LFD2 (the encoder is not kept)."""
    parts = {"HFD": model.hf_decoder, "LFD1": model.lfd1, "LFD2": model.lfd2}
    return {name: count_parameters(part) for name, part in parts.items()}


def two_stream_size(config: TwoStreamConfig, frames: int) -> int:
    """The paper's size: HF embeddings of every frame + the three decoders."""
    with torch.device("meta"):
        decoders = sum(stream_parameters(TwoStream(config)).values())
    return config.hf.embedding_numbers(frames) + decoders


# %%
# NBVAL_CHECK_OUTPUT
from nerv_lessons.hnerv import HNeRVConfig

torch.manual_seed(0)
tiny = HNeRVConfig(height=40, width=80, strides=(5, 2, 2), encoder_width=8, embed_dim=4, fc_dim=16)
two_tiny = TwoStream(TwoStreamConfig(hf=tiny, lf1=(8, 2), lf2=(8, 3)))
frames, t = frames_and_times(torch.rand(4, 3, 40, 80), torch.tensor([0, 3]))
with torch.no_grad():
    parts = (two_tiny.encoder, two_tiny.hf_decoder, two_tiny.lfd1, two_tiny.lfd2)
    assert torch.allclose(two_streams_by_hand(*parts, frames, t), two_tiny((frames, t)), atol=1e-6)
print(f"by hand == TwoStream on {tuple(frames.shape)} random frames at t = {t.tolist()}")

# %% [markdown]
# ## Sizing at 20 : 1 : 5
#
# The paper gives only the total (about 1.5M: embeddings + decoders) and the ratio. We scale
# the total with the course's budget (the scale's `model_params`) and keep the ratio: what
# the embeddings leave is split 20 : 1 : 5; the HF decoder's c2 comes from the reference
# code's formula for its 20/26 share (lesson 04's `reference_c2`, lowering the 12-channel
# floor only when even the narrowest decoder does not fit), and each LF decoder fills its own
# 1/26 or 5/26. Rounding c2 moves the HF decoder a little off its share, so the ratio printed
# below is only roughly 20 : 1 : 5 and the total a little off the budget. Inside an LF decoder we
# take the widest channels whose blocks use about half
# its share and fill the rest with the MLP's hidden width (our added layer, a fine knob: one
# unit is a few hundred parameters at 1.5M). The next cell (folded: click to show) holds
# that sizing: `lf_budget` for one LF decoder, `two_stream_budget` for the whole model.


# %% cellView="form" jupyter={"source_hidden": true}
#| export two_stream
def _lf_parameters(in_dim: int, hidden: int, channels: int, height: int, width: int) -> int:
    with torch.device("meta"):
        return count_parameters(LFDecoder(in_dim, hidden, channels, height, width))


def lf_budget(share: int, in_dim: int, height: int, width: int) -> tuple[int, int]:
    """(hidden, channels) of an LF decoder with at most `share` parameters, close to it."""
    if _lf_parameters(in_dim, 1, 1, height, width) > share:
        raise ValueError(f"{share} parameters cannot hold an LF decoder at {height}x{width}")
    channels = 1
    while _lf_parameters(in_dim, 8, channels + 1, height, width) <= share / 2:
        channels += 1
    # Parameters grow linearly with hidden: solve for it, then step down if rounding overshot.
    one, two = (_lf_parameters(in_dim, h, channels, height, width) for h in (1, 2))
    hidden = max(1, 1 + math.floor((share - one) / (two - one)))
    while hidden > 1 and _lf_parameters(in_dim, hidden, channels, height, width) > share:
        hidden -= 1
    return hidden, channels


def two_stream_budget(
    size: float,
    frames: int,
    height: int = 640,
    width: int = 1280,
    ratio: tuple[int, int, int] = SIZE_RATIO,
    **hf_changes,
) -> TwoStreamConfig:
    """The two-stream model of about `size` million numbers, sized as the reference code
    does: the decoders' budget (size - HF embeddings) split as `ratio`; the HFD's c2 solved
    by lesson 04's `reference_c2` for its share (1.5M at 640x1280 -> c2 60); each LF decoder
    filled up to its own share by `lf_budget`."""
    hf = hnerv_shape(height, width, **hf_changes)  # HNeRV's fields, or grid=(h, w)
    decoders = size * 1e6 - hf.embedding_numbers(frames)
    hf_share, lf1_share, lf2_share = (decoders * part / sum(ratio) for part in ratio)

    def hfd(fc_dim: int, floor: int) -> int:
        with torch.device("meta"):
            return count_parameters(Decoder(replace(hf, fc_dim=fc_dim, min_width=floor)))

    # Tiny budgets (the quick scale) cannot afford the 12-channel floor: lower it until the
    # narrowest decoder fits, as lesson 06 does for its residual blocks.
    floor = hf.min_width
    while floor > 1 and hfd(floor, floor) > hf_share:
        floor -= 1
    if decoders <= 0 or hfd(floor, floor) > hf_share:
        raise ValueError(
            f"a {size}M budget is too small for the two-stream model on {frames} frames of "
            f"{height}x{width}: raise it (the embeddings alone take "
            f"{hf.embedding_numbers(frames) / 1e6:.4f}M)"
        )
    fc_dim = max(floor, reference_c2(hf_share, hf, stem_per_channel=9 * hf.embed_dim))
    return TwoStreamConfig(
        hf=replace(hf, fc_dim=fc_dim, min_width=floor),
        lf1=lf_budget(round(lf1_share), 2 * PE_LOW, height, width),
        lf2=lf_budget(round(lf2_share), 2 * (PE_LEVELS - PE_LOW), height, width),
    )


# %%
from nerv_lessons.nerv import count_parameters

budget = scale.model_params
two_config = two_stream_budget(budget, scale.frames, scale.height, scale.width)
with torch.device("meta"):
    shares = stream_parameters(TwoStream(two_config))
total = sum(shares.values())
print(f"budget {budget}M at {scale.height}x{scale.width}, {scale.frames} frames")
hf_config = two_config.hf
print(
    f"HF stream: c2 = {hf_config.fc_dim}, floor {hf_config.min_width}, widths {hf_config.widths()}"
)
print(f"LF decoders (MLP hidden, channels): LFD1 {two_config.lf1}, LFD2 {two_config.lf2}")
for name, count in shares.items():
    print(f"  {name}: {count:>7} parameters = {26 * count / total:5.2f} / 26")
print(f"total with embeddings: {two_stream_size(two_config, scale.frames) / 1e6:.4f}M")
paper_config = two_stream_budget(1.5, 132, 640, 1280)
with torch.device("meta"):
    paper_shares = stream_parameters(TwoStream(paper_config))
paper_total = sum(paper_shares.values())
paper_split = {name: round(26 * count / paper_total, 2) for name, count in paper_shares.items()}
print(f"at the paper's 1.5M (132 frames of 640x1280), in 26ths: {paper_split}")

# %% [markdown]
# The model at this scale's budget, drawn from one forward pass of the middle frame.
# `TwoStream` takes a pair (frames, times), so each stream is drawn on its own: the HF stream
# (the encoder on the high-passed frame, then the HF decoder's stem, blocks and head) and the
# two LF decoders (an MLP to the 5x10 grid, then blocks), whose outputs are added and squashed
# into (0, 1) before the HF stream's output is added.

# %%
from collections import OrderedDict

from torch import nn

from nerv_lessons._diagram import architecture

torch.manual_seed(0)
drawn = TwoStream(two_config).to(device).eval()
frames, t = frames_and_times(video, torch.tensor([scale.frames // 2], device=device))
low, high = split_encoding(t)
hf_stream = nn.Sequential(OrderedDict(encoder=drawn.encoder, hf_decoder=drawn.hf_decoder))
fig, axes = plt.subplots(3, 1, figsize=(14, 8.5))
architecture(
    hf_stream,
    highpass(frames),
    expand=("encoder", "hf_decoder"),
    title="HF stream: high-passed frame -> encoder -> embedding -> HF decoder",
    ax=axes[0],
)
for ax, name, decoder, levels in (
    (axes[1], "LFD1", drawn.lfd1, f"0-{two_config.low - 1}"),
    (axes[2], "LFD2", drawn.lfd2, f"{two_config.low}-{two_config.levels - 1}"),
):
    title = f"{name}: levels {levels} of gamma(t) -> MLP -> 5x10 grid -> blocks"
    architecture(decoder, low if name == "LFD1" else high, expand=("decoder",), title=title, ax=ax)
fig.tight_layout()
plt.show()

# %% [markdown]
# At the quick scale LFD1 is a couple of thousand parameters (printed above), so the ratio
# holds only roughly; at the paper's size it holds to about a percent.
#
# ## NeRV, HNeRV and two streams at equal size
#
# All three get the scale's budget. NeRV is lesson 04's `BaselineNeRV` (the NeRV of HNeRV's
# code, which paper 001's code is built on) and HNeRV is sized by `hnerv_budget` (the
# paper's c2), both trained with HNeRV's recipe, so the cache shares them with lesson 04. The
# two-stream model trains with its own code's recipe (`train.RECIPES["two_stream"]`: lr 2e-3
# and batch 1 from its README, L2 as its text says, HNeRV's schedule); an experiment has one
# recipe, so the two-stream row carries what differs from HNeRV's, at this scale (the quick
# scale multiplies every lr by 5). NeRV takes times, HNeRV frames, the two-stream model both.
# The next cell (folded: click to show) registers the family and the table, with Table I's
# numbers.


# %% cellView="form" jupyter={"source_hidden": true}
#| export two_stream
def build_two_stream(video: torch.Tensor, budget: float, **changes) -> Setup:
    """The two-stream model of about `budget` million numbers for this clip, sized by
    `two_stream_budget` (changes go to its HF stream); its input is frames and times."""
    frames, _, height, width = video.shape
    config = two_stream_budget(budget, frames, height, width, **changes)
    return Setup(TwoStream(config), frames_and_times, two_stream_size(config, frames))


register_model("two_stream", build_two_stream)


# Paper 001's Table I: NeRV, HNeRV and two streams at equal size. HNeRV's recipe for NeRV and
# HNeRV, as that paper's code trains them; the two-stream row keeps its own code's recipe.
TWO_STREAM = register(
    Experiment(
        "two-stream",
        "Hayami et al. (2024, paper 001)",
        "Table I, NeRV / HNeRV / two streams at equal size (DAVIS, all)",
        "hnerv",
        rows=(
            Row("NeRV", "baseline_nerv", paper_psnr=28.91, paper_ms_ssim=0.8865),
            Row("HNeRV", "hnerv", paper_psnr=30.94, paper_ms_ssim=0.9160),
            Row(
                "two-stream",
                "two_stream",
                paper_recipe="two_stream",
                paper_psnr=31.81,
                paper_ms_ssim=0.9284,
            ),
        ),
        claims=(("two-stream", "HNeRV"), ("HNeRV", "NeRV")),
    )
)

# %%
from nerv_lessons.experiments import fit, results_folder, run, seed_row, verdict
from nerv_lessons.train import TrainConfig
from nerv_lessons.metrics import psnr

experiment = TWO_STREAM
for row in experiment.rows:
    recipe = TrainConfig.recipe(row.paper_recipe or experiment.recipe, scale)
    print(f"{row.label:<11} model {row.model!r:<15} lr {recipe.lr:g}, batch {recipe.batch_size}")
start = time.perf_counter()
results = run(experiment, scale, seeds=3, device=device)
print(f"three rows x 3 seeds: {time.perf_counter() - start:.0f} s")
results.show()
results.save(results_folder(scale))
print(f"paper: DAVIS, all 50 videos, 640x1280 crop, ~1.5M, 300 epochs; ours {scale.describe()}")

# %% [markdown]
# The paper averages 50 varied DAVIS videos after 300 epochs at 1.5M; ours is one Bunny clip
# at the printed scale with seconds of training, so only directions compare, and the verdicts
# above are computed from the seeds. At the quick scale the two-stream model trains at
# 5 x its code's 2e-3 = 1e-2, the largest lr in the course, with tiny LF decoders, and still
# comes out ahead of HNeRV at equal size.
#
# ## What each stream draws
#
# The seed-0 two-stream model from the table (`fit` returns it from the cache): the HF stream
# alone (shown as 0.5 + hf), LFD1 alone, the whole LF stream and the sum.

# %%
two = fit(experiment, "two-stream", scale, 0, device)[0].model.eval()
index = scale.frames // 2
with torch.no_grad():
    frames, t = frames_and_times(video, torch.tensor([index], device=device))
    parts = two.streams(two.encode(frames), t)
panels = {
    "HF stream (0.5 + hf)": 0.5 + parts["hf"],
    "LFD1 alone (slow levels)": parts["lf1"],
    "LF stream (LFD1 + LFD2)": parts["lf"],
    "HF + LF": parts["frame"],
    "original": frames,
}
fig, axes = plt.subplots(1, len(panels), figsize=(15, 2.2))
for ax, (title, image) in zip(axes, panels.items()):
    ax.imshow(to_image(image[0].clamp(0, 1)))
    ax.set_title(title, fontsize=8)
    ax.axis("off")
plt.show()
for name in ("lf", "lf1"):
    print(f"PSNR of the {name} output alone: {psnr(parts[name], frames).item():.2f} dB")
print(f"PSNR of HF + LF (clamped): {psnr(parts['frame'].clamp(0, 1), frames).item():.2f} dB")

# %% [markdown]
# ## Temporal consistency
#
# The paper's argument: HNeRV rebuilds each frame from its own embedding, so quality can jump
# between neighbouring frames (its Fig. 1 and 5, on DAVIS); the LF stream depends on `t`
# alone, so the paper expects the two-stream model to be steadier. We measure it: the
# frame-to-frame PSNR change `|PSNR(t + 1) - PSNR(t)|`, averaged over the clip.


# %%
def mean_jump(per_frame_psnr: torch.Tensor) -> float:
    """Mean |PSNR(t + 1) - PSNR(t)| over the clip, in dB: lower is steadier."""
    return per_frame_psnr.diff().abs().mean().item()


seeds = results.provenance["seeds"]
jumps = {}  # row -> per-seed mean |change|, from the table's own trained models
fig, ax = plt.subplots(figsize=(8, 3))
for row in experiment.rows:
    records = [fit(experiment, row.label, scale, seed, device)[1] for seed in seeds]
    jumps[row.label] = torch.tensor([mean_jump(record["psnr"]) for record in records])
    ax.plot(records[0]["psnr"], marker=".", label=f"{row.label} (seed 0)")
    print(
        f"{row.label:<11} mean |PSNR(t+1) - PSNR(t)| = {jumps[row.label].mean():.3f} "
        f"+- {jumps[row.label].std():.3f} dB over seeds {seeds}"
    )
ax.set(xlabel="frame", ylabel="PSNR (dB)", title=f"per-frame PSNR, {scale.name} scale")
ax.legend(fontsize=8)
plt.show()


def steadiness(label):
    """A row for `verdict`: minus each seed's mean jump, so that higher is better (steadier)."""
    return seed_row((-jumps[label]).tolist(), "steady")


result, gap, noise = verdict(steadiness("two-stream"), steadiness("HNeRV"), "steady")
print(
    f"paper: two-stream steadier than HNeRV | ours: two-stream jumps {-gap:+.3f} dB more per "
    f"frame than HNeRV, noise {noise:.3f} -> {result}"
)

# %% [markdown]
# The paper's reason for steadiness is that the LF stream, a function of `t` alone, carries
# the smooth picture while the HF stream adds per-frame details. We measure what each stream
# of the seed-0 model does from frame to frame, beside the clip's own motion.

# %%
with torch.no_grad():  # every stream's output for every frame, a few frames at a time
    outs = {"hf": [], "lf": [], "frame": []}
    for chunk in torch.arange(scale.frames, device=device).split(8):
        frames, t = frames_and_times(video, chunk)
        parts = two.streams(two.encode(frames), t)
        for key in outs:
            outs[key].append(parts[key])
    outs = {key: torch.cat(value) for key, value in outs.items()}


def step(frames):
    """Mean |x(t + 1) - x(t)| over pixels and frame pairs: how much a sequence moves."""
    return (frames[1:] - frames[:-1]).abs().mean().item()


print(
    f"mean |x(t+1) - x(t)| per pixel: video {step(video):.4f}, "
    f"LF stream {step(outs['lf']):.4f}, HF stream {step(outs['hf']):.4f}"
)
lf_alone, both = psnr(outs["lf"], video).mean(), psnr(outs["frame"].clamp(0, 1), video).mean()
print(
    f"mean |output| per pixel: LF stream {outs['lf'].abs().mean():.4f}, "
    f"HF stream {outs['hf'].abs().mean():.4f}; PSNR of LF alone {lf_alone:.2f} dB, "
    f"HF + LF {both:.2f} dB"
)
mover = "HF" if step(outs["hf"]) > step(outs["lf"]) else "LF"
print(
    f"so the {mover} stream carries most of the frame-to-frame change "
    f"({'as the method intends' if mover == 'HF' else 'the opposite of the method intent'})"
)
aliased = [i for i in range(two_config.levels) if two_config.pe_base**i > scale.frames]
print(
    f"levels with 1.25^i > T = {scale.frames}: i >= {aliased[0]} (LFD2 gets i >= "
    f"{two_config.low}); LFD1 (hidden, channels) = {two_config.lf1}, LFD2 = {two_config.lf2}"
)

# %% [markdown]
# Read the lines above against the paper's intent, that the LF stream draws a smooth picture
# and the HF stream the per-frame details. At the quick scale (every 8th frame, 80 epochs,
# seed 0) the HF stream changes about twice as much between frames as the LF stream, so the
# motion sits where the method puts it; but the LF stream alone is a poor picture (its PSNR
# alone, against the whole model's), so the HF stream, which sees each frame separately, does
# most of the work, and the two-stream model's per-frame PSNR is not steadier than HNeRV's
# (the verdict above says by how much, and whether beyond the noise). Most of the PE levels
# LFD2 gets are aliased at this T (the last line: from the printed i on, they turn by more
# than half a turn between frames), so nothing about `t` forces the LF
# stream to be smooth. The paper's setting (DAVIS, 300 epochs, a far larger LFD1) is where
# its argument was made; rerun at the lesson or paper scale to test it there.

# %% [markdown]
# ## Summary
#
# - Two streams: an HNeRV-like HF stream on a high-passed frame (FFT, 80 % of each axis
#   removed) plus an index-based LF stream whose encoding is split between LFD1 and LFD2.
#   The filter keeps 36 % of the coefficients but only a sliver of a frame's energy, so the
#   LF stream has to draw nearly all of the picture.
# - Sizes follow HFD : LFD1 : LFD2 = 20 : 1 : 5 of the budget left after the embeddings.
# - The paper's gain over HNeRV is +0.87 dB on DAVIS; the table (3 seeds, verdicts computed)
#   shows ours at this scale.
# - The paper argues the LF stream makes quality steadier from frame to frame. Measure it
#   rather than assume it: at the quick scale the HF stream does most of the work and the
#   per-frame PSNR is not steadier than HNeRV's; in the committed run it jumps more from
#   frame to frame (the verdict above says whether beyond the noise of 3 seeds).

# %%
print(f"lesson time: {time.perf_counter() - notebook_start:.0f} s on {device} ({scale.name} scale)")
