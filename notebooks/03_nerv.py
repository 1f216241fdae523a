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
# # Lesson 03: NeRV and the training loop
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/03_nerv.ipynb)
#
# NeRV (Chen et al., NeurIPS 2021) stores a video as a network that maps a frame's time `t`
# to the whole frame: a positional encoding of `t` (lesson 01), a small MLP that draws a tiny
# feature grid, and five convolution + PixelShuffle blocks (lesson 02) that grow the grid to
# the frame. This lesson writes NeRV in 30 lines and its training loop in 15, as you would,
# runs them on Bunny for a few seconds and checks them against the package's versions; then it
# shows what the package's two modules add: `nerv` (the model) and `train` (the one training
# loop that every later model of the course reuses). Then we fit Bunny and rerun the four
# ablations of the NeRV paper (embedding, upsampling layer, activation, loss) at this scale.
# You write a NeRV block and NeRV's learning-rate schedule, and predict where NeRV-S keeps its
# parameters.

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
import math
import time
from copy import deepcopy

import matplotlib.pyplot as plt
import torch
from torch import nn

from nerv_lessons._diagram import architecture
from nerv_lessons._exercises import exercise, right, wrong
from nerv_lessons.data import load_clip
from nerv_lessons.scales import start_lesson

scale, device = start_lesson()
notebook_start = time.perf_counter()

# %% [markdown]
# ## NeRV in 30 lines
#
# The model reads top to bottom:
#
# 1. `t` (a batch of frame times in [0, 1]) -> positional encoding gamma(t) of lesson 01,
#    `B x 80` (40 frequencies);
# 2. MLP stem `80 -> hidden -> C*h*w`, reshaped to a `C x h x w` grid (9x16 for 720x1280);
# 3. blocks of conv 3x3 -> PixelShuffle(s) -> activation, one per stride (5, 2, 2, 2, 2):
#    lesson 02's `Upsample` and a GELU;
# 4. a 1x1 convolution head to RGB, squashed into [0, 1] by `(tanh + 1) / 2`.
#
# As you would write it, with lesson 01's encoding and lesson 02's block:

# %%
from nerv_lessons.encoding import positional_encoding
from nerv_lessons.upsample import Upsample


class TinyNeRV(nn.Module):
    """NeRV: frame times (B,) -> gamma(t) -> MLP -> C x h x w grid -> blocks -> RGB frames."""

    def __init__(self, grid, channels, strides, widths, hidden, levels=40):
        super().__init__()
        self.grid, self.channels, self.levels = grid, channels, levels
        self.stem = nn.Sequential(  # gamma(t) -> hidden -> every number of the grid
            nn.Linear(2 * levels, hidden),
            nn.GELU(),
            nn.Linear(hidden, channels * grid[0] * grid[1]),
            nn.GELU(),
        )
        blocks = []
        for stride, width in zip(strides, widths):  # each block: stride x larger, width channels
            blocks.append(nn.Sequential(Upsample(channels, width, stride), nn.GELU()))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(channels, 3, kernel_size=1)  # to RGB

    def forward(self, t):
        x = self.stem(positional_encoding(t, 1.25, self.levels))  # (B, C * h * w)
        x = x.view(len(t), self.channels, *self.grid)  # (B, C, h, w): the grid
        x = self.blocks(x)  # (B, widths[-1], H, W)
        return (torch.tanh(self.head(x)) + 1) / 2  # (B, 3, H, W) in [0, 1]


# %% [markdown]
# Built with this scale's sizes (the package's `nerv_for_scale` picks them, below) and given
# the weights of the package's `NeRV`, it draws the package's frames, number for number:

# %%
from nerv_lessons.nerv import NeRV, nerv_for_scale  # the package's NeRV, shown below

video = load_clip(scale, device)  # T x 3 x H x W in [0, 1], the whole clip on the device
sizes = nerv_for_scale(scale)
tiny = TinyNeRV(sizes.grid, sizes.fc_dim, sizes.strides, sizes.widths(), sizes.stem_hidden)
package_nerv = NeRV(sizes)
tiny.load_state_dict(dict(zip(tiny.state_dict(), package_nerv.state_dict().values())))
times = torch.linspace(0, 1, 4)
with torch.no_grad():
    frames = tiny(times)
    torch.testing.assert_close(frames, package_nerv(times))
print(f"4 frame times -> {tuple(frames.shape)}, the same numbers as the package's NeRV")

# %% [markdown]
# ## NeRV as the package builds it
#
# The package's `nerv` module is that model, plus what the course needs around it. What it
# adds (folded: click to show):
#
# - `NeRVConfig`, a dataclass of every size and choice, checked when it is made;
#   `dataclasses.asdict(config)` goes into each checkpoint, so a saved model says how to
#   rebuild it;
# - the ablations' switches: `activation` by name (`make_activation`), `upsample` (lesson
#   02's three kinds) and `embedding="none"` (raw `t`, `B x 1`, NeRV's Table 6);
# - the widths rule, `widths()`: the first block keeps the stem's `C` channels; each later
#   block divides the width by `reduction` (2) but never goes under `lower_width` (96 in the
#   paper);
# - `expect_shape` after every block, so a wrong size names the stage where it happened
#   instead of failing three layers later inside a convolution;
# - the paper's models (`nerv_bunny`) and a model for each scale (`nerv_for_scale`,
#   `strides_for`), counted on the meta device (`parameters_of`).
#
# For the paper's three models half the stem's width is under the width floor (C = 26, 58,
# 112), so the floor sets every later width: NeRV-S runs 26, 96, 96, 96, 96 (printed below).
# `fc_dim` alone sets S, M and L.

