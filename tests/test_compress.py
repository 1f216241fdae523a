"""Compression tools of lesson 08: pruning, quantization and Huffman coding."""

import pytest
import torch

from nerv_lessons.compress import (
    canonical_code,
    huffman_bits,
    huffman_decode,
    huffman_encode,
    huffman_lengths,
    make_permanent,
    prune_global,
    quantize,
    quantize_best,
    sparsity_of,
)
from nerv_lessons.hnerv import HNeRV, HNeRVConfig, frames_in
from nerv_lessons.train import TrainConfig, train

TINY_HNERV = dict(
    height=80, width=160, strides=(5, 2, 2, 2), encoder_width=8, embed_dim=4, fc_dim=12, min_width=4
)


# --- quantization ---------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 4, 6, 8, 12])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_quantization_error_is_at_most_half_a_step(bits, axis):
    x = torch.randn(16, 8, 3, 3) * torch.linspace(0.1, 5, 16)[:, None, None, None]
    q = quantize(x, bits, axis)
    assert q.symbols.min() >= 0 and q.symbols.max() <= 2**bits - 1
    error = (x - q.dequantize()).abs()
    assert (error <= q.scale / 2 * (1 + 1e-5) + 1e-7).all()


def test_quantization_uses_all_levels_and_keeps_min_and_max():
    x = torch.linspace(-3, 5, 1000)
    q = quantize(x, 4)
    assert q.symbols.min() == 0 and q.symbols.max() == 15
    assert torch.isclose(q.scale, torch.tensor(8 / 15)).all()
    assert q.dequantize()[0] == -3 and torch.isclose(q.dequantize()[-1], torch.tensor(5.0))


def test_per_channel_has_one_min_per_slice_and_constant_tensors_are_exact():
    x = torch.randn(5, 7)
    assert quantize(x, 8, axis=0).minimum.shape == (5, 1)
    assert quantize(x, 8, axis=1).scale.shape == (1, 7)
    constant = torch.full((4, 4), 2.5)
    assert torch.equal(quantize(constant, 3).dequantize(), constant)


def test_quantize_best_picks_the_lower_error_axis():
    # Rows far apart but each narrow: per-row (axis 0) steps are tiny, the others' huge.
    x = torch.randn(8, 64) * 0.01 + torch.arange(8.0)[:, None] * 10
    best = quantize_best(x, 6)
    assert best.axis == 0
    errors = {a: (x - quantize(x, 6, a).dequantize()).abs().mean() for a in (None, 0, 1)}
    assert errors[0] == min(errors.values())
    assert quantize_best(torch.randn(10), 8).axis is None  # biases stay per-tensor


def test_quantize_rejects_bad_input():
    with pytest.raises(ValueError, match="bits"):
        quantize(torch.randn(3), 0)
    with pytest.raises(ValueError, match="axis"):
        quantize(torch.randn(3, 3), 8, axis=2)
    with pytest.raises(ValueError, match="float"):
        quantize(torch.arange(3), 8)


# --- pruning --------------------------------------------------------------------------------


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.3, 0.75])
def test_global_pruning_zeroes_that_fraction(sparsity):
    torch.manual_seed(0)
    model = HNeRV(HNeRVConfig(**TINY_HNERV))
    prune_global(model.decoder, sparsity)
    make_permanent(model.decoder)
    assert sparsity_of(model.decoder) == pytest.approx(sparsity, abs=1e-3)
    assert not any(name.endswith("_orig") for name in model.decoder.state_dict())


def test_pruning_is_global_and_drops_the_smallest_weights():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 10), torch.nn.Linear(10, 10))
    with torch.no_grad():
        w = net[0].weight
        w.copy_(w.sign() * (1 + w.abs()))  # layer 0: every |w| >= 1; layer 1: all below 0.33
    prune_global(net, 0.5)
    make_permanent(net)
    assert (net[1].weight == 0).all() and (net[0].weight != 0).all()


def test_fine_tuning_keeps_pruned_weights_at_zero(bunny):
    torch.manual_seed(0)
    model = HNeRV(HNeRVConfig(**TINY_HNERV))
    prune_global(model.decoder, 0.4)
    train(
        model,
        bunny[:4],
        TrainConfig(epochs=2, batch_size=2, lr=1e-2, progress=False),
        model_input=frames_in,
    )
    make_permanent(model.decoder)
    assert sparsity_of(model.decoder) >= 0.4 - 1e-3


def test_pruning_rejects_bad_input():
    with pytest.raises(ValueError, match="fraction"):
        prune_global(torch.nn.Linear(2, 2), 1.0)
    with pytest.raises(ValueError, match="no conv or linear"):
        prune_global(torch.nn.ReLU(), 0.1)


# --- Huffman --------------------------------------------------------------------------------


def test_huffman_round_trip_and_saving():
    torch.manual_seed(0)
    symbols = quantize(torch.randn(5000), 8).symbols.tolist()  # bell-shaped: compressible
    lengths = huffman_lengths(symbols)
    coded = huffman_encode(symbols, lengths)
    assert huffman_decode(coded, lengths) == symbols
    assert len(coded) == pytest.approx(huffman_bits(symbols, lengths) / 8, abs=1)
    assert huffman_bits(symbols, lengths) < 8 * len(symbols)  # beats fixed 8-bit codes


def test_canonical_code_is_prefix_free():
    table = canonical_code({-1: 3, 0: 1, 1: 2, 2: 3})
    codes = [format(code, f"0{length}b") for length, code in table.values()]
    assert len(set(codes)) == 4
    assert not any(a != b and b.startswith(a) for a in codes for b in codes)


def test_huffman_needs_symbols():
    with pytest.raises(ValueError, match="no symbols"):
        huffman_lengths([])
