# Generated from notebooks/06_residual.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
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


def upsize(lowres: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bicubic interpolation back to height x width, the base the decoder corrects: as the
    reference's resize(..., BICUBIC, antialias=True) on 8-bit frames, a = -0.5 and the result
    rounded (and so clamped) to 8-bit pixels."""
    big = F.interpolate(lowres, size=(height, width), mode="bicubic", antialias=True)
    levels = 2**LOWRES_BITS - 1
    return torch.round(big.clamp(0, 1) * levels) / levels


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
