"""Compression tools of lesson 08: pruning, quantization and Huffman coding."""

import pytest
import torch

from nerv_lessons.compress import (
    EOF_SYMBOL,
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
    # Per-axis statistics are float16: min and scale move by up to 2^-11 of their size.
    slack = 0 if axis is None else 2**-11 * (q.minimum.abs() + q.scale * 2**bits)
    assert (error <= q.scale / 2 * (1 + 1e-5) + 1e-7 + slack).all()


def test_quantization_uses_all_levels_and_keeps_min_and_max():
    x = torch.linspace(-3, 5, 1000)
    q = quantize(x, 4)
    assert q.symbols.min() == 0 and q.symbols.max() == 15
    assert torch.isclose(q.scale, torch.tensor(8 / 15)).all()
    assert q.dequantize()[0] == -3 and torch.isclose(q.dequantize()[-1], torch.tensor(5.0))


def test_an_axis_is_reduced_along_as_in_hnervs_code():
    x = torch.randn(5, 7)
    # t.min(axis): axis 0 reduced, one pair per column; axis 1 reduced, one per row.
    assert quantize(x, 8, axis=0).minimum.shape == (1, 7)
    assert quantize(x, 8, axis=1).scale.shape == (5, 1)
    q = quantize(x, 8, axis=0)
    assert q.minimum.dtype == torch.float32 and torch.equal(q.minimum, q.minimum.half().float())
    assert torch.equal(quantize(x, 8).minimum, x.min().reshape(1, 1))  # per tensor: float32
    constant = torch.full((4, 4), 2.5)
    assert torch.equal(quantize(constant, 3).dequantize(), constant)


def test_quantize_best_picks_the_lower_error_axis():
    # Rows far apart but each narrow: a pair per row (axis 1 reduced) has tiny steps.
    x = torch.randn(8, 64) * 0.01 + torch.arange(8.0)[:, None] * 10
    best = quantize_best(x, 6)
    assert best.axis == 1 and best.statistics() == 16
    errors = {a: (x - quantize(x, 6, a).dequantize()).abs().mean() for a in (None, 1)}
    assert errors[1] == min(errors.values())


def test_quantize_best_considers_only_axes_under_2_percent_of_the_tensor():
    # A 0.35M decoder's first block: (850, 41, 1, 1). Reducing along axis 0 leaves 41 pairs
    # (0.12 % of the tensor); along axis 1, 850 pairs (2.4 %: not considered); along the
    # 1-long axes, one pair per number. HNeRV's rule stores at most 82 statistics here.
    torch.manual_seed(0)
    x = torch.randn(850, 41, 1, 1) * torch.linspace(0.1, 3, 850)[:, None, None, None]
    best = quantize_best(x, 8)
    assert best.axis in (None, 0) and best.statistics() in (2, 82)
    assert quantize(x, 8, axis=0).statistics() == 82
    with_rows = quantize(x, 8, axis=1)  # allowed by hand, but not a candidate
    assert with_rows.statistics() == 1700
    assert (x - with_rows.dequantize()).abs().mean() < (x - best.dequantize()).abs().mean()
    assert quantize_best(torch.randn(10), 8).axis is None  # 10 numbers: per tensor only
    assert quantize_best(torch.randn(100), 8).statistics() == 2


def test_quantize_rejects_bad_input():
    with pytest.raises(ValueError, match="bits"):
        quantize(torch.randn(3), 0)
    with pytest.raises(ValueError, match="axis"):
        quantize(torch.randn(3, 3), 8, axis=2)
    with pytest.raises(ValueError, match="float"):
        quantize(torch.arange(3), 8)
    with pytest.raises(ValueError, match="float16"):
        quantize(torch.tensor([[1e5, 0.0], [1.0, 2.0]]), 8, axis=0)
    assert quantize_best(torch.tensor([[1e5, 0.0], [1.0, 2.0]] * 60), 8).axis is None


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


def _reference_huffman_bits(counts: dict[int, int]) -> int:
    """The total length of a Huffman code for these counts, by the textbook merge: every merge
    of the two rarest groups adds one bit to each symbol in them, i.e. the merged count."""
    import heapq

    heap = list(counts.values())
    heapq.heapify(heap)
    total = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        total += merged
        heapq.heappush(heap, merged)
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_huffman_bits_are_the_smallest_total_any_huffman_code_gives(seed):
    # Huffman codes of the same counts can differ where counts tie, never in total length:
    # lesson 08's few-line Huffman and the package's must agree to the bit.
    generator = torch.Generator().manual_seed(seed)
    symbols = quantize(torch.randn(3000, generator=generator), 6).symbols.tolist()
    counts = {s: symbols.count(s) for s in set(symbols)} | {EOF_SYMBOL: 1}
    assert huffman_bits(symbols, huffman_lengths(symbols)) == _reference_huffman_bits(counts)
