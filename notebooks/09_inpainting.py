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
# # Lesson 09: video inpainting with HNeRV
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/09_inpainting.ipynb)
#
# Cover parts of every frame, train HNeRV only on the pixels you can still see, and ask it
# what was under the holes. The HNeRV paper (Table 7) does this with five fixed 50x50 boxes:
# the encoder sees the masked frame, the loss skips the holes, and the decoder, which has to
# draw whole frames, fills them from what it learned elsewhere. This lesson builds the module
# `inpaint` (masks, fill-ins, scores) and trains through lesson 03's `train` with a mask.

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
# ## Masks are data
#
# A mask is a tensor like the video, (T, 1, H, W), with **1 = known pixel, 0 = hole**. (The
# paper writes the loss as (1 - M) * loss with M = 1 on the holes; our `known` is its 1 - M.)
#
# The paper's boxes are 50x50 pixels, one at the centre and one at each quarter point
# (H/4 or 3H/4, W/4 or 3W/4). The paper masks DAVIS at 960x1920; we mask Bunny, whose
# paper-scale crop is 640 pixels high, so our box is 50/640 of the frame's height at every
# scale: 50 pixels at 640x1280, 25 at 320x640, 6 at 80x160 (rounded half up). Table 7's boxes
# are 50/960 of its height, so ours hide a larger share of the frame (worked out below).
#
# The second kind of mask is free-form: a few blobs, each the union of four discs, that
# glide across the frame, drawn from a seed.

# %%
#| export inpaint
"""Video inpainting (HNeRV, Table 7): masks, a non-learned fill-in, and scores in the holes.

    known = box_mask(T, H, W)                 # (T, 1, H, W): 1 = known pixel, 0 = hole
    masked = apply_mask(video, known)         # holes black, as the reference code
    train(model, video, config, masked_input(masked), mask=known)
    scores = inpainting_scores(composite(output, video, known), video, known)

The paper's M is 1 on the holes and its loss is (1 - M) * loss(x, x_hat); here `known` is
that 1 - M, and `train(..., mask=known)` (lesson 03) counts the known pixels only.
Introduced in lesson 09 (notebooks/09_inpainting.ipynb).
"""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from nerv_lessons.data import check_frames
from nerv_lessons.experiments import (
    Experiment,
    Row,
    Setup,
    register,
    register_floor,
    register_model,
)
from nerv_lessons.hnerv import HNeRV, hnerv_budget, hnerv_size
from nerv_lessons.metrics import ms_ssim, psnr, psnr_from_mse
from nerv_lessons.train import check_mask

PAPER_BOX = 50  # the paper's boxes are 50x50 pixels...
PAPER_HEIGHT = 640  # ...which we read at Bunny's 640-pixel-high crop and scale with the height
# (Table 7 itself masks DAVIS at 960x1920, where 50 px is 50/960 of the height)
# Box centres as fractions of (height, width): the centre and the four quarter points.
BOX_CENTRES = ((0.5, 0.5), (0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75))


def paper_box_size(height: int) -> int:
    """The side of the paper's box at this frame height: 50 pixels per 640, rounded half up
    (floor(x + 0.5), so 2.5 -> 3, not Python's round-half-to-even 2), at least 1."""
    return max(1, math.floor(PAPER_BOX * height / PAPER_HEIGHT + 0.5))


def box_corners(height: int, width: int, size: int) -> list[tuple[int, int]]:
    """(top, left) of the five size x size boxes, centred as the reference code centres them."""
    if size < 1:
        raise ValueError(f"box size must be >= 1 pixel, got {size}")
    corners = []
    for fy, fx in BOX_CENTRES:
        top, left = int(fy * height) - size // 2, int(fx * width) - size // 2
        if top < 0 or left < 0 or top + size > height or left + size > width:
            raise ValueError(
                f"a {size}x{size} box centred at ({fy} H, {fx} W) does not fit in a "
                f"{height}x{width} frame: boxes must be at most about half the short side "
                f"(here {min(height, width) // 2}); try paper_box_size({height}) = "
                f"{paper_box_size(height)}"
            )
        corners.append((top, left))
    return corners


