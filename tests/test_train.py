"""The training loop of lesson 03: a real fit, losses, schedule, checkpoints, bad input."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from nerv_lessons.metrics import ms_ssim_window, psnr
from nerv_lessons.nerv import NeRV, NeRVConfig
from nerv_lessons.scales import SCALES
from nerv_lessons.train import (
    RECIPES,
    TrainConfig,
    evaluate,
    frame_times,
    load_checkpoint,
    lr_factor,
    make_loss,
    predict,
    save_checkpoint,
    train,
)

TINY = dict(height=40, width=80, strides=(5, 2, 2), fc_dim=8, lower_width=16, stem_hidden=64)


@pytest.fixture(scope="module")
def small(bunny):
    """8 real Bunny frames at 40x80."""
    return F.interpolate(bunny, size=(40, 80), mode="area")


def tiny_model(seed=0, **changes):
    torch.manual_seed(seed)
    return NeRV(NeRVConfig(**(TINY | changes)))


@pytest.mark.slow  # about 5 s on one free CPU core
def test_a_short_fit_beats_the_mean_frame(small):
    # Baseline: the mean frame shown for every frame, the best a model blind to t can do
    # under L2 (about 30 dB here: these 8 frames change little; an untrained model gets
    # about 11 dB). A model that learned the frames, not just their average, beats it.
    mean_frame = small.mean(0, keepdim=True).expand_as(small)
    baseline = psnr(mean_frame, small).mean().item()
    model = tiny_model()
    config = TrainConfig(epochs=150, lr=5e-3, batch_size=2, loss="l2", progress=False)
    history = train(model, small, config)
    quality = evaluate(model, small)
    assert quality["psnr"].mean().item() > baseline + 2, (quality["psnr"].mean(), baseline)
    assert history["loss"][-1] < history["loss"][0] / 4
    assert len(history["epoch"]) == len(history["psnr"]) == len(history["seconds"]) == 150
    assert all(isinstance(value, float) for value in history["loss"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_cuda_path_fits_like_the_cpu(small):
    # On CUDA, train adds bf16 autocast, channels-last and cuDNN autotuning; the
    # same fit must still beat the mean frame and land near the CPU's fp32 result (the batch
    # order comes from each device's own generator, so not exactly on it).
    config = TrainConfig(epochs=150, lr=5e-3, batch_size=2, loss="l2", progress=False)
    mean_frame = small.mean(0, keepdim=True).expand_as(small)
    baseline = psnr(mean_frame, small).mean().item()
    cpu_model, cuda_model = tiny_model(), tiny_model()
    train(cpu_model, small, config)
    train(cuda_model, small.cuda(), config)
    on_cpu = evaluate(cpu_model, small)["psnr"].mean().item()
    on_cuda = evaluate(cuda_model, small.cuda())["psnr"].mean().item()
    assert next(cuda_model.parameters()).is_cuda and torch.backends.cudnn.benchmark
    assert on_cuda > baseline + 2, (on_cuda, baseline)
    assert abs(on_cuda - on_cpu) < 1.5, (on_cuda, on_cpu)


def test_same_seed_same_losses(small):
    config = TrainConfig(epochs=3, batch_size=3, progress=False)
    first = train(tiny_model(), small, config)["loss"]
    second = train(tiny_model(), small, config)["loss"]
    assert first == second


def test_train_is_the_plain_loop_of_lesson_03(small):
    """Lesson 03's claim: with its CUDA-only and speed options off, train is a plain torch loop
    (one frame a step, Adam (0.5, 0.999), warm-up + cosine, 0.7 L1 + 0.3 SSIM): the same loss
    per epoch and the same weights from the same start and seed."""
    from pytorch_msssim import ssim

    video, epochs, lr = small[:3], 2, 1e-3
    ours, theirs = tiny_model(), tiny_model()
    optimizer = torch.optim.Adam(ours.parameters(), lr=lr, betas=(0.5, 0.999))
    steps = epochs * len(video)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: lr_factor(i, steps, 0.2))
    order, curve = torch.Generator().manual_seed(0), []
    for _ in range(epochs):
        losses = []
        for i in torch.randperm(len(video), generator=order).split(1):
            frame, target = ours(i.float() / (len(video) - 1)), video[i]
            loss = 0.7 * (frame - target).abs().mean() + 0.3 * (1 - ssim(frame, target, 1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        curve.append(sum(losses) / len(losses))
    config = TrainConfig.nerv(epochs=epochs, lr=lr, amp="off", channels_last=False)
    history = train(theirs, video, replace(config, progress=False))
    torch.testing.assert_close(torch.tensor(curve), torch.tensor(history["loss"]))
    for mine, its in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(mine, its)


def test_losses_on_known_inputs():
    pred, target = torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16)
    target[..., :8, :] = 0.5  # half the pixels off by 0.5
    assert make_loss("l1")(pred, target).item() == pytest.approx(0.25)
    assert make_loss("l2")(pred, target).item() == pytest.approx(0.125)
    assert make_loss("0.5*l1 + 2*l2")(pred, target).item() == pytest.approx(0.375)
    frames = torch.rand(2, 3, 32, 32)
    assert make_loss("ssim")(frames, frames).item() == pytest.approx(0, abs=1e-6)
    assert make_loss("fusion")(frames, frames).item() == pytest.approx(0, abs=1e-6)
    large = torch.rand(1, 3, 80, 160)
    assert make_loss("ms-ssim")(large, large).item() == pytest.approx(0, abs=1e-5)
    noisy = (large + 0.1 * torch.randn_like(large)).clamp(0, 1)
    fusion = 0.7 * make_loss("l1")(noisy, large) + 0.3 * make_loss("ssim")(noisy, large)
    assert make_loss("fusion")(noisy, large).item() == pytest.approx(fusion.item())


@pytest.mark.parametrize("size", [(80, 160), (90, 170), (33, 40)])
def test_ssim_losses_equal_the_librarys_values_and_gradients(size):
    """The training losses re-implement pytorch-msssim's ssim and ms_ssim (to batch the
    blurs): same numbers, same gradients, odd sides included (MS-SSIM pads them)."""
    from pytorch_msssim import ms_ssim, ssim

    torch.manual_seed(0)
    target = torch.rand(2, 3, *size)
    pred = (target + 0.2 * torch.randn_like(target)).clamp(0, 1).requires_grad_()
    library = {"ssim": lambda p, t: 1 - ssim(p, t, data_range=1.0, size_average=True)}
    if min(size) > 4 * 16:  # five-scale MS-SSIM needs a short side over 64 (window 5 and up)
        window = ms_ssim_window(*size)
        library["ms-ssim"] = lambda p, t: 1 - ms_ssim(p, t, data_range=1.0, win_size=window)
    for name, reference in library.items():
        ours, theirs = make_loss(name)(pred, target), reference(pred, target)
        assert ours.item() == pytest.approx(theirs.item(), abs=1e-6), name
        (ours_grad,) = torch.autograd.grad(ours, pred)
        (theirs_grad,) = torch.autograd.grad(theirs, pred)
        torch.testing.assert_close(ours_grad, theirs_grad, atol=1e-8, rtol=1e-4)


def test_unknown_loss_lists_the_choices():
    with pytest.raises(ValueError, match="unknown loss 'l3'.*l1, l2, ssim, ms-ssim, fusion"):
        make_loss("l3")
    with pytest.raises(ValueError, match="unknown loss"):
        TrainConfig(loss="0.5*l1 + 0.5*lpips")


def test_schedule_warms_up_then_follows_a_cosine():
    assert lr_factor(0, 100, 0.2) == pytest.approx(0.1)
    assert lr_factor(10, 100, 0.2) == pytest.approx(0.55)
    assert lr_factor(20, 100, 0.2) == pytest.approx(1.0)
    assert lr_factor(60, 100, 0.2) == pytest.approx(0.5)
    assert lr_factor(100, 100, 0.2) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(0, 100, 0.0) == pytest.approx(1.0)
    later = [lr_factor(step, 100, 0.2) for step in range(20, 101)]
    assert all(a >= b for a, b in zip(later, later[1:]))


def test_each_paper_has_its_named_recipe():
    nerv, hnerv = TrainConfig.nerv(), TrainConfig.hnerv()
    assert (nerv.lr, nerv.batch_size, nerv.loss, nerv.warmup, nerv.betas) == (
        5e-4,
        1,
        "fusion",
        0.2,
        (0.5, 0.999),
    )
    assert (hnerv.lr, hnerv.batch_size, hnerv.loss, hnerv.warmup, hnerv.betas) == (
        1e-3,
        2,
        "l2",
        0.1,
        (0.9, 0.999),
    )
    two = TrainConfig.recipe("two_stream")
    assert (two.lr, two.batch_size, two.loss) == (2e-3, 1, "l2")
    hinerv = TrainConfig.recipe("hinerv")  # lesson 11: the reference's Bunny config
    assert (hinerv.lr, hinerv.batch_size, hinerv.loss, hinerv.max_norm) == (
        2e-3,
        1,
        "0.7*l1 + 0.3*ms-ssim",
        1.0,
    )
    assert nerv.max_norm is None and hnerv.max_norm is None  # only HiNeRV clips
    assert set(RECIPES) == {"nerv", "hnerv", "two_stream", "hinerv"}
    with pytest.raises(ValueError, match="unknown recipe 'enerv'.*nerv, hnerv, two_stream"):
        TrainConfig.recipe("enerv")


def test_max_norm_clips_every_step_before_the_optimizer(small, monkeypatch):
    norms = []
    clip = torch.nn.utils.clip_grad_norm_

    def clip_and_measure(parameters, max_norm):
        parameters = list(parameters)
        clip(parameters, max_norm)
        norms.append(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in parameters])))

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip_and_measure)
    config = TrainConfig(epochs=2, batch_size=4, lr=1e-2, progress=False, max_norm=1e-3)
    train(tiny_model(), small, config)
    assert len(norms) == 4  # 2 epochs of 8 frames in batches of 4
    assert max(norms) <= 1e-3 * (1 + 1e-4)
    norms.clear()
    train(tiny_model(), small, replace(config, max_norm=None))
    assert not norms  # no clipping unless asked
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="max_norm"):
            TrainConfig(max_norm=bad)


def test_a_scale_sets_epochs_and_what_a_short_run_needs():
    quick, paper = SCALES["quick"], SCALES["paper"]
    config = TrainConfig.hnerv(quick)
    assert (config.epochs, config.batch_size, config.lr) == (80, 2, 5e-3)  # 5x lr, HNeRV's batch
    scaled = replace(quick, batch_size=4)
    assert TrainConfig.hnerv(scaled).batch_size == 4  # a scale that sets a batch overrides it
    assert TrainConfig.nerv(quick).lr == pytest.approx(2.5e-3)
    assert TrainConfig.hnerv(quick, lr=1e-4, loss="l1").lr == 1e-4  # changes win
    # At the paper's scale each recipe is the paper's own: NeRV keeps batch 1 and lr 5e-4.
    assert (TrainConfig.nerv(paper).batch_size, TrainConfig.nerv(paper).lr) == (1, 5e-4)
    assert (TrainConfig.hnerv(paper).batch_size, TrainConfig.hnerv(paper).epochs) == (2, 300)
    assert not hasattr(TrainConfig, "for_scale")  # no recipe-less scale config to trip on


def test_the_optimizer_follows_the_schedule(small):
    history = train(tiny_model(), small, TrainConfig(epochs=4, batch_size=8, progress=False))
    # one step an epoch: the lr after epoch e is the schedule's value at step e
    expected = [5e-4 * lr_factor(step, 4, 0.2) for step in range(1, 5)]
    assert history["lr"][:3] == pytest.approx(expected[:3])


def test_checkpoint_round_trip(small, tmp_path):
    model = tiny_model()
    config = TrainConfig(epochs=2, batch_size=4, progress=False)
    train(model, small, config)
    optimizer = torch.optim.Adam(model.parameters())
    path = save_checkpoint(
        tmp_path / "run" / "nerv.pt",
        model,
        {"model": model.config, "train": config},
        optimizer,
        epoch=2,
    )
    copy = tiny_model(seed=1)
    info = load_checkpoint(path, copy, torch.optim.Adam(copy.parameters()))
    times = torch.linspace(0, 1, 5)
    assert torch.equal(model(times), copy(times))
    assert info["epoch"] == 2 and info["configs"]["model"]["fc_dim"] == 8
    assert NeRVConfig(**info["configs"]["model"]) == model.config
    assert TrainConfig(**info["configs"]["train"]) == config


def test_checkpoint_errors(small, tmp_path):
    model = tiny_model()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt", model)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(junk, model)
    other = save_checkpoint(tmp_path / "wide.pt", tiny_model(fc_dim=12), {"model": {"fc_dim": 12}})
    with pytest.raises(ValueError, match="does not fit this model.*fc_dim"):
        load_checkpoint(other, model)


def test_bad_input_is_refused(small):
    model = tiny_model()
    with pytest.raises(ValueError, match="empty batch"):
        predict(model, small, torch.tensor([], dtype=torch.long))
    with pytest.raises(ValueError, match="outside"):
        train(model, small * 2, TrainConfig(epochs=1, progress=False))
    with pytest.raises(ValueError, match="not divisible by the strides"):
        NeRVConfig(**(TINY | {"height": 42}))
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="fp8")
    wrong_size = F.interpolate(small, size=(80, 160))
    with pytest.raises(ValueError, match="model outputs"):
        train(model, wrong_size, TrainConfig(epochs=1, progress=False))


def test_frame_times_span_zero_to_one(small):
    times = frame_times(small, torch.arange(len(small)))
    assert times[0] == 0 and times[-1] == 1 and torch.all(times.diff() > 0)
    assert frame_times(small[:1], torch.tensor([0])).item() == 0
    assert frame_times(small, torch.tensor([2])).item() == pytest.approx(2 / 7)


def test_model_input_is_pluggable(small):
    # an HNeRV-style model eats the frames themselves
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.Sigmoid())
    config = TrainConfig(epochs=2, batch_size=4, loss="l2", progress=False)
    history = train(model, small, config, model_input=lambda video, idx: video[idx])
    assert len(history["loss"]) == 2
    assert evaluate(model, small, lambda video, idx: video[idx])["psnr"].shape == (8,)


# The mask (1 = known pixel, 0 = hole) and the divergence guard, both used by lesson 09.


def holes_in(frames, seed=0):
    """A (T, 1, H, W) mask with a random quarter of the pixels as holes (0)."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(len(frames), 1, *frames.shape[-2:], generator=generator) > 0.25).float()


