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
# # Lesson 03: NeRV and the training loop
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/03_nerv.ipynb)
#
# NeRV (Chen et al., NeurIPS 2021) stores a video as a network that maps a frame's time `t`
# to the whole frame: a positional encoding of `t` (lesson 01), a small MLP that draws a tiny
# feature grid, and five convolution + PixelShuffle blocks (lesson 02) that grow the grid to
# the frame. This lesson builds two modules: `nerv` (the model) and `train` (the one training
# loop that every later model of the course reuses). Then we fit Bunny and rerun the four
# ablations of the NeRV paper (embedding, upsampling layer, activation, loss) at this scale.

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
import time

import matplotlib.pyplot as plt
import torch

from nerv_lessons.data import load_clip
from nerv_lessons.scales import start_lesson

scale, device = start_lesson()
notebook_start = time.perf_counter()

# %% [markdown]
# ## The model, top to bottom
#
# NeRV's configuration is a dataclass: every field is a size or a choice, and
# `dataclasses.asdict(config)` goes into each checkpoint, so a saved model says how to
# rebuild it. The model reads top to bottom:
#
# 1. `t` (a batch of frame times in [0, 1]) -> positional encoding, `B x 80`
#    (or raw `t`, `B x 1`, for the "no embedding" ablation);
# 2. MLP stem `80 -> 512 -> h*w*C`, reshaped to a `C x h x w` grid (9x16 for 720x1280);
# 3. blocks of conv 3x3 -> PixelShuffle(s) -> activation, one per stride (5, 2, 2, 2, 2);
# 4. a 1x1 convolution head to RGB, squashed into [0, 1] by `(tanh + 1) / 2`.
#
# The first block keeps the stem's `C` channels; each later block halves the width but never
# goes under `lower_width` (96 in the paper). `fc_dim` (`C`) alone sets NeRV-S, -M and -L.

# %%
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

from nerv_lessons.data import check_strides
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


# %%
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
# One helper checks shapes as the tensor flows, so a wrong size names the stage where it
# happened instead of failing three layers later inside a convolution.


# %%
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
# parameters at 720x1280. For the course's scales we keep the shape (strides from 5,2,2,2,2,
# all widths from one number) and pick the widest model that fits the scale's budget.
# We count parameters on torch's "meta" device, which builds the layers without memory.

# %%
#| export nerv
NERV_BUNNY_FC_DIM = {"S": 26, "M": 58, "L": 112}  # the reference code's fc_hw_dim 9_16_<C>


def nerv_bunny(size: str = "S", **changes) -> NeRVConfig:
    """NeRV-S, -M or -L of the paper: 720x1280 output, strides 5,2,2,2,2 (3.2M/6.3M/12.5M)."""
    if size.upper() not in NERV_BUNNY_FC_DIM:
        raise ValueError(f"unknown NeRV size {size!r}: choose one of S, M, L")
    return NeRVConfig(fc_dim=NERV_BUNNY_FC_DIM[size.upper()], **changes)


def strides_for(height: int, width: int) -> tuple[int, ...]:
    """NeRV's strides 5,2,2,2,2, dropping 2s from the end until the stem's grid is at least
    2 cells on its short side (80x160 frames get 5,2,2,2 and a 2x4 grid)."""
    strides = [5, 2, 2, 2, 2]
    while len(strides) > 1 and min(height, width) // math.prod(strides) < 2:
        strides.pop()
    check_strides(height, width, strides)
    return tuple(strides)


def parameters_of(config: NeRVConfig) -> int:
    """The parameter count of the model a config builds (built on the meta device: no memory)."""
    with torch.device("meta"):
        return count_parameters(NeRV(config))


