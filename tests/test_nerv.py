"""The NeRV model of lesson 03: the paper's sizes, shapes, choices and errors."""

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


def test_scale_presets_fit_their_budgets():
    assert strides_for(80, 160) == (5, 2, 2, 2) and strides_for(640, 1280) == (5, 2, 2, 2, 2)
    for scale in SCALES.values():
        config = nerv_for_scale(scale)
        assert (config.height, config.width) == (scale.height, scale.width)
        count = parameters_of(config)
        assert 0.8 * scale.model_params * 1e6 < count <= scale.model_params * 1e6
