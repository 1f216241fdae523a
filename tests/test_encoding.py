"""nerv_lessons.encoding: the values, order and shape of NeRV's positional encoding."""

import math

import pytest
import torch

from nerv_lessons.encoding import (
    NERV_BASE,
    NERV_LEVELS,
    PositionalEncoding,
    fourier_features,
    pixel_coordinates,
    positional_encoding,
)


def test_hand_computed_values_and_interleaving():
    # t = 0.5, b = 2: level 0 is (sin(pi/2), cos(pi/2)) = (1, 0);
    # level 1 is (sin(pi), cos(pi)) = (0, -1)
    code = positional_encoding(torch.tensor([0.5]), b=2.0, levels=2)
    assert torch.allclose(code, torch.tensor([[1.0, 0.0, 0.0, -1.0]]), atol=1e-6)
    # t = 0: every sine is 0 and every cosine is 1
    zero = positional_encoding(torch.tensor([0.0]), levels=5)
    assert torch.equal(zero, torch.tensor([[0.0, 1.0] * 5]))


def test_matches_the_formula_for_nerv_defaults():
    t = torch.tensor([0.0, 0.1, 0.37, 1.0], dtype=torch.float64)
    code = positional_encoding(t)
    assert code.shape == (4, 2 * NERV_LEVELS) and code.dtype == torch.float64
    for i in (0, 1, 7, 20):
        angle = NERV_BASE**i * math.pi * t
        assert torch.allclose(code[:, 2 * i], torch.sin(angle))
        assert torch.allclose(code[:, 2 * i + 1], torch.cos(angle))


def test_defaults_are_nervs():
    assert (NERV_BASE, NERV_LEVELS) == (1.25, 80)
    encoder = PositionalEncoding()
    assert encoder.dim == 160 and encoder.levels == 80 and encoder.b == 1.25
    assert PositionalEncoding(levels=40).dim == 80  # the NeRV README's Bunny command
    assert list(encoder.parameters()) == []


def test_module_equals_function():
    t = torch.rand(6)
    encoder = PositionalEncoding(b=1.5, levels=7)
    assert torch.equal(encoder(t), positional_encoding(t, 1.5, 7))
    assert encoder(t).shape == (6, encoder.dim)


def test_fourier_features_encode_each_column():
    coords = pixel_coordinates(3, 4)
    assert coords.shape == (12, 2)
    assert torch.equal(coords[0], torch.tensor([0.0, 0.0]))
    assert torch.equal(coords[-1], torch.tensor([1.0, 1.0]))
    features = fourier_features(coords, b=2.0, levels=3)
    assert features.shape == (12, 12)
    assert torch.equal(features[:, :6], positional_encoding(coords[:, 0], 2.0, 3))
    assert torch.equal(features[:, 6:], positional_encoding(coords[:, 1], 2.0, 3))


@pytest.mark.parametrize(
    "t, kwargs, error, words",
    [
        (torch.arange(4), {}, TypeError, "index / frames"),
        (torch.rand(2, 3), {}, ValueError, "expected (B,)"),
        ([0.1, 0.2], {}, TypeError, "torch.Tensor"),
        (torch.rand(3), {"levels": 0}, ValueError, "levels >= 1"),
        (torch.rand(3), {"levels": 2.5}, TypeError, "whole number"),
        (torch.rand(3), {"b": 0.0}, ValueError, "positive"),
        (torch.rand(3), {"b": -1.25}, ValueError, "positive"),
    ],
)
def test_bad_input_says_what_and_how(t, kwargs, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        positional_encoding(t, **kwargs)


def test_bad_module_arguments():
    with pytest.raises(ValueError, match="levels"):
        PositionalEncoding(levels=0)
    with pytest.raises(ValueError, match="positive"):
        PositionalEncoding(b=float("nan"))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        fourier_features(torch.rand(5))
    with pytest.raises(ValueError, match="no pixels"):
        pixel_coordinates(0, 4)
