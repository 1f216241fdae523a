# Generated from notebooks/03_nerv.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
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
