"""The NeRV model of lesson 03: the paper's sizes, shapes, choices and errors."""

from dataclasses import replace

import pytest
import torch

from nerv_lessons.nerv import (
    ACTIVATIONS,
    NeRV,
    NeRVConfig,
    count_parameters,
    make_activation,
    nerv_bunny,
    nerv_for_scale,
    parameters_of,
    strides_for,
)
from nerv_lessons.scales import SCALES

TINY = dict(height=40, width=80, strides=(5, 2, 2), fc_dim=4, lower_width=8, stem_hidden=32)


@pytest.mark.parametrize("size, millions", [("S", 3.2), ("M", 6.3), ("L", 12.5)])
def test_paper_sizes_have_the_papers_parameter_counts(size, millions):
    count = parameters_of(nerv_bunny(size))
    assert abs(count / (millions * 1e6) - 1) < 0.01, f"NeRV-{size}: {count}"


def test_meta_count_equals_a_real_model():
    config = NeRVConfig(**TINY)
    assert parameters_of(config) == count_parameters(NeRV(config))


def test_nerv_s_layout_is_the_papers():
    config = nerv_bunny("S")
    assert config.grid == (9, 16) and config.widths() == [26, 96, 96, 96, 96]


def test_output_shape_and_range():
    torch.manual_seed(0)
    model = NeRV(NeRVConfig(**TINY))
    out = model(torch.linspace(0, 1, 3))
    assert out.shape == (3, 3, 40, 80)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("embedding", ["pe", "none"])
@pytest.mark.parametrize("upsample", ["pixelshuffle", "bilinear", "deconv"])
def test_every_embedding_and_upsampling_builds_and_runs(embedding, upsample):
    model = NeRV(NeRVConfig(**TINY, embedding=embedding, upsample=upsample))
    assert model(torch.rand(2)).shape == (2, 3, 40, 80)


@pytest.mark.parametrize(
    "name, kind",
    [
        ("relu", torch.nn.ReLU),
        ("LeakyReLU", torch.nn.LeakyReLU),
        ("swish", torch.nn.SiLU),
        ("silu", torch.nn.SiLU),
        ("gelu", torch.nn.GELU),
    ],
)
def test_activation_names(name, kind):
    assert isinstance(make_activation(name), kind)
    model = NeRV(NeRVConfig(**TINY, activation=name))
    assert any(isinstance(layer, kind) for layer in model.modules())


def test_unknown_activation_lists_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'tanhh'.*relu.*gelu"):
        NeRVConfig(**TINY, activation="tanhh")
    assert set(ACTIVATIONS) >= {"relu", "leakyrelu", "swish", "gelu"}


def test_unknown_embedding_and_upsample_are_refused():
    with pytest.raises(ValueError, match="unknown embedding"):
        NeRVConfig(**TINY, embedding="fourier")
    with pytest.raises(ValueError, match="unknown upsample kind"):
        NeRVConfig(**TINY, upsample="nearest")


def test_strides_that_do_not_divide_the_frame_are_refused():
    with pytest.raises(ValueError, match="not divisible by the strides"):
        NeRVConfig(height=100, width=160, strides=(5, 2, 2, 2))


def test_wrong_input_shape_names_the_problem():
    model = NeRV(NeRVConfig(**TINY))
    with pytest.raises(ValueError, match=r"frame times shaped \(B,\)"):
        model(torch.rand(2, 1))


# What strides_for chose before it took any size (pinned then): the course's three scales and
# the NeRV paper's 720x1280. These must never change.
PINNED_STRIDES = [
    (80, 160, (5, 2, 2, 2), (2, 4)),
    (320, 640, (5, 2, 2, 2, 2), (4, 8)),
    (640, 1280, (5, 2, 2, 2, 2), (8, 16)),
    (720, 1280, (5, 2, 2, 2, 2), (9, 16)),
]


@pytest.mark.parametrize("height, width, strides, grid", PINNED_STRIDES)
def test_the_course_strides_are_pinned(height, width, strides, grid, capsys):
    assert strides_for(height, width) == strides
    assert NeRVConfig(height=height, width=width, strides=strides).grid == grid
    assert capsys.readouterr().out == ""  # NeRV's own strides are chosen quietly


@pytest.mark.parametrize(
    "height, width, strides, grid",
    [
        (128, 320, (4, 2, 2, 2, 2), (2, 5)),  # 80 does not divide 128: 64 is the largest
        (270, 540, (3, 3, 3, 2), (5, 10)),  # lesson 00's suggested crop of a 272x640 clip
        (120, 240, (5, 3, 2, 2), (2, 4)),  # 80 would leave a 1-cell side: 60
        (1080, 1920, (5, 3, 2, 2), (18, 32)),  # at most 80: the paper's UVG 5,3,2,2,2 is 120
        (272, 640, (2, 2, 2, 2), (17, 40)),
    ],
)
def test_other_frames_get_the_largest_total_up_to_80_said_in_one_line(
    height, width, strides, grid, capsys
):
    assert strides_for(height, width) == strides
    assert NeRVConfig(height=height, width=width, strides=strides).grid == grid
    assert capsys.readouterr().out == (
        f"NeRV: strides {','.join(map(str, strides))} -> grid {grid[0]}x{grid[1]} for "
        f"{height}x{width} (NeRV's 5,2,2,2,2 does not fit)\n"
    )


def test_nerv_for_scale_picks_the_strides_once(capsys):
    reader = replace(SCALES["quick"], name="reader", height=128, width=320)
    config = nerv_for_scale(reader)
    assert config.strides == (4, 2, 2, 2, 2) and config.grid == (2, 5)
    assert capsys.readouterr().out.count("NeRV: strides") == 1  # not once per width tried
    assert nerv_for_scale(reader, strides=(2, 2, 2, 2)).strides == (2, 2, 2, 2)
    assert capsys.readouterr().out == ""  # strides given: nothing picked


def test_a_frame_no_strides_fit_names_sizes_that_do():
    with pytest.raises(ValueError, match="NeRV cannot draw a 127x254 frame") as error:
        strides_for(127, 254)  # 127 is prime
    message = str(error.value)
    assert "greatest common divisor is 127" in message
    for size in ("crop=None, size=(126, 252)", "crop=None, size=(128, 256)", "crop=(120, 240)"):
        assert size in message
    assert strides_for(126, 252) and strides_for(128, 256) and strides_for(120, 240)


@pytest.mark.parametrize(
    "height, width, error, message",
    [
        (0, 160, ValueError, "height=0"),
        (80, -160, ValueError, "width=-160"),
        (80.0, 160, TypeError, "height=80.0: sizes are whole pixels"),
        (None, 160, TypeError, "height=None"),
    ],
)
def test_bad_sizes_are_refused(height, width, error, message):
    with pytest.raises(error, match=message):
        strides_for(height, width)


def test_scale_presets_fit_their_budgets():
    for scale in SCALES.values():
        config = nerv_for_scale(scale)
        assert (config.height, config.width) == (scale.height, scale.width)
        count = parameters_of(config)
        assert 0.8 * scale.model_params * 1e6 < count <= scale.model_params * 1e6
