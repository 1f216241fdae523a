"""Reading video files: ffmpeg through imageio, folders of frames, raw YUV 4:2:0 planes.

Plumbing written by hand (not course content): lesson 00 shows the idea (decode a frame, turn
its bytes into floats in [0, 1]) in a few lines; ``nerv_lessons.data.read_frames`` picks one of
these readers so that ``load_video`` reads any of these sources, and converts raw YUV planes to
RGB itself (BT.709, shown in the lesson). Every bad file raises an error that names the problem
and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def image_to_frame(image: np.ndarray, where: str) -> torch.Tensor:
    """An H x W x 3 image of 8- or 16-bit integers -> a 3 x H x W float frame in [0, 1]."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"{where} has shape {image.shape}; expected H x W x 3 (RGB). "
            "Convert grey or RGBA frames to RGB first"
        )
    peaks = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
    if image.dtype not in peaks:
        raise TypeError(f"{where} has dtype {image.dtype}; expected 8- or 16-bit integer pixels")
    # (H, W, 3) -> (3, H, W)
    return torch.from_numpy(image.astype(np.float32) / peaks[image.dtype]).permute(2, 0, 1)


def _frame_files(folder: Path) -> list[Path]:
    """The image files of a folder in natural order (frame_2 before frame_10)."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES]
    return sorted(
        files, key=lambda p: [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", p.name)]
    )


def read_folder(folder: Path) -> Iterator[torch.Tensor]:
    for file in _frame_files(folder):
        yield image_to_frame(iio.imread(file), file.name)


def read_video_file(path: Path) -> Iterator[torch.Tensor]:
    frames = iio.imiter(path, plugin="FFMPEG")
    try:
        first = next(frames, None)
    except OSError as error:
        reason = str(error).strip().splitlines()[-1]  # ffmpeg's last line names the problem
        raise ValueError(
            f"{path} is not a video ffmpeg can decode ({reason}). Pass a video file, a folder of "
            "PNG/JPEG frames, or a raw .yuv file with yuv_size=(height, width)"
        ) from error
    if first is not None:
        yield image_to_frame(first, f"frame 0 of {path.name}")
    for index, image in enumerate(frames, start=1):
        yield image_to_frame(image, f"frame {index} of {path.name}")


def read_yuv420_planes(
    path: Path, height: int, width: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The planes (Y: H x W; Cb, Cr: H/2 x W/2, 8-bit) of each frame of a raw 4:2:0 file.

    Raw YUV files have no header: the caller must know the frame size. 4:2:0 stores one luma
    sample (Y) per pixel and one blue and one red colour difference (Cb, Cr) per 2x2 block,
    plane after plane (as UVG ships).
    """
    if height % 2 or width % 2:
        raise ValueError(f"4:2:0 frames have even sides; got yuv_size=({height}, {width})")
    frame_bytes = height * width * 3 // 2
    size = path.stat().st_size
    if size % frame_bytes:
        raise ValueError(
            f"{path} holds {size} bytes, not a whole number of {height}x{width} 4:2:0 frames "
            f"({frame_bytes} bytes each): check yuv_size, or the file is truncated"
        )
    quarter = height * width // 4
    with open(path, "rb") as file:
        while chunk := file.read(frame_bytes):
            planes = np.frombuffer(chunk, dtype=np.uint8)
            y = planes[: 4 * quarter].reshape(height, width)
            cb = planes[4 * quarter : 5 * quarter].reshape(height // 2, width // 2)
            cr = planes[5 * quarter :].reshape(height // 2, width // 2)
            yield y, cb, cr