def test_masked_pixel_losses_ignore_the_holes():
    pred, target = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    known = torch.ones(1, 1, 4, 4)
    known[..., :2, :] = 0  # top half is a hole
    target[..., :2, :] = 9.0  # wildly wrong, but only inside the hole
    target[..., 2:, :] = 0.5  # every known pixel off by 0.5
    assert make_loss("l1", masked=True)(pred, target, known).item() == pytest.approx(0.5)
    assert make_loss("l2", masked=True)(pred, target, known).item() == pytest.approx(0.25)
    both = make_loss("0.5*l1 + 2*l2", masked=True)(pred, target, known.expand(1, 3, 4, 4))
    assert both.item() == pytest.approx(0.75)
    # without a mask the hole counts: the loss is far larger
    assert make_loss("l2")(pred, target).item() > 10


def test_changing_the_holes_changes_no_gradient():
    torch.manual_seed(0)
    pred = torch.rand(2, 3, 8, 8, requires_grad=True)
    target = torch.rand(2, 3, 8, 8)
    known = holes_in(target)
    other = torch.where(known.bool(), target, torch.rand_like(target))  # new hole contents
    assert not torch.equal(other, target)
    grads = []
    for goal in (target, other):
        (grad,) = torch.autograd.grad(make_loss("l1", masked=True)(pred, goal, known), pred)
        grads.append(grad)
    assert torch.equal(grads[0], grads[1])
    assert grads[0][~known.bool().expand_as(pred)].abs().max() == 0  # holes get no gradient