# %% cellView="form" jupyter={"source_hidden": true}
#| export nerv
"""NeRV: a video as a network from frame time to frame (Chen et al., NeurIPS 2021).

    t (B,) -> positional encoding (B, 80) -> MLP stem -> C x h x w grid
      -> [conv 3x3 -> PixelShuffle(s) -> activation] per stride -> 1x1 head -> (tanh + 1) / 2

`NeRVConfig` holds every size and choice (asdict goes into checkpoints); `nerv_bunny` gives
the paper's S/M/L at 720x1280, `nerv_for_scale` a model sized for one of the course's scales.
Introduced in lesson 03 (notebooks/03_nerv.ipynb).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from nerv_lessons.data import check_strides, no_strides_error, stride_options, strides_line
from nerv_lessons.encoding import PositionalEncoding
from nerv_lessons.upsample import UPSAMPLE_KINDS, Upsample

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leakyrelu": nn.LeakyReLU,  # slope 0.01 for negative inputs
    "swish": nn.SiLU,  # swish(x) = x * sigmoid(x), which torch calls SiLU
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}
EMBEDDINGS = ("pe", "none")


def make_activation(name: str) -> nn.Module:
    """The activation layer called `name` (relu, leakyrelu, swish/silu or gelu)."""
    key = name.strip().lower().replace("_", "").replace("-", "")
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[key]()


# %% cellView="form" jupyter={"source_hidden": true}
#| export nerv
@dataclass
class NeRVConfig:
    """Every size and choice of a NeRV model. The defaults are NeRV-S for 720x1280 Bunny."""

    height: int = 720  # output frame height: the product of the strides must divide it
    width: int = 1280  # output frame width, likewise
    strides: tuple[int, ...] = (5, 2, 2, 2, 2)  # each block's upscale; 720x1280 / 80 = 9x16 grid
    fc_dim: int = 26  # channels of the stem's grid: the knob that sets S, M and L
    lower_width: int = 96  # no block narrower than this (later blocks halve the width)
    reduction: int = 2  # each block after the first divides the width by this
    stem_hidden: int = 512  # hidden width of the MLP stem
    embedding: str = "pe"  # "pe": positional encoding of t; "none": raw t (ablation, Table 6)
    pe_base: float = 1.25  # b in sin(b^i pi t): 1.25 in the paper
    pe_levels: int = 40  # frequencies; 40 (80 dims) as the reference code's Bunny runs
    activation: str = "gelu"  # GELU is the paper's ablation baseline (its Bunny runs use swish)
    upsample: str = "pixelshuffle"  # how blocks upscale: pixelshuffle, bilinear or deconv

    def __post_init__(self):
        self.strides = tuple(int(s) for s in self.strides)  # lists from JSON/asdict -> tuple
        check_strides(self.height, self.width, self.strides)
        make_activation(self.activation)  # raises on an unknown name, listing the choices
        if self.embedding not in EMBEDDINGS:
            raise ValueError(
                f"unknown embedding {self.embedding!r}: choose one of {', '.join(EMBEDDINGS)}"
            )
        if self.upsample not in UPSAMPLE_KINDS:
            raise ValueError(
                f"unknown upsample kind {self.upsample!r}: "
                f"choose one of {', '.join(UPSAMPLE_KINDS)}"
            )

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) of the stem's feature grid: the frame divided by the strides' product."""
        total = math.prod(self.strides)
        return self.height // total, self.width // total

    def widths(self) -> list[int]:
        """Channels after each block: the first keeps fc_dim, later ones reduce to lower_width."""
        widths, width = [], self.fc_dim
        for index in range(len(self.strides)):
            if index > 0:
                width = max(width // self.reduction, self.lower_width)
            widths.append(width)
        return widths


# %% [markdown]
# The model (folded), with `expect_shape` checking the tensor as it flows.


# %% cellView="form" jupyter={"source_hidden": true}
#| export nerv
def expect_shape(x: torch.Tensor, shape: Sequence[int], stage: str) -> torch.Tensor:
    """Return x, or raise a ValueError naming `stage` when x is not of this shape."""
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{stage}: expected shape {tuple(shape)}, got {tuple(x.shape)}")
    return x


class NeRV(nn.Module):
    """Frame times (B,) in [0, 1] -> frames (B, 3, H, W) in [0, 1]."""

    def __init__(self, config: NeRVConfig):
        super().__init__()
        self.config = config
        if config.embedding == "pe":
            self.embed = PositionalEncoding(b=config.pe_base, levels=config.pe_levels)
            in_dim = self.embed.dim
        else:
            self.embed = None  # raw t: one number per frame
            in_dim = 1
        grid_h, grid_w = config.grid
        self.stem = nn.Sequential(
            nn.Linear(in_dim, config.stem_hidden),
            make_activation(config.activation),
            nn.Linear(config.stem_hidden, config.fc_dim * grid_h * grid_w),
            make_activation(config.activation),
        )
        blocks, channels = [], config.fc_dim
        for stride, width in zip(config.strides, config.widths()):
            upsample = Upsample(channels, width, stride, kind=config.upsample, kernel_size=3)
            blocks.append(nn.Sequential(upsample, make_activation(config.activation)))
            channels = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(channels, 3, kernel_size=1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if t.ndim != 1:
            raise ValueError(f"NeRV takes frame times shaped (B,), got {tuple(t.shape)}")
        config, batch = self.config, t.shape[0]
        x = self.embed(t) if self.embed is not None else t[:, None]  # (B, 2*levels) or (B, 1)
        x = self.stem(x)  # (B, fc_dim * h * w)
        h, w = config.grid
        x = x.view(batch, config.fc_dim, h, w)  # (B, fc_dim, h, w): the 9x16 grid at 720p
        for index, (block, stride, width) in enumerate(
            zip(self.blocks, config.strides, config.widths())
        ):
            x = block(x)  # (B, C, h, w) -> (B, width, h*stride, w*stride)
            h, w = h * stride, w * stride
            expect_shape(x, (batch, width, h, w), f"block {index + 1} (stride {stride})")
        x = (torch.tanh(self.head(x)) + 1) / 2  # (B, 3, H, W) in [0, 1]
        return expect_shape(x, (batch, 3, config.height, config.width), "head")


def count_parameters(model: nn.Module) -> int:
    """How many numbers the model stores (its size before any compression)."""
    return sum(p.numel() for p in model.parameters())


# %% [markdown]
# The paper's three Bunny models differ only in `fc_dim` (26, 58, 112): 3.2M, 6.3M and 12.5M
# parameters at 720x1280. For the course's scales we keep the shape (all widths from one
# number) and pick the widest model that fits the scale's budget. We count parameters on
# torch's "meta" device, which builds the layers without memory (folded below).
#
# The strides: NeRV's paper fixes them (5,2,2,2,2, a total of 80) and lets the grid follow
# the frame (9x16 at 720x1280). `strides_for` keeps that total where the frame allows, and
# a smaller one where the grid would be thinner than 2 cells (80x160: 5,2,2,2, a 2x4 grid).
# For any other frame it takes the largest total up to 80 that divides both sides, written
# as strides of 2 to 5 (lesson 00's `stride_options`), and says so in one line.

# %% cellView="form" jupyter={"source_hidden": true}
#| export nerv
NERV_BUNNY_FC_DIM = {"S": 26, "M": 58, "L": 112}  # the reference code's fc_hw_dim 9_16_<C>


def nerv_bunny(size: str = "S", **changes) -> NeRVConfig:
    """NeRV-S, -M or -L of the paper: 720x1280 output, strides 5,2,2,2,2 (3.2M/6.3M/12.5M)."""
    if size.upper() not in NERV_BUNNY_FC_DIM:
        raise ValueError(f"unknown NeRV size {size!r}: choose one of S, M, L")
    return NeRVConfig(fc_dim=NERV_BUNNY_FC_DIM[size.upper()], **changes)


NERV_STRIDES = (5, 2, 2, 2, 2)  # the paper's: 720x1280 / 80 = a 9x16 grid


def nerv_choice(height: int, width: int) -> tuple[int, ...] | None:
    """NeRV's strides for a frame, or None when no strides fit it: the largest total stride
    up to the paper's 80 whose grid keeps at least 2 cells on its short side (failing that,
    the largest up to 80: tiny frames get a thinner grid)."""
    ceiling = math.prod(NERV_STRIDES)
    options = [s for s in stride_options(height, width) if math.prod(s) <= ceiling]
    if not options:
        return None
    short = min(height, width)
    return max(options, key=lambda s: (short // math.prod(s) >= 2, math.prod(s)))


def strides_for(height: int, width: int) -> tuple[int, ...]:
    """NeRV's strides for a height x width frame (`nerv_choice`): 5,2,2,2,2 or it with 2s
    dropped from the end at the course's sizes, quietly; for other frames other strides of 2
    to 5, said in one line. A frame that no strides fit raises, naming sizes that work."""
    strides = nerv_choice(height, width)
    if strides is None:
        raise no_strides_error("NeRV", height, width, nerv_choice)
    if strides != NERV_STRIDES[: len(strides)]:
        print(strides_line("NeRV", height, width, strides, "NeRV's 5,2,2,2,2 does not fit"))
    return strides


def parameters_of(config: NeRVConfig) -> int:
    """The parameter count of the model a config builds (built on the meta device: no memory)."""
    with torch.device("meta"):
        return count_parameters(NeRV(config))


def nerv_for_scale(scale, budget: float | None = None, **changes) -> NeRVConfig:
    """The widest NeRV for this scale's frame size within `budget` million parameters
    (default: the scale's model budget). Widths keep NeRV-S's proportions:
    lower_width = w, fc_dim = w * 26 / 96, stem hidden = min(4 w, 512)."""
    budget = scale.model_params if budget is None else budget
    # Picked once, not once per width tried below (and not at all when changes hold strides).
    strides = changes.get("strides") or strides_for(scale.height, scale.width)

    def config(w: int) -> NeRVConfig:
        sizes = dict(
            height=scale.height,
            width=scale.width,
            strides=strides,
            fc_dim=max(2, round(w * 26 / 96)),
            lower_width=w,
            stem_hidden=min(4 * w, 512),
        )
        return NeRVConfig(**(sizes | changes))

    if parameters_of(config(4)) > budget * 1e6:
        raise ValueError(f"a {budget}M budget is too small for NeRV at this frame size")
    w = 4
    while parameters_of(config(w + 1)) <= budget * 1e6:
        w += 1
    return config(w)


# %% [markdown]
# The strides at the paper's size, the course's three and a reader's 128x320:

# %%
# NBVAL_CHECK_OUTPUT
for height, width in [(720, 1280), (640, 1280), (320, 640), (80, 160), (128, 320)]:
    print(f"{height}x{width}: strides {strides_for(height, width)}")

# %% [markdown]
# Check the paper's three sizes, and build the model for this scale:

# %%
# NBVAL_CHECK_OUTPUT
for size, paper in [("S", 3.2), ("M", 6.3), ("L", 12.5)]:
    config = nerv_bunny(size)
    print(
        f"NeRV-{size}: fc_dim {config.fc_dim:3d}, grid {config.grid}, widths {config.widths()}, "
        f"{parameters_of(config) / 1e6:.2f}M parameters (paper {paper}M)"
    )

# %%
model_config = nerv_for_scale(scale)
model = NeRV(model_config).to(device)
print(model_config)
print(f"{count_parameters(model) / 1e6:.3f}M parameters (budget {scale.model_params}M)")
with torch.no_grad():
    out = model(torch.tensor([0.0, 0.5, 1.0], device=device))
print("3 frame times ->", tuple(out.shape), f"values in [{out.min():.3f}, {out.max():.3f}]")

# %% [markdown]
# Its stages, with the shape each one outputs, drawn from one forward pass of two frame
# times (the stem's output is flat; `forward` reshapes it into the grid):

# %%
architecture(
    model,
    torch.tensor([0.0, 0.5], device=device),
    title=f"NeRV at the {scale.name} scale: each stage's output shape (batch left out)",
)
plt.show()

# %% [markdown]
# ## Exercise: a NeRV block in torch layers
#
# `TinyNeRV` took its blocks from lesson 02's `Upsample`. Write `nerv_block(c_in, c_out,
# stride)` from torch's own layers (`nn.Conv2d`, `nn.PixelShuffle`, an activation): NeRV's
# block, a 3x3 convolution, then PixelShuffle by `stride`, then GELU, mapping
# `(B, c_in, h, w)` to `(B, c_out, stride h, stride w)`. The check loads the weights of a
# package NeRV's blocks into yours, in order, and compares the outputs.


# %%
def nerv_block(c_in: int, c_out: int, stride: int) -> nn.Module:
    """NeRV's block: conv 3x3 -> PixelShuffle(stride) -> GELU, (B, c_in, h, w) ->
    (B, c_out, stride h, stride w)."""
    ### BEGIN SOLUTION
    return nn.Sequential(
        nn.Conv2d(c_in, c_out * stride * stride, kernel_size=3, padding=1),
        nn.PixelShuffle(stride),
        nn.GELU(),
    )
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("nerv_block"):
    from nerv_lessons.nerv import NeRV, NeRVConfig

    config = NeRVConfig(height=40, width=80, strides=(5, 2, 2), fc_dim=4, lower_width=8)
    package = NeRV(config)
    channels, (h, w) = config.fc_dim, config.grid
    for block, stride, width in zip(package.blocks, config.strides, config.widths()):
        ours = nerv_block(channels, width, stride)
        theirs_shapes = [tuple(p.shape) for p in block.parameters()]
        our_shapes = [tuple(p.shape) for p in ours.parameters()]
        if our_shapes != theirs_shapes:
            wrong(
                f"the package's block {channels} -> {width} channels, stride {stride}, holds "
                f"parameters shaped {theirs_shapes}; yours {our_shapes}. Its one convolution "
                "makes, at the small map, every number that the shuffle then spreads out"
            )
        ours.load_state_dict(dict(zip(ours.state_dict(), block.state_dict().values())))
        x = torch.randn(2, channels, h, w)
        with torch.no_grad():
            expected = block(x)
            try:
                got = ours(x)
            except RuntimeError as error:  # e.g. a kernel larger than the padded map
                wrong(f"your block fails on a {tuple(x.shape)} input ({error})")
        if got.shape != expected.shape:
            wrong(
                f"from {tuple(x.shape)} your block gives {tuple(got.shape)}, NeRV's "
                f"{tuple(expected.shape)}: a 3x3 convolution must keep the map's size"
            )
        if not torch.allclose(got, expected, atol=1e-6):
            wrong(
                f"with the package's weights your block ({channels} -> {width}, stride "
                f"{stride}) gives other numbers: check the order of its layers and which "
                "activation NeRV's baseline uses"
            )
        channels, h, w = width, h * stride, w * stride
    right("your blocks are NeRV's: the same weights give the same frames, stage by stage.")

# %% [markdown]
# ## Predict: where NeRV-S keeps its parameters
#
# At this scale the stem (the two linear layers that draw the grid) holds the share of the
# model printed below. Now change the frame to the paper's 720x1280 and the model to NeRV-S
# (3.2M parameters, grid 9x16, widths 26, 96, 96, 96, 96): what percentage of its parameters
# sits in the stem? The next cell measures both and prints only this scale's; write your
# prediction (a percentage) in the cell after, then run the check (right within 10 points).

# %%
# Measured now: the stem's share of this scale's model (printed) and of NeRV-S (printed by
# the check below).
stem_shares = {}
for name, config in [("this scale", model_config), ("NeRV-S", nerv_bunny("S"))]:
    with torch.device("meta"):
        built = NeRV(config)
    stem_shares[name] = count_parameters(built.stem) / count_parameters(built)
print(
    f"{scale.height}x{scale.width}, {scale.model_params}M budget: the stem holds "
    f"{stem_shares['this scale']:.0%} of the parameters"
)

# %%
# Your prediction: the percentage of NeRV-S's parameters in its stem at 720x1280 (a number).
### BEGIN SOLUTION
stem_percent = 60
### END SOLUTION

# %%
# Check: says right or wrong, and why.
with exercise("stem_percent"):
    measured = 100 * stem_shares["NeRV-S"]
    if isinstance(stem_percent, bool) or not isinstance(stem_percent, (int, float)):
        wrong(f"write the prediction as a number of percent, such as 35; got {stem_percent!r}")
    if stem_percent < measured - 10:
        wrong(
            f"you predicted {stem_percent:g} %, NeRV-S's stem holds {measured:.0f} %: more. "
            "Its last layer writes every number of the grid from each hidden unit: count the "
            "grid's numbers at 720x1280"
        )
    if stem_percent > measured + 10:
        wrong(
            f"you predicted {stem_percent:g} %, NeRV-S's stem holds {measured:.0f} %: less. "
            "Its five blocks are 96 channels wide, and each convolution makes 4 or 25 "
            "channels per output channel: count those too"
        )
    right(
        f"NeRV-S's stem holds {measured:.0f} % of its 3.2M parameters (this scale's: "
        f"{100 * stem_shares['this scale']:.0f} %)."
    )

# %% [markdown]
# Most of NeRV-S's parameters sit in one linear layer: the one that draws the 9x16 grid,
# 512 hidden units times 26 x 9 x 16 = 3,744 grid numbers, 1.9M weights. It grows with the
# frame's area, while the blocks do not; at this scale's small grid it matters less. HNeRV
# (lesson 04) replaces that layer with a small per-frame embedding from an encoder.
#
# ## Training in 15 lines
#
# NeRV's recipe: one frame a step in random order, Adam with betas (0.5, 0.999), the learning
# rate warmed up and then lowered along a cosine, and the loss 0.7 L1 + 0.3 (1 - SSIM). In
# plain torch, with the schedule from the package (you write it in the exercise below):

# %%
from pytorch_msssim import ssim

from nerv_lessons.train import lr_factor  # NeRV's schedule: warm-up, then a cosine


def train_by_hand(model, video, epochs, lr, warmup=0.2, seed=0):
    """Fit model to video (T, 3, H, W) with NeRV's recipe; returns each epoch's mean loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.5, 0.999))
    steps = epochs * len(video)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: lr_factor(i, steps, warmup))
    order = torch.Generator(video.device).manual_seed(seed)
    curve = []
    for _ in range(epochs):
        losses = []
        for i in torch.randperm(len(video), device=video.device, generator=order).split(1):
            frame, target = model(i.float() / max(len(video) - 1, 1)), video[i]  # t = i / (T-1)
            loss = 0.7 * (frame - target).abs().mean() + 0.3 * (1 - ssim(frame, target, 1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        curve.append(sum(losses) / len(losses))
    return curve


# %% [markdown]
# Run it on the real clip for a few seconds: `TinyNeRV` at this scale's sizes, a tenth of the
# scale's epochs, the scale's learning rate.

# %%
from nerv_lessons.metrics import psnr
from nerv_lessons.train import TrainConfig
from nerv_lessons.viz import to_image

torch.manual_seed(0)
tiny = TinyNeRV(sizes.grid, sizes.fc_dim, sizes.strides, sizes.widths(), sizes.stem_hidden)
tiny = tiny.to(device)
quick_epochs, lr = max(1, scale.epochs // 10), TrainConfig.nerv(scale).lr
start = time.perf_counter()
curve = train_by_hand(tiny, video, quick_epochs, lr)
seconds = time.perf_counter() - start
with torch.no_grad():  # the clip's frame times, 8 frames at a time
    all_times = torch.arange(len(video), device=device) / max(len(video) - 1, 1)
    tiny_copy = torch.cat([tiny(part) for part in all_times.split(8)])
mean_frame_psnr = psnr(video.mean(0, keepdim=True).expand_as(video), video).mean().item()
print(
    f"{quick_epochs} epochs ({quick_epochs * len(video)} steps) in {seconds:.1f} s: PSNR "
    f"{psnr(tiny_copy, video).mean():.2f} dB; the clip's mean frame shown for every frame: "
    f"{mean_frame_psnr:.2f} dB"
)
figure, axes = plt.subplots(1, 3, figsize=(12, 2.4))
axes[0].plot(range(1, quick_epochs + 1), curve, marker="o")
axes[0].set(xlabel="epoch", ylabel="loss (0.7 L1 + 0.3 SSIM)", title="train_by_hand")
for axis, image, title in [(axes[1], video[0], "frame 0"), (axes[2], tiny_copy[0], "TinyNeRV")]:
    axis.imshow(to_image(image))
    axis.set_title(title)
    axis.axis("off")
figure.tight_layout()
plt.show()

# %% [markdown]
# At the quick scale a few seconds teach it the clip's colours and layout but not yet its
# detail: it stays under the mean frame, which the package's 80-epoch run below leaves far
# behind. Is it the package's loop? Start the package's `train` from the same weights with
# the same seed, on a tiny input (3 frames on the CPU, 2 epochs) and with its CUDA-only and
# speed options off: the same loss, epoch by epoch, and the same weights at the end.

# %%
from nerv_lessons.train import train  # the package's loop, shown below

start_model = NeRV(sizes)
ours, theirs = deepcopy(start_model), deepcopy(start_model)
few = video[:3].cpu()
our_curve = train_by_hand(ours, few, epochs=2, lr=1e-3)
same_recipe = TrainConfig.nerv(epochs=2, lr=1e-3, amp="off", channels_last=False, progress=False)
package_history = train(theirs, few, same_recipe)
torch.testing.assert_close(torch.tensor(our_curve), torch.tensor(package_history["loss"]))
for mine, its in zip(ours.parameters(), theirs.parameters()):
    torch.testing.assert_close(mine, its)
print(f"loss per epoch, train_by_hand: {[round(value, 5) for value in our_curve]}")
print(f"loss per epoch, package train: {[round(value, 5) for value in package_history['loss']]}")

# %% [markdown]
# ## Exercise: NeRV's learning-rate schedule
#
# Write `warmup_cosine(step, total_steps, warmup)`: the learning rate of step `step` (0, 1,
# ..., `total_steps - 1`) as a fraction of the peak. NeRV warms up along a straight line from
# 0.1 of the peak to the peak over the first `warmup` fraction of the steps, then follows
# half a cosine from the peak down to 0 at the end of the run. The check compares it with the
# package's `lr_factor` over whole runs.


# %%
def warmup_cosine(step: int, total_steps: int, warmup: float) -> float:
    """NeRV's learning rate at `step`, as a fraction of the peak: warm-up, then cosine."""
    ### BEGIN SOLUTION
    progress = step / total_steps
    if progress < warmup:
        return 0.1 + 0.9 * progress / warmup
    return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("warmup_cosine"):
    from nerv_lessons.train import lr_factor

    for total, warm in [(1000, 0.2), (160, 0.1), (37, 0.25)]:
        for step in range(total):
            got, expected = warmup_cosine(step, total, warm), lr_factor(step, total, warm)
            if isinstance(got, bool) or not isinstance(got, (int, float)):
                wrong(f"return a number, a fraction of the peak; got {got!r}")
            if abs(got - expected) > 1e-6:
                where = "warm-up" if step / total < warm else "cosine"
                wrong(
                    f"at step {step} of {total} (warm-up {warm:.0%}, so in the {where}) you "
                    f"give {got:.6g}, NeRV {expected:.6g}. "
                    + {
                        "warm-up": "The warm-up is a straight line that starts at 0.1 of the "
                        "peak and reaches the peak just as the warm-up ends",
                        "cosine": "After the warm-up the cosine starts at the peak and "
                        "reaches 0 at the end of the run: half a period over the steps left",
                    }[where]
                )
    right("your schedule is NeRV's: a short climb, then half a cosine down to 0.")

# %% [markdown]
# ## The package's training loop
#
# Every later model (HNeRV, the residual and two-stream variants, compression fine-tuning,
# inpainting) trains with the package's `train`, so it is written once and written for speed.
# It is `train_by_hand` plus, one line each (folded: click to show):
#
# - **the whole clip lives on the device** as one tensor and a batch is a tensor of frame
#   indices from `torch.randperm` on that device: no `DataLoader`, no copies per step;
# - **no host sync per step**: losses stay tensors, read back (`.item()`) only every
#   `log_every` steps and once at the end (`train_by_hand` syncs every step);
# - **batches of any size**, and the schedule stepped per step, as `train_by_hand`;
# - **losses by name** (`make_loss`: l1, l2, ssim, ms-ssim, NeRV's "fusion", or a weighted
#   sum such as `"0.7*l1 + 0.3*ssim"`), computed in float32;
# - **each paper's recipe** as data (`RECIPES`, `TrainConfig.nerv(scale)`), sized by the scale;
# - **channels-last** memory for the convolutions, on any device: measured 1.3-1.5x faster
#   for both NeRVs at their recipes' batch sizes (NeRV 1, HNeRV's NeRV 2) on this 2-core
#   CPU, about even for HNeRV (`benchmarks/quick_scale.py`);
# - **mixed precision** (bf16 autocast, or fp16 with a `GradScaler`) and cuDNN's autotuner on
#   CUDA only; the CPU runs plain fp32;
# - what the model eats is a function `model_input(video, indices)`: NeRV eats frame times
#   (`frame_times`), HNeRV (lesson 04) will eat the frames themselves;
# - **`mask=`** for inpainting (lesson 09): the loss and the training PSNR count only the
#   known pixels;
# - **a divergence guard**: a loss that turns NaN or infinite stops the run with a
#   `RuntimeError` naming the epoch and a lower learning rate to try;
# - **a history** to plot (loss, training PSNR, lr and seconds per epoch), `evaluate` for the
#   finished model, and checkpoints.
#
# First the pieces (folded: click to show): the losses, selectable by name, and the schedule.

# %% cellView="form" jupyter={"source_hidden": true}
#| export train
"""The course's one training loop: a model, a clip on the device, a config -> a history.

    history = train(model, video, TrainConfig.nerv(scale), model_input=frame_times)

The clip lives on the device as one tensor and batches are index tensors; losses stay on the
device between log points; Adam with warm-up + cosine per step; channels-last memory while
training (then back to the default layout); on CUDA only: bf16/fp16 autocast and cuDNN
autotuning. `evaluate` gives per-frame PSNR and MS-SSIM;
`save_checkpoint` and `load_checkpoint` keep model, configs, optimizer and epoch.
`train(..., mask=known)` counts only the known pixels (1 = known, 0 = hole) in pixel losses,
for inpainting (lesson 09); a loss that turns non-finite stops the run with a RuntimeError.
Introduced in lesson 03 (notebooks/03_nerv.ipynb).
"""

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from nerv_lessons.data import check_frames
from nerv_lessons.metrics import ms_ssim, ms_ssim_window, psnr


def _known_mean(errors: torch.Tensor, known: torch.Tensor | None) -> torch.Tensor:
    """The mean of per-pixel errors (B, 3, H, W), over all pixels or only the known ones
    (`known` is (B, 1 or 3, H, W), 1 = known, 0 = hole): holes add nothing, not even zeros.

    Dividing by the known-pixel count is our choice: HNeRV's code takes loss(out * M, gt * M),
    a mean over all pixels with the holes as zeros, which is this mean times the batch's known
    fraction (about 0.99 for the five boxes): the same gradients, slightly smaller."""
    if known is None:
        return errors.mean()
    known = known.expand_as(errors)
    return (errors * known).sum() / known.sum()


def l1_loss(pred: torch.Tensor, target: torch.Tensor, known=None) -> torch.Tensor:
    return _known_mean((pred - target).abs(), known)


def l2_loss(pred: torch.Tensor, target: torch.Tensor, known=None) -> torch.Tensor:
    return _known_mean((pred - target).pow(2), known)


# The SSIM losses compute what pytorch-msssim's ssim and ms_ssim compute (a unit test holds
# values and gradients equal), and are cheaper to train with: the library blurs each of the
# five local statistics apart, 50 small convolutions per MS-SSIM; stacked into one map, they
# take 10, which halves the loss's time on a CPU (measured: 30 -> 15 ms a step at 80x160).
# Scores stay the library's (metrics.ms_ssim).
def gaussian_window(size: int, sigma: float = 1.5) -> torch.Tensor:
    """The 1-D Gaussian window of SSIM (sigma 1.5, summing to 1)."""
    offsets = torch.arange(size, dtype=torch.float) - size // 2
    window = torch.exp(-(offsets**2) / (2 * sigma**2))
    return window / window.sum()


def _ssim_and_contrast(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor):
    """SSIM and its contrast-structure term per image and channel (B, C), over the valid
    (unpadded) Gaussian windows, the five local statistics blurred in one pass."""
    channels = x.shape[1]
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    rows = window.to(x).view(1, 1, 1, -1).expand(5 * channels, 1, 1, -1)
    stats = F.conv2d(stats, rows.transpose(-1, -2), groups=5 * channels)  # down the rows
    stats = F.conv2d(stats, rows, groups=5 * channels)  # then along them
    mean_x, mean_y, xx, yy, xy = stats.split(channels, dim=1)
    c1, c2 = 0.01**2, 0.03**2  # (K1 L)^2 and (K2 L)^2 with the data range L = 1
    covariance = xy - mean_x * mean_y
    contrast = (2 * covariance + c2) / (xx - mean_x**2 + yy - mean_y**2 + c2)
    luminance = (2 * mean_x * mean_y + c1) / (mean_x**2 + mean_y**2 + c1)
    return (luminance * contrast).flatten(2).mean(-1), contrast.flatten(2).mean(-1)


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # five scales, fine to coarse


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (11x11 Gaussian window, as the reference code): 0 for identical frames."""
    return 1 - _ssim_and_contrast(pred, target, gaussian_window(11))[0].mean()


def ms_ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - MS-SSIM, with the window metrics.ms_ssim_window picks for this frame size."""
    window = gaussian_window(ms_ssim_window(*pred.shape[-2:]))
    terms = []
    for scale in range(len(MS_SSIM_WEIGHTS)):
        ssim, contrast = _ssim_and_contrast(pred, target, window)
        if scale < len(MS_SSIM_WEIGHTS) - 1:  # coarser: halve, padding an odd side
            terms.append(torch.relu(contrast))
            padding = [side % 2 for side in pred.shape[-2:]]
            pred = F.avg_pool2d(pred, 2, padding=padding)
            target = F.avg_pool2d(target, 2, padding=padding)
    terms.append(torch.relu(ssim))  # the coarsest scale's whole SSIM
    weights = pred.new_tensor(MS_SSIM_WEIGHTS).view(-1, 1, 1)
    return 1 - torch.prod(torch.stack(terms) ** weights, dim=0).mean()


LOSSES = {"l1": l1_loss, "l2": l2_loss, "ssim": ssim_loss, "ms-ssim": ms_ssim_loss}
# Losses of single pixels, which a mask can restrict to the known pixels. SSIM compares 11x11
# windows, and a window that straddles a hole would still see the hole: not maskable here.
PIXEL_LOSSES = ("l1", "l2")
# NeRV's loss ("Fusion6" in its code): 0.7 L1 + 0.3 (1 - SSIM).
NAMED_LOSSES = {"fusion": "0.7*l1 + 0.3*ssim"}


def make_loss(name: str, masked: bool = False) -> Callable[..., torch.Tensor]:
    """The loss called `name`: one of l1, l2, ssim, ms-ssim, fusion, or a weighted sum of
    them such as "0.7*l1 + 0.3*ssim" (a bare name has weight 1). Computed in float32.

    The loss is called as loss(pred, target) or, when `masked`, loss(pred, target, known)
    with known (B, 1 or 3, H, W), 1 = known pixel: the paper's (1 - M) with M = 1 on holes."""
    terms = []
    for term in NAMED_LOSSES.get(name.strip().lower(), name).split("+"):
        weight, _, key = term.strip().lower().rpartition("*")
        if key.strip() not in LOSSES:
            choices = ", ".join([*LOSSES, *NAMED_LOSSES])
            raise ValueError(
                f"unknown loss {key.strip()!r} in {name!r}: choose from {choices}, "
                'or a weighted sum such as "0.7*l1 + 0.3*ssim"'
            )
        if masked and key.strip() not in PIXEL_LOSSES:
            raise ValueError(
                f"loss {name!r} has a {key.strip()!r} term, which a mask cannot restrict to "
                "the known pixels (its windows straddle the holes): use l1 or l2 or a "
                'weighted sum of them, e.g. loss="l2" as HNeRV\'s inpainting'
            )
        terms.append((float(weight) if weight else 1.0, LOSSES[key.strip()]))

    def loss(pred: torch.Tensor, target: torch.Tensor, *known) -> torch.Tensor:
        pred, target = pred.float(), target.float()
        return sum(weight * function(pred, target, *known) for weight, function in terms)

    return loss


def lr_factor(step: int, total_steps: int, warmup: float) -> float:
    """The learning rate of `step` as a fraction of the peak: a linear warm-up from 0.1 over
    the first `warmup` fraction of the steps, then a cosine from 1 down to 0."""
    progress = step / total_steps
    if progress < warmup:
        return 0.1 + 0.9 * progress / warmup
    return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))


# %% [markdown]
# The configuration (folded), with one reason per field. Each paper trains its own way, so
# each has a named recipe (`RECIPES`, from the papers' code): `TrainConfig.nerv(scale)` for
# NeRV's lessons, `TrainConfig.hnerv(scale)` wherever a table of HNeRV's paper is reproduced
# (HNeRV's code trains its NeRV baseline with the same recipe),
# `TrainConfig.recipe("two_stream", scale)` for lesson 07. The scale adds its epochs (and, for
# quick runs, its lr factor and batch), so a lesson runs the same code at quick, lesson and
# paper scale.

# %% cellView="form" jupyter={"source_hidden": true}
#| export train
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# Each paper's recipe as its code runs it on Bunny (epochs come from the scale).
RECIPES = {
    "nerv": dict(lr=5e-4, batch_size=1, loss="fusion", warmup=0.2, betas=(0.5, 0.999)),
    "hnerv": dict(lr=1e-3, batch_size=2, loss="l2", warmup=0.1, betas=(0.9, 0.999)),
    # Paper 001's README: lr 2e-3, batch 1 (its code's default), L2 as its text says, and
    # HNeRV's schedule and Adam, which its code keeps.
    "two_stream": dict(lr=2e-3, batch_size=1, loss="l2", warmup=0.1, betas=(0.9, 0.999)),
    # HiNeRV's Bunny config (lesson 11): Adam lr 2e-3, 0.7 L1 + 0.3 MS-SSIM, 30 of 300 epochs
    # warming up, gradients clipped to norm 1; its batch of 144 80x80 patches is one 720p
    # frame's pixels: batch 1 here.
    "hinerv": dict(
        lr=2e-3,
        batch_size=1,
        loss="0.7*l1 + 0.3*ms-ssim",
        warmup=0.1,
        betas=(0.9, 0.999),
        max_norm=1.0,
    ),
}


@dataclass
class TrainConfig:
    """How to train. The defaults are NeRV's Bunny set-up; build a paper's recipe with
    TrainConfig.nerv(scale), .hnerv(scale) or .recipe(name, scale)."""

    epochs: int = 300  # passes over the clip (NeRV on Bunny: 300; its ablations: 150 on UVG)
    lr: float = 5e-4  # peak learning rate (NeRV: 5e-4; HNeRV: 1e-3)
    batch_size: int = 1  # frames per step (NeRV: 1; HNeRV: 2)
    loss: str = "fusion"  # 0.7 L1 + 0.3 (1 - SSIM), NeRV's; see make_loss for the choices
    warmup: float = 0.2  # fraction of the steps spent warming up (NeRV: 0.2; HNeRV: 0.1)
    betas: tuple[float, float] = (0.5, 0.999)  # NeRV's Adam betas (beta1 0.5, not 0.9)
    seed: int = 0  # seeds the batch order, so a run repeats exactly (on the same device)
    amp: str = "bf16"  # autocast dtype on CUDA: "bf16", "fp16" or "off"; the CPU runs fp32
    channels_last: bool = True  # NHWC memory for the convolutions while training (any device)
    log_every: int = 50  # steps between progress-bar updates (each one syncs with the device)
    progress: bool = True  # show a tqdm progress bar
    max_norm: float | None = None  # clip each step's gradient to this norm (HiNeRV: 1.0)

    def __post_init__(self):
        make_loss(self.loss)  # raises on an unknown loss, listing the choices
        if self.max_norm is not None and not self.max_norm > 0:
            raise ValueError(f"max_norm={self.max_norm}: clip to a norm > 0, or None for no clip")
        if self.amp not in (*AMP_DTYPES, "off"):
            raise ValueError(f"unknown amp {self.amp!r}: choose bf16, fp16 or off")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(
                f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}"
            )
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup is a fraction of the steps in [0, 1), got {self.warmup}")
        self.betas = tuple(self.betas)

    @classmethod
    def recipe(cls, paper: str, scale=None, **changes) -> "TrainConfig":
        """The training recipe of `paper` (a key of RECIPES); with a scale, its epochs, its
        lr factor and (when it sets one) its batch size; then `changes`, which win."""
        if paper not in RECIPES:
            raise ValueError(f"unknown recipe {paper!r}: choose one of {', '.join(RECIPES)}")
        values = dict(RECIPES[paper])
        if scale is not None:
            values["epochs"] = scale.epochs
            values["lr"] *= scale.lr_factor
            if scale.batch_size is not None:
                values["batch_size"] = scale.batch_size
        return cls(**(values | changes))

    @classmethod
    def nerv(cls, scale=None, **changes) -> "TrainConfig":
        """NeRV's recipe: Adam (0.5, 0.999), lr 5e-4, batch 1, fusion loss, 20 % warm-up."""
        return cls.recipe("nerv", scale, **changes)

    @classmethod
    def hnerv(cls, scale=None, **changes) -> "TrainConfig":
        """HNeRV's recipe: Adam (0.9, 0.999), lr 1e-3, batch 2, L2 loss, 10 % warm-up."""
        return cls.recipe("hnerv", scale, **changes)


# %% [markdown]
# What an index model eats: the frame's time. Frame `i` of a `T`-frame clip gets
# `t = i / (T - 1)`, so the first frame is 0 and the last is 1 (a one-frame clip gets 0).
# (NeRV's own code divides by `T`, so its last frame sits just below 1; either works if
# training and evaluation agree.) Folded: `frame_times`, and `predict`, which runs a model on a
# batch of frame indices.


# %% cellView="form" jupyter={"source_hidden": true}
#| export train
def frame_times(video: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """The normalized time i / (T - 1) in [0, 1] of each frame index: the input of NeRV."""
    return indices.float() / max(len(video) - 1, 1)


def _check_indices(indices: torch.Tensor) -> None:
    if indices.numel() == 0:
        raise ValueError("empty batch of frame indices: pass at least one index")


def _device_context(device: torch.device, amp: str):
    """bf16/fp16 autocast on CUDA; plain fp32 anywhere else."""
    if device.type != "cuda" or amp == "off":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=AMP_DTYPES[amp])


def predict(
    model: torch.nn.Module,
    video: torch.Tensor,
    indices: torch.Tensor,
    model_input: Callable = frame_times,
    amp: str = "off",
) -> torch.Tensor:
    """The model's frames for these indices, (B, 3, H, W) in float32."""
    _check_indices(indices)
    with _device_context(video.device, amp):
        return model(model_input(video, indices)).float()


# %% [markdown]
# The loop itself (folded: click to show). Read `step` first: one batch, forward, loss,
# backward, Adam, schedule, as in `train_by_hand`.
# Everything else is bookkeeping: the per-epoch loss and PSNR stay tensors until they are
# logged, and the history is a dict of lists a lesson can plot.
#
# The PSNR in the history is the *training* PSNR: from each epoch's mean squared error over
# its batches, while the weights were still moving. `evaluate` below measures the finished model.
#
# Two guards for later lessons. `mask=` (lesson 09, inpainting) makes the loss and the
# training PSNR count only the known pixels (1 = known, 0 = hole). And a loss that turns NaN
# or infinite stops the run with a `RuntimeError` naming the epoch. The check runs every
# `log_every` steps (and at the end), so the run stops within `log_every` steps of the loss
# turning non-finite, without a sync with the device at every step.


# %% cellView="form" jupyter={"source_hidden": true}
#| export train
def train(
    model: torch.nn.Module,
    video: torch.Tensor,
    config: TrainConfig,
    model_input: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = frame_times,
    mask: torch.Tensor | None = None,
) -> dict[str, list[float]]:
    """Fit `model` to `video` (T x 3 x H x W in [0, 1], on the device to train on).

    model_input(video, indices) gives what model.forward takes for a batch of frame indices:
    `frame_times` for NeRV, the frames themselves for HNeRV. Returns the history:
    epoch, loss, psnr (training), lr and seconds (since the start), one entry per epoch.

    mask: None (every pixel counts) or (T, 1 or 3, H, W) on the video's device with
    1 = known pixel and 0 = hole; the loss and the training PSNR then count known pixels
    only. The model's input is still model_input's, so for inpainting pass the masked
    frames there (lesson 09). A loss that turns NaN or infinite raises a RuntimeError,
    checked every `log_every` steps and at the end (no extra sync per step).
    """
    check_frames(video, "video")
    device, frames = video.device, len(video)
    if mask is not None:
        check_mask(mask, video)
    loss_function = make_loss(config.loss, masked=mask is not None)
    cuda = device.type == "cuda"
    model.to(device).train()
    if config.channels_last:  # faster on CUDA and, measured, on the CPU for NeRV
        model.to(memory_format=torch.channels_last)
    if cuda:
        # Every step has the same shapes, so timing cuDNN's algorithms once pays off (the
        # reference code sets this too).
        torch.backends.cudnn.benchmark = True
    # Not fused=True: the fused kernel refuses a gradient whose strides differ from its
    # weight's, as they can in size-1 dimensions such as a 1x1 conv's (pytorch#106951).
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    steps_per_epoch = math.ceil(frames / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(min(step, total_steps - 1), total_steps, config.warmup)
    )
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and config.amp == "fp16")
    generator = torch.Generator(device).manual_seed(config.seed)

    def step(indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        target = video[indices]  # (B, 3, H, W), already on the device
        pred = predict(model, video, indices, model_input, config.amp if cuda else "off")
        if pred.shape != target.shape:
            raise ValueError(
                f"the model outputs {tuple(pred.shape)} for frames of {tuple(target.shape)}: "
                "build the model for the video's frame size"
            )
        # With a mask (lesson 09), only the known pixels count, in the loss and in the PSNR.
        known = () if mask is None else (mask[indices],)
        loss = loss_function(pred, target, *known)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if config.max_norm is not None:  # on the device: no sync with the host
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_norm)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        return loss.detach(), l2_loss(pred.detach(), target, *known)

    history = {"epoch": [], "loss": [], "psnr": [], "lr": [], "seconds": []}
    bar = tqdm(total=total_steps, disable=not config.progress, unit="step", leave=False)
    start, done = time.perf_counter(), 0
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(frames, device=device, generator=generator)
        losses, errors = [], []
        for indices in order.split(config.batch_size):
            loss, error = step(indices)
            losses.append(loss)
            errors.append(error)
            done += 1
            if done % config.log_every == 0:
                # A sync every N steps: is the loss still finite? NaN weights stay NaN, so
                # the latest loss tells; the progress bar reads the same number.
                if not math.isfinite(value := loss.item()):
                    _stop_diverged(
                        history["loss"] + [torch.stack(losses).mean()], config, mask is not None
                    )
                if config.progress:
                    bar.update(config.log_every)
                    bar.set_postfix(epoch=epoch, loss=f"{value:.4f}")
        epoch_loss, epoch_mse = torch.stack(losses).mean(), torch.stack(errors).mean()
        history["epoch"].append(epoch)
        history["loss"].append(epoch_loss)  # tensors until the end: no sync per epoch either
        history["psnr"].append(-10 * torch.log10(epoch_mse))
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["seconds"].append(time.perf_counter() - start)  # on CUDA: when queued
    bar.update(done - bar.n)
    bar.close()
    if cuda:
        torch.cuda.synchronize()
        history["seconds"][-1] = time.perf_counter() - start  # the true end of the last epoch
    if not torch.isfinite(torch.stack(history["loss"])).all():  # since the last check
        _stop_diverged(history["loss"], config, mask is not None)
    for key in ("loss", "psnr"):
        history[key] = torch.stack(history[key]).tolist()  # one sync for the whole run
    # Back to the default layout: a trained model and the same weights loaded from a file
    # then compute (and round) alike.
    model.to(memory_format=torch.contiguous_format).eval()
    return history


