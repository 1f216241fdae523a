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
# # Lesson 00: video as data
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/00_video_as_data.ipynb)
#
# A neural representation of video is a network whose weights *are* the video. Before we
# build one we need the video itself as a tensor, a way to say how close a copy is
# (PSNR, MS-SSIM), and a way to say how small a representation is (bits per pixel,
# parameters per pixel). This lesson builds four modules of `nerv_lessons`: `scales`
# (how every lesson starts), `data`, `metrics` and `viz`. Cells that start with
# `#| export NAME` are the package's code: the package file `nerv_lessons/NAME.py` is made
# from them, and a test fails if the two ever differ.

# %%
# Colab only: fetch the course (code and the Bunny clip) and install it. Elsewhere nothing happens.
import sys

if "google.colab" in sys.modules:
    import subprocess

    url, home = "https://github.com/nerv-lessons/nerv-lessons", "/content/nerv-lessons"
    subprocess.run(["git", "clone", "-q", "--depth", "1", url, home], check=False)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", home], check=True)
    sys.path.insert(0, home)

# %% [markdown]
# ## Scales: one code path, three sizes
#
# Every lesson runs at one of three **scales**. They change sizes (resolution, frames,
# epochs, model budget) and, for the very short quick runs, the lr and batch such a run
# needs; each paper's training recipe is otherwise its own. Nothing else changes, so a number
# is only meaningful with its scale beside it. Every lesson therefore starts by printing the
# scale, the device and the torch version. The `scales` module is three cells: its docstring and
# imports (folded: click to show), the `Scale` sizes, and `start_lesson` with the helpers it
# calls (folded: pick the scale and the device, seed everything, print them).

# %% cellView="form" jupyter={"source_hidden": true}
#| export scales
"""Scales and devices: the same code at three sizes (and one for a CPU's background runs).

Every lesson runs at one of three scales, which change sizes (and, for a run as short as the
quick one, the learning rate and batch it needs) and nothing else:

- ``quick``:  a laptop CPU and CI, seconds per training run;
- ``lesson``: a GPU (a Colab T4 is enough), minutes per run, the papers' effects visible;
- ``paper``:  the papers' own crop (640x1280), frame count (132) and epochs (300).

A fourth, ``cpu``, is quick's frame size on the whole clip, for the command line's larger
runs on a CPU (`nerv-lessons run NAME --scale cpu`, lesson 10).

The scale follows the device (CUDA -> lesson, otherwise quick) unless the environment variable
``NERV_LESSONS_SCALE`` names one. Introduced in lesson 00 (notebooks/00_video_as_data.ipynb).
"""

import os
import random
from dataclasses import dataclass

import numpy as np
import torch

SCALE_VARIABLE = "NERV_LESSONS_SCALE"


# %%
#| export scales
@dataclass(frozen=True)
class Scale:
    """The sizes of one scale, and what a run of that length needs from a paper's training
    recipe (train.TrainConfig.nerv / .hnerv). Every scale runs the same code."""

    name: str
    height: int  # frame height after the 640x1280 centre crop and the resize
    width: int  # frame width, likewise
    frames: int  # how many frames of the clip
    epochs: int  # passes over the clip in one training run
    model_params: float  # default model budget, millions of parameters (embeddings + decoder)
    # Every frame_step-th frame from the first. Bunny's first 16 frames barely move (their
    # mean frame scores 26 dB, above what a quick run reaches), so the quick clip takes every
    # 8th frame: 16 frames that span the clip's motion, with a 20 dB mean-frame floor.
    frame_step: int = 1
    # A quick run is ~1,000 steps (the papers' ~20,000): at the papers' lr it barely trains,
    # so it multiplies each recipe's lr by 5 (measured: benchmarks/quick_scale.py). batch_size
    # None keeps each paper's batch (HNeRV 2, NeRV 1): more steps beat bigger batches there.
    lr_factor: float = 1.0
    batch_size: int | None = None

    def describe(self) -> str:
        batch = "each paper's batch" if self.batch_size is None else f"batch {self.batch_size}"
        lr = "each paper's lr" if self.lr_factor == 1 else f"{self.lr_factor:g}x each paper's lr"
        step = "" if self.frame_step == 1 else f" (every {self.frame_step}th)"
        return (
            f"{self.name} ({self.height}x{self.width}, {self.frames} frames{step}, "
            f"{self.epochs} epochs, {self.model_params}M parameters, {batch}, {lr})"
        )


SCALES = {
    # The paper's crop shrunk 8x: strides 5,2,2,2 (product 40) give the same 2x4 grid
    # that HNeRV's 5,4,4,2,2 (product 320) gives at 640x1280.
    # 80 epochs of every 8th frame: HNeRV 26.5 dB, NeRV 24.7 dB against the 20.0 dB floor
    # (40 epochs: 23 dB; 100: no better), about 13 s per HNeRV run on 2 CPU cores.
    "quick": Scale(
        "quick", 80, 160, frames=16, epochs=80, model_params=0.05, frame_step=8, lr_factor=5.0
    ),
    # Quick's frame size and budget on the whole clip (all 132 frames): 0.03 parameters per
    # pixel, near the papers' 0.014 (quick: 0.25), and every frame, as HNeRV's Table 2 uses.
    # The largest scale a 2-core CPU runs in the background of a session: ~2 min per HNeRV
    # run. Its lr factor is quick's, measured: at 40 epochs HNeRV reaches 26.2, 27.9 and
    # 29.0 dB with 1x, 2.5x and 5x HNeRV's lr (floor 20.4 dB). Chosen only when asked for.
    "cpu": Scale("cpu", 80, 160, frames=132, epochs=80, model_params=0.05, lr_factor=5.0),
    # Half the paper's crop and the whole clip; 0.35M keeps about the paper's 1.5M
    # parameters per pixel (a quarter of the pixels, a quarter of the parameters).
    "lesson": Scale("lesson", 320, 640, frames=132, epochs=100, model_params=0.35),
    # HNeRV's Bunny set-up: 640x1280 centre crop, 132 frames, 300 epochs, 1.5M.
    "paper": Scale("paper", 640, 1280, frames=132, epochs=300, model_params=1.5),
}


# %% cellView="form" jupyter={"source_hidden": true}
#| export scales
def pick_scale(name: str | None = None) -> Scale:
    """The scale called `name`, else the one in $NERV_LESSONS_SCALE, else the device's default."""
    default = "lesson" if torch.cuda.is_available() else "quick"
    chosen = name or os.environ.get(SCALE_VARIABLE) or default
    if chosen.strip().lower() not in SCALES:
        raise ValueError(
            f"unknown scale {chosen!r}: choose one of {', '.join(SCALES)} "
            f"(as an argument, or with the environment variable {SCALE_VARIABLE})"
        )
    return SCALES[chosen.strip().lower()]


