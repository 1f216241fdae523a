# Generated from notebooks/00_video_as_data.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
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
