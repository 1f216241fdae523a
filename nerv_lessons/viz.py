# Generated from notebooks/00_video_as_data.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
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