def pick_device() -> torch.device:
    """The GPU when CUDA has one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch so that a lesson prints the same numbers on each run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_lesson(scale: str | None = None, seed: int = 0) -> tuple[Scale, torch.device]:
    """Pick the scale and device, seed everything, and print what the numbers below mean."""
    chosen, device = pick_scale(scale), pick_device()
    seed_everything(seed)
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(f"scale:  {chosen.describe()}")
    print(f"device: {device}{gpu} | torch {torch.__version__} | seed {seed}")
    print(f"(set {SCALE_VARIABLE}=quick, lesson or paper before starting Jupyter to change it)")
    return chosen, device


# %%
# %config InlineBackend.figure_formats = ["jpeg"]
from nerv_lessons._exercises import exercise, right, wrong  # the exercises' check cells

scale, device = start_lesson()

# %% [markdown]
# ## Frames as tensors
#
# The course's clip is Big Buck Bunny: 132 frames of 720x1280, the clip the HNeRV paper
# calls "Bunny" (`data/README.md` gives its source and licence). We hold a clip as one float
# tensor `T x 3 x H x W` with values in [0, 1]. The papers train on the central 640x1280
# crop; the quick and lesson scales then shrink it.
#
# The idea takes a dozen lines: decode the mp4 one frame at a time (imageio asks ffmpeg), turn
# each `H x W x 3` image of bytes into a `3 x H x W` frame of floats in [0, 1], keep the central
# 640 of its 720 rows, shrink it by averaging areas, and stack the frames. Below, the first four
# frames of this scale's clip (the whole clip is the same loop, run longer).

# %%
from pathlib import Path

import imageio.v3 as iio
import matplotlib.pyplot as plt
import torch.nn.functional as F

import nerv_lessons

mp4 = Path(nerv_lessons.__file__).resolve().parents[1] / "data" / "bigbuckbunny.mp4"
frames = []
for index, image in enumerate(iio.imiter(mp4, plugin="FFMPEG")):  # 720 x 1280 x 3 bytes each
    if index % scale.frame_step:
        continue  # the quick scale keeps every 8th frame (frame_step), the others every frame
    frame = torch.from_numpy(image).permute(2, 0, 1).float() / 255  # 3 x 720 x 1280 in [0, 1]
    frame = frame[:, 40:680, :]  # the central 640 x 1280
    frames.append(F.interpolate(frame[None], size=(scale.height, scale.width), mode="area")[0])
    if len(frames) == 4:  # the clip's first 4 frames (scale.frames of them: the whole clip)
        break
by_hand = torch.stack(frames)  # T x 3 x H x W, here T = 4
print(tuple(by_hand.shape), by_hand.dtype, f"in [{by_hand.min():.3f}, {by_hand.max():.3f}]")
plt.figure(figsize=(4, 2.2))
plt.imshow(by_hand[0].permute(1, 2, 0))  # matplotlib wants H x W x 3
plt.title(f"frame 0, read by hand ({scale.height}x{scale.width})", fontsize=9)
plt.axis("off")
plt.show()

# %% [markdown]
# That is the whole idea. The package's loader, `load_clip(scale)`, must begin with exactly
# these frames (checked below, after its code). What it adds, one line each:
#
# - **any source**: an mp4 (or anything ffmpeg decodes), a folder of PNG/JPEG frames in natural
#   order (`frame_2` before `frame_10`, how DAVIS ships), or raw YUV 4:2:0 (how UVG ships: no
#   header, so you pass its size; one luma sample per pixel and one Cb and one Cr per 2x2
#   block, converted with HD video's BT.709 matrix). The file plumbing (ffmpeg's errors,
#   folder sorting, YUV file parsing) lives in the hand-written `nerv_lessons/_video_files.py`;
# - **the device**: `load_clip(scale, device)` puts the whole clip where the model trains (the
#   GPU when there is one), so that training never copies frames from the CPU;
# - **a resize that cannot stretch or overshoot**: it refuses to change the aspect ratio,
#   averages areas when it shrinks and is bilinear when it enlarges (neither leaves [0, 1]);
# - **errors that name the fix**: a crop larger than the frame names one that fits, a size a
#   model's strides cannot draw names one they can, a clip too short for a scale's frames
#   `frame_step` apart says how many frames it needs.
#
# Nothing is cropped, clamped or dropped behind your back. The code: the module's head with
# `read_frames`, which picks a reader for the source, the colour conversion, the crop and
# resize, `load_video` (each folded: click to show), then `load_clip`.

# %% cellView="form" jupyter={"source_hidden": true}
#| export data
"""Real video as tensors: read a clip, centre-crop it, resize it, and check frames.

A clip is a float tensor ``T x 3 x H x W`` with values in [0, 1]. The loader reads a video file
(mp4, or anything ffmpeg decodes), a folder of PNG/JPEG frames, or a raw 8-bit YUV 4:2:0 file
(the file readers are plumbing, in nerv_lessons/_video_files.py). Nothing is cropped, clamped
or dropped silently: a bad input raises an error that says what is wrong and how to fix it.
Introduced in lesson 00 (notebooks/00_video_as_data.ipynb).
"""

import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import nerv_lessons
from nerv_lessons._video_files import FRAME_SUFFIXES as FRAME_SUFFIXES
from nerv_lessons._video_files import image_to_frame as image_to_frame
from nerv_lessons._video_files import read_folder, read_video_file, read_yuv420_planes

PAPER_CROP = (640, 1280)  # (height, width): the centre crop NeRV and HNeRV train on
KR, KB = 0.2126, 0.0722  # BT.709 luma weights of red and blue (HD video, UVG included)


def bunny_path() -> Path:
    """The Big Buck Bunny clip that ships in the repository's data/ folder."""
    path = Path(nerv_lessons.__file__).resolve().parents[1] / "data" / "bigbuckbunny.mp4"
    if not path.is_file():
        raise FileNotFoundError(
            f"the Bunny clip is not at {path}. It ships in the repository's data/ folder: clone "
            "the repository and install it with `pip install -e .`, or pass your own video's path"
        )
    return path