def check_mask(mask: torch.Tensor, video: torch.Tensor) -> None:
    """A training mask: (T, 1 or 3, H, W) of 0s and 1s on the video's device, no empty frame."""
    frames, _, height, width = video.shape
    if mask.dim() != 4 or mask.shape[1] not in (1, 3) or mask.shape[0] != frames:
        raise ValueError(
            f"mask is {tuple(mask.shape)}, the video {tuple(video.shape)}: pass a mask of "
            f"({frames}, 1, {height}, {width}) or ({frames}, 3, {height}, {width}), "
            "1 = known pixel, 0 = hole"
        )
    if mask.shape[2:] != video.shape[2:]:
        raise ValueError(
            f"mask frames are {tuple(mask.shape[2:])}, video frames {(height, width)}: "
            "make the mask at the video's frame size"
        )
    if mask.device != video.device:
        raise ValueError(f"mask is on {mask.device}, the video on {video.device}: move it")
    if ((mask != 0) & (mask != 1)).any():
        raise ValueError("mask holds values other than 0 and 1: 1 = known pixel, 0 = hole")
    empty = (mask.flatten(1).sum(1) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"frames {empty[:5]} of the mask have no known pixel, so their loss is 0/0: "
            "every frame needs some known pixels (shrink the holes or drop those frames)"
        )


