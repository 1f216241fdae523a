"""Lesson 09's inpainting module: mask geometry, fill-ins, scores, masked training, bad input."""

import pytest
import torch
import torch.nn.functional as F

from nerv_lessons.hnerv import HNeRV, HNeRVConfig
from nerv_lessons.inpaint import (
    apply_mask,
    box_corners,
    box_mask,
    composite,
    fill_holes,
    fill_in_space,
    fill_in_time,
    hole_psnr,
    inpainting_scores,
    masked_input,
    object_masks,
    paper_box_size,
)
from nerv_lessons.train import TrainConfig, train


def test_paper_boxes_sit_at_the_centre_and_quarter_points():
    # 640x1280 (Bunny's paper crop): 50 px boxes, centred as the reference code centres them
    assert paper_box_size(640) == 50 and paper_box_size(320) == 25 and paper_box_size(80) == 6
    assert paper_box_size(32) == 3  # 2.5 rounds half up (Python's round would give 2)
    assert paper_box_size(960) == 75 and paper_box_size(1) == 1  # never below one pixel
    corners = box_corners(640, 1280, 50)
    assert corners == [(295, 615), (135, 295), (135, 935), (455, 295), (455, 935)]
    known = box_mask(3, 640, 1280)
    assert known.shape == (3, 1, 640, 1280) and known.dtype == torch.float32
    assert torch.equal(known[0], known[2])  # fixed: the same boxes in every frame
    for top, left in corners:
        assert known[0, 0, top : top + 50, left : left + 50].sum() == 0  # a whole box is a hole
        assert known[0, 0, top - 1, left] == 1 and known[0, 0, top + 50, left] == 1
        assert known[0, 0, top, left - 1] == 1 and known[0, 0, top, left + 50] == 1
    assert (1 - known[0]).sum() == 5 * 50 * 50  # five boxes, no overlap
    assert 1 - known.mean().item() == pytest.approx(5 * 2500 / (640 * 1280))


def test_boxes_scale_with_the_frame_and_stay_inside():
    for height, width in [(80, 160), (320, 640), (640, 1280), (960, 1920), (48, 48)]:
        size = paper_box_size(height)
        for top, left in box_corners(height, width, size):
            assert 0 <= top and top + size <= height and 0 <= left and left + size <= width
        hidden = (1 - box_mask(1, height, width)).sum().item()
        assert hidden == 5 * size * size
    assert box_mask(1, 80, 160, size=2).sum() == 80 * 160 - 5 * 4


def test_object_masks_move_stay_inside_and_repeat_with_the_seed():
    known = object_masks(12, 80, 160, objects=2, radius=0.12, seed=3)
    assert known.shape == (12, 1, 80, 160)
    assert set(known.unique().tolist()) == {0.0, 1.0}
    hidden = 1 - known.flatten(1).mean(1)
    assert (hidden > 0.005).all() and (hidden < 0.25).all()  # holes in every frame, not many
    assert not torch.equal(known[0], known[-1])  # the objects move
    # inside the frame: no hole touches the border (the blobs keep a margin)
    assert known[..., 0, :].min() == 1 and known[..., -1, :].min() == 1
    assert known[..., :, 0].min() == 1 and known[..., :, -1].min() == 1
    assert torch.equal(known, object_masks(12, 80, 160, objects=2, radius=0.12, seed=3))
    assert not torch.equal(known, object_masks(12, 80, 160, objects=2, radius=0.12, seed=4))
    bigger = object_masks(12, 80, 160, objects=2, radius=0.18, seed=3)
    assert (1 - bigger).sum() > (1 - known).sum()


def test_the_encoder_sees_the_masked_frames(bunny):
    known = box_mask(len(bunny), 80, 160)
    masked = apply_mask(bunny, known)
    assert torch.equal(masked * (1 - known), torch.zeros_like(bunny))  # holes are black
    assert torch.equal(masked * known, bunny * known)
    frames = masked_input(masked)(bunny, torch.tensor([2, 5]))
    assert torch.equal(frames, masked[[2, 5]])