def read_frames(
    path: str | Path, yuv_size: tuple[int, int] | None = None
) -> Iterator[torch.Tensor]:
    """Yield the frames of a video file, a folder of images or a raw .yuv file, as 3 x H x W
    float tensors in [0, 1], one at a time (the readers are in nerv_lessons/_video_files.py)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no video at {path}: check the path (the course's clip is data.bunny_path())"
        )
    if path.is_dir():
        return read_folder(path)
    if path.suffix.lower() == ".yuv":
        if yuv_size is None:
            raise ValueError(
                f"{path} is raw YUV, which has no header: pass yuv_size=(height, width)"
            )
        return (yuv420_to_rgb(*planes) for planes in read_yuv420_planes(path, *yuv_size))
    return read_video_file(path)


# %% [markdown]
# Raw YUV 4:2:0 stores one luma sample (Y) per pixel and one blue and one red colour difference
# (Cb, Cr) per 2x2 block. We convert with the BT.709 matrix of HD video, in the 8-bit limited
# range (Y in 16..235), both ways: the lesson below writes a YUV file of its own (folded: click
# to show).


# %% cellView="form" jupyter={"source_hidden": true}
#| export data
def yuv420_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> torch.Tensor:
    """8-bit limited-range BT.709 planes (Y: H x W; Cb, Cr: H/2 x W/2) -> a 3 x H x W frame.

    Chroma is repeated over each 2x2 block. A Y/Cb/Cr triple can lie outside the RGB cube;
    those channels are clipped to [0, 1], as every video player does when it shows the frame.
    """
    luma = (torch.from_numpy(y.astype(np.float32)) - 16) / 219
    blue, red = ((torch.from_numpy(c.astype(np.float32)) - 128) / 224 for c in (cb, cr))
    blue, red = (c.repeat_interleave(2, 0).repeat_interleave(2, 1) for c in (blue, red))
    r = luma + 2 * (1 - KR) * red
    b = luma + 2 * (1 - KB) * blue
    g = (luma - KR * r - KB * b) / (1 - KR - KB)
    return torch.stack([r, g, b]).clamp(0, 1)


def rgb_to_yuv420(frame: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 3 x H x W frame in [0, 1] (H, W even) -> 8-bit BT.709 planes Y, Cb, Cr (4:2:0)."""
    r, g, b = frame.double()
    luma = KR * r + (1 - KR - KB) * g + KB * b
    blue, red = (b - luma) / (2 * (1 - KB)), (r - luma) / (2 * (1 - KR))
    # average each colour difference over 2x2 blocks: (H, W) -> (H/2, W/2)
    blue, red = (F.avg_pool2d(c[None, None], 2)[0, 0] for c in (blue, red))

    def to_bytes(plane: torch.Tensor) -> np.ndarray:
        return plane.round().numpy().astype(np.uint8)

    return to_bytes(16 + 219 * luma), to_bytes(128 + 224 * blue), to_bytes(128 + 224 * red)


def write_yuv420(frames: torch.Tensor, path: str | Path) -> Path:
    """Write a T x 3 x H x W clip as raw 8-bit BT.709 YUV 4:2:0 (planar, as UVG ships)."""
    check_frames(frames)
    path = Path(path)
    with open(path, "wb") as file:
        for frame in frames.cpu():
            for plane in rgb_to_yuv420(frame):
                file.write(plane.tobytes())
    return path


# %% cellView="form" jupyter={"source_hidden": true}
#| export data
def center_crop(frames: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The central height x width window of frames shaped (..., H, W)."""
    h, w = frames.shape[-2:]
    if height > h or width > w:
        best = suggest_crop(h, w)  # shown in "Your own clip", below
        fit = (
            f"crop={best} (the largest 1:2 centre crop the models' strides take), " if best else ""
        )
        raise ValueError(
            f"crop {height}x{width} is larger than the frame {h}x{w}: pass {fit}"
            "another crop that fits, or crop=None to keep the whole frame"
        )
    top, left = (h - height) // 2, (w - width) // 2
    return frames[..., top : top + height, left : left + width]


def stretches(h: int, w: int, height: int, width: int) -> bool:
    """Whether resizing h x w to height x width changes the aspect ratio by over 1 %."""
    return abs((h / w) / (height / width) - 1) > 0.01


def resize(frames: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize frames shaped (..., 3, H, W) to height x width without changing the aspect ratio.

    Shrinking averages areas and enlarging is bilinear: neither can overshoot [0, 1].
    """
    h, w = frames.shape[-2:]
    if stretches(h, w, height, width):
        raise ValueError(
            f"resizing {h}x{w} to {height}x{width} would stretch the picture: "
            "crop to the target's aspect ratio first"
        )
    if (h, w) == (height, width):
        return frames
    batch = frames.reshape(-1, *frames.shape[-3:])  # (..., 3, H, W) -> (N, 3, H, W)
    if height <= h and width <= w:
        batch = F.interpolate(batch, size=(height, width), mode="area")
    else:
        batch = F.interpolate(batch, size=(height, width), mode="bilinear", align_corners=False)
    return batch.reshape(*frames.shape[:-2], height, width)


def check_strides(height: int, width: int, strides: Sequence[int]) -> None:
    """Raise unless the product of a model's upsampling strides divides both frame sides."""
    check_size(height, width)
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in strides):
        raise ValueError(f"strides {tuple(strides)}: each is a whole number, at least 1")
    total = math.prod(strides)
    if height % total or width % total:
        near = [max(total, round(side / total) * total) for side in (height, width)]
        raise ValueError(
            f"a {height}x{width} frame is not divisible by the strides {tuple(strides)} "
            f"(product {total}), so the model cannot output it. Resize to a multiple of "
            f"{total}, e.g. {near[0]}x{near[1]}, or choose other strides"
        )