def test_training_with_a_mask_never_sees_the_holes(small):
    # Two clips that differ only inside the holes train to the same weights and history.
    known = holes_in(small)
    other = torch.where(known.bool(), small, 1 - small)
    config = TrainConfig(epochs=2, batch_size=4, loss="l2", progress=False)
    first, second = tiny_model(), tiny_model()
    history = train(first, small, config, mask=known)
    again = train(second, other, config, mask=known)
    assert again["loss"] == history["loss"] and again["psnr"] == history["psnr"]
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)
    # ...and differently without the mask
    third = tiny_model()
    assert train(third, other, config)["loss"] != history["loss"]


class _Half(torch.nn.Module):
    """A model that outputs 0.5 everywhere (its one parameter gets a zero gradient)."""

    def __init__(self):
        super().__init__()
        self.level = torch.nn.Parameter(torch.zeros(()))

    def forward(self, frames):
        return torch.full_like(frames, 0.5) + 0 * self.level


def test_training_psnr_counts_known_pixels_only(small):
    known = holes_in(small)
    config = TrainConfig(epochs=1, batch_size=8, loss="l2", progress=False)
    history = train(_Half(), small, config, model_input=lambda v, i: v[i], mask=known)
    errors = (0.5 - small).pow(2) * known
    expected = -10 * torch.log10(errors.sum() / known.expand_as(small).sum())
    assert history["psnr"][0] == pytest.approx(expected.item(), rel=1e-5)
    everywhere = train(_Half(), small, config, model_input=lambda v, i: v[i])["psnr"][0]
    assert everywhere != pytest.approx(history["psnr"][0], rel=1e-5)