def test_fill_in_time_takes_the_nearest_visible_frame():
    video = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 2, 2) / 4  # frame t has value t/4
    known = torch.ones(4, 1, 2, 2)
    known[1:3, :, 0, 0] = 0  # pixel (0, 0) hidden in frames 1 and 2
    known[:, :, 1, 1] = 0  # pixel (1, 1) hidden in every frame
    filled, have = fill_in_time(video, known)
    assert filled[1, 0, 0, 0] == 0.0  # frame 1 -> frame 0 (distance 1, earlier)
    assert filled[2, 0, 0, 0] == 0.75  # frame 2 -> frame 3 (distance 1, later)
    assert not have[:, 0, 1, 1].any() and have[:, 0, 0, 0].all()
    full = fill_holes(video, known)  # (1, 1) then from its 3 neighbours, as filled in time
    neighbours = (filled[:, :, 0, 0] + filled[:, :, 0, 1] + filled[:, :, 1, 0]) / 3
    assert torch.allclose(full[:, :, 1, 1], neighbours)
    assert torch.equal(full[:, :, 0, 0], filled[:, :, 0, 0])


def test_fill_in_time_never_copies_a_hidden_pixel():
    # Pixel (0, 0) is visible in frame 0 only. Frames 1-3 must all get frame 0's value; a
    # frame that got the pixel by filling must not pass on its own (hidden) true value.
    video = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 2, 2) / 10  # frame t: t/10
    known = torch.ones(4, 1, 2, 2)
    known[1:, :, 0, 0] = 0
    filled, have = fill_in_time(video, known)
    assert torch.equal(filled[:, :, 0, 0], torch.zeros(4, 3))
    assert have.all()


def test_fill_in_space_is_exact_on_a_plane():
    # a linear ramp: the average of neighbours on a ring reproduces it at the hole's edge
    ramp = torch.linspace(0, 1, 16).view(1, 1, 1, 16).expand(1, 3, 16, 16).contiguous()
    have = torch.ones(1, 1, 16, 16, dtype=torch.bool)
    have[..., 6:9, 6:9] = False
    filled = fill_in_space(ramp, have)
    assert torch.allclose(filled[..., 7, 7], ramp[..., 7, 7], atol=1e-6)
    assert torch.equal(filled[have.expand_as(ramp)], ramp[have.expand_as(ramp)])


def test_scores_on_a_hand_made_case():
    video = torch.full((2, 3, 40, 40), 0.5)
    known = torch.ones(2, 1, 40, 40)
    known[:, :, :10, :10] = 0  # 100 of 1600 pixels are holes
    result = video.clone()
    result[:, :, :10, :10] = 0.4  # off by 0.1 in the holes only
    assert torch.allclose(hole_psnr(result, video, known), torch.full((2,), 20.0))
    scores = inpainting_scores(result, video, known)
    whole = 10 * torch.log10(torch.tensor(1 / (0.01 * 100 / 1600)))
    assert torch.allclose(scores["psnr"], whole.expand(2)) and scores["ms_ssim"].shape == (2,)
    assert scores["hole_psnr"].tolist() == pytest.approx([20.0, 20.0])
    # composite keeps the known pixels and takes the output only in the holes
    output = torch.zeros_like(video)
    pasted = composite(output, video, known)
    assert torch.equal(pasted[:, :, 10:, :], video[:, :, 10:, :])
    assert pasted[:, :, :10, :10].abs().sum() == 0


