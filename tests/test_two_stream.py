"""Two streams of lesson 07: the filter, the PE split, the 20:1:5 sizes, shapes, a real fit."""

import math

import numpy as np
import pytest
import torch

from nerv_lessons.encoding import positional_encoding
from nerv_lessons.hnerv import HNeRVConfig
from nerv_lessons.metrics import psnr
from nerv_lessons.scales import SCALES
from nerv_lessons.train import TrainConfig, evaluate, train
from nerv_lessons.two_stream import (
    LFDecoder,
    TwoStream,
    TwoStreamConfig,
    check_rate,
    frames_and_times,
    highpass,
    highpass_mask,
    lf_strides,
    split_encoding,
    stream_parameters,
    two_stream_budget,
    two_stream_size,
)


def grid(height=80, width=160):
    ys = torch.arange(height, dtype=torch.float64)[:, None]
    xs = torch.arange(width, dtype=torch.float64)[None, :]
    return ys, xs


def test_highpass_removes_a_low_frequency_image():
    ys, xs = grid()
    smooth = 0.5 + 0.2 * torch.cos(2 * math.pi * ys / 80) * torch.cos(2 * math.pi * 3 * xs / 160)
    frames = smooth.expand(1, 3, 80, 160).float()
    assert highpass(frames).abs().max() < 1e-5
    assert highpass(torch.full((1, 3, 80, 160), 0.7)).abs().max() < 1e-5  # DC is removed too


def test_highpass_keeps_a_high_frequency_image():
    ys, xs = grid()
    checker = (0.25 * (-1) ** (ys + xs)).expand(1, 3, 80, 160).float()  # Nyquist both ways
    assert torch.allclose(highpass(checker), checker, atol=1e-5)
    stripes = (0.25 * torch.cos(2 * math.pi * 70 * xs / 160)).expand(1, 3, 80, 160).float()
    assert torch.allclose(highpass(stripes + 0.5), stripes, atol=1e-5)  # fast in x only


def test_highpass_mask_removes_80_percent_of_each_axis():
    keep = torch.fft.fftshift(highpass_mask(80, 160, 0.8))
    assert not keep[40 - 32 : 40 + 32, 80 - 64 : 80 + 64].any()
    assert keep.float().mean().item() == pytest.approx(1 - 0.64)
    assert keep[:8].all() and keep[:, :16].all()


@pytest.mark.parametrize("rate", [0, 1, 1.5, -0.2, float("nan"), np.float32(1.2)])
def test_bad_filter_rate_raises(rate):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        highpass(torch.rand(1, 3, 8, 8), rate)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        TwoStreamConfig(filter_rate=rate)


@pytest.mark.parametrize("rate", [True, "0.8", None, torch.tensor(0.8)])
def test_filter_rate_of_the_wrong_type_raises(rate):
    with pytest.raises(TypeError, match="must be a real number"):
        check_rate(rate)
    with pytest.raises(TypeError, match="must be a real number"):
        TwoStreamConfig(filter_rate=rate)


def test_numpy_filter_rate_is_accepted():
    frames = torch.rand(1, 3, 16, 32)
    assert torch.equal(highpass(frames, np.float32(0.8)), highpass(frames, 0.8))
    assert TwoStreamConfig(filter_rate=np.float64(0.5)).filter_rate == 0.5


def test_pe_split_is_the_first_m_levels_and_the_rest():
    t = torch.tensor([0.0, 0.3, 0.95])
    low, high = split_encoding(t, b=1.25, levels=30, low=10)
    assert low.shape == (3, 20) and high.shape == (3, 40)
    assert torch.equal(torch.cat([low, high], 1), positional_encoding(t, 1.25, 30))
    # level 10 (the first of LFD2) is sin(1.25^10 pi t)
    assert torch.allclose(high[:, 0], torch.sin(1.25**10 * math.pi * t))


@pytest.mark.parametrize("low", [0, 30, 31])
def test_bad_split_raises(low):
    with pytest.raises(ValueError, match="0 < m < n"):
        split_encoding(torch.rand(2), levels=30, low=low)
    with pytest.raises(ValueError, match="0 < m < n"):
        TwoStreamConfig(low=low)


def test_lf_strides():
    assert lf_strides(640, 1280) == (4, 4, 4, 2)  # the reference code's
    assert lf_strides(320, 640) == (4, 4, 4)
    assert lf_strides(80, 160) == (4, 4)
    with pytest.raises(ValueError, match="LF grid"):
        lf_strides(80, 100)


@pytest.mark.parametrize("name", ["lesson", "paper"])
def test_decoder_shares_are_20_1_5_within_2_percent(name):
    scale = SCALES[name]
    config = two_stream_budget(scale.model_params, scale.frames, scale.height, scale.width)
    with torch.device("meta"):
        shares = stream_parameters(TwoStream(config))
    total = sum(shares.values())
    for (part, count), target in zip(shares.items(), (20, 1, 5)):
        assert count / total == pytest.approx(target / 26, rel=0.02), part
    size = two_stream_size(config, scale.frames)
    assert 0.97 * scale.model_params * 1e6 < size < 1.03 * scale.model_params * 1e6


def test_the_1_5m_model_is_sized_as_the_reference_code():
    # The reference splits (1.5M - embeddings) 20:1:5 and solves the HFD's c2 with HNeRV's
    # quadratic: c2 = 60, and a total near 1.511M.
    config = two_stream_budget(1.5, 132, 640, 1280)
    assert config.hf.fc_dim == 60 and config.hf.min_width == 12
    assert two_stream_size(config, 132) == pytest.approx(1.511e6, rel=0.01)