def _stop_diverged(
    epoch_losses: list[torch.Tensor], config: TrainConfig, masked: bool = False
) -> None:
    """Raise the error that says where training diverged and what to try."""
    finite = torch.isfinite(torch.stack(epoch_losses)).tolist()
    epoch = finite.index(False) + 1 if False in finite else len(finite)
    hint = "; masked (inpainting) runs of HNeRV are reported to diverge at lr 1e-3"
    raise RuntimeError(
        f"training diverged: the loss became NaN or infinite in epoch {epoch} of "
        f"{config.epochs} at peak lr {config.lr:g}. Lower the learning rate (try "
        f"lr={config.lr / 5:g}) or lengthen the warm-up" + (hint if masked else "")
    )


# %% [markdown]
# Evaluation (folded): the per-frame PSNR and MS-SSIM of the finished model (lesson 00's
# metrics), computed a few frames at a time without gradients.


# %% cellView="form" jupyter={"source_hidden": true}
#| export train
@torch.no_grad()
def reconstruct(
    model: torch.nn.Module, video: torch.Tensor, model_input: Callable = frame_times, chunk=8
) -> torch.Tensor:
    """The model's copy of the whole clip, T x 3 x H x W float32 on the clip's device."""
    model.eval()
    indices = torch.arange(len(video), device=video.device)
    parts = [predict(model, video, part, model_input) for part in indices.split(chunk)]
    # NeRV's head is already in [0, 1]; the clamp only guards other models' heads.
    return torch.cat(parts).clamp(0, 1)