def box_mask(frames: int, height: int, width: int, size: int | None = None) -> torch.Tensor:
    """The paper's five fixed boxes in every frame: (frames, 1, H, W), 1 = known, 0 = hole.
    `size` defaults to paper_box_size(height)."""
    size = paper_box_size(height) if size is None else size
    known = torch.ones(1, 1, height, width)
    for top, left in box_corners(height, width, size):
        known[..., top : top + size, left : left + size] = 0
    return known.expand(frames, 1, height, width).clone()


# %% [markdown]
# The free-form masks move: each blob glides on a straight line from a random start to a
# random end, staying inside the frame, so a pixel hidden in one frame is often visible in
# another. That is exactly what a non-learned fill-in can exploit, and the fixed boxes deny it.


# %%
#| export inpaint
def object_masks(
    frames: int, height: int, width: int, objects: int = 2, radius: float = 0.12, seed: int = 0
) -> torch.Tensor:
    """Free-form holes that move: (frames, 1, H, W), 1 = known, 0 = hole.

    Each object is the union of four discs (radii 0.5-1 x radius*H, centres within
    radius*H of the object's centre) gliding in a straight line across the clip; the same
    seed gives the same masks."""
    if not 0 < radius <= 0.2:
        raise ValueError(f"radius is a fraction of the height in (0, 0.2], got {radius}")
    if min(frames, height, width, objects) < 1:
        raise ValueError(
            f"frames, height, width and objects must be >= 1, got {frames, height, width, objects}"
        )
    generator = torch.Generator().manual_seed(seed)
    r = radius * height
    margin = 2 * r  # disc offset (<= r) + disc radius (<= r): the blob stays inside
    if 2 * margin >= width:
        raise ValueError(f"a blob of radius {radius} H does not fit in a {height}x{width} frame")
    y, x = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    times = torch.linspace(0, 1, frames).view(frames, 1, 1)
    hole = torch.zeros(frames, height, width, dtype=torch.bool)
    for _ in range(objects):
        low, high = torch.tensor([margin, margin]), torch.tensor([height - margin, width - margin])
        start = low + (high - low) * torch.rand(2, generator=generator)
        end = low + (high - low) * torch.rand(2, generator=generator)
        centre = start + (end - start) * times.view(frames, 1)  # (T, 2): the object's path
        for _ in range(4):
            offset = (2 * torch.rand(2, generator=generator) - 1) * r / 2**0.5
            disc = r * (0.5 + 0.5 * torch.rand((), generator=generator))
            cy = (centre[:, 0] + offset[0]).view(frames, 1, 1)
            cx = (centre[:, 1] + offset[1]).view(frames, 1, 1)
            hole |= (y - cy) ** 2 + (x - cx) ** 2 <= disc**2
    return (~hole).float().unsqueeze(1)