def test_quick_scale_budget_fits_roughly():
    scale = SCALES["quick"]
    config = two_stream_budget(scale.model_params, scale.frames, scale.height, scale.width)
    with torch.device("meta"):
        shares = stream_parameters(TwoStream(config))
    total = sum(shares.values())
    assert shares["HFD"] / total == pytest.approx(20 / 26, rel=0.02)
    assert shares["LFD1"] / total == pytest.approx(1 / 26, rel=0.1)  # a few thousand params
    assert two_stream_size(config, scale.frames) <= 1.03 * scale.model_params * 1e6  # c2 as HNeRV


def test_budget_takes_a_grid_or_strides_as_hnerv_budget_does():
    scale = SCALES["quick"]
    sizes = scale.model_params, scale.frames, scale.height, scale.width
    assert two_stream_budget(*sizes, grid=(1, 2)).hf.grid == (1, 2)
    assert two_stream_budget(*sizes, strides=(5, 2, 2, 2)).hf.strides == (5, 2, 2, 2)
    with pytest.raises(ValueError, match="grid= or strides=, not both"):
        two_stream_budget(*sizes, grid=(1, 2), strides=(5, 2, 2, 2))


def test_budget_too_small_raises():
    with pytest.raises(ValueError, match="too small"):
        two_stream_budget(0.001, 16, 80, 160)


def test_shapes_and_streams():
    torch.manual_seed(0)
    hf = HNeRVConfig(height=40, width=80, strides=(5, 2, 2), encoder_width=8, embed_dim=4)
    hf = HNeRVConfig(**{**hf.__dict__, "fc_dim": 16})
    model = TwoStream(TwoStreamConfig(hf=hf, lf1=(8, 2), lf2=(8, 3)))
    video = torch.rand(4, 3, 40, 80)
    inputs = frames_and_times(video, torch.tensor([0, 3]))
    assert torch.allclose(inputs[1], torch.tensor([0.0, 0.75]))
    assert model(inputs).shape == (2, 3, 40, 80)
    parts = model.streams(model.encode(inputs[0]), inputs[1])
    assert parts["hf"].abs().max() < 1 and 0 < parts["lf"].min() and parts["lf"].max() < 1
    assert torch.allclose(parts["frame"], parts["hf"] + parts["lf"])
    assert LFDecoder(20, 8, 2, 40, 80)(torch.rand(2, 20)).shape == (2, 3, 40, 80)
    with pytest.raises(ValueError, match="one time per frame"):
        model((inputs[0], torch.rand(3)))
    with pytest.raises(ValueError, match="two-stream input"):
        model((torch.rand(2, 3, 20, 40), inputs[1]))


def test_hf_encoder_sees_only_the_filtered_frame():
    torch.manual_seed(0)
    config = two_stream_budget(0.05, 16, 80, 160)
    model = TwoStream(config)
    frames = torch.rand(1, 3, 80, 160)
    # Adding a flat colour changes only frequency 0, which the filter removes.
    assert torch.allclose(model.encode(frames), model.encode(frames + 0.2), atol=1e-4)


def test_short_fit_on_bunny_beats_the_flat_baseline(bunny):
    """A few seconds on 2 real frames: the two-stream model must beat each frame's mean colour
    by 3 dB (its input has no colour at all: the filter removes DC)."""
    video = bunny[::4]
    torch.manual_seed(0)
    model = TwoStream(two_stream_budget(0.05, 16, 80, 160))
    recipe = TrainConfig(
        epochs=50, lr=5e-3, batch_size=1, loss="l2", warmup=0.1, betas=(0.9, 0.999), progress=False
    )
    train(model, video, recipe, frames_and_times)
    ours = evaluate(model, video, frames_and_times)["psnr"].mean()
    flat = video.mean(dim=(2, 3), keepdim=True).expand_as(video)
    baseline = psnr(flat, video).mean() + 3
    assert ours > baseline, f"{ours:.2f} dB, needs > {baseline:.2f} dB"


def test_the_two_stream_family_builds_the_lesson_sizing():
    from nerv_lessons.experiments import MODELS

    video = torch.rand(4, 3, 80, 160)
    setup = MODELS["two_stream"](video, 0.05)
    config = two_stream_budget(0.05, 4, 80, 160)
    assert setup.model.config == config
    assert setup.params == two_stream_size(config, 4)
    assert setup.model_input is frames_and_times
    with pytest.raises(ValueError, match="too small"):
        MODELS["two_stream"](video, 1e-4)


def test_the_two_stream_row_carries_its_own_recipe_at_each_scale():
    from nerv_lessons.experiments import _row_recipe
    from nerv_lessons.train import RECIPES
    from nerv_lessons.two_stream import TWO_STREAM

    rows = {row.label: row for row in TWO_STREAM.rows}
    assert TWO_STREAM.recipe == "hnerv" and ("two-stream", "HNeRV") in TWO_STREAM.claims
    for scale in SCALES.values():
        own = _row_recipe(TWO_STREAM, rows["two-stream"], scale, seed=0)
        assert own.lr == pytest.approx(RECIPES["two_stream"]["lr"] * scale.lr_factor)
        assert own.batch_size == (scale.batch_size or RECIPES["two_stream"]["batch_size"])
        assert _row_recipe(TWO_STREAM, rows["HNeRV"], scale, seed=0).lr == pytest.approx(
            RECIPES["hnerv"]["lr"] * scale.lr_factor
        )