def test_bad_masks_are_refused(small):
    model = tiny_model()
    config = TrainConfig(epochs=1, batch_size=4, loss="l2", progress=False)
    with pytest.raises(ValueError, match=r"mask is \(8, 2, 40, 80\).*\(8, 1, 40, 80\)"):
        train(model, small, config, mask=torch.ones(8, 2, 40, 80))
    with pytest.raises(ValueError, match="mask is"):
        train(model, small, config, mask=torch.ones(7, 1, 40, 80))
    with pytest.raises(ValueError, match="video's frame size"):
        train(model, small, config, mask=torch.ones(8, 1, 40, 40))
    with pytest.raises(ValueError, match="other than 0 and 1"):
        train(model, small, config, mask=torch.full((8, 1, 40, 80), 0.5))
    empty = torch.ones(8, 1, 40, 80)
    empty[3] = 0
    with pytest.raises(ValueError, match=r"frames \[3\].*no known pixel"):
        train(model, small, config, mask=empty)
    for loss in ("ssim", "fusion", "ms-ssim", "0.9*l1 + 0.1*ssim"):
        with pytest.raises(ValueError, match="cannot restrict.*l1 or l2"):
            train(model, small, replace_loss(config, loss), mask=torch.ones(8, 1, 40, 80))


def replace_loss(config, loss):
    from dataclasses import replace

    return replace(config, loss=loss)


