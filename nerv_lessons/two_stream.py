# Generated from notebooks/07_two_streams.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
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


def highpass_mask(height: int, width: int, rate: float = FILTER_RATE) -> torch.Tensor:
    """(height, width) booleans in fft2's layout: True where a frequency is kept. Removed:
    the centred rectangle |f_y| < rate * Nyquist and |f_x| < rate * Nyquist (DC included)."""
    check_rate(rate)
    keep = torch.ones(height, width, dtype=torch.bool)
    ch, cw = height // 2, width // 2  # where fftshift puts frequency 0
    dh, dw = int(rate * ch), int(rate * cw)
    keep[ch - dh : ch + dh, cw - dw : cw + dw] = False
    return torch.fft.ifftshift(keep)  # back to fft2's layout (frequency 0 at [0, 0])


def highpass(frames: torch.Tensor, rate: float = FILTER_RATE) -> torch.Tensor:
    """The high-pass-filtered frames (..., H, W): per channel FFT, mask, inverse FFT."""
    return keep_frequencies(frames, highpass_mask(*frames.shape[-2:], rate).to(frames.device))


def keep_frequencies(frames: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The frames (..., H, W) with only the frequencies where `keep` (fft2's layout) is True."""
    return torch.fft.ifft2(torch.fft.fft2(frames) * keep).real


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