def apply_mask(video: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The masked clip the encoder sees: known pixels kept, holes black (the reference code's)."""
    check_frames(video, "video")
    check_mask(known, video)
    return video * known


def masked_input(masked: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A model_input for `train` and `reconstruct`: the masked frames, whatever the target."""

    def frames(video: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        return masked[indices]

    return frames


# %% [markdown]
# ## The masks at this scale
#
# Both kinds on the clip, and the fraction of each frame they hide.

# %%
from nerv_lessons.viz import frame_grid

video = load_clip(scale, device)
frames, height, width = scale.frames, scale.height, scale.width
masks = {
    "boxes": box_mask(frames, height, width).to(device),
    "objects": object_masks(frames, height, width, seed=0).to(device),
}
for name, known in masks.items():
    hidden = 1 - known.flatten(1).mean(1)
    print(
        f"{name:<8} hides {hidden.mean():.2%} of a frame "
        f"(from {hidden.min():.2%} to {hidden.max():.2%})"
    )
size = paper_box_size(height)
print(f"box side at {height}x{width}: {size} px (paper: {PAPER_BOX} px at {PAPER_HEIGHT} px high)")
paper_boxes = box_mask(1, 640, 1280)
print(f"at the paper's 640x1280 Bunny crop the boxes hide {1 - paper_boxes.mean():.2%}")

shown = [0, frames // 2, frames - 1]
pictures = torch.cat([apply_mask(video, known)[shown] for known in masks.values()])
frame_grid(
    pictures.cpu(),
    columns=len(shown),
    titles=[f"{name}, frame {i}" for name in masks for i in shown],
)
plt.show()

# %% [markdown]
# ## A fill-in without learning
#
# Before training anything: what does a simple rule get? `fill_holes` takes each hidden pixel
# from the nearest frame in time where that pixel is visible; pixels hidden in every frame
# (the fixed boxes!) are then filled from space, ring by ring from the hole's edge inwards,
# each new pixel the average of its known neighbours.


# %%
#| export inpaint
def _pixel_known(known: torch.Tensor) -> torch.Tensor:
    """(T, 1, H, W) bool: a pixel is known when all of its channels are."""
    return known.amin(1, keepdim=True) > 0


def fill_in_time(video: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill each hole from the nearest frame where that pixel is visible (the earlier on ties).
    Returns (filled clip, (T, 1, H, W) bool of the pixels now known)."""
    check_mask(known, video)
    visible = _pixel_known(known)
    have = visible.clone()  # grows as holes are filled; copies come only from `visible`
    filled = video * have
    for distance in range(1, len(video)):
        if have.all():
            break
        for target, source in (
            (slice(distance, None), slice(None, -distance)),  # from `distance` frames earlier
            (slice(None, -distance), slice(distance, None)),  # from `distance` frames later
        ):
            # From pixels the source frame really shows: a pixel it got by filling is hidden
            # there too, and copying video[source] would hand over the hidden true value.
            take = ~have[target] & visible[source]
            filled[target] = torch.where(take, video[source], filled[target])
            have[target] |= take
    return filled, have


def fill_in_space(video: torch.Tensor, have: torch.Tensor) -> torch.Tensor:
    """Fill every pixel where `have` (T, 1, H, W) is False from its known 3x3 neighbours,
    ring by ring from the hole's edge inwards."""
    check_frames(video, "video")
    frames, _, height, width = video.shape
    if have.shape != (frames, 1, height, width):
        raise ValueError(
            f"have is {tuple(have.shape)}, the video {tuple(video.shape)}: pass "
            f"({frames}, 1, {height}, {width}), True = known pixel"
        )
    if not have.flatten(1).any(1).all():
        raise ValueError("a frame has no known pixel to fill from: every frame needs some")
    filled, have = video * have, have.float()
    while have.min() == 0:
        # Average of the known neighbours: (sum of known values) / (number known), 3x3.
        total = F.avg_pool2d(filled * have, 3, stride=1, padding=1, count_include_pad=False)
        count = F.avg_pool2d(have, 3, stride=1, padding=1, count_include_pad=False)
        ring = (have == 0) & (count > 0)  # holes touching a known pixel
        filled = torch.where(ring, total / count.clamp_min(1e-12), filled)
        have = torch.where(ring, 1.0, have)
    return filled


def fill_holes(video: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The non-learned baseline: nearest visible frame first, then spatial fill."""
    filled, have = fill_in_time(video, known)
    return fill_in_space(filled, have)


# %% [markdown]
# ## Scores: the whole frame, and the holes alone
#
# The paper scores the output against the original over the whole frame, with the masked
# input itself as the "Input" row. Known pixels then dominate the score, so we add the PSNR
# inside the holes alone: that is where inpainting happens. The paper fills the holes with
# HNeRV's output and keeps the known pixels (following IIVI); `composite` does that.


# %%
#| export inpaint
def composite(output: torch.Tensor, video: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Known pixels from the video, holes from the output: the inpainted clip."""
    check_mask(known, video)
    if output.shape != video.shape:
        raise ValueError(
            f"output is {tuple(output.shape)}, video {tuple(video.shape)}: make them one size"
        )
    return torch.where(known > 0, video, output)


def hole_psnr(result: torch.Tensor, video: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """PSNR of each frame over its hole pixels only: (T,) in dB."""
    check_mask(known, video)
    holes = (1 - known).expand_as(video)
    count = holes.flatten(1).sum(1)
    if (count == 0).any():
        frames = (count == 0).nonzero().flatten().tolist()
        raise ValueError(f"frames {frames[:5]} have no holes, so no PSNR inside the holes")
    errors = ((result.float() - video.float()) ** 2 * holes).flatten(1).sum(1)
    return psnr_from_mse(errors / count)


def inpainting_scores(
    result: torch.Tensor, video: torch.Tensor, known: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Per-frame scores of an inpainted clip against the original: whole-frame PSNR and
    MS-SSIM (the paper's Table 7 is PSNR), and the PSNR inside the holes."""
    return {
        "psnr": psnr(result, video).cpu(),
        "ms_ssim": ms_ssim(result, video).cpu(),
        "hole_psnr": hole_psnr(result, video, known).cpu(),
    }


# %% [markdown]
# ## Train HNeRV on the known pixels
#
# The same HNeRV as lesson 04, the same recipe (Adam (0.9, 0.999), L2, warm-up 0.1), two
# changes: the model's input is the masked clip (`masked_input`), and `train` gets
# `mask=known`, so the loss and the training PSNR count only the known pixels. As a model
# family for the experiments layer: `build_inpainting` makes the mask for the clip it gets,
# and a row's changes choose the mask kind. The floors are the mean frame, and, for each
# mask, the masked input (the paper's "Input" row) and the non-learned `fill_holes`.


# %%
#| export inpaint
MASK_KINDS = ("boxes", "objects")


def inpainting_mask(kind: str, frames: int, height: int, width: int) -> torch.Tensor:
    """The training mask of one kind (1 = known): the paper's five boxes, or moving blobs
    (object_masks, seed 0)."""
    if kind == "boxes":
        return box_mask(frames, height, width)
    if kind == "objects":
        return object_masks(frames, height, width, seed=0)
    raise ValueError(f"unknown mask kind {kind!r}: choose one of {', '.join(MASK_KINDS)}")


def build_inpainting(video: torch.Tensor, budget: float, mask: str = "boxes", **changes) -> Setup:
    """HNeRV of about `budget` million numbers (lesson 04's hnerv_budget) that sees the
    masked clip and trains on its known pixels (Setup.mask)."""
    check_frames(video, "video")
    frames, _, height, width = video.shape
    known = inpainting_mask(mask, frames, height, width).to(video.device)
    config = hnerv_budget(budget, frames, height, width, **changes)
    model_input = masked_input(apply_mask(video, known))
    return Setup(HNeRV(config), model_input, hnerv_size(config, frames), mask=known)


def _floor(kind: str, fill: bool):
    def copy(video: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        frames, _, height, width = video.shape
        known = inpainting_mask(kind, frames, height, width).to(video.device)
        return fill_holes(video, known) if fill else apply_mask(video, known)

    return copy


register_model("hnerv_inpainting", build_inpainting)
for _kind in MASK_KINDS:  # "masked": the masked input; "fill": fill_holes on it
    register_floor(f"masked, {_kind}", _floor(_kind, fill=False))
    register_floor(f"fill, {_kind}", _floor(_kind, fill=True))

# HNeRV's Table 7 (10 DAVIS videos, five 50x50 boxes; PSNR over the whole frame): the rows
# here are HNeRV's raw output on each mask kind; lesson 09 scores the holes from the models.
HNERV_INPAINTING = register(
    Experiment(
        "hnerv-inpainting",
        "HNeRV (CVPR 2023)",
        "Table 7, video inpainting",
        "hnerv",
        rows=(
            Row("HNeRV, boxes", "hnerv_inpainting", {"mask": "boxes"}, paper_psnr=32.03),
            Row("HNeRV, objects", "hnerv_inpainting", {"mask": "objects"}),
        ),
        floors=(
            "mean frame",
            *(f"{name}, {kind}" for kind in MASK_KINDS for name in ("masked", "fill")),
        ),
    )
)


# %% [markdown]
# **The learning rate.** In the Boosting-NeRV code's issue #1, its maintainer reports that
# masked HNeRV training went NaN at lr 1e-3 (HNeRV's usual lr) on some DAVIS videos, and
# lowered it for those (7.5e-4 down to 1e-4); the HNeRV paper does not give Table 7's lr.
# This lesson used to train at half the lr as a precaution. We measure instead: the table
# trains at HNeRV's full recipe lr (5e-3 at the quick scale) with the mask, every seed, and
# `train` raises within `log_every` steps on a non-finite loss. The cell prints each run's
# final loss and whether it stayed finite; lr / 2 would be kept only if one diverged. The
# floors: "masked" is the masked input (holes black), "fill" is `fill_holes` on it.

# %%
from nerv_lessons.experiments import fit, results_folder, run, seed_row, verdict
from nerv_lessons.train import TrainConfig, reconstruct

recipe = TrainConfig.hnerv(scale, progress=False)
print(
    f"recipe {HNERV_INPAINTING.recipe!r} at {scale.name}: lr {recipe.lr:g}, "
    f"batch {recipe.batch_size}"
)
start = time.perf_counter()
results = run(HNERV_INPAINTING, scale, seeds=3, device=device)
print(f"two rows x 3 seeds: {time.perf_counter() - start:.0f} s (with the cache's runs)")
seeds = results.provenance["seeds"]
fits = {  # row -> [(setup, record)] per seed, from the cache that run filled
    row.label: [fit(HNERV_INPAINTING, row.label, scale, seed, device) for seed in seeds]
    for row in HNERV_INPAINTING.rows
}
for label, runs in fits.items():
    losses = [record["history"]["loss"][-1] for _, record in runs]
    finite = all(math.isfinite(loss) for loss in losses)
    print(
        f"{label} at lr {recipe.lr:g}: final losses {[f'{loss:.2e}' for loss in losses]} -> "
        f"{'finite, no divergence' if finite else 'DIVERGED'}; trained in "
        f"{sum(record['seconds'] for _, record in runs):.0f} s"
    )
results.show()
results.save(results_folder(scale))

# %%
figure, axis = plt.subplots(figsize=(6, 3))
for label, runs in fits.items():
    history = runs[0][1]["history"]
    axis.plot(history["epoch"], history["psnr"], label=f"{label} (seed 0)")
axis.set(xlabel="epoch", ylabel="training PSNR, known pixels (dB)", title="masked training")
axis.legend()
figure.tight_layout()
plt.show()

# %% [markdown]
# ## Table 7, beside ours
#
# Four rows per mask: the masked input (holes black, the paper's "Input" row), the
# non-learned fill-in, and HNeRV twice, because the paper and its code score it differently.
# `[paper]` follows the paper's text: the holes are filled with HNeRV's output and the known
# pixels kept (following IIVI), our `composite`. `[code]` follows the reference code's
# evaluation: the raw output against the full frame. Which one gave Table 7 is not stated.


# %%
def table7_rows(known, output):
    """Each row's copy of the clip, made one at a time: at the paper scale a clip is 1.3 GB,
    so only the scores are kept."""
    yield "Input (masked)", apply_mask(video, known)
    yield "fill_holes (no learning)", fill_holes(video, known)
    yield "HNeRV raw output [code]", output
    yield "HNeRV in the holes [paper]", composite(output, video, known)


def inpainted(label, seed_index):
    """The clip a trained row outputs (raw), and its mask: one seed's model from `fit`."""
    setup, _ = fits[label][seed_index]
    return reconstruct(setup.model, video, setup.model_input), setup.mask


labels = {"boxes": "HNeRV, boxes", "objects": "HNeRV, objects"}  # mask kind -> row
outputs = {name: inpainted(label, 0)[0] for name, label in labels.items()}
print("HNeRV Table 7 (10 DAVIS videos, 5 boxes of 50 px; PSNR over the whole frame):")
print("  Input 19.96 | NeRV 31.14 | IIVI 32.97 | HNeRV 32.03")
print(f"ours: Bunny, {scale.describe()}, {device}, lr {recipe.lr:g}, seed 0")
hole_scores = {}  # mask -> row -> mean PSNR in the holes
hnerv_hole_psnr = {}  # mask -> per-frame PSNR in the holes of HNeRV's output (for the pictures)
for name, known in masks.items():
    print(f"\n{name + ' mask':<29} {'PSNR':>6} {'MS-SSIM':>8} {'PSNR in holes':>14}")
    hole_scores[name] = {}
    for row, result in table7_rows(known, outputs[name]):
        scores = inpainting_scores(result, video, known)
        hole_scores[name][row] = scores["hole_psnr"].mean().item()
        if row == "HNeRV in the holes [paper]":
            hnerv_hole_psnr[name] = scores["hole_psnr"]
        print(
            f"  {row:<27} {scores['psnr'].mean():6.2f} {scores['ms_ssim'].mean():8.4f} "
            f"{scores['hole_psnr'].mean():14.2f}"
        )

# %% [markdown]
# The paper's claim, judged on the holes over 3 seeds: HNeRV pasted into the holes against
# the masked input, and against the fill-in. Those two are not learned, so every seed gives
# them the same score (std 0).


# %%
hole_claims = {}
for name, label in labels.items():
    per_seed = []
    for index in range(len(seeds)):
        output, known = inpainted(label, index)
        per_seed.append(hole_psnr(composite(output, video, known), video, known).mean().item())
    hnerv = seed_row(per_seed)
    print(f"{name}: HNeRV in the holes {hnerv['psnr_mean']:.2f} +- {hnerv['psnr_std']:.2f} dB")
    for floor in ("Input (masked)", "fill_holes (no learning)"):
        fixed = seed_row([hole_scores[name][floor]] * len(seeds))
        result, gap, noise = verdict(hnerv, fixed)
        hole_claims[name, floor] = result
        print(f"  HNeRV > {floor} in the holes: gap {gap:+.2f} dB, noise {noise:.2f} -> {result}")

# %% [markdown]
# ## Why ours differ from Table 7
#
# First, how much the boxes hide, and what that allows the "Input" row to score. The masked
# input is exact outside the holes and no pixel can be off by more than 1, so its MSE is at
# most the hidden fraction f, and its PSNR at least -10 log10 f.

# %%
# NBVAL_CHECK_OUTPUT
import math

table7_input = [23.14, 20.24, 19.99, 21.36, 17.3, 20.47, 18.92, 19.37, 20.45, 18.39]  # per video
davis = 5 * PAPER_BOX**2 / (960 * 1920)  # Table 7: five 50x50 boxes on 960x1920 frames
bound = -10 * math.log10(davis)  # every hidden pixel off by 1, the rest exact
print(f"Table 7 (DAVIS 960x1920, 50 px boxes): the boxes hide {davis:.2%} of a frame")
print(f"  so the masked input scores >= {bound:.2f} dB on the whole frame")
below = sum(value < bound for value in table7_input)
print(
    f"  Table 7's Input row: mean {sum(table7_input) / 10:.2f} dB, {below} of 10 videos "
    f"below {bound:.2f} dB (lowest {min(table7_input)} dB)"
)
for h, w in [(80, 160), (320, 640), (640, 1280)]:
    print(f"ours at {h}x{w}: {paper_box_size(h)} px boxes hide {1 - box_mask(1, h, w).mean():.2%}")

# %% [markdown]
# So Table 7's Input row (19.96 dB on average, 9 of 10 videos below the 21.69 dB bound) cannot
# come from five 50x50 boxes on 960x1920 frames; the paper does not say what larger or
# different masking produced it. Our boxes are 50/640 of the height, so they hide 1.41% of a
# frame at the quick scale and 1.53% at 640x1280, about twice Table 7's 0.68%. Add Bunny for
# DAVIS and a tiny model trained for seconds (Table 7's model size and epochs are not
# stated), and only our rows compare with each other.
#
# Then what our rows say. Whole-frame PSNR is dominated by the known pixels, so read the
# holes column: how well each method guesses what it never saw.

# %%
for name, rows in hole_scores.items():
    fill, hnerv = rows["fill_holes (no learning)"], rows["HNeRV in the holes [paper]"]
    winner = "the fill-in (no learning)" if fill > hnerv else "HNeRV"
    print(
        f"{name:<8} in the holes: fill_holes {fill:.2f} dB, HNeRV {hnerv:.2f} dB: "
        f"{winner} wins by {abs(fill - hnerv):.2f} dB ({scale.name} scale)"
    )

# %% [markdown]
# At the quick scale HNeRV pasted into the holes is ahead of the non-learned fill-in inside
# the holes for both masks, by under 1 dB on the boxes and about 1.5 dB on the moving
# objects; the verdicts above say where that is beyond the seeds' noise. It beats the masked
# input by far. Its raw output is another story: a 0.05M-parameter HNeRV trained for a few
# hundred steps is blurry everywhere, so
# on the whole frame it scores below the fill-in for both masks and about the masked input
# for the boxes. Pasting its output into the holes only, the paper's protocol, is what puts
# it at the top (on the boxes, level with the fill-in within the noise). The gap to the fill-in is
# small: at the lesson or paper scale, with
# larger holes and a better fit, measure it again on a GPU.
#
# ## Pictures: input, output, original, and the error in the holes

# %%
from nerv_lessons.viz import to_image

figure, axes = plt.subplots(len(masks), 4, figsize=(12, len(masks) * (3 * height / width + 0.5)))
for row, (name, known) in enumerate(masks.items()):
    t = int(hnerv_hole_psnr[name].argmin())  # the frame HNeRV fills worst
    error = (outputs[name][t] - video[t]).abs() * (1 - known[t])
    panels = {
        f"{name}: masked input, frame {t}": apply_mask(video, known)[t],
        "HNeRV output": outputs[name][t],
        "original": video[t],
        f"|error| in holes x4 ({hnerv_hole_psnr[name][t]:.1f} dB)": (4 * error).clamp(0, 1),
    }
    for axis, (title, frame) in zip(axes[row], panels.items()):
        axis.imshow(to_image(frame))
        axis.set_title(title, fontsize=9)
        axis.axis("off")
figure.tight_layout()
plt.show()

# %% [markdown]
# Scrub through the clip: masked input, inpainted (HNeRV in the holes), original, side by side.

# %%
from IPython.display import display

from nerv_lessons.viz import player

name = "objects"
side_by_side = torch.cat(
    [apply_mask(video, masks[name]), composite(outputs[name], video, masks[name]), video], dim=-1
)
display(player(side_by_side.cpu(), fps=8, display_width=720))

# %% [markdown]
# ## When training diverges
#
# The runs above stayed finite, so to see the guard at work we force a divergence. This is
# not the reported divergence at lr 1e-3: it is the same masked model at an absurd lr of 1e5,
# checked every 4 steps. Whether and when such a run overflows depends on the machine's
# floating point, so the cell prints what happened rather than assuming it. Because the run
# has a mask, the error adds the inpainting hint; its suggested lr (a fifth of the peak) is a
# rule of thumb, and here still absurd.

# %%
from dataclasses import replace

from nerv_lessons.scales import seed_everything
from nerv_lessons.train import train

unstable = replace(recipe, lr=1e5, epochs=10, log_every=4)
seed_everything(0)  # the model's initial weights
start = time.perf_counter()
try:
    setup = build_inpainting(video, scale.model_params, mask="boxes")
    model, known = setup.model.to(device), setup.mask
    history = train(model, video, unstable, setup.model_input, mask=known)
    print(f"this run did not diverge here: final loss {history['loss'][-1]:.4g}")
except RuntimeError as error:
    print(f"train stopped after {time.perf_counter() - start:.1f} s: {error}")

# %% [markdown]
# ## Exercise: how much of the frame do the boxes hide?
#
# Write `boxes_hide(height, width)`: the fraction of a height x width frame that the paper's
# five boxes hide at that size (side `paper_box_size(height)`, boxes that do not overlap).


# %%
def boxes_hide(height: int, width: int) -> float:
    """The fraction of the frame under the five boxes."""
    ### BEGIN SOLUTION
    side = paper_box_size(height)
    return 5 * side * side / (height * width)
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
for h, w in [(80, 160), (320, 640), (640, 1280), (480, 960)]:
    expected = (box_mask(1, h, w) == 0).sum().item() / (h * w)  # counted on the mask
    got = boxes_hide(h, w)
    if abs(got - expected) > 1e-12:
        raise AssertionError(
            f"boxes_hide({h}, {w}) = {got}, the mask hides {expected}: five boxes of "
            f"paper_box_size({h}) = {paper_box_size(h)} pixels a side, over H * W pixels"
        )
print(f"Right: 5 s^2 / (H W) with s = paper_box_size(H); 640x1280: {boxes_hide(640, 1280):.4%}")

# %% [markdown]
# ## Summary
#
# - Masks are data: (T, 1, H, W) with 1 = known; the paper's five 50x50 boxes (scaled with the
#   height) and moving free-form blobs from a seed; the encoder sees the masked frame.
# - `train(..., mask=known)` counts only known pixels; a non-finite loss stops the run within
#   `log_every` steps, with the epoch and a lower lr to try (masked HNeRV is reported to
#   diverge at lr 1e-3).
# - Score the whole frame as the paper does, but read the PSNR inside the holes, and compare
#   with a fill-in that needs no learning: time helps only where the holes move.

# %%
print(f"lesson time: {time.perf_counter() - notebook_start:.0f} s on {device} ({scale.name} scale)")