def test_bad_input_is_refused():
    video = torch.rand(4, 3, 40, 80)
    with pytest.raises(ValueError, match=r"mask is \(4, 40, 80\).*\(4, 1, 40, 80\)"):
        apply_mask(video, torch.ones(4, 40, 80))  # no channel axis
    with pytest.raises(ValueError, match="mask is"):
        apply_mask(video, torch.ones(3, 1, 40, 80))  # wrong frame count
    with pytest.raises(ValueError, match="frame size"):
        apply_mask(video, torch.ones(4, 1, 40, 40))
    with pytest.raises(ValueError, match="does not fit in a 40x80 frame.*at most"):
        box_mask(1, 40, 80, size=60)  # larger than the frame
    with pytest.raises(ValueError, match="does not fit"):
        box_mask(1, 40, 80, size=24)  # the quarter-point boxes would leave the frame
    with pytest.raises(ValueError, match=">= 1 pixel"):
        box_mask(1, 40, 80, size=0)
    all_masked = torch.ones(4, 1, 40, 80)
    all_masked[2] = 0
    with pytest.raises(ValueError, match=r"frames \[2\].*no known pixel"):
        apply_mask(video, all_masked)
    with pytest.raises(ValueError, match="no known pixel"):
        fill_holes(video, all_masked)
    with pytest.raises(ValueError, match=r"frames \[0, 1, 2, 3\] have no holes"):
        hole_psnr(video, video, torch.ones(4, 1, 40, 80))
    with pytest.raises(ValueError, match="radius"):
        object_masks(4, 40, 80, radius=0.5)
    with pytest.raises(ValueError, match=r"radius 0.2 H does not fit in a 80x40 frame"):
        object_masks(4, 80, 40, radius=0.2)  # a blob needs 0.8 H of width: 64 > 40 pixels
    assert object_masks(4, 80, 80, radius=0.2).shape == (4, 1, 80, 80)  # 64 < 80: fits
    have = torch.ones(4, 1, 40, 80, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"have is \(4, 1, 40, 40\).*\(4, 1, 40, 80\)"):
        fill_in_space(video, have[..., :40])  # wrong frame size
    with pytest.raises(ValueError, match=r"have is \(3, 1, 40, 80\)"):
        fill_in_space(video, have[:3])  # wrong frame count
    with pytest.raises(ValueError, match=r"have is \(4, 40, 80\)"):
        fill_in_space(video, have[:, 0])  # no channel axis
    with pytest.raises(ValueError, match="output is"):
        composite(torch.rand(4, 3, 20, 40), video, torch.ones(4, 1, 40, 80))


def test_masked_hnerv_training_ignores_what_is_under_the_holes(bunny):
    # The encoder sees the masked clip and the loss skips the holes, so two clips that differ
    # only under the holes train exactly the same model.
    video = F.interpolate(bunny[:4], size=(40, 80), mode="area")
    known = box_mask(4, 40, 80)
    other = torch.where(known.bool(), video, torch.rand_like(video))
    config = HNeRVConfig(
        height=40, width=80, strides=(5, 2, 2), encoder_width=8, fc_dim=12, embed_dim=4
    )
    recipe = TrainConfig(epochs=2, batch_size=2, lr=1e-3, loss="l2", progress=False)
    models, histories = [], []
    for clip in (video, other):
        torch.manual_seed(0)
        model = HNeRV(config)
        masked = apply_mask(clip, known)
        histories.append(train(model, clip, recipe, masked_input(masked), mask=known)["loss"])
        models.append(model)
    assert histories[0] == histories[1]
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(a, b)


def test_the_inpainting_family_trains_on_the_masked_clip():
    from nerv_lessons.experiments import EXPERIMENTS, FLOORS, MODELS
    from nerv_lessons.inpaint import inpainting_mask

    video = torch.rand(4, 3, 80, 160)
    for kind in ("boxes", "objects"):
        setup = MODELS["hnerv_inpainting"](video, 0.05, mask=kind)
        known = inpainting_mask(kind, 4, 80, 160)
        assert torch.equal(setup.mask, known)
        indices = torch.tensor([1, 3])
        assert torch.equal(setup.model_input(video, indices), (video * known)[indices])
        assert torch.equal(FLOORS[f"masked, {kind}"](video, torch.arange(4)), video * known)
        assert torch.equal(
            FLOORS[f"fill, {kind}"](video, torch.arange(4)), fill_holes(video, known)
        )
    assert torch.equal(inpainting_mask("boxes", 4, 80, 160), box_mask(4, 80, 160))
    experiment = EXPERIMENTS["hnerv-inpainting"]
    assert {row.changes["mask"] for row in experiment.rows} == {"boxes", "objects"}
    with pytest.raises(ValueError, match="unknown mask kind"):
        MODELS["hnerv_inpainting"](video, 0.05, mask="circles")
    with pytest.raises(ValueError):
        MODELS["hnerv_inpainting"](torch.rand(4, 80, 160), 0.05)  # no channel axis
