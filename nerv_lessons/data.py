# Generated from notebooks/00_video_as_data.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
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