def nerv_for_scale(scale, budget: float | None = None, **changes) -> NeRVConfig:
    """The widest NeRV for this scale's frame size within `budget` million parameters
    (default: the scale's model budget). Widths keep NeRV-S's proportions:
    lower_width = w, fc_dim = w * 26 / 96, stem hidden = min(4 w, 512)."""
    budget = scale.model_params if budget is None else budget

    def config(w: int) -> NeRVConfig:
        sizes = dict(
            height=scale.height,
            width=scale.width,
            strides=strides_for(scale.height, scale.width),
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
# ## The training loop
#
# Every later model (HNeRV, the residual and two-stream variants, compression fine-tuning,
# inpainting) trains with the function below, so it is written once and written for speed:
#
# - **the whole clip lives on the device** as one tensor and a batch is a tensor of frame
#   indices from `torch.randperm` on that device: no `DataLoader`, no copies per step;
# - **no host sync per step**: losses stay tensors, and the loop reads them back (`.item()`)
#   only every `log_every` steps and once at the end of the run;
# - Adam with NeRV's betas (0.5, 0.999) and a **per-step schedule**: a linear warm-up from
#   0.1 x lr over the first 20 % of steps, then a cosine down to 0;
# - **mixed precision** (bf16 autocast), **channels-last** memory and cuDNN's autotuner on
#   CUDA only; the CPU runs plain fp32;
# - what the model eats is a function `model_input(video, indices)`: NeRV eats frame times
#   (`frame_times` below), HNeRV (lesson 04) will eat the frames themselves.
#
# First the pieces: the losses, selectable by name, and the schedule.

# %%
#| export train
"""The course's one training loop: a model, a clip on the device, a config -> a history.

    history = train(model, video, TrainConfig.nerv(scale), model_input=frame_times)

The clip lives on the device as one tensor and batches are index tensors; losses stay on the
device between log points; Adam with warm-up + cosine per step; on CUDA only: bf16/fp16
autocast, channels-last and cuDNN autotuning. `evaluate` gives per-frame PSNR and MS-SSIM;
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
from pytorch_msssim import ms_ssim as _pytorch_ms_ssim
from pytorch_msssim import ssim as _pytorch_ssim
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


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (11x11 Gaussian window, as the reference code): 0 for identical frames."""
    return 1 - _pytorch_ssim(pred, target, data_range=1.0, size_average=True)


def ms_ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - MS-SSIM, with the window metrics.ms_ssim_window picks for this frame size."""
    window = ms_ssim_window(*pred.shape[-2:])
    return 1 - _pytorch_ms_ssim(pred, target, data_range=1.0, size_average=True, win_size=window)


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
# The configuration, with one reason per field. Each paper trains its own way, so each has a
# named recipe (`RECIPES`, from the papers' code): `TrainConfig.nerv(scale)` for NeRV's
# lessons, `TrainConfig.hnerv(scale)` wherever a table of HNeRV's paper is reproduced (HNeRV's
# code trains its NeRV baseline with the same recipe), `TrainConfig.recipe("two_stream",
# scale)` for lesson 07. The scale adds its epochs (and, for quick runs, its lr factor and
# batch), so a lesson runs the same code at quick, lesson and paper scale.

# %%
#| export train
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# Each paper's recipe as its code runs it on Bunny (epochs come from the scale).
RECIPES = {
    "nerv": dict(lr=5e-4, batch_size=1, loss="fusion", warmup=0.2, betas=(0.5, 0.999)),
    "hnerv": dict(lr=1e-3, batch_size=2, loss="l2", warmup=0.1, betas=(0.9, 0.999)),
    # Paper 001's README: lr 2e-3, batch 1 (its code's default), L2 as its text says, and
    # HNeRV's schedule and Adam, which its code keeps.
    "two_stream": dict(lr=2e-3, batch_size=1, loss="l2", warmup=0.1, betas=(0.9, 0.999)),
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
    channels_last: bool = True  # NHWC memory for convolutions on CUDA (ignored on the CPU)
    log_every: int = 50  # steps between progress-bar updates (each one syncs with the device)
    progress: bool = True  # show a tqdm progress bar

    def __post_init__(self):
        make_loss(self.loss)  # raises on an unknown loss, listing the choices
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
# training and evaluation agree.)


# %%
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
# The loop itself. Read `step` first: one batch, forward, loss, backward, Adam, schedule.
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


# %%
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
    if cuda and config.channels_last:
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
    model.eval()
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
# Evaluation: the per-frame PSNR and MS-SSIM of the finished model (lesson 00's metrics),
# computed a few frames at a time without gradients.


# %%
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
# Checkpoints hold the weights, the configs as plain dicts (`asdict`), and optionally the
# optimizer and the epoch, so a run can be rebuilt and resumed. Loading refuses clearly when
# the file is missing, is not a checkpoint, or does not fit the model.


# %%
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
# ## Fit Bunny
#
# The clip at this scale goes to the device once; then one call trains. The quick scale's
# model is tiny and trains for seconds, so expect a blurry but recognizable copy there; the
# lesson and paper scales give the model room and time.

# %%
from nerv_lessons.nerv import NeRV, count_parameters
from nerv_lessons.train import TrainConfig, evaluate, frame_times, reconstruct, train

video = load_clip(scale, device)
print(f"video: {tuple(video.shape)} on {video.device}")
# NeRV's recipe; its lr 5e-4 is for ~40,000 steps (300 epochs, batch 1). The quick scale's
# ~160 steps take 5x the lr and 4 frames per step (`scale.lr_factor`, `scale.batch_size`).
train_config = TrainConfig.nerv(scale)
print(train_config)

torch.manual_seed(0)
model = NeRV(model_config).to(device)
history = train(model, video, train_config, model_input=frame_times)
quality = evaluate(model, video)
print(
    f"{history['seconds'][-1]:.1f} s for {train_config.epochs} epochs "
    f"({train_config.epochs * len(video) / history['seconds'][-1]:.0f} frames/s) | "
    f"PSNR {quality['psnr'].mean():.2f} dB | MS-SSIM {quality['ms_ssim'].mean():.4f}"
)

# %%
figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
left.plot(history["epoch"], history["loss"])
left.set(xlabel="epoch", ylabel=f"loss ({train_config.loss})", yscale="log", title="loss")
right.plot(history["epoch"], history["psnr"], label="training (while learning)")
right.axhline(quality["psnr"].mean(), color="k", ls="--", label="final model, evaluated")
right.set(xlabel="epoch", ylabel="PSNR (dB)", title="PSNR")
right.legend()
figure.tight_layout()
plt.show()

# %% [markdown]
# The frame the model does worst on, next to the original, and where the error is:

# %%
from nerv_lessons.viz import to_image

copy = reconstruct(model, video)
worst = int(quality["psnr"].argmin())
error = (copy[worst] - video[worst]).abs().mean(0).cpu()  # (H, W): mean over RGB
figure, axes = plt.subplots(1, 3, figsize=(12, 2.6))
axes[0].imshow(to_image(video[worst]))
axes[0].set_title(f"original, frame {worst}")
axes[1].imshow(to_image(copy[worst]))
axes[1].set_title(f"NeRV, {quality['psnr'][worst]:.2f} dB")
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
# The NeRV paper ablates one choice at a time from a baseline (positional encoding,
# PixelShuffle, GELU, L1 + SSIM); the baseline row reads 37.26 dB in all four tables. Those
# numbers are on **UVG** (1080p, 150 epochs, NeRV-S-sized models), *not* Bunny, so ours can
# only be compared in ordering, never in dB. We run every variant through the same `train`
# with the same seed. Epochs: half the scale's (at paper scale that is the paper's 150).
# One baseline run serves all four tables, as in the paper. A bilinear or transposed-conv
# block holds fewer parameters than a PixelShuffle block of the same width, so each variant
# is the widest model of its kind within the scale's budget (`nerv_for_scale`): the rows
# compare models of (nearly) equal size, and the tables print each one's size.

# %%
from dataclasses import replace

ablation_epochs = max(scale.epochs // 2, 1)
results = {}


def ablate(name, loss="fusion", **model_changes):
    """Train one variant, the widest within the budget; keep its PSNR, MS-SSIM and size."""
    torch.manual_seed(0)
    variant = NeRV(nerv_for_scale(scale, **model_changes)).to(device)
    config = replace(train_config, epochs=ablation_epochs, loss=loss, progress=False)
    seconds = train(variant, video, config)["seconds"][-1]
    quality = evaluate(variant, video)
    size = count_parameters(variant) / 1e6
    results[name] = (quality["psnr"].mean().item(), quality["ms_ssim"].mean().item(), size)
    print(f"  {name:<18} {size:.3f}M  {seconds:5.1f} s")


def show(title, rows):
    """Print a table of (name, paper PSNR, paper MS-SSIM) rows beside ours, and the rankings."""
    print(f"\n{title} | ours: {scale.name} scale, {device}, {ablation_epochs} epochs, Bunny")
    header = f"{'paper PSNR':>10} {'MS-SSIM':>8} | {'ours PSNR':>9} {'MS-SSIM':>8} {'size':>7}"
    print(f"{'':<18} {header}")
    for name, paper_psnr, paper_ssim in rows:
        ours_psnr, ours_ssim, size = results[name]
        print(
            f"{name:<18} {paper_psnr:10.2f} {paper_ssim:8.3f} | "
            f"{ours_psnr:9.2f} {ours_ssim:8.4f} {size:6.3f}M"
        )
    paper_order = [name for name, *_ in sorted(rows, key=lambda row: -row[1])]
    our_order = sorted(paper_order, key=lambda name: -results[name][0])
    verdict = "same order" if paper_order == our_order else "a different order"
    print(f"best PSNR first: paper {paper_order}\n                 ours  {our_order}: {verdict}")


start = time.perf_counter()
print(f"training {scale.name}-scale variants ({ablation_epochs} epochs each):")
ablate("PE")  # the baseline: PE, PixelShuffle, GELU, 0.7 L1 + 0.3 (1 - SSIM)
ablate("None", embedding="none")
ablate("Bilinear", upsample="bilinear")
ablate("Transpose conv", upsample="deconv")
for activation in ("relu", "leakyrelu", "swish"):
    ablate(activation, activation=activation)
for loss in ("l2", "l1", "ssim", "0.7*l2 + 0.3*l1", "0.7*l2 + 0.3*ssim"):
    ablate(loss, loss=loss)
results["gelu"] = results["0.7*l1 + 0.3*ssim"] = results["PixelShuffle"] = results["PE"]
print(f"all variants: {time.perf_counter() - start:.0f} s")

# %%
show("Table 6, input embedding", [("None", 24.93, 0.769), ("PE", 37.26, 0.970)])
show(
    "Table 7, upscale layer",
    [("Bilinear", 29.56, 0.873), ("Transpose conv", 36.63, 0.967), ("PixelShuffle", 37.26, 0.970)],
)
show(
    "Table 9, activation",
    [
        ("relu", 35.89, 0.963),
        ("leakyrelu", 36.76, 0.968),
        ("swish", 37.08, 0.969),
        ("gelu", 37.26, 0.970),
    ],
)
show(
    "Table 10, loss (the notes give no weights for mixed losses: ours are 0.7/0.3, as Fusion6)",
    [
        ("l2", 35.64, 0.956),
        ("l1", 35.77, 0.959),
        ("ssim", 35.69, 0.971),
        ("0.7*l2 + 0.3*l1", 35.95, 0.960),
        ("0.7*l2 + 0.3*ssim", 36.46, 0.970),
        ("0.7*l1 + 0.3*ssim", 37.26, 0.970),
    ],
)

# %% [markdown]
# Read the tables for direction, not decibels. The paper's runs are 150 epochs of a 3M-parameter
# model on 1080p UVG videos; at the quick scale ours are a few seconds of a model a hundred
# times smaller on 80x160 Bunny, where differences of a few tenths of a dB are within the
# noise of one seed. The lines "same order" / "a different order" above are computed, not
# written by hand: where they say "different", this scale does not reproduce the paper's
# ranking. Gaps of several dB here are effects of *this* setting (a tiny model trained for
# seconds, where whatever learns fastest wins), not necessarily of NeRV-S on UVG. At the
# lesson scale on a GPU, or the paper scale, model and training have room for the paper's
# smaller effects; rerun this notebook there and compare.

# %% [markdown]
# ## Exercise: where the parameters are
#
# Write `stem_parameters(config)`: how many parameters the MLP stem of a `NeRVConfig` holds
# (two linear layers with biases: the embedding's size -> `stem_hidden` -> `fc_dim * h * w`,
# where `(h, w) = config.grid` and the embedding has `2 * pe_levels` numbers, or 1 without it).


# %%
def stem_parameters(config) -> int:
    """Parameters of the two-layer MLP stem of a NeRV built from `config`."""
    ### BEGIN SOLUTION
    in_dim = 2 * config.pe_levels if config.embedding == "pe" else 1
    grid_h, grid_w = config.grid
    out_dim = config.fc_dim * grid_h * grid_w
    return (in_dim + 1) * config.stem_hidden + (config.stem_hidden + 1) * out_dim
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
from nerv_lessons.nerv import nerv_bunny

for config in [
    nerv_bunny("S"),
    nerv_bunny("L"),
    model_config,
    replace(model_config, embedding="none"),
]:
    with torch.device("meta"):
        built = NeRV(config)
    expected, got = count_parameters(built.stem), stem_parameters(config)
    if got != expected:
        raise AssertionError(
            f"stem_parameters gives {got} for {config}, the built stem holds {expected}: "
            "each nn.Linear(a, b) holds a*b weights and b biases"
        )
    share = expected / count_parameters(built)
    print(
        f"Right: {config.height}x{config.width}, fc_dim {config.fc_dim}: stem {expected:,} "
        f"parameters, {share:.0%} of the model"
    )

# %% [markdown]
# Most of NeRV-S's 3.2M parameters sit in one linear layer: the one that draws the 9x16
# grid. HNeRV (lesson 04) replaces that layer with a small per-frame embedding from an encoder.
#
# ## Summary
#
# - NeRV maps a frame time to a frame: positional encoding, an MLP stem that draws a small
#   grid, conv + PixelShuffle blocks that grow it, and a `(tanh + 1) / 2` head.
# - `NeRVConfig` holds every size and choice; `nerv_bunny("S")` is the paper's 3.2M model and
#   `nerv_for_scale(scale)` the same shape at this scale's size and budget.
# - `train` is the course's one loop: clip on the device, index batches, no per-step sync,
#   Adam with warm-up + cosine, mixed precision on CUDA; `evaluate` measures per frame.
# - The paper's ablations ran on UVG at 150 epochs: compare orderings, at a scale big enough.

# %%
print(f"lesson time: {time.perf_counter() - notebook_start:.0f} s on {device} ({scale.name} scale)")
