# Generated from notebooks/09_inpainting.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
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
