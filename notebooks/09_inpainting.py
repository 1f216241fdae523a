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
# draw whole frames, fills them from what it learned elsewhere. The lesson first does that
# by hand (one hole, a loss you write, a 20-line training loop), then builds the module
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
import math
import time

import matplotlib.pyplot as plt
import torch

from nerv_lessons._exercises import exercise, right, wrong
from nerv_lessons.data import load_clip
from nerv_lessons.scales import start_lesson

scale, device = start_lesson()
notebook_start = time.perf_counter()

# %% [markdown]
# ## The idea: a loss that skips the holes
#
# Hide a box in every frame of the clip by hand. A mask is a tensor like the video,
# (T, 1, H, W), with **1 = known pixel, 0 = hole** (the paper writes the loss as
# (1 - M) * loss with M = 1 on the holes; our `known` is its 1 - M). The model's input is the
# masked frame, holes black, so it never sees what is under them.

# %%
from nerv_lessons.viz import to_image

video = load_clip(scale, device)
frames, height, width = scale.frames, scale.height, scale.width
hand_known = torch.ones(frames, 1, height, width, device=device)
box_h, box_w = height // 4, width // 4  # one hole at the centre, a quarter of each side
top, left = (height - box_h) // 2, (width - box_w) // 2
hand_known[..., top : top + box_h, left : left + box_w] = 0
hand_masked = video * hand_known  # what the encoder sees
print(
    f"{frames} frames of {height}x{width}; a {box_h}x{box_w} hole hides "
    f"{1 - hand_known.mean():.2%} of each frame"
)

# %% [markdown]
# ### Exercise: the masked loss
#
# Training must not reward or punish what the model draws in the hole: nobody knows what is
# there. Write `masked_mse(pred, target, known)`: the mean squared error over the known pixels
# only, with `pred` and `target` (B, 3, H, W) and `known` (B, 1, H, W). A hole adds nothing to
# the mean, not even a zero. The check compares it with the package's masked loss (lesson 03's
# `l2_loss(pred, target, known)`, which `train(..., mask=known)` uses) on a small input, and
# checks that a hole's pixels get no gradient.