def evaluate(
    model: torch.nn.Module, video: torch.Tensor, model_input: Callable = frame_times, chunk=8
) -> dict[str, torch.Tensor]:
    """Per-frame quality of the model's copy of `video`: {"psnr": (T,), "ms_ssim": (T,)}."""
    check_frames(video, "video")
    copy = reconstruct(model, video, model_input, chunk)
    return {"psnr": psnr(copy, video).cpu(), "ms_ssim": ms_ssim(copy, video).cpu()}


# %% [markdown]
# Checkpoints (folded) hold the weights, the configs as plain dicts (`asdict`), and optionally the
# optimizer and the epoch, so a run can be rebuilt and resumed. Loading refuses clearly when
# the file is missing, is not a checkpoint, or does not fit the model.


# %% cellView="form" jupyter={"source_hidden": true}
#| export train
def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    configs: dict | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    epoch: int | None = None,
) -> Path:
    """Save model weights, configs (dataclasses become dicts), optimizer state and epoch."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    configs = {k: asdict(v) if is_dataclass(v) else v for k, v in (configs or {}).items()}
    checkpoint = {
        "model": model.state_dict(),
        "configs": configs,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "epoch": epoch,
    }
    torch.save(checkpoint, path)
    return path


def load_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict:
    """Load a checkpoint into `model` (and `optimizer`); returns {"configs": ..., "epoch": ...}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}: check the path (save_checkpoint wrote it?)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a checkpoint torch can read ({error})") from error
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise ValueError(f"{path} is not a checkpoint from save_checkpoint (no 'model' entry)")
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        raise ValueError(
            f"{path} does not fit this model; it was saved with configs "
            f"{checkpoint.get('configs')}. Build the model from those. ({error})"
        ) from error
    if optimizer is not None:
        if checkpoint.get("optimizer") is None:
            raise ValueError(f"{path} holds no optimizer state: save it with optimizer=...")
        optimizer.load_state_dict(checkpoint["optimizer"])
    return {"configs": checkpoint.get("configs", {}), "epoch": checkpoint.get("epoch")}


# %% [markdown]
# ## Experiments: a paper's table as data
#
# A paper's ablation is a table: rows that change one thing, one training recipe, one clip,
# the paper's number per row. One seed per row measures luck as much as the change, and a
# number with nothing to beat says little. So every table of the course is an `Experiment`:
# its rows (a model family and the changes to its configuration), its recipe (a key of
# `RECIPES`), the orderings the paper claims, and a **floor**: the clip's mean frame, shown
# for every frame, which any model that learned the video must beat. `run` trains every row
# with several seeds through the one `train`, and prints mean +- std. The code is plumbing,
# folded (click to show); the table definitions at the end of the section are not.


# %% cellView="form" jupyter={"source_hidden": true}
#| export experiments
"""Experiments: one paper table as data, trained over seeds, scored beside a floor.

    TABLE = register(Experiment(
        "nerv-embedding", paper="NeRV (NeurIPS 2021)", table="Table 6", recipe="nerv",
        rows=(Row("PE", "nerv", paper_psnr=37.26), Row("None", "nerv", {"embedding": "none"})),
        claims=(("PE", "None"),),
    ))
    results = run("nerv-embedding", scale, seeds=3, device=device)
    results.show()                      # mean +- std per row, the floor, the paper, verdicts
    results.save("results/quick")       # nerv-embedding.csv + nerv-embedding.json

A row names a model family (registered by the lesson that builds the model, with
`register_model`) and the changes to its configuration. `run` trains every row through the
one `train` and keeps each trained (row, clip, recipe, seed) in a disk cache, so a model that
several lessons use trains once per machine. Introduced in lesson 03 (notebooks/03_nerv.ipynb).
"""

import csv
import datetime
import functools
import hashlib
import importlib
import inspect
import json
import math
import multiprocessing
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

import nerv_lessons
from nerv_lessons.data import check_frames, load_clip
from nerv_lessons.metrics import ms_ssim, ms_ssim_window, params_per_pixel, psnr
from nerv_lessons.nerv import NeRV, count_parameters, nerv_for_scale
from nerv_lessons.scales import Scale, seed_everything
from nerv_lessons.train import RECIPES, TrainConfig, evaluate, frame_times, train

CACHE_VARIABLE = "NERV_LESSONS_CACHE"
FLOOR_PREFIX = "floor: "


@dataclass
class Setup:
    """What a model family builds for a clip: the model, what its forward takes for a batch
    of frame indices (`model_input(video, indices)`), its size as the paper counts it, and,
    for inpainting, the training mask (1 = known pixel)."""

    model: nn.Module
    model_input: Callable = frame_times
    params: int = 0
    mask: torch.Tensor | None = None


@dataclass(frozen=True)
class Row:
    """One row of a table: a label, a model family and the changes to its configuration.
    `size` and `epochs` are multiples of the scale's budget and epochs; `recipe` changes the
    experiment's training recipe (e.g. {"loss": "l2"}); `paper_*` are the paper's numbers."""

    label: str
    model: str
    changes: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    size: float = 1.0
    epochs: float = 1.0
    paper_psnr: float | None = None
    paper_ms_ssim: float | None = None
    # A row that its own paper trains differently (a key of train.RECIPES, e.g. "two_stream"):
    # it gets that recipe at the scale, then `recipe`'s changes. None: the experiment's.
    paper_recipe: str | None = None