class _GoesNaN(torch.nn.Module):
    """A model whose output is NaN: every loss it gives is NaN."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)

    def forward(self, frames):
        return self.conv(frames) * float("nan")


@pytest.mark.parametrize("log_every", [3, 1000])  # caught at a log point, or at the end
def test_a_nan_loss_stops_training_with_the_epoch(small, log_every):
    config = TrainConfig(epochs=5, batch_size=4, lr=1e-3, log_every=log_every, progress=False)
    with pytest.raises(RuntimeError, match=r"diverged.*epoch 1 of 5.*lr 0.001.*lr=0.0002"):
        train(_GoesNaN(), small, config, model_input=lambda v, i: v[i])


def test_the_inpainting_hint_comes_only_with_a_mask(small):
    config = TrainConfig(epochs=2, batch_size=4, lr=1e-3, loss="l2", progress=False)
    with pytest.raises(RuntimeError, match="diverged") as plain:
        train(_GoesNaN(), small, config, model_input=lambda v, i: v[i])
    assert "masked" not in str(plain.value) and "inpainting" not in str(plain.value)
    known = holes_in(small)
    with pytest.raises(RuntimeError, match=r"lr=0.0002.*masked \(inpainting\).*lr 1e-3"):
        train(_GoesNaN(), small, config, model_input=lambda v, i: v[i], mask=known)


def test_training_leaves_the_model_in_the_default_layout(small):
    # train runs the convolutions channels-last; the model it returns computes exactly as the
    # same weights loaded into a fresh model (the cache and the bitstream rely on that).
    model = tiny_model()
    train(model, small[:2], TrainConfig(epochs=1, progress=False))
    assert all(p.is_contiguous() for p in model.parameters())
    fresh = tiny_model(seed=1)
    fresh.load_state_dict(model.state_dict())
    indices = torch.arange(2)
    with torch.no_grad():
        assert torch.equal(predict(model, small, indices), predict(fresh, small, indices))