# %%
def masked_mse(pred: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Mean of (pred - target)^2 over the known values (known = 1), as a 0-dim tensor."""
    ### BEGIN SOLUTION
    errors = (pred - target) ** 2 * known
    return errors.sum() / known.expand_as(errors).sum()
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("masked_mse"):
    from nerv_lessons.train import l2_loss

    generator = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 3, 6, 8, generator=generator, requires_grad=True)
    target = torch.rand(2, 3, 6, 8, generator=generator)
    known = (torch.rand(2, 1, 6, 8, generator=generator) > 0.3).float()
    got, expected = masked_mse(pred, target, known), l2_loss(pred, target, known)
    if not torch.is_tensor(got) or got.dim() != 0:
        wrong(f"masked_mse returned {got!r}: return one number as a 0-dim tensor, so it can train")
    if not got.requires_grad:
        wrong("the loss has no gradient: compute it from pred with torch operations")
    got.backward()
    hole_grad = pred.grad * (1 - known)
    if hole_grad.abs().max() > 0:
        wrong(
            "a pixel in a hole gets a gradient from your loss, so training would still pull "
            "the hole towards the (unknown) target there: leave the holes out of the error"
        )
    if not torch.allclose(got, expected):
        ratio = (got / expected).item()
        fraction = known.mean().item()
        if abs(ratio - fraction) < 1e-3:
            why = (
                f"yours is the package's times the known fraction ({fraction:.2f}): you "
                "average over every pixel, holes included (HNeRV's code does that; the mean "
                "of the known values does not)"
            )
        elif abs(ratio - 3) < 1e-3:
            why = "yours is 3x the package's: a known pixel holds a value in each channel"
        else:
            why = f"yours is {ratio:.3f}x the package's"
        wrong(
            f"masked_mse = {got.item():.5f}, l2_loss(pred, target, known) = {expected:.5f}: {why}"
        )
    right(
        f"the mean over the {int(known.sum()) * 3} known values of {pred.numel()}: "
        f"{got.item():.5f}, the package's l2_loss with a mask, and the holes get no gradient."
    )

# %% [markdown]
# ### The training loop, by hand
#
# A masked fit is any fit whose loss skips the holes. Twenty lines: Adam with HNeRV's lr and
# betas, lesson 03's warm-up and cosine `lr_factor`, a shuffled order from a seed, and the
# package's masked loss (`l2_loss` with `known`: what you wrote above). The model is lesson
# 04's HNeRV at this scale's size, trained on the clip with our one hole for a twelfth of the
# scale's epochs, one frame a step (HNeRV's recipe takes 2; one is more steps for the same
# work, so a few seconds go further).


# %%
from nerv_lessons.hnerv import HNeRV, hnerv_budget
from nerv_lessons.scales import seed_everything
from nerv_lessons.train import TrainConfig, l2_loss, lr_factor

recipe = TrainConfig.hnerv(scale, progress=False)


def fit_masked(model, inputs, targets, known, epochs, lr, batch_size=1, seed=0):
    """Fit model(inputs[i]) to targets[i] on the known pixels only; the loss of each epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    steps = epochs * math.ceil(len(inputs) / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(min(step, steps - 1), steps, warmup=0.1)
    )
    order = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        epoch = []
        for batch in torch.randperm(len(inputs), generator=order).split(batch_size):
            loss = l2_loss(model(inputs[batch]), targets[batch], known[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            epoch.append(loss.detach())
        losses.append(torch.stack(epoch).mean().item())
    return losses


def hole_db(model, masked, known):
    """PSNR in the holes of the whole clip: the package's masked loss with the holes as 'known'."""
    with torch.no_grad():
        output = model.eval()(masked)
    return -10 * math.log10(l2_loss(output, video, 1 - known).item()), output


idea_epochs = max(1, scale.epochs // 12)
hnerv_config = hnerv_budget(scale.model_params, frames, height, width)
seed_everything(0)
idea_model = HNeRV(hnerv_config).to(device)
start = time.perf_counter()
idea_losses = fit_masked(idea_model, hand_masked, video, hand_known, idea_epochs, recipe.lr)
hole_db_masked, idea_output = hole_db(idea_model, hand_masked, hand_known)
hole_db_black = -10 * math.log10(l2_loss(hand_masked, video, 1 - hand_known).item())
print(
    f"{idea_epochs} epochs in {time.perf_counter() - start:.1f} s: loss on the known pixels "
    f"{idea_losses[0]:.4f} -> {idea_losses[-1]:.4f}"
)
print(
    f"PSNR in the hole: HNeRV's guess {hole_db_masked:.2f} dB, the black input "
    f"{hole_db_black:.2f} dB"
)

t = frames // 2
inpainted_by_hand = torch.where(hand_known > 0, video, idea_output)  # HNeRV only in the hole
figure, axes = plt.subplots(1, 4, figsize=(14, 3.5 * height / width + 0.6))
panels = {
    f"masked input, frame {t}": hand_masked[t],
    f"HNeRV's output, {idea_epochs} epochs": idea_output[t],
    "known pixels + HNeRV in the hole": inpainted_by_hand[t],
    "original": video[t],
}
for axis, (title, frame) in zip(axes, panels.items()):
    axis.imshow(to_image(frame))
    axis.set_title(title, fontsize=9)
    axis.axis("off")
figure.tight_layout()
plt.show()

# %% [markdown]
# The same loop is the package's `train(model, video, config, model_input, mask=known)`:
# from the same initial weights and seed, on a small input (4 frames, 2 epochs, a frame a step,
# on the CPU, where both draw the same shuffled order), the two give the same loss curve.

# %%
import copy
from dataclasses import replace

from nerv_lessons.train import train

small = video[:4].cpu()
small_known, small_masked = hand_known[:4].cpu(), hand_masked[:4].cpu()
seed_everything(0)
ours = HNeRV(hnerv_budget(scale.model_params, 4, height, width))
package = copy.deepcopy(ours)
our_losses = fit_masked(ours, small_masked, small, small_known, 2, recipe.lr)
small_recipe = replace(recipe, epochs=2, batch_size=1, channels_last=False)  # as ours
frames_seen = lambda _video, indices: small_masked[indices]  # noqa: E731  (the masked frames)
package_losses = train(package, small, small_recipe, frames_seen, mask=small_known)
torch.testing.assert_close(torch.tensor(our_losses), torch.tensor(package_losses["loss"]))
print(f"same loss curve: ours {our_losses}, train's {package_losses['loss']}")

# %% [markdown]
# What `train` adds, one line each: the clip and the mask stay on the device and the order is
# drawn there; bf16 autocast on CUDA; the channels-last layout (faster); a check of the mask
# (shape, device, 0s and 1s, no empty frame); a stop with a lower lr to try when the loss
# turns NaN, checked every `log_every` steps; the training PSNR on the known pixels, the lr
# and the time per epoch; a progress bar.
#
# ### Exercise: change one thing and predict
#
# Forget the mask. Train the same model, from the same weights, with the same loop, on the
# same masked input, but with the masked clip as the target and every pixel counted (what a
# fit that ignores the holes does). The next cell has already done it (its result is kept for
# the check). Will its PSNR in the hole be `"higher"`, `"about the same"` (within 1 dB) or
# `"lower"` than the masked fit's above? Set `prediction`, then run the check.

# %%
seed_everything(0)
unmasked_model = HNeRV(hnerv_config).to(device)
fit_masked(
    unmasked_model, hand_masked, hand_masked, torch.ones_like(hand_known), idea_epochs, recipe.lr
)
hole_db_unmasked, unmasked_output = hole_db(unmasked_model, hand_masked, hand_known)

# %%
### BEGIN SOLUTION
prediction = "lower"
### END SOLUTION

# %%
# Check: says right or wrong, and why.
with exercise("prediction"):
    choices = ("higher", "about the same", "lower")
    if prediction not in choices:
        wrong(f"prediction is {prediction!r}: set it to one of {choices}")
    gap = hole_db_unmasked - hole_db_masked
    measured = "higher" if gap > 1 else "lower" if gap < -1 else "about the same"
    print(
        f"PSNR in the hole: with the mask {hole_db_masked:.2f} dB, without it "
        f"{hole_db_unmasked:.2f} dB ({measured}); the black input {hole_db_black:.2f} dB"
    )
    if prediction != measured:
        wrong(
            f"it came out {measured} ({gap:+.2f} dB): what does a loss over every pixel of the "
            "masked clip ask the model to draw where the hole is?"
        )
    right(
        "counted in the loss, the black hole is a target like any other pixel, so the model "
        "learns to draw it; with the mask, nothing asks for black there and the decoder fills "
        "the hole from what it learned elsewhere."
    )

# %% [markdown]
# What each fit drew in the hole, pasted among the known pixels (the same frame as above):

# %%
figure, axes = plt.subplots(1, 2, figsize=(9, 4.5 * height / width + 0.6))
fits_by_hand = {"with the mask": idea_output, "without the mask": unmasked_output}
for axis, (title, output) in zip(axes, fits_by_hand.items()):
    axis.imshow(to_image(torch.where(hand_known > 0, video, output)[t]))
    axis.set_title(f"{title}, {idea_epochs} epochs", fontsize=9)
    axis.axis("off")
figure.tight_layout()
plt.show()


# %% [markdown]
# ## Masks are data
#
# Now the package's version, from the masks up. The paper's boxes are 50x50 pixels, one at
# the centre and one at each quarter point (H/4 or 3H/4, W/4 or 3W/4). The paper masks DAVIS
# at 960x1920; we mask Bunny, whose paper-scale crop is 640 pixels high, so our box is 50/640
# of the frame's height at every scale: 50 pixels at 640x1280, 25 at 320x640, 6 at 80x160
# (rounded half up). Table 7's boxes are 50/960 of its height, so ours hide a larger share of
# the frame (worked out below).
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
# The blobs' geometry (four discs each, a margin that keeps them inside, bad sizes refused)
# is folded: click to show.


# %% cellView="form" jupyter={"source_hidden": true}
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


# %% [markdown]
# What the encoder sees is the masked clip, holes black (as our `hand_masked` above), and a
# `model_input` for `train` hands it the masked frames whatever the target is.


# %%
#| export inpaint
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
#
# ### Exercise: the fill from time
#
# Write the first half, `fill_from_nearest_frame(video, known)`, with `video` (T, 3, H, W)
# and `known` (T, 1, H, W). For each hidden pixel of frame t, look 1 frame away, then 2, and
# so on, and copy the value from the first frame that *shows* that pixel (the earlier one
# when an earlier and a later frame are equally near). Return the filled clip and a
# (T, 1, H, W) bool tensor of the pixels now known; a pixel no frame shows stays black (0)
# and unknown. The whole `video` is passed in, hidden values included, as the package's
# `fill_in_time` gets it: a fill-in that copies a value no frame shows is cheating. Plain
# loops over frames are fine. The check compares yours with the package's `fill_in_time`.


# %%
def fill_from_nearest_frame(video: torch.Tensor, known: torch.Tensor):
    """(filled clip, (T, 1, H, W) bool of the pixels now known): holes from the nearest frame
    that shows them, the earlier on ties."""
    ### BEGIN SOLUTION
    visible = known > 0
    filled, have = video * visible, visible.clone()
    for t in range(len(video)):
        for distance in range(1, len(video)):
            for source in (t - distance, t + distance):  # the earlier first
                if 0 <= source < len(video):
                    take = ~have[t] & visible[source]
                    filled[t] = torch.where(take, video[source], filled[t])
                    have[t] |= take
    return filled, have
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("fill_from_nearest_frame"):
    from nerv_lessons.inpaint import fill_in_time

    def one_pixel(shown):  # 1x2 frames, value (t + 1) / 10 in frame t; the right pixel shown
        clip = (torch.arange(len(shown)) + 1.0).view(-1, 1, 1, 1).expand(-1, 3, 1, 2) / 10
        mask = torch.ones(len(shown), 1, 1, 2)
        mask[:, 0, 0, 0] = torch.tensor(shown, dtype=torch.float32)
        return clip.clone(), mask

    cases = {  # what the pixel's visibility over the frames tests
        "shown in frame 0 only": [1, 0, 0, 0],
        "shown in the last frame only": [0, 0, 0, 1],
        "an earlier and a later frame as near": [1, 0, 1, 0],
        "one frame nearer than the other": [1, 0, 0, 0, 0, 1],
        "never shown": [0, 0, 0],
    }
    for what, shown in cases.items():
        clip, mask = one_pixel(shown)
        got_filled, got_have = fill_from_nearest_frame(clip, mask)
        want_filled, want_have = fill_in_time(clip, mask)
        if got_have.shape != want_have.shape or not torch.equal(got_have.bool(), want_have):
            wrong(
                f"pixel {what} ({shown}): yours marks it known in frames "
                f"{got_have[:, 0, 0, 0].int().tolist()}, the package in "
                f"{want_have[:, 0, 0, 0].int().tolist()}: a pixel is known once it is shown or "
                "copied from a frame that shows it"
            )
        if not torch.allclose(got_filled, want_filled):
            source = [round(v * 10) - 1 for v in want_filled[:, 0, 0, 0].tolist()]
            yours = [round(v * 10) - 1 for v in got_filled[:, 0, 0, 0].tolist()]
            wrong(
                f"pixel {what} ({shown}): each frame's value comes from frame {yours} in "
                f"yours, {source} in the package's (-1: left black): copy from the nearest "
                "frame that shows the pixel, the earlier on a tie, and never a hidden value"
            )
    generator = torch.Generator().manual_seed(0)
    clip = torch.rand(7, 3, 5, 6, generator=generator)
    mask = (torch.rand(7, 1, 5, 6, generator=generator) > 0.6).float()
    got_filled, got_have = fill_from_nearest_frame(clip, mask)
    want_filled, want_have = fill_in_time(clip, mask)
    if not (torch.equal(got_have.bool(), want_have) and torch.allclose(got_filled, want_filled)):
        wrong("on a random 7-frame clip with 60% holes yours differs from fill_in_time")
    right(
        f"the nearest frame that shows the pixel, the earlier on ties: on a random 7-frame clip "
        f"{mask.mean():.0%} of the pixels shown become {want_have.float().mean():.0%} known, "
        "as fill_in_time gives; the rest wait for the fill from space."
    )

# %% [markdown]
# The package's version does the same one distance at a time for every frame at once
# (vectorised over the clip), and takes masks with 1 or 3 channels; `fill_in_space` then
# fills what time could not, and `fill_holes` is the two in a row.


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


# %% [markdown]
# Folded (click to show): the table's registration, the floors (the masked input, and
# `fill_holes` on it, for each mask kind) and Table 7's two rows, one per mask kind.


# %% cellView="form" jupyter={"source_hidden": true}
#| export inpaint
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
# The model a row trains, drawn from one forward pass on a masked frame: lesson 04's HNeRV,
# unchanged; only its input (holes black) and its loss (known pixels) differ.

# %%
# %config InlineBackend.figure_formats = ["png"]
from nerv_lessons._diagram import architecture

setup = build_inpainting(video, scale.model_params, mask="boxes")
first_masked = setup.model_input(video, torch.tensor([0], device=device)).cpu()
architecture(
    setup.model,
    first_masked,
    expand=("encoder", "decoder"),
    title=f"HNeRV for inpainting at {scale.name} scale: masked frame in, whole frame out",
)
plt.show()
# %config InlineBackend.figure_formats = ["jpeg"]

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
# objects; the verdicts above say where that is beyond the seeds' noise (on the boxes the gap
# is about the size of the noise, so that verdict is a close call). It beats the masked input
# by far. Its raw output is another story: a 0.05M-parameter HNeRV trained for a few hundred
# steps is blurry everywhere, so on the whole frame it scores below the fill-in for both masks
# and about the masked input for the boxes. Pasting its output into the holes only, the
# paper's protocol, is what puts it at the top. The gap to the fill-in is small: at the lesson
# or paper scale, with larger holes and a better fit, measure it again on a GPU.
#
# ## Pictures: input, output, original, and the error in the holes
#
# Saved as PNG, where JPEG would smear the error inside the small boxes.

# %%
# %config InlineBackend.figure_formats = ["png"]
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
# ## Summary
#
# - Inpainting with a neural representation is a fit whose loss skips the holes: the mean
#   error over the known pixels only (your `masked_mse`, the package's `l2_loss` with a mask).
#   Count the holes as black pixels and the model learns to draw them black.
# - Masks are data: (T, 1, H, W) with 1 = known; the paper's five 50x50 boxes (scaled with the
#   height) and moving free-form blobs from a seed; the encoder sees the masked frame.
# - `train(..., mask=known)` is the 20-line loop plus plumbing; a non-finite loss stops the
#   run within `log_every` steps, with the epoch and a lower lr to try (masked HNeRV is
#   reported to diverge at lr 1e-3).
# - The non-learned fill-in copies each hole from the nearest frame that shows it (your
#   `fill_from_nearest_frame`, the package's `fill_in_time`), then fills from space.
# - Score the whole frame as the paper does, but read the PSNR inside the holes, and compare
#   with a fill-in that needs no learning: time helps only where the holes move.

# %%
print(f"lesson time: {time.perf_counter() - notebook_start:.0f} s on {device} ({scale.name} scale)")