@dataclass(frozen=True)
class Experiment:
    """A paper's table as the course reproduces it. `claims` are (better, worse) row labels
    the paper orders; `recipe` a key of train.RECIPES; `frames` and `frame_step` pick the
    clip (None: the scale's); split "even" trains on the even frames and scores the odd ones
    apart (held-out frames); `floors` name non-learned rows (FLOORS)."""

    name: str
    paper: str
    table: str
    recipe: str
    rows: tuple[Row, ...]
    claims: tuple[tuple[str, str], ...] = ()
    split: str = "all"
    floors: tuple[str, ...] = ("mean frame",)
    note: str = ""

    def __post_init__(self):
        labels = [row.label for row in self.rows]
        if len(set(labels)) != len(labels) or not labels:
            raise ValueError(f"experiment {self.name!r}: rows need distinct labels, got {labels}")
        for pair in self.claims:
            if missing := [label for label in pair if label not in labels]:
                raise ValueError(
                    f"experiment {self.name!r}: claim {pair} names rows {missing} that the "
                    f"table lacks (rows: {labels})"
                )
        for recipe in {self.recipe, *(row.paper_recipe for row in self.rows)} - {None}:
            if recipe not in RECIPES:
                raise ValueError(f"unknown recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
        if self.split not in SPLITS:
            raise ValueError(f"split {self.split!r}: choose one of {', '.join(SPLITS)}")
        if unknown := [name for name in self.floors if name not in FLOORS]:
            raise ValueError(f"unknown floors {unknown}: choose from {', '.join(FLOORS)}")


# %% [markdown]
# A model family is a function from a clip and a size budget to a `Setup`; each lesson
# registers its own (NeRV just below, HNeRV in lesson 04). The registry is what `run` and the
# command line read. A split says which frames train: all, or the even ones, with the odd ones
# held out (lesson 05).


# %% cellView="form" jupyter={"source_hidden": true}
#| export experiments
MODELS: dict[str, Callable[..., Setup]] = {}
EXPERIMENTS: dict[str, Experiment] = {}


def register_model(name: str, build: Callable[..., Setup]) -> None:
    """Make `name` a model family: build(video, budget, **changes) -> Setup, where video is
    the training clip (T, 3, H, W) and budget the size in millions of parameters."""
    MODELS[name] = build


def register(experiment: Experiment) -> Experiment:
    """Add an experiment to the registry that `run` and `nerv-lessons list` read."""
    for row in experiment.rows:
        if row.model not in MODELS:
            raise ValueError(
                f"row {row.label!r} of {experiment.name!r} uses model {row.model!r}, which no "
                f"lesson registered (known: {', '.join(MODELS) or 'none'})"
            )
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def experiment_named(name: str | Experiment) -> Experiment:
    if isinstance(name, Experiment):
        return name
    if name not in EXPERIMENTS:
        raise KeyError(
            f"no experiment {name!r}: `nerv-lessons list` shows them "
            f"(registered now: {', '.join(sorted(EXPERIMENTS)) or 'none'})"
        )
    return EXPERIMENTS[name]


# Which frames a run trains on, and which it scores apart as held-out (never seen).
SPLITS = {
    "all": lambda frames: (torch.arange(frames), None),
    "even": lambda frames: (torch.arange(0, frames, 2), torch.arange(1, frames, 2)),
}


def mean_frame(video: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """The floor every learned row must beat: one frame, the mean of the training frames,
    shown for every frame of the clip."""
    return video[seen].mean(0, keepdim=True).expand_as(video)


FLOORS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"mean frame": mean_frame}


def register_floor(name: str, copy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    """A non-learned baseline: copy(video, seen_indices) -> its copy of the whole clip."""
    FLOORS[name] = copy


# %% [markdown]
# Training is the slow part, and many tables share rows (each of NeRV's ablations starts from
# the same baseline; lesson 04's HNeRV is lesson 08's). So `fit` keeps each trained row in a
# disk cache, keyed by everything that changes the result: the family and its changes, the
# budget, the full recipe and seed, the clip's pixels, the device, the torch version and the
# package's source. Change any of them and the row trains again; change nothing and a
# rerun reads it back. The folder is `.cache/runs/` in the repository (ignored by git), or
# `$NERV_LESSONS_CACHE`.


# %% cellView="form" jupyter={"source_hidden": true}
#| export experiments
PACKAGE = Path(nerv_lessons.__file__).parent
COURSE_IMPORT = re.compile(r"^from nerv_lessons\.(\w+) import", re.MULTILINE)


def source_version(*modules: str) -> str:
    """A hash of the source a result depends on: these package modules (default: all) and
    every package module they import, directly or not. Edit any of them and cached results
    made with them go stale; an edit elsewhere (say, to the bitstream) leaves them valid."""
    todo, seen = list(modules or [path.stem for path in PACKAGE.glob("*.py")]), set()
    while todo:
        name = todo.pop()
        if name not in seen and (PACKAGE / f"{name}.py").is_file():
            seen.add(name)
            todo += COURSE_IMPORT.findall((PACKAGE / f"{name}.py").read_text())
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(name.encode() + (PACKAGE / f"{name}.py").read_bytes())
    return digest.hexdigest()[:12]


def results_root() -> Path:
    """results/ of the repository, where lessons save their tables (committed, so a reader
    sees them on GitHub); ./results/ for an installed package."""
    root = Path(nerv_lessons.__file__).resolve().parents[1]
    return (root if (root / "pyproject.toml").is_file() else Path.cwd()) / "results"


def results_folder(scale: Scale) -> Path:
    """results/<scale>/: one scale's tables (see results_root)."""
    return results_root() / scale.name


def cache_folder() -> Path:
    """$NERV_LESSONS_CACHE, else .cache/ at the repository root (ignored by git), else
    ~/.cache/nerv-lessons for an installed package."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    root = Path(nerv_lessons.__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file():
        return root / ".cache" / "runs"
    return Path.home() / ".cache" / "nerv-lessons"


def _clip_digest(video: torch.Tensor) -> str:
    return hashlib.sha256(video.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def _row_recipe(experiment: Experiment, row: Row, scale: Scale, seed: int) -> TrainConfig:
    paper = row.paper_recipe or experiment.recipe
    config = TrainConfig.recipe(paper, scale, progress=False, seed=seed)
    epochs = max(1, round(config.epochs * row.epochs))
    return replace(config, epochs=epochs, **row.recipe)


def _model_digest(setup: Setup) -> str:
    """What the built model is: its initial weights (so its configuration, shapes and
    initialisation) and the source of its layers' classes and of its input function (so its
    forward pass). An edit elsewhere in the module, such as a new table, leaves it unchanged."""
    digest = hashlib.sha256()
    for name, tensor in setup.model.state_dict().items():
        digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    classes = {type(part) for part in setup.model.modules()}
    for code in sorted(code for c in classes if (code := _class_code(c)) is not None):
        digest.update(code.encode())
    digest.update(_source(setup.model_input).encode())
    return digest.hexdigest()[:16]


@functools.cache
def _class_code(cls: type) -> str | None:
    """The source a layer class stands for in the cache key. A lesson's notebook runs the
    package's classes from its export cells: where a notebook class's methods read exactly as
    the package class's, the package's source stands in, so a model trained in the lesson
    that builds it and one trained in a later lesson share the cache. Other classes (torch's)
    count only through their weights."""
    if cls.__module__.startswith("nerv_lessons"):
        return _source(cls)
    defines = re.compile(rf"^class {cls.__name__}\b", re.MULTILINE)
    for path in sorted(PACKAGE.glob("*.py")):
        if defines.search(path.read_text()):
            twin = getattr(_import_quietly(f"nerv_lessons.{path.stem}"), cls.__name__, None)
            if isinstance(twin, type) and _methods(twin) == _methods(cls) is not None:
                return _source(twin)
    return None


def _methods(cls: type) -> dict[str, str] | None:
    """The source of each function a class defines (None when one has no source)."""
    found = {}
    for name, value in vars(cls).items():
        function = getattr(value, "__func__", value)
        if inspect.isfunction(function):
            try:
                found[name] = inspect.getsource(function)
            except OSError:
                return None
    return found


def _import_quietly(name: str):
    """Import a package module without letting its registrations replace a notebook's."""
    if name in sys.modules:
        return sys.modules[name]
    kinds = sys.modules.get("nerv_lessons._bitstream_kinds")  # lesson 08's file kinds, if loaded
    tables = (MODELS, EXPERIMENTS, FLOORS, *([kinds.MODEL_KINDS] if kinds else []))
    saved = [dict(table) for table in tables]
    try:
        return importlib.import_module(name)
    finally:
        for table, before in zip(tables, saved):
            table.clear()
            table.update(before)


def _source(thing) -> str:
    try:
        return inspect.getsource(thing)
    except (OSError, TypeError):  # defined in a notebook or built in: its name stands in
        return getattr(thing, "__qualname__", repr(thing))


def _cache_key(experiment, row, recipe, scale, clip_digest, seed, device, setup) -> str:
    what = dict(
        model=row.model,
        changes=row.changes,
        budget=scale.model_params * row.size,
        recipe=asdict(recipe),
        split=experiment.split,
        clip=clip_digest,
        seed=seed,
        device=torch.device(device).type,
        torch=torch.__version__,
        model_digest=_model_digest(setup),
        source=source_version("train"),
    )
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _prepare(experiment: Experiment, label: str, scale: Scale, seed: int, device, video):
    """A row's recipe, its training frames, its freshly built Setup (seeded) and the file
    that caches its trained model."""
    rows = {row.label: row for row in experiment.rows}
    if label not in rows:
        raise KeyError(f"{experiment.name!r} has no row {label!r}: rows are {list(rows)}")
    row = rows[label]
    recipe = _row_recipe(experiment, row, scale, seed)
    seen, _ = SPLITS[experiment.split](len(video))
    seen = seen.to(video.device)
    seed_everything(seed)  # the model's initial weights
    setup = MODELS[row.model](video[seen], scale.model_params * row.size, **row.changes)
    setup.model.to(video.device)
    key = _cache_key(experiment, row, recipe, scale, _clip_digest(video), seed, device, setup)
    return recipe, seen, setup, cache_folder() / key[:2] / f"{key}.pt"


def fit(
    experiment: Experiment | str,
    label: str,
    scale: Scale,
    seed: int = 0,
    device="cpu",
    video: torch.Tensor | None = None,
) -> tuple[Setup, dict]:
    """One row trained with one seed, from the cache when it ran before on this machine:
    (its Setup, with the trained model on `device`; and its record: per-frame psnr and
    ms_ssim on the whole clip, history, seconds, cached)."""
    experiment = experiment_named(experiment)
    video = clip_for(scale, device, video)
    recipe, seen, setup, path = _prepare(experiment, label, scale, seed, device, video)
    if path.is_file():
        stored = torch.load(path, map_location=video.device, weights_only=True)
        setup.model.load_state_dict(stored.pop("state"))
        setup.model.eval()
        return setup, stored | {"cached": True}

    # The model's input is computed from the whole clip at the whole clip's indices, so a
    # held-out frame's time (NeRV) or pixels (HNeRV) are what they would be in the full clip.
    def model_input(_, indices):
        return setup.model_input(video, seen[indices])

    history = train(setup.model, video[seen], recipe, model_input, setup.mask)
    quality = evaluate(setup.model, video, setup.model_input)
    record = dict(
        psnr=quality["psnr"],
        ms_ssim=quality["ms_ssim"],
        seconds=history["seconds"][-1],
        epochs=recipe.epochs,
        history=history,
        params=setup.params,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(record | {"state": setup.model.state_dict()}, path)
    return setup, record | {"cached": False}


_CLIPS: dict = {}  # the scale's Bunny clip, read once per process


def clip_for(scale: Scale, device="cpu", video: torch.Tensor | None = None) -> torch.Tensor:
    """The clip an experiment runs on: `video` when given (a reader's own), else the scale's
    Bunny clip (read once, then kept on the CPU)."""
    if video is None:
        if scale not in _CLIPS:
            _CLIPS[scale] = load_clip(scale)
        video = _CLIPS[scale]
    check_frames(video, "video")
    return video.to(device)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _summary(label, model, scores, video, params, epochs, seconds, paper=(None, None)) -> dict:
    """A results row from per-seed scores [(psnr frames, ms_ssim frames)], seen/held-out."""
    frames, _, height, width = video.shape
    line = dict(row=label, model=model)
    for part, frames_of in (("", "seen"), ("heldout_", "heldout")):
        if scores[0][frames_of] is None:
            continue
        for metric in ("psnr", "ms_ssim"):
            per_seed = [score[frames_of][metric] for score in scores]
            line[f"{part}{metric}_mean"], line[f"{part}{metric}_std"] = _mean_std(per_seed)
    line |= dict(
        seeds=len(scores),
        params=params,
        ppp=params_per_pixel(params, frames, height, width),
        epochs=epochs,
        seconds=seconds,
        paper_psnr=paper[0],
        paper_ms_ssim=paper[1],
    )
    return line


def _scores(per_frame: dict, seen: torch.Tensor, heldout: torch.Tensor | None) -> dict:
    def mean(indices):
        if indices is None:
            return None
        return {metric: per_frame[metric][indices].mean().item() for metric in ("psnr", "ms_ssim")}

    return {"seen": mean(seen), "heldout": mean(heldout)}


# %% [markdown]
# `run` builds the table; `provenance` records where its numbers came from (folded).


# %% cellView="form" jupyter={"source_hidden": true}
#| export experiments
def provenance(scale: Scale, device, seeds: Sequence[int], video: torch.Tensor) -> dict:
    """Where numbers came from: scale, device, torch, seeds, date, package version, commit."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                cwd=Path(nerv_lessons.__file__).parent,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return dict(
        scale=asdict(scale),
        device=str(device),
        device_name=name,
        torch=torch.__version__,
        seeds=list(seeds),
        clip=list(video.shape),
        date=datetime.date.today().isoformat(),
        package=nerv_lessons.__version__,
        commit=commit,
        source=source_version(),
        ms_ssim_window=ms_ssim_window(*video.shape[-2:]),
    )


def run(
    experiment: Experiment | str,
    scale: Scale,
    seeds: int | Sequence[int] = 3,
    device="cpu",
    video: torch.Tensor | None = None,
    progress: bool | None = None,
) -> "Results":
    """Train every row of `experiment` with each seed (`seeds`: a count from 0, or a list),
    through the cache; score the floors; return the table with its provenance."""
    experiment = experiment_named(experiment)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds: run at least one (3 or more for a verdict)")
    video = clip_for(scale, device, video)
    seen, heldout = (
        part if part is None else part.to(video.device)
        for part in SPLITS[experiment.split](len(video))
    )
    show_bar = sys.stderr.isatty() if progress is None else progress
    trained_apart = _train_missing(experiment, scale, seeds, device, video)
    lines = [_floor_line(name, video, seen, heldout) for name in experiment.floors]
    for row in experiment.rows:
        scores, seconds, cached = [], 0.0, 0
        bar = tqdm(seeds, desc=row.label, disable=not show_bar, leave=False)
        for seed in bar:
            setup, record = fit(experiment, row.label, scale, seed, device, video)
            scores.append(_scores(record, seen, heldout))
            seconds += record["seconds"]
            cached += record["cached"] and (row.label, seed) not in trained_apart
        lines.append(
            _summary(
                row.label,
                row.model,
                scores,
                video,
                record["params"],
                record["epochs"],
                seconds / len(seeds),
                (row.paper_psnr, row.paper_ms_ssim),
            )
        )
        if not show_bar:
            note = f", {cached} from the cache" if cached else ""
            print(f"  {row.label}: {len(seeds)} seeds, {lines[-1]['psnr_mean']:.2f} dB{note}")
    return Results(experiment, lines, provenance(scale, device, seeds, video))


WORKERS_VARIABLE = "NERV_LESSONS_WORKERS"


def workers_for(device, jobs: int) -> int:
    """How many processes train a table's missing (row, seed) pairs at once. On a CPU, one
    single-threaded process per thread torch would use: on 2 cores, two 1-thread trainings
    side by side finish about 1.4x sooner than one after the other with 2 threads each
    (benchmarks/quick_scale.py). On CUDA, one. $NERV_LESSONS_WORKERS overrides (1: never)."""
    if text := os.environ.get(WORKERS_VARIABLE):
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{WORKERS_VARIABLE}={text!r}: give a whole number >= 1")
        count = int(text)
    else:
        count = torch.get_num_threads() if torch.device(device).type == "cpu" else 1
    return max(1, min(count, jobs))


def _worker_module(build: Callable) -> str | None:
    """The package module a worker imports to build a family: the builder's own, or for a
    builder defined in a notebook the package module whose function of that name reads the
    same (a lesson running its export cells). None: a worker cannot build it. A twin whose
    classes differ costs only time: the cache key `fit` checks afterwards tells them apart."""
    if build.__module__.startswith("nerv_lessons"):
        return build.__module__
    defines = re.compile(rf"^def {build.__name__}\b", re.MULTILINE)
    for path in sorted(PACKAGE.glob("*.py")):
        if defines.search(path.read_text()):
            twin = getattr(_import_quietly(f"nerv_lessons.{path.stem}"), build.__name__, None)
            if callable(twin) and _source(twin) == _source(build):
                return twin.__module__
    return None


def _train_missing(experiment: Experiment, scale: Scale, seeds, device, video) -> set:
    """Train the pairs the cache lacks in parallel processes, when workers_for allows and
    every family has a package module a worker can import (`_worker_module`). Returns the
    pairs it trained; `fit` then reads them back (and trains any others itself)."""
    missing = [
        (row.label, seed)
        for row in experiment.rows
        for seed in seeds
        if not _prepare(experiment, row.label, scale, seed, device, video)[3].is_file()
    ]
    workers = workers_for(device, len(missing))
    if workers < 2:
        return set()
    modules = {_worker_module(MODELS[row.model]) for row in experiment.rows}
    if None in modules:
        return set()
    jobs = [(experiment, label, scale, seed, video.cpu()) for label, seed in missing]
    modules = sorted(modules)
    # spawn, not fork: a forked child of a process whose OpenMP threads already ran can hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, context, _worker_start, (modules,)) as pool:
        list(pool.map(_fit_in_worker, jobs))
    return set(missing)


def _worker_start(modules: list[str]) -> None:
    """One thread per worker; import the modules that register the table's families."""
    torch.set_num_threads(1)
    for name in modules:
        importlib.import_module(name)


def _fit_in_worker(job) -> None:
    experiment, label, scale, seed, video = job
    fit(experiment, label, scale, seed, "cpu", video)


def _floor_line(name: str, video: torch.Tensor, seen, heldout) -> dict:
    copy = FLOORS[name](video, seen)
    per_frame = {"psnr": psnr(copy, video), "ms_ssim": ms_ssim(copy, video)}
    line = _summary(FLOOR_PREFIX + name, "-", [_scores(per_frame, seen, heldout)], video, 0, 0, 0.0)
    return line | {"psnr_std": 0.0, "ms_ssim_std": 0.0}


# %% [markdown]
# The verdict on a claim "A beats B" is computed, never written by hand. Each row's seeds give
# a mean and a standard deviation; the gap of the means has a spread of about
# sqrt(s_A^2 + s_B^2). A gap of at least two of those, the right way round, **holds**; as far
# the wrong way, is **inverted**; anything smaller is **within noise**, which at three seeds
# is a real answer: this scale cannot tell the two apart.


# %% cellView="form" jupyter={"source_hidden": true}
#| export experiments
def verdict(better: dict, worse: dict, metric: str = "psnr") -> tuple[str, float, float]:
    """Does `better` beat `worse` as the paper says? (verdict, gap, noise): "holds" when the
    gap of the means is positive and at least 2 standard deviations of the gap (the rows'
    seed-to-seed stds combined, sqrt(s1^2 + s2^2)), "inverted" when it is as far negative,
    "within noise" otherwise; "too few seeds" under 3."""
    gap = better[f"{metric}_mean"] - worse[f"{metric}_mean"]
    noise = 2 * math.hypot(better[f"{metric}_std"], worse[f"{metric}_std"])
    if min(better["seeds"], worse["seeds"]) < 3:
        return "too few seeds", gap, noise
    if abs(gap) < noise:
        return "within noise", gap, noise
    return ("holds" if gap > 0 else "inverted"), gap, noise


def seed_row(values: Sequence[float], metric: str = "psnr") -> dict:
    """A row for `verdict` from one score per seed (any score where higher is better)."""
    if len(values) == 0:
        raise ValueError("seed_row needs one value per seed, got none")
    mean, std = _mean_std([float(value) for value in values])
    return {f"{metric}_mean": mean, f"{metric}_std": std, "seeds": len(values)}


COLUMNS = (
    "row",
    "model",
    "psnr_mean",
    "psnr_std",
    "ms_ssim_mean",
    "ms_ssim_std",
    "heldout_psnr_mean",
    "heldout_psnr_std",
    "heldout_ms_ssim_mean",
    "heldout_ms_ssim_std",
    "seeds",
    "params",
    "ppp",
    "epochs",
    "seconds",
    "paper_psnr",
    "paper_ms_ssim",
)


@dataclass
class Results:
    """An experiment's table: one dict per row (floors first) and the run's provenance."""

    experiment: Experiment
    rows: list[dict]
    provenance: dict

    def __getitem__(self, label: str) -> dict:
        for line in self.rows:
            if line["row"] == label:
                return line
        raise KeyError(f"no row {label!r}: rows are {[line['row'] for line in self.rows]}")

    def recipe_of(self, row: Row) -> TrainConfig:
        """The training recipe `row` ran with (at seed 0), from the run's scale."""
        scale = Scale(**self.provenance["scale"])
        return _row_recipe(self.experiment, row, scale, self.provenance["seeds"][0])

    def verdicts(self, metric: str = "psnr") -> list[dict]:
        """Each of the paper's claims, judged from the seeds (see `verdict`)."""
        judged = []
        for better, worse in self.experiment.claims:
            result, gap, noise = verdict(self[better], self[worse], metric)
            judged.append(dict(better=better, worse=worse, verdict=result, gap=gap, noise=noise))
        return judged

    def show(self, metric: str = "psnr") -> None:
        """Print the table: ours (mean +- std over seeds) beside the paper's, then verdicts."""
        info, experiment = self.provenance, self.experiment
        scale = info["scale"]
        print(
            f"{experiment.paper}, {experiment.table} | ours: {scale['name']} scale "
            f"({info['clip'][0]} frames of {info['clip'][2]}x{info['clip'][3]}), "
            f"{info['device']}, seeds {info['seeds']}"
        )
        heldout = "heldout_psnr_mean" in self.rows[0]
        header = f"{'row':<22} {'PSNR':>14} {'MS-SSIM':>16}"
        header += f" {'held-out PSNR':>14}" if heldout else ""
        print(header + f" {'params':>9} {'ppp':>6} {'epochs':>6} || {'paper':>6}")
        for line in self.rows:
            text = f"{line['row']:<22} {_pm(line, 'psnr', 2):>14} {_pm(line, 'ms_ssim', 4):>16}"
            text += f" {_pm(line, 'heldout_psnr', 2):>14}" if heldout else ""
            paper = "-" if line["paper_psnr"] is None else f"{line['paper_psnr']:.2f}"
            print(
                text + f" {line['params']:9,d} {line['ppp']:6.3f} {line['epochs']:6d} || {paper:>6}"
            )
        for judged in self.verdicts(metric):
            print(
                f"paper: {judged['better']} > {judged['worse']} | ours: gap "
                f"{judged['gap']:+.2f}, noise {judged['noise']:.2f} -> {judged['verdict']}"
            )

    def save(self, folder: str | Path) -> Path:
        """Write FOLDER/NAME.csv (one row a line) and FOLDER/NAME.json (provenance)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.experiment.name}.csv"
        columns = [column for column in COLUMNS if any(column in line for line in self.rows)]
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: _csv_value(line.get(k)) for k in columns} for line in self.rows)
        sidecar = dict(
            experiment=self.experiment.name,
            paper=self.experiment.paper,
            table=self.experiment.table,
            provenance=self.provenance,
            verdicts=self.verdicts(),
            # Enough to rerun a row: its family, changes and sizes, and the recipe it trained
            # with at this scale (seed s of the run sets seed=s).
            rows=[
                asdict(row) | {"train": asdict(self.recipe_of(row))} for row in self.experiment.rows
            ],
        )
        path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, default=str) + "\n")
        return path


def _pm(line: dict, metric: str, digits: int) -> str:
    mean, std = line.get(f"{metric}_mean"), line.get(f"{metric}_std")
    if mean is None:
        return "-"
    return f"{mean:.{digits}f}" + (
        "" if std is None or math.isnan(std) else f" +- {std:.{digits}f}"
    )


def _csv_value(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else value


def load_results(path: str | Path) -> tuple[list[dict], dict]:
    """Read a saved table back: its rows (numbers as floats, blanks as None) and sidecar."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results at {path}: run the experiment and save it first")
    with path.open(newline="") as file:
        rows = [{k: _parse(k, v) for k, v in line.items()} for line in csv.DictReader(file)]
    sidecar = path.with_suffix(".json")
    return rows, json.loads(sidecar.read_text()) if sidecar.is_file() else {}


def _parse(column: str, text: str):
    if column in ("row", "model"):
        return text
    if text == "":
        return None
    number = float(text)
    return int(number) if column in ("seeds", "params", "epochs") else number


# %% [markdown]
# NeRV's family and its four ablation tables (Tables 6, 7, 9 and 10 of the paper, all on UVG).
# Each variant is the widest NeRV of its kind within the scale's budget (`nerv_for_scale`), so
# rows compare models of nearly equal size; the table prints each size.


# %%
#| export experiments
def build_nerv(video: torch.Tensor, budget: float, **changes) -> Setup:
    """NeRV (lesson 03), the widest within `budget` million parameters for this clip."""
    frames, _, height, width = video.shape
    sizes = Scale("clip", height, width, frames, epochs=1, model_params=budget)
    model = NeRV(nerv_for_scale(sizes, **changes))
    return Setup(model, frame_times, count_parameters(model))


register_model("nerv", build_nerv)

# NeRV's ablations (its Tables 6, 7, 9 and 10, on UVG). The first row of each is the
# paper's baseline (PE, PixelShuffle, GELU, 0.7 L1 + 0.3 SSIM), so one trained model per
# seed serves all four tables: the cache sees the same row and trains it once.
NERV_BASELINE = dict(paper_psnr=37.26, paper_ms_ssim=0.970)
NERV_EMBEDDING = register(
    Experiment(
        "nerv-embedding",
        "NeRV (NeurIPS 2021)",
        "Table 6, input embedding",
        "nerv",
        rows=(
            Row("PE", "nerv", **NERV_BASELINE),
            Row("None", "nerv", {"embedding": "none"}, paper_psnr=24.93, paper_ms_ssim=0.769),
        ),
        claims=(("PE", "None"),),
    )
)
NERV_UPSAMPLING = register(
    Experiment(
        "nerv-upsampling",
        "NeRV (NeurIPS 2021)",
        "Table 7, upscale layer",
        "nerv",
        rows=(
            Row("PixelShuffle", "nerv", **NERV_BASELINE),
            Row(
                "Transpose conv",
                "nerv",
                {"upsample": "deconv"},
                paper_psnr=36.63,
                paper_ms_ssim=0.967,
            ),
            Row(
                "Bilinear", "nerv", {"upsample": "bilinear"}, paper_psnr=29.56, paper_ms_ssim=0.873
            ),
        ),
        claims=(("PixelShuffle", "Bilinear"), ("PixelShuffle", "Transpose conv")),
    )
)
NERV_ACTIVATION = register(
    Experiment(
        "nerv-activation",
        "NeRV (NeurIPS 2021)",
        "Table 9, activation",
        "nerv",
        rows=(
            Row("GELU", "nerv", **NERV_BASELINE),
            Row("Swish", "nerv", {"activation": "swish"}, paper_psnr=37.08, paper_ms_ssim=0.969),
            Row("ReLU", "nerv", {"activation": "relu"}, paper_psnr=35.89, paper_ms_ssim=0.963),
        ),
        claims=(("GELU", "ReLU"), ("Swish", "ReLU")),
    )
)
NERV_LOSS = register(
    Experiment(
        "nerv-loss",
        "NeRV (NeurIPS 2021)",
        "Table 10, loss",
        "nerv",
        rows=(
            Row("0.7 L1 + 0.3 SSIM", "nerv", **NERV_BASELINE),
            Row("L1", "nerv", recipe={"loss": "l1"}, paper_psnr=35.77, paper_ms_ssim=0.959),
            Row("L2", "nerv", recipe={"loss": "l2"}, paper_psnr=35.64, paper_ms_ssim=0.956),
        ),
        claims=(("0.7 L1 + 0.3 SSIM", "L2"),),
    )
)


# %% [markdown]
# ## Fit Bunny
#
# The first row of the embedding table is NeRV as the paper builds it. `fit` trains one row
# with one seed (or reads it from the cache) and returns its model and record: the per-frame
# scores and the history `train` returned. The clip is every 8th frame at the quick scale, so
# it moves: its mean frame scores about 20 dB, the floor to beat.

# %%
from nerv_lessons.experiments import NERV_EMBEDDING, fit, mean_frame, run
from nerv_lessons.metrics import psnr
from nerv_lessons.nerv import count_parameters
from nerv_lessons.train import TrainConfig, reconstruct

train_config = TrainConfig.nerv(scale)  # NeRV's recipe at this scale: what fit trains with
print(f"video: {tuple(video.shape)} on {video.device}\n{train_config}")
nerv_setup, record = fit(NERV_EMBEDDING, "PE", scale, seed=0, device=device)
model, history = nerv_setup.model, record["history"]
floor = psnr(mean_frame(video, torch.arange(len(video))), video).mean().item()
print(
    f"{count_parameters(model):,} parameters, {record['seconds']:.1f} s for "
    f"{record['epochs']} epochs{' (cached)' if record['cached'] else ''} | PSNR "
    f"{record['psnr'].mean():.2f} dB, MS-SSIM {record['ms_ssim'].mean():.4f} | "
    f"floor (mean frame) {floor:.2f} dB"
)

# %%
figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
left.plot(history["epoch"], history["loss"])
left.set(xlabel="epoch", ylabel=f"loss ({train_config.loss})", yscale="log", title="loss")
right.plot(history["epoch"], history["psnr"], label="training (while learning)")
right.axhline(record["psnr"].mean(), color="k", ls="--", label="final model, evaluated")
right.axhline(floor, color="grey", ls=":", label="floor: mean frame")
right.set(xlabel="epoch", ylabel="PSNR (dB)", title="PSNR")
right.legend()
figure.tight_layout()
plt.show()

# %% [markdown]
# The frame the model does worst on, next to the original, and where the error is:

# %%
from nerv_lessons.viz import to_image

copy = reconstruct(model, video)
worst = int(record["psnr"].argmin())
error = (copy[worst] - video[worst]).abs().mean(0).cpu()  # (H, W): mean over RGB
figure, axes = plt.subplots(1, 3, figsize=(12, 2.6))
axes[0].imshow(to_image(video[worst]))
axes[0].set_title(f"original, frame {worst}")
axes[1].imshow(to_image(copy[worst]))
axes[1].set_title(f"NeRV, {record['psnr'][worst]:.2f} dB")
shown = axes[2].imshow(error, cmap="magma")
axes[2].set_title("|error|, mean over RGB")
figure.colorbar(shown, ax=axes[2], fraction=0.025)
for axis in axes:
    axis.axis("off")
figure.tight_layout()
plt.show()

# %% [markdown]
# ## The paper's four ablations, at this scale
#
# The tables above, run with three seeds each. The paper's numbers are on **UVG** (1080p,
# 150 epochs, NeRV-S, about 3M parameters), not Bunny, so compare orderings, never
# decibels. Each table is saved under `results/<scale>/` (CSV and a JSON sidecar).

# %%
from nerv_lessons.experiments import NERV_ACTIVATION, NERV_LOSS, NERV_UPSAMPLING, results_folder

tables = {}
for experiment in (NERV_EMBEDDING, NERV_UPSAMPLING, NERV_ACTIVATION, NERV_LOSS):
    print(f"{experiment.name}:")
    tables[experiment.name] = run(experiment, scale, seeds=3, device=device)
    tables[experiment.name].save(results_folder(scale))
for results in tables.values():
    print()
    results.show()

# %%
figure, axes = plt.subplots(1, 4, figsize=(14, 3), sharey=True)
for axis, results in zip(axes, tables.values()):
    learned = [line for line in results.rows if not line["row"].startswith("floor")]
    axis.errorbar(
        range(len(learned)),
        [line["psnr_mean"] for line in learned],
        yerr=[line["psnr_std"] for line in learned],
        fmt="o",
        capsize=4,
    )
    axis.axhline(results.rows[0]["psnr_mean"], color="grey", ls=":", label="floor: mean frame")
    axis.set_xticks(range(len(learned)), [line["row"] for line in learned], rotation=20)
    axis.set_title(results.experiment.table.split(",")[0])
axes[0].set_ylabel("PSNR (dB), mean +- std of 3 seeds")
axes[0].legend()
figure.tight_layout()
plt.show()

# %% [markdown]
# Every trained row beats the floor, and each verdict above is computed from the three seeds.
# Where one reads "within noise", the gap is smaller than the printed noise, twice the
# seeds' combined spread at this scale: the table prints both. The paper's gaps are also
# small there (Swish is 1.19 dB over ReLU and 0.18 dB under GELU, on UVG after 150 epochs
# of a 3M model). The loss table is a trade: the SSIM term buys structure rather than
# squared error, so judge it on MS-SSIM too:

# %%
for judged in tables["nerv-loss"].verdicts("ms_ssim"):
    print(
        f"MS-SSIM: {judged['better']} > {judged['worse']}: gap {judged['gap']:+.4f}, "
        f"noise {judged['noise']:.4f} -> {judged['verdict']}"
    )

# %% [markdown]
# ## The same tables from the command line
#
# The registry is what `nerv-lessons list` prints and what `nerv-lessons run NAME` trains;
# the command line only parses its arguments and calls `run` (lesson 10 uses it at larger
# scales). `--video` takes any clip `load_video` reads, so a table can run on your own clip.
# Its code is folded (click to show); it also has `nerv-lessons student-copies OUT`, which
# writes the lessons without their solutions, for instructors.

# %% cellView="form" jupyter={"source_hidden": true}
#| export cli
"""The command line on the experiment registry: it parses, then calls the layer below.

    nerv-lessons list
    nerv-lessons run hnerv-vs-nerv --scale quick --seeds 3 --out results/quick
    nerv-lessons run hnerv-vs-nerv --video my_clip.mp4        # any clip load_video reads
    nerv-lessons run hnerv-vs-nerv --video clip.yuv --yuv-size 1080x1920
    nerv-lessons files hnerv-rate-distortion --scale quick   # lesson 08: the rows as files
    nerv-lessons rate nvrc-rate-distortion --scale cpu       # lesson 12: R + lambda D files
    nerv-lessons space-time videoinr-space-time --scale cpu  # lesson 13: VideoINR's rows
    nerv-lessons report --out report.md                      # lesson 10: beside the papers
    nerv-lessons student-copies student/                     # the lessons without solutions

`run` and `files` are resumable: every (row, seed) trained before on this machine comes from
the cache, so a command stopped half-way starts where it stopped. Introduced in lesson 03
(notebooks/03_nerv.ipynb); lessons 08, 10, 12 and 13 add `files`, `report`, `rate` and
`space-time`.
"""

import argparse
import importlib
import sys
from dataclasses import replace
from pathlib import Path

import torch

from nerv_lessons import experiments
from nerv_lessons.data import load_video, select_frames
from nerv_lessons.scales import SCALES, pick_device, pick_scale

# The lessons' modules that register experiments (a fixed list: nothing named on the command
# line is ever imported).
COURSE_MODULES = (
    "experiments",
    "hnerv",
    "residual",
    "two_stream",
    "compress",
    "rate_distortion",
    "inpaint",
    "hinerv",
    "rate_training",
    "videoinr",
)


def load_registry() -> dict:
    """Import every module that registers experiments; the registry they fill."""
    for name in COURSE_MODULES:
        importlib.import_module(f"nerv_lessons.{name}")
    return experiments.EXPERIMENTS


def frame_size(text: str) -> tuple[int, int]:
    """'HxW' -> (H, W), for --size and --yuv-size."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW, e.g. 320x640") from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: both sides must be positive")
    return height, width


def _training_arguments(command: argparse.ArgumentParser, out: str) -> None:
    command.add_argument("name", help="an experiment name from `nerv-lessons list`")
    command.add_argument("--scale", choices=list(SCALES), help="default: the device's (README)")
    command.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per row (default 3)")
    command.add_argument("--video", type=Path, help="a clip of your own: mp4, frame folder, .yuv")
    command.add_argument("--yuv-size", type=frame_size, help="HxW of a raw .yuv clip")
    command.add_argument("--size", type=frame_size, help="resize your clip to HxW (default: no)")
    command.add_argument("--frames", type=int, help="how many frames (default: the scale's)")
    command.add_argument("--frame-step", type=int, help="every Nth frame (default: the scale's)")
    command.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    command.add_argument("--out", type=Path, help=f"folder for {out} (default results/SCALE)")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="nerv-lessons", description="Run the course's paper tables from the command line."
    )
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the registered experiments: name, paper, table, rows")
    run = commands.add_parser("run", help="train an experiment's rows and save its table")
    _training_arguments(run, "NAME.csv and NAME.json")
    files = commands.add_parser("files", help="write each trained row to a file, score it")
    _training_arguments(files, "NAME-files.csv")
    rate = commands.add_parser("rate", help="lesson 12's files: fine-tuned for R + lambda D")
    _training_arguments(rate, "NAME-points.csv")
    space_time = commands.add_parser("space-time", help="lesson 13's held-out frames: VideoINR")
    _training_arguments(space_time, "NAME-scores.csv")
    report = commands.add_parser("report", help="every saved table beside the paper's")
    report.add_argument("--results", type=Path, help="the folder of <scale>/ tables")
    report.add_argument("--scale", action="append", help="only this scale (repeatable)")
    report.add_argument("--out", type=Path, help="write FILE (Markdown) and FILE's .csv")
    copies = commands.add_parser("student-copies", help="the lessons, solutions left out")
    copies.add_argument("out_dir", type=Path, help="folder for the copies (NN_name.ipynb)")
    copies.add_argument("--lessons", type=Path, help="the notebooks folder (default: the repo's)")
    return main


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    if arguments.command == "student-copies":  # plumbing for instructors: nothing to train
        from nerv_lessons._student import write_student_copies

        try:
            written = write_student_copies(arguments.out_dir, arguments.lessons)
        except (FileNotFoundError, ValueError) as error:
            print(error, file=sys.stderr)
            return 2
        print(f"wrote {len(written)} student copies to {arguments.out_dir}")
        return 0
    registry = load_registry()
    if arguments.command == "list":
        for name, experiment in sorted(registry.items()):
            rows = " | ".join(row.label for row in experiment.rows)
            print(f"{name:<24} {experiment.paper}, {experiment.table}: {rows}")
        return 0
    if arguments.command == "report":
        from nerv_lessons.report import write_report  # lesson 10's module

        try:
            text = write_report(
                arguments.results or experiments.results_root(), arguments.scale, arguments.out
            )
        except FileNotFoundError as error:
            print(error, file=sys.stderr)
            return 2
        print(f"wrote {arguments.out} and its .csv" if arguments.out else text)
        return 0
    if arguments.name not in registry:
        print(f"no experiment {arguments.name!r}; `nerv-lessons list` shows them", file=sys.stderr)
        return 2
    scale = pick_scale(arguments.scale)
    for name in ("frames", "frame_step"):  # a reader's clip may be shorter than Bunny
        value = getattr(arguments, name)
        if value is not None and value < 1:
            print(f"--{name.replace('_', '-')} must be at least 1, got {value}", file=sys.stderr)
            return 2
        scale = replace(scale, **{name: value}) if value is not None else scale
    device = torch.device(arguments.device) if arguments.device else pick_device()
    video = None
    if arguments.video is not None:
        clip = load_video(
            arguments.video, crop=None, size=arguments.size, yuv_size=arguments.yuv_size
        )
        video = select_frames(clip, scale)
    out = arguments.out or Path("results") / scale.name
    if arguments.command == "files":
        from nerv_lessons.rate_distortion import file_points, save_points  # lesson 08's

        points = file_points(arguments.name, scale, arguments.seeds, device, video)
        print(f"saved {save_points(points, out / f'{arguments.name}-files.csv')}")
        return 0
    if arguments.command == "rate":
        from nerv_lessons.rate_distortion import save_points
        from nerv_lessons.rate_training import NVRC_RATE_DISTORTION, rate_points  # lesson 12's

        if arguments.name != NVRC_RATE_DISTORTION.name:
            print(f"`rate` runs {NVRC_RATE_DISTORTION.name!r} only", file=sys.stderr)
            return 2
        points = rate_points(scale, arguments.seeds, device, video)
        print(f"saved {save_points(points, out / f'{arguments.name}-points.csv')}")
        return 0
    if arguments.command == "space-time":
        from nerv_lessons.rate_distortion import save_points
        from nerv_lessons.videoinr import SPACE_TIME, space_time_scores  # lesson 13's

        if arguments.name != SPACE_TIME.name:
            print(f"`space-time` runs {SPACE_TIME.name!r} only", file=sys.stderr)
            return 2
        lines = space_time_scores(scale, arguments.seeds, device, video)
        print(f"saved {save_points(lines, out / f'{arguments.name}-scores.csv')}")
        return 0
    # A bar per row on a terminal; plain lines in a log or a notebook (no stale bars).
    results = experiments.run(arguments.name, scale, arguments.seeds, device, video)
    results.show()
    path = results.save(out)
    print(f"saved {path} and {path.with_suffix('.json')}")
    return 0


# %%
from nerv_lessons.cli import main as command_line

exit_code = command_line(["list"])  # 0: success, as a shell would see it

# %% [markdown]
# ## Summary
#
# - NeRV maps a frame time to a frame: positional encoding, an MLP stem that draws a small
#   grid, conv + PixelShuffle blocks that grow it, and a `(tanh + 1) / 2` head: 30 lines,
#   the package's `NeRV` with the same weights. At 720x1280 most of NeRV-S sits in the stem.
# - `NeRVConfig` holds every size and choice; `nerv_bunny("S")` is the paper's 3.2M model and
#   `nerv_for_scale(scale)` the same shape at this scale's size and budget.
# - `train` is the course's one loop: `train_by_hand`'s recipe (Adam, warm-up + cosine, 0.7
#   L1 + 0.3 SSIM) with the same loss curve, plus the clip on the device, index batches, no
#   per-step sync, mixed precision on CUDA, masks and a divergence guard; `evaluate`
#   measures per frame.
# - `experiments`: a paper's table as data (`Experiment`, `Row`, `register`), trained by `run`
#   over seeds beside a floor row (the mean frame), verdicts computed from mean +- std, each
#   trained row cached on disk, tables saved to `results/<scale>/`; `nerv-lessons list|run`
#   on the same registry. At the quick scale PE, PixelShuffle and GELU win as in the paper.

# %%
print(f"lesson time: {time.perf_counter() - notebook_start:.0f} s on {device} ({scale.name} scale)")