# %% cellView="form" jupyter={"source_hidden": true}
#| export data
def load_video(
    path: str | Path,
    frames: int | None = None,
    crop: tuple[int, int] | None = PAPER_CROP,
    size: tuple[int, int] | None = None,
    strides: Sequence[int] | None = None,
    yuv_size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Read a clip as a T x 3 x H x W float tensor in [0, 1].

    frames:   keep the first `frames` frames (None: all of them);
    crop:     (height, width) of the centre crop, the papers' 640x1280 by default (None: none);
    size:     (height, width) to resize to after cropping (None: keep the crop's size);
    strides:  a model's upsampling strides, checked to divide the final size;
    yuv_size: (height, width) of a raw .yuv file, which has no header.
    """
    if frames is not None and frames < 1:
        raise ValueError(f"frames={frames}: ask for at least one frame, or None for all")
    if strides and (size or crop):
        check_strides(*(size or crop), strides)  # fail before reading anything
    clip = []
    for frame in read_frames(path, yuv_size):
        frame = center_crop(frame, *crop) if crop else frame
        clip.append(resize(frame, *size) if size else frame)
        if len(clip) == frames:
            break
    if not clip:
        raise ValueError(f"{path} holds no frames: point the loader at a clip with at least one")
    if frames is not None and len(clip) < frames:
        raise ValueError(f"asked for {frames} frames but {path} has {len(clip)}: ask for fewer")
    video = torch.stack(clip)
    if strides:
        check_strides(*video.shape[-2:], strides)
    return video


# %% [markdown]
# `load_clip`, what every lesson calls: the loop above, through `load_video`.


# %%
#| export data
def load_clip(
    scale, device: str | torch.device = "cpu", path: str | Path | None = None
) -> torch.Tensor:
    """The course's clip at a scale: `scale.frames` frames, every `scale.frame_step`-th from
    the first, centre-cropped to 640x1280, resized to `scale.height` x `scale.width`, on
    `device` (the whole clip lives there)."""
    size, needed = (scale.height, scale.width), (scale.frames - 1) * scale.frame_step + 1
    video = load_video(path or bunny_path(), frames=needed, size=size)
    return select_frames(video, scale).to(device)


def select_frames(video: torch.Tensor, scale) -> torch.Tensor:
    """Every `scale.frame_step`-th frame of `video` from the first, `scale.frames` of them."""
    chosen = video[:: scale.frame_step][: scale.frames]
    if len(chosen) < scale.frames:
        raise ValueError(
            f"the clip has {len(video)} frames: {scale.frames} frames {scale.frame_step} apart "
            f"need {(scale.frames - 1) * scale.frame_step + 1}. Use a longer clip or a scale "
            "with fewer frames or a smaller frame_step"
        )
    return chosen


# %% [markdown]
# Everything later that takes frames checks them the same way: float, `T x 3 x H x W`, no
# frames missing, values in [0, peak]. A 0-255 tensor or a [-1, 1] tensor is the most
# common silent bug in this field; here it is a loud one (`check_frames`, folded: click to show).


# %% cellView="form" jupyter={"source_hidden": true}
#| export data
def check_frames(frames: torch.Tensor, name: str = "frames", peak: float = 1.0) -> None:
    """Raise unless `frames` is a float T x 3 x H x W tensor with values in [0, peak]."""
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"{name} is a {type(frames).__name__}; expected a torch.Tensor")
    if not frames.is_floating_point():
        raise TypeError(
            f"{name} has dtype {frames.dtype}; expected floats in [0, {peak:g}]. "
            "For 8-bit pixels use frames.float() / 255"
        )
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(
            f"{name} has shape {tuple(frames.shape)}; expected T x 3 x H x W "
            "(a single 3 x H x W frame becomes a clip with frame[None])"
        )
    if frames.shape[0] == 0:
        raise ValueError(f"{name} holds no frames (T = 0)")
    low, high = (value.item() for value in torch.aminmax(frames.detach().float()))
    if math.isnan(low) or math.isnan(high):
        raise ValueError(f"{name} contains NaN values")
    if low < 0 or high > peak:
        hint = f"pass peak={peak:g} only for frames in [0, {peak:g}]"
        if high > 1.5 * peak:
            hint = "these look like 0-255 pixels: divide by 255 (or pass peak=255)"
        elif low < 0:
            hint = "these look like [-1, 1] values: map them with (x + 1) / 2"
        raise ValueError(
            f"{name} has values in [{low:.4g}, {high:.4g}], outside [0, {peak:g}]: {hint}"
        )


# %% [markdown]
# Now the package's loader on the real clip: one source frame as it is, then this scale's
# clip, whose first four frames must equal the frames read by hand above.

# %%
source = load_video(bunny_path(), frames=1, crop=None)
clip = load_clip(scale, device)
torch.testing.assert_close(clip[:4].cpu(), by_hand)  # raises if the two differ anywhere
print("source frame:", tuple(source.shape), source.dtype)
print("clip at this scale:", tuple(clip.shape), clip.dtype, "on", clip.device)
print(f"value range: [{clip.min().item():.3f}, {clip.max().item():.3f}]")
print("its first 4 frames equal the frames read by hand:", torch.equal(clip[:4].cpu(), by_hand))

# %% [markdown]
# ## Looking at frames
#
# `viz` turns frames into pictures: `to_image` (a frame as the `H x W x 3` bytes matplotlib and
# image files take, the reverse of the loop above), `frame_grid`, `png_bytes`, and a player
# widget (a slider, and a play button) to scrub through a clip in a live notebook. Its code is
# display plumbing (folded: click to show).

# %% cellView="form" jupyter={"source_hidden": true}
#| export viz
"""Pictures of video: frames as images, a grid of frames, and a player widget.

Introduced in lesson 00 (notebooks/00_video_as_data.ipynb).
"""

import math

import imageio.v3 as iio
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch


def to_image(frame: torch.Tensor) -> np.ndarray:
    """A 3 x H x W frame in [0, 1] -> an H x W x 3 uint8 image for matplotlib or a file."""
    # For display only: a model's output a hair outside [0, 1] shows as black or white.
    return (frame.detach().float().cpu().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def frame_grid(
    frames: torch.Tensor, indices=None, columns: int = 4, titles=None, width: float = 9.0
):
    """Draw chosen frames of a T x 3 x H x W clip in a grid; returns the figure."""
    indices = list(range(len(frames))) if indices is None else list(indices)
    titles = titles or [f"frame {index}" for index in indices]
    rows = math.ceil(len(indices) / columns)
    height, wide = frames.shape[-2:]
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(width, width * rows * height / (columns * wide) + 0.3 * rows),
        squeeze=False,
    )
    for axis in axes.flat:
        axis.axis("off")
    for axis, index, title in zip(axes.flat, indices, titles):
        axis.imshow(to_image(frames[index]))
        axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def png_bytes(frame: torch.Tensor) -> bytes:
    """A 3 x H x W frame as the bytes of a PNG file."""
    return iio.imwrite("<bytes>", to_image(frame), extension=".png")


def player(frames: torch.Tensor, fps: int = 25, display_width: int = 480) -> widgets.VBox:
    """A play button and a slider that scrub through the frames (needs a live kernel)."""
    pngs = [png_bytes(frame) for frame in frames]
    image = widgets.Image(
        value=pngs[0], format="png", layout=widgets.Layout(width=f"{display_width}px")
    )
    slider = widgets.IntSlider(value=0, min=0, max=len(pngs) - 1, description="frame")
    play = widgets.Play(value=0, min=0, max=len(pngs) - 1, interval=round(1000 / fps))
    widgets.jslink((play, "value"), (slider, "value"))
    slider.observe(lambda change: setattr(image, "value", pngs[change["new"]]), names="value")
    return widgets.VBox([widgets.HBox([play, slider]), image])


# %%
import matplotlib.pyplot as plt

figure, axis = plt.subplots(figsize=(7, 3.2))
axis.imshow(to_image(source[0]))
top, left = (source.shape[-2] - 640) // 2, (source.shape[-1] - 1280) // 2
axis.add_patch(plt.Rectangle((left, top), 1280, 640, fill=False, color="red", lw=2))
axis.set_title("a source frame (720x1280) and the papers' 640x1280 centre crop (red)", fontsize=10)
axis.axis("off")
plt.show()

# %%
frame_grid(clip, indices=range(0, len(clip), max(1, len(clip) // 8))[:8])
plt.show()

# %%
player(clip)

# %% [markdown]
# ## Your own clip
#
# The loader reads any clip: an mp4 (or anything ffmpeg decodes), a folder of frames, or raw
# YUV 4:2:0 with its size. Which sizes can a model draw? Every model of the course enlarges a
# small grid with its blocks' strides: HNeRV draws 640x1280 from a 2x4 grid, 5 * 4 * 4 * 2 * 2
# = 320 times larger. So both sides must be one multiple T of a grid's sides, and T a product
# of at most five strides from 2 to 5, as in the papers. T divides both sides, so it divides
# their greatest common divisor:

# %%
# NBVAL_CHECK_OUTPUT
for height, width in [(640, 1280), (272, 640), (127, 254)]:
    common = math.gcd(height, width)
    totals = [t for t in range(2, common + 1) if common % t == 0]
    print(f"{height}x{width}: T divides {common}: {totals[:6]}{' ...' * (len(totals) > 6)}")

# %% [markdown]
# 272x640 allows T = 16 at most, a 17x40 grid: 85 times HNeRV's 8 cells. 127x254 allows only
# T = 127, which no strides of 2 to 5 make. The cell below makes this the rule the models use
# (lessons 03 and 04 pick their strides with it) and, when a size does not fit, names a crop
# or a size that does.


# %%
#| export data
STRIDE_CHOICES = (5, 4, 3, 2)  # one block's upscale: the papers use 2 to 5, largest first
MAX_STAGES = 5  # the papers' models have five blocks


def check_size(height: int, width: int, names: tuple[str, str] = ("height", "width")) -> None:
    """Raise unless both sides are whole numbers, at least 1."""
    for name, side in zip(names, (height, width)):
        # Python counts True as 1, but height=True is a bug, not a 1-pixel frame.
        if isinstance(side, bool) or not isinstance(side, numbers.Integral):
            raise TypeError(f"{name}={side!r}: sizes are whole pixels, pass an int")
        if side < 1:
            raise ValueError(f"{name}={side}: a size is at least 1 pixel")


def factor_strides(total: int) -> tuple[int, ...] | None:
    """Strides of 5, 4, 3 or 2 whose product is `total`, or None when there are none: the most
    stages first (up to five, as the papers' models), then the largest strides first. That
    rule gives each paper's own: 320 -> 5,4,4,2,2 and 240 -> 5,4,3,2,2 (HNeRV), 80 ->
    5,2,2,2,2 (NeRV); and the course's 40 -> 5,2,2,2."""
    for count in range(MAX_STAGES, 0, -1):
        # Drawn from a descending tuple, the combinations come out descending, largest first.
        for strides in combinations_with_replacement(STRIDE_CHOICES, count):
            if math.prod(strides) == total:
                return strides
    return None


def stride_options(height: int, width: int) -> list[tuple[int, ...]]:
    """Every choice of strides for a frame, the largest total stride T first: one for each
    T > 1 that divides both sides and that factor_strides can write. A model with those
    strides enlarges a (height / T) x (width / T) grid to the frame."""
    check_size(height, width)
    common = math.gcd(height, width)
    totals = [t for t in range(common, 1, -1) if common % t == 0]
    return [strides for strides in map(factor_strides, totals) if strides]


def grid_of(height: int, width: int, strides: Sequence[int]) -> tuple[int, int]:
    """The (h, w) grid that these strides enlarge to a height x width frame."""
    total = math.prod(strides)
    return height // total, width // total


def strides_line(model: str, height: int, width: int, strides: Sequence[int], why: str) -> str:
    """One line that says which strides a picker chose, and why it says so."""
    grid_h, grid_w = grid_of(height, width, strides)
    chosen = ",".join(map(str, strides))
    return f"{model}: strides {chosen} -> grid {grid_h}x{grid_w} for {height}x{width} ({why})"


# %% [markdown]
# When a frame is too large for the papers' 640x1280 crop, or a size fits no strides at all,
# the errors name what would work: the largest centre crop of the papers' 1:2 shape whose
# 2x4 grid the strides reach, and the nearest sizes of the frame's own shape (`suggest_crop`,
# `sizes_near`, `no_strides_error`: folded, click to show).


# %% cellView="form" jupyter={"source_hidden": true}
#| export data
def suggest_crop(height: int, width: int) -> tuple[int, int] | None:
    """The largest 1:2 centre crop of a height x width frame that strides shrink to the papers'
    2x4 grid (2T x 4T, T written by factor_strides), or None for a frame smaller than 4x8."""
    check_size(height, width)
    for crop_height in range(min(height, width // 2) // 2 * 2, 3, -2):
        if factor_strides(crop_height // 2):
            return crop_height, 2 * crop_height
    return None


def sizes_near(height: int, width: int, fits: Callable) -> list[tuple[int, int]]:
    """The nearest sizes below and above height x width (one of each, where there is one) of
    the frame's own shape, within `resize`'s 1 %, that fits(h, w) accepts."""
    found = []
    for heights in (range(height - 1, 0, -1), range(height + 1, 2 * height + 1)):
        for h in heights:
            w = max(1, round(h * width / height))
            if not stretches(height, width, h, w) and fits(h, w):
                found.append((h, w))
                break
    return found


def no_strides_error(model: str, height: int, width: int, fits: Callable) -> ValueError:
    """The error for a frame that no strides fit: why, and the load_video calls that resize it
    to the nearest sizes `fits` accepts, or crop it (suggest_crop)."""
    fixes = [f"crop=None, size={size}" for size in sizes_near(height, width, fits)]
    if crop := suggest_crop(height, width):
        fixes.append(f"crop={crop}")
    calls = " or ".join(f"load_video(path, {fix})" for fix in fixes) or "none near it"
    return ValueError(
        f"{model} cannot draw a {height}x{width} frame: its sides share no factor of 2, 3 or 5 "
        f"(their greatest common divisor is {math.gcd(height, width)}), so no strides of 2 to 5 "
        f"divide both. Sizes that work: {calls}"
    )


# %% [markdown]
# Now a reader's clip, made here from four Bunny frames so that the lesson runs offline: a
# 272x640 clip written as an mp4, a folder of PNG frames and a raw YUV file.

# %%
import shutil
import tempfile

from nerv_lessons.hnerv import hnerv_strides
from nerv_lessons.nerv import strides_for

folder = Path(tempfile.mkdtemp())
yours = resize(load_video(bunny_path(), frames=4, crop=(544, 1280)), 272, 640)
(folder / "frames").mkdir()
for index, frame in enumerate(yours):
    iio.imwrite(folder / "frames" / f"{index:04d}.png", to_image(frame))
write_yuv420(yours, folder / "clip.yuv")
images = np.stack([to_image(frame) for frame in yours])
iio.imwrite(folder / "clip.mp4", images, plugin="FFMPEG", fps=25, macro_block_size=1)

# crop=None keeps the whole frame; a raw .yuv file needs its size
for path, extra in [("clip.mp4", {}), ("frames", {}), ("clip.yuv", {"yuv_size": (272, 640)})]:
    print(f"{path:>8}:", tuple(load_video(folder / path, crop=None, **extra).shape))
try:
    load_video(folder / "frames")  # the papers' 640x1280 crop is larger than this clip
except ValueError as error:
    print("error:", error)
print("crop=(270, 540):", tuple(load_video(folder / "frames", crop=(270, 540)).shape))
shutil.rmtree(folder)

# %% [markdown]
# The models' stride pickers (lessons 03 and 04) say in one line when they cannot make their
# paper's choice, and refuse a size nothing fits, naming sizes that do:

# %%
# The papers' sizes get the papers' strides, quietly.
print("NeRV at 720x1280:", strides_for(720, 1280), "| HNeRV at 640x1280:", hnerv_strides(640, 1280))
for height, width in [(128, 320), (272, 640)]:  # other sizes: each picker says what it chose
    strides_for(height, width)
    hnerv_strides(height, width)
print("HNeRV at the suggested crop 270x540:", hnerv_strides(270, 540), "(the paper's 2x4 grid)")
try:
    strides_for(127, 254)
except ValueError as error:
    print("error:", error)

# %% [markdown]
# ## How close is a copy? PSNR and MS-SSIM
#
# **PSNR** is the mean squared error on a log scale: `PSNR = 10 log10(peak^2 / MSE)`, in dB,
# with peak 1 for frames in [0, 1]. +6 dB halves the error's amplitude. Like the papers, we
# compute PSNR per frame and report the mean over frames.
#
# ## Exercise: PSNR per frame
#
# Write `psnr_per_frame(x, y, peak)`: for two `T x 3 x H x W` clips, one PSNR per frame (a
# tensor of `T` values, in dB). Every later lesson scores its models with this number. The
# check compares yours with the package's `psnr` (its code is the cell after the check) on a
# clip whose three frames have different errors, and on the same clip on a 0-255 scale.


# %%
def psnr_per_frame(x: torch.Tensor, y: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """PSNR in dB of each frame of two T x 3 x H x W clips with values in [0, peak]."""
    ### BEGIN SOLUTION
    error = (x - y).pow(2).flatten(1).mean(1)  # one MSE per frame: T values
    return 10 * torch.log10(peak**2 / error)
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("psnr_per_frame"):
    from nerv_lessons.metrics import psnr

    generator = torch.Generator().manual_seed(0)
    reference = torch.rand(3, 3, 16, 16, generator=generator)
    sigmas = torch.tensor([0.01, 0.03, 0.1]).view(3, 1, 1, 1)  # one noise level per frame
    noisy = (reference + sigmas * torch.randn(reference.shape, generator=generator)).clamp(0, 1)
    got, expected = psnr_per_frame(noisy, reference), psnr(noisy, reference)
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        wrong(f"a clip of 3 frames needs 3 PSNRs, a tensor of shape (3,); yours is {shape}")
    shown = ", ".join(f"{value:.2f}" for value in got.tolist())
    if (got.max() - got.min()).abs() < 0.01:
        wrong(
            f"all three frames get {shown} dB, but their noise differs (0.01, 0.03, 0.1): "
            "each frame's error must be averaged on its own, not over the whole clip"
        )
    if torch.allclose(got, 2 * expected, atol=0.01):
        wrong(
            f"your decibels ({shown}) are twice the package's: the MSE is already a power "
            "(a squared amplitude), and decibels of a power ratio are not those of an amplitude"
        )
    if not torch.allclose(got, expected, atol=0.01):
        wrong(
            f"you give {shown} dB, the package's psnr "
            f"{', '.join(f'{value:.2f}' for value in expected.tolist())} dB: decibels count "
            "powers of ten of the ratio of the peak's power to the error's power"
        )
    scaled = psnr_per_frame(noisy * 255, reference * 255, peak=255)
    if not torch.allclose(scaled, expected, atol=0.01):
        wrong(
            "the same clip on a 0-255 scale must keep its PSNR, but yours changes to "
            f"{', '.join(f'{value:.2f}' for value in scaled.tolist())} dB: its errors are 255x "
            "larger, and so, squared, are their powers; scale the peak the same way"
        )
    right(
        f"{shown} dB for noise 0.01, 0.03 and 0.1, as the package's psnr: the frame with 10x "
        "the noise amplitude (100x its power) scores about 20 dB lower."
    )

# %% [markdown]
# The package's version is the same computation, in three pieces: `mse` (one mean squared
# error per frame), `psnr_from_mse` (for an error measured some other way, such as lesson
# 09's error over the hidden pixels only) and `psnr`. What it adds: both clips pass
# `check_frames` (float, `T x 3 x H x W`, in [0, peak]) and must have one shape, so a 0-255
# clip scored with peak 1 fails loudly instead of printing a wrong number.
#
# **MS-SSIM** compares local structure (means, contrasts, correlations) at five scales; 1 is
# identical. We use `pytorch-msssim`, the implementation the reference code uses.

# %%
#| export metrics
"""Quality and size: PSNR and MS-SSIM per frame, bits per pixel and parameters per pixel.

Frames are T x 3 x H x W floats in [0, peak] (peak 1 unless you say otherwise). Quality is
given per frame, as a tensor of T values; the papers report the mean over frames.
Introduced in lesson 00 (notebooks/00_video_as_data.ipynb).
"""

import torch
from pytorch_msssim import ms_ssim as _pytorch_ms_ssim

from nerv_lessons.data import check_frames


def _check_pair(x: torch.Tensor, y: torch.Tensor, peak: float) -> None:
    check_frames(x, "x", peak)
    check_frames(y, "y", peak)
    if x.shape != y.shape:
        raise ValueError(
            f"x is {tuple(x.shape)} but y is {tuple(y.shape)}: compare clips of one size"
        )


def mse(x: torch.Tensor, y: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """Mean squared error of each frame: a tensor of T values."""
    _check_pair(x, y, peak)
    return (x.float() - y.float()).pow(2).flatten(1).mean(1)


def psnr_from_mse(error, peak: float = 1.0) -> torch.Tensor:
    """10 log10(peak^2 / MSE) in dB; an MSE of 0 gives +inf."""
    return 10 * torch.log10(peak**2 / torch.as_tensor(error, dtype=torch.float32))


def psnr(x: torch.Tensor, y: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """PSNR of each frame in dB: a tensor of T values (identical frames give +inf)."""
    return psnr_from_mse(mse(x, y, peak), peak)


# %%
#| export metrics
def ms_ssim_window(height: int, width: int) -> int:
    """The Gaussian window of five-scale MS-SSIM at this frame size.

    The standard window is 11 pixels, which needs a short side over 160 pixels (the coarsest
    of five scales is 1/16 of the frame). Smaller frames get the largest odd window that fits;
    report it with the numbers, since it changes the metric slightly.
    """
    window = 11
    while window >= 3 and min(height, width) <= (window - 1) * 16:
        window -= 2
    if window < 3:
        raise ValueError(
            f"{height}x{width} frames are too small for five-scale MS-SSIM: the short side "
            "must be over 32 pixels; compare larger frames or use PSNR"
        )
    return window


def ms_ssim(x: torch.Tensor, y: torch.Tensor, peak: float = 1.0, chunk: int = 16) -> torch.Tensor:
    """MS-SSIM of each frame (1 = identical): T values, computed `chunk` frames at a time."""
    _check_pair(x, y, peak)
    window = ms_ssim_window(*x.shape[-2:])
    scores = [
        _pytorch_ms_ssim(a.float(), b.float(), data_range=peak, size_average=False, win_size=window)
        for a, b in zip(x.split(chunk), y.split(chunk))
    ]
    return torch.cat(scores)


# %% [markdown]
# A known value first: an MSE of 0.01 on [0, 1] frames is 20 dB, and on 0-255 frames the
# same relative error (MSE 0.01 * 255^2) is 20 dB too.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{psnr_from_mse(0.01).item():.2f} dB")
print(f"{psnr_from_mse(0.01 * 255**2, peak=255).item():.2f} dB")

# %% [markdown]
# Now three degraded copies of the real clip: fewer grey levels (4 bits per channel), half
# the resolution (shrink and enlarge again), and added noise (clipped back into [0, 1]
# explicitly, since noise leaves the range).

# %%
generator = torch.Generator(device="cpu").manual_seed(0)
noise = torch.randn(clip.shape, generator=generator).to(device)
degraded = {
    "4-bit levels": torch.round(clip * 15) / 15,
    "half resolution": resize(
        resize(clip, scale.height // 2, scale.width // 2), scale.height, scale.width
    ),
    "noise sigma 0.05": (clip + 0.05 * noise).clamp(0, 1),
}
window = ms_ssim_window(scale.height, scale.width)
print(f"MS-SSIM window at {scale.height}x{scale.width}: {window} pixels (standard: 11)")
for name, copy in degraded.items():
    quality = psnr(copy, clip).mean(), ms_ssim(copy, clip).mean()
    print(f"{name:>17}: PSNR {quality[0]:6.2f} dB | MS-SSIM {quality[1]:.4f}")

# %% [markdown]
# ## Predict: two more bits
#
# The 4-bit copy rounds every sample to one of 16 levels, 15 steps between black and white.
# Keep 6 bits instead: 64 levels, 63 steps. **Before the check prints it, predict the 6-bit
# copy's mean PSNR** on this clip, in dB (within 1.5 dB counts as right). The cell below
# measures it without printing; reason from the 4-bit number above and from what +6 dB means.

# %%
# Measured here, printed by the check once you have predicted.
four_bit_psnr = psnr(degraded["4-bit levels"], clip).mean().item()
six_bit_psnr = psnr(torch.round(clip * 63) / 63, clip).mean().item()

# %%
# six_bit_prediction = ...  (your number, in dB)
### BEGIN SOLUTION
# 63 steps instead of 15: each rounding error is about 4x smaller in amplitude, two halvings,
# and each halving of the error's amplitude is worth 6 dB: about 12 dB more.
six_bit_prediction = four_bit_psnr + 12
### END SOLUTION

# %%
# Check: says right or wrong, and why.
with exercise("six_bit_prediction"):
    import numbers

    if isinstance(six_bit_prediction, bool) or not isinstance(six_bit_prediction, numbers.Real):
        wrong(f"predict a number of dB, e.g. 40.0, not {six_bit_prediction!r}")
    miss = six_bit_prediction - six_bit_psnr
    if abs(miss) > 1.5:
        wrong(
            f"you predicted {six_bit_prediction:.1f} dB; the 6-bit copy measures "
            f"{six_bit_psnr:.2f} dB (4 bits: {four_bit_psnr:.2f} dB), so you are "
            f"{abs(miss):.1f} dB too {'high' if miss > 0 else 'low'}. Think in amplitudes: "
            "how many times smaller is a 6-bit step than a 4-bit one, and what is each "
            "halving of the error worth in dB?"
        )
    right(
        f"predicted {six_bit_prediction:.1f} dB, measured {six_bit_psnr:.2f} dB (4 bits: "
        f"{four_bit_psnr:.2f} dB): a 4x finer step, two halvings of the error, 6 dB each."
    )

# %% [markdown]
# The rule holds at every depth: each bit halves the rounding step and adds about 6 dB, until
# the copy reaches the source's own 8 bits.

# %%
for bits in range(2, 9):
    steps = 2**bits - 1
    rounded = torch.round(clip * steps) / steps
    print(f"{bits} bits ({steps:3d} steps): PSNR {psnr(rounded, clip).mean():6.2f} dB")

# %%
figure, (psnr_axis, ssim_axis) = plt.subplots(1, 2, figsize=(10, 3))
for name, copy in degraded.items():
    psnr_axis.plot(psnr(copy, clip).cpu(), marker=".", label=name)
    ssim_axis.plot(ms_ssim(copy, clip).cpu(), marker=".", label=name)
psnr_axis.set(xlabel="frame", ylabel="PSNR (dB)", title="PSNR per frame")
ssim_axis.set(xlabel="frame", ylabel="MS-SSIM", title="MS-SSIM per frame")
psnr_axis.legend(fontsize=8)
figure.tight_layout()
plt.show()

# %% [markdown]
# The frames themselves, drawn as lossless PNG (this lesson's other figures are JPEG, which
# would smear the 4-bit copy's bands):

# %%
# %config InlineBackend.figure_formats = ["png"]
names = list(degraded)
frame_grid(
    torch.stack([clip[0]] + [degraded[name][0] for name in names]), titles=["original"] + names
)
plt.show()
# %config InlineBackend.figure_formats = ["jpeg"]

# %% [markdown]
# Here both metrics rank the three copies the same way. To see where they disagree, hold PSNR
# fixed: find the noise level whose copy has the half-resolution copy's PSNR (by bisection),
# and compare the two copies' MS-SSIM.

# %%
target = psnr(degraded["half resolution"], clip).mean().item()
low, high = 0.0, 0.5
for _ in range(30):  # bisection on sigma: more noise, lower PSNR
    sigma = (low + high) / 2
    noisy = (clip + sigma * noise).clamp(0, 1)
    low, high = (sigma, high) if psnr(noisy, clip).mean() > target else (low, sigma)
pair = [("half resolution", degraded["half resolution"]), (f"noise {sigma:.4f}", noisy)]
for name, copy in pair:
    print(
        f"{name:>17}: PSNR {psnr(copy, clip).mean():6.2f} dB | "
        f"MS-SSIM {ms_ssim(copy, clip).mean():.4f}"
    )

# %% [markdown]
# The same PSNR, a different MS-SSIM: PSNR counts every squared error alike, MS-SSIM asks
# whether local structure survives, from fine to coarse, so it weighs blur and noise
# differently. That is why the papers report both. The 4-bit banding is hard to see at this
# size; a 4x zoom of a corner, as a lossless PNG, shows the steps:

# %%
import imageio.v3 as iio
from IPython.display import Image, display

corner = torch.cat([clip[0], degraded["4-bit levels"][0]], dim=2)[:, :40, :]  # side by side
zoomed = corner.repeat_interleave(4, dim=1).repeat_interleave(4, dim=2)
png = iio.imwrite(
    "<bytes>",
    (zoomed.permute(1, 2, 0).cpu().numpy() * 255).round().astype("uint8"),
    extension=".png",
)
display(Image(data=png, format="png"))
print(f"left: original, right: 4-bit levels (top 40 rows, 4x, {len(png):,} bytes of PNG)")

# %% [markdown]
# ## How small is a representation? bpp and ppp
#
# **Bits per pixel** (bpp) is the size of what you store, in bits, over the number of pixels
# in the clip: `bpp = 8 * len(bytes) / (T * H * W)`. A "pixel" is one position in one frame
# (three colour samples), the question NeRV's users ask most often.
# **Parameters per pixel** (ppp) is a model's parameter count over the same `T * H * W`.


# %%
#| export metrics
def bits_per_pixel(num_bytes: int, frames: int, height: int, width: int) -> float:
    """8 * num_bytes / (T * H * W): the bits stored per pixel position of the clip."""
    return 8 * num_bytes / (frames * height * width)


def params_per_pixel(num_params: float, frames: int, height: int, width: int) -> float:
    """num_params / (T * H * W): how many model parameters each pixel position costs."""
    return num_params / (frames * height * width)


# %%
# NBVAL_CHECK_OUTPUT
T, H, W = 132, *PAPER_CROP
raw_bytes = T * H * W * 3  # 8-bit RGB, no compression
mp4_bytes = len(bunny_path().read_bytes())  # the H.264 file shipped in data/ (720x1280)
print(f"raw 8-bit RGB, {T} x {H} x {W}: {raw_bytes:,} bytes = {raw_bytes / 2**20:.1f} MiB")
print(f"  bpp = {bits_per_pixel(raw_bytes, T, H, W):.1f}")
mp4_bpp = bits_per_pixel(mp4_bytes, T, 720, 1280)
print(f"the shipped H.264 mp4 (720x1280): {mp4_bytes:,} bytes, bpp = {mp4_bpp:.4f}")
print(f"  {raw_bytes * 720 / 640 / mp4_bytes:.0f}x smaller than the raw 720x1280 clip")

# %% [markdown]
# Now the papers' sizes. HNeRV measures size in parameters (embeddings + decoder) and
# states that its 0.35M model is "only 0.003 ppp" on Bunny. Our numbers come from the same
# definition; the bpp column assumes 8 bits a parameter and nothing else stored (lesson 08
# builds a real file and counts every byte).

# %%
print(f"{'model':>12} | {'ppp (ours)':>10} | {'paper':>6} | {'bpp at 8 bits':>13}")
for millions, paper in [(0.35, "0.003"), (0.75, "-"), (1.5, "-"), (3.0, "-")]:
    ppp = params_per_pixel(millions * 1e6, T, H, W)
    bpp = bits_per_pixel(millions * 1e6, T, H, W)  # 8 bits = 1 byte per parameter
    print(f"{'HNeRV-' + str(millions) + 'M':>12} | {ppp:10.5f} | {paper:>6} | {bpp:13.4f}")
ours = params_per_pixel(scale.model_params * 1e6, scale.frames, scale.height, scale.width)
print(
    f"this scale's budget ({scale.name}): {scale.model_params}M over "
    f"{scale.frames}x{scale.height}x{scale.width} = {ours:.4f} ppp"
)

# %% [markdown]
# At 0.35M the whole video costs 0.0032 parameters per pixel, which the paper rounds to
# 0.003: the same number. The quick scale has far more parameters per pixel than the paper,
# because a tiny clip still needs a network of some minimum width; lesson 04 comes back to this.
#
# ## Exercise: bits per pixel of a real file
#
# Between the raw clip's 24 bpp and the mp4's 0.07 bpp lies a lossless file: each frame stored
# as a PNG, which compresses without changing a single value. Write `png_bpp(frames)`: the
# bits per pixel of a clip stored as one PNG file per frame. `png_bytes(frame)` (from `viz`)
# returns exactly the bytes a `.png` file of that frame holds. The check compares yours with
# the package's `bits_per_pixel` on four frames of this clip.


# %%
from nerv_lessons.metrics import bits_per_pixel
from nerv_lessons.viz import png_bytes


def png_bpp(frames: torch.Tensor) -> float:
    """Bits per pixel of a T x 3 x H x W clip stored as one PNG file per frame."""
    ### BEGIN SOLUTION
    stored = sum(len(png_bytes(frame)) for frame in frames)  # bytes of all T files
    return bits_per_pixel(stored, len(frames), *frames.shape[-2:])
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("png_bpp"):
    from nerv_lessons.metrics import bits_per_pixel
    from nerv_lessons.viz import png_bytes

    sample = clip[:4].cpu()
    files = [len(png_bytes(frame)) for frame in sample]  # bytes of each frame's PNG
    pixels = sample.shape[0] * sample.shape[-2] * sample.shape[-1]
    expected = bits_per_pixel(sum(files), *sample.shape[:1], *sample.shape[-2:])
    got = png_bpp(sample)
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        wrong(f"return one number (a float), not a {type(got).__name__}")
    if not math.isclose(got, expected, rel_tol=1e-6):
        if math.isclose(got * 3, expected, rel_tol=1e-6):
            why = "3x too few: a pixel is one position, holding all three colour samples"
        elif math.isclose(got * 8, expected, rel_tol=1e-6):
            why = "8x too few: you counted bytes; a byte is 8 bits"
        elif math.isclose(got, expected * len(sample), rel_tol=1e-6):
            why = "one file's worth of pixels in the denominator: the clip has T frames"
        elif math.isclose(got, 8 * files[0] / pixels, rel_tol=1e-6):
            why = "only the first frame's file counted: every frame is a file"
        else:
            why = "count every file's bits, over every pixel position of the clip"
        wrong(f"png_bpp gives {got:.4g}, expected {expected:.4g} bpp: {why}")
    right(
        f"{got:.2f} bpp for these {len(sample)} frames of {sample.shape[-2]}x"
        f"{sample.shape[-1]}, lossless: about {24 / got:.1f}x smaller than raw RGB."
    )

# %% [markdown]
# The ladder so far, each number computed with the package's functions. Raw video stores
# samples, not RGB triples: 4:4:4 keeps three samples per pixel, 4:2:0 (how UVG ships) one luma
# sample per pixel and one Cb and one Cr per 2x2 block, 1.5 samples, so 12 bits at 8 bits a
# sample. The PNG rate is of this scale's small frames, which hold more detail per pixel than
# the 720p frames the mp4 encodes. Lossless compression saves only a fraction of raw RGB (at
# the quick scale about a third), while the lossy mp4 is hundreds of times smaller: that is the
# range a neural representation has to compete in.

# %%
yuv_file_bytes = 1.5 * T * H * W  # an 8-bit 4:2:0 file of the Bunny crop, as UVG ships
print(
    f"An 8-bit 4:2:0 Bunny crop file: {yuv_file_bytes:,.0f} bytes, "
    f"{bits_per_pixel(yuv_file_bytes, T, H, W):.0f} bpp."
)
frames_png = [png_bytes(frame) for frame in clip[:4]]  # the PNG files of four frames
png_rate = bits_per_pixel(sum(map(len, frames_png)), 4, scale.height, scale.width)
hnerv_rate = bits_per_pixel(0.35e6, T, H, W)  # 0.35M parameters at 8 bits (a byte) each
for name, rate in [
    ("raw 8-bit RGB", bits_per_pixel(raw_bytes, T, H, W)),
    ("raw 8-bit YUV 4:2:0", bits_per_pixel(yuv_file_bytes, T, H, W)),
    (f"PNG frames ({scale.height}x{scale.width}, lossless)", png_rate),
    ("H.264 mp4 (720x1280, lossy)", mp4_bpp),
    ("HNeRV-0.35M at 8 bits a parameter", hnerv_rate),
]:
    print(f"{name:>36}: {rate:8.4f} bpp")

# %% [markdown]
# ## Summary
#
# - A clip is one `T x 3 x H x W` float tensor in [0, 1]; the papers use the 640x1280 centre crop.
#   Reading it is a dozen lines; `load_clip` gives the same frames and adds other sources,
#   the device and errors that name the fix.
# - PSNR (log of MSE) and MS-SSIM (structure at five scales) measure quality per frame; each
#   bit of depth is worth about 6 dB.
# - bpp counts stored bits, ppp counts parameters, both over `T * H * W` pixel positions: raw
#   RGB is 24 bpp, lossless PNG frames not much less, the lossy mp4 under 0.1.
#
# Next, lesson 01: why a network fed raw coordinates cannot draw these frames, and how a
# positional encoding fixes it.
