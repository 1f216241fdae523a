# Generated from notebooks/08_compression.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Compression tools: what makes a trained model small before it is written to a file.

    prune (a fraction of the weights set to zero) -> fine-tune -> quantize to b bits
      -> Huffman-code the symbols

Each step works on tensors or symbol lists and knows nothing of files; `bitstream` puts them
together into one file. Introduced in lesson 08 (notebooks/08_compression.ipynb).
"""

from collections import Counter
from dataclasses import dataclass

import torch
from dahuffman import HuffmanCodec
from torch import nn
from torch.nn.utils import prune

PRUNABLE = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def prunable_weights(module: nn.Module) -> list[tuple[nn.Module, str]]:
    """(layer, "weight") for every conv and linear layer: what pruning may set to zero."""
    return [(layer, "weight") for layer in module.modules() if isinstance(layer, PRUNABLE)]


def prune_global(module: nn.Module, sparsity: float) -> nn.Module:
    """Set the `sparsity` fraction of all conv/linear weights with the smallest |w| to zero,
    with one threshold across layers. sparsity is the fraction ZEROED (NeRV's prune_ratio is
    the fraction kept). The mask stays until make_permanent, so training keeps the zeros."""
    if not 0 <= sparsity < 1:
        raise ValueError(
            f"sparsity is the fraction of weights set to zero, in [0, 1), got {sparsity}"
        )
    weights = prunable_weights(module)
    if not weights:
        raise ValueError(f"{type(module).__name__} has no conv or linear weights to prune")
    prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, amount=sparsity)
    return module


def make_permanent(module: nn.Module) -> nn.Module:
    """Fold the pruning masks into the weights (weight_orig * mask -> weight) and drop them."""
    for layer, name in prunable_weights(module):
        if prune.is_pruned(layer) and hasattr(layer, f"{name}_orig"):
            prune.remove(layer, name)
    return module


def sparsity_of(module: nn.Module) -> float:
    """The fraction of conv/linear weights that are exactly zero."""
    weights = [getattr(layer, name) for layer, name in prunable_weights(module)]
    if not weights:
        raise ValueError(f"{type(module).__name__} has no conv or linear weights")
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)


@dataclass
class Quantized:
    """A tensor on a b-bit grid: x ~ minimum + symbols * scale. axis None: one float32 min
    and scale for the whole tensor; axis a: the min and max taken along axis a, one pair per
    position of the other dimensions (float16 values, as HNeRV's code stores them), shaped
    to broadcast against symbols (size 1 along a)."""

    symbols: torch.Tensor  # int64 in [0, 2^bits - 1], the tensor's shape
    minimum: torch.Tensor
    scale: torch.Tensor
    bits: int
    axis: int | None

    def dequantize(self) -> torch.Tensor:
        # contiguous: a per-slice broadcast can yield another memory layout, and convolutions
        # on another layout may round differently (decode must be bit-exact)
        return (self.minimum + self.symbols.float() * self.scale).contiguous()

    def statistics(self) -> int:
        """How many min/scale numbers this tensor stores beside its symbols."""
        return self.minimum.numel() + self.scale.numel()


FLOAT16_MAX = 65504.0  # the largest float16: larger statistics cannot be stored as float16


def quantize(x: torch.Tensor, bits: int, axis: int | None = None) -> Quantized:
    """x on a grid of 2^bits - 1 steps from its min to its max: over the whole tensor (axis
    None) or along `axis` (one min/scale per position of the other dimensions, rounded to
    float16). |x - dequantize| <= scale / 2, up to that float16 rounding of min and scale."""
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must be between 1 and 16, got {bits}")
    if x.numel() == 0 or not x.is_floating_point():
        raise ValueError(f"quantize takes a non-empty float tensor, got {x.dtype} {tuple(x.shape)}")
    x = x.detach().float().cpu()
    if axis is None:
        low, high = x.min().expand([1] * x.ndim), x.max().expand([1] * x.ndim)
    else:
        if not 0 <= axis < x.ndim:
            raise ValueError(f"axis {axis} is out of range for a tensor of shape {tuple(x.shape)}")
        if x.abs().max() > FLOAT16_MAX / 2:  # the range max - min must fit float16 too
            raise ValueError(
                f"values up to {x.abs().max():.4g} do not fit float16 statistics: use axis=None"
            )
        low, high = x.amin(axis, keepdim=True), x.amax(axis, keepdim=True)
    levels = 2**bits - 1
    scale = (high - low) / levels
    if axis is not None:  # HNeRV's code rounds per-axis statistics to float16 first
        low, scale = low.half().float(), scale.half().float()
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # constant slice: all q = 0
    # The clamp catches float rounding at the ends: (max - min) / scale = levels + eps, and a
    # float16 min a hair above the true one.
    symbols = torch.round((x - low) / scale).clamp(0, levels).long()
    return Quantized(symbols, low.contiguous(), scale.contiguous(), bits, axis)


def quantize_best(x: torch.Tensor, bits: int) -> Quantized:
    """HNeRV's choice (its code's quant_tensor): per tensor, or along one axis, among the axes
    whose min/scale pairs number under 2 % of the tensor (axes longer than 50); the lowest
    mean |x - dequantize(x)| wins, per-tensor on a tie."""
    fits = x.detach().abs().max() <= FLOAT16_MAX / 2
    axes = [
        axis for axis in range(x.ndim) if fits and x.numel() // x.shape[axis] < 0.02 * x.numel()
    ]
    candidates = [quantize(x, bits, axis) for axis in [None, *axes]]
    x = x.detach().float().cpu()
    return min(candidates, key=lambda q: (x - q.dequantize()).abs().mean().item())


EOF_SYMBOL = -1  # marks the end of the Huffman stream (symbols are >= 0)


def canonical_code(lengths: dict[int, int]) -> dict[int, tuple[int, int]]:
    """symbol -> (length, code): the canonical prefix code with these code lengths. Codes
    count up in order of (length, symbol), shifted left when the length grows."""
    table, code, previous = {}, 0, 0
    for symbol, length in sorted(lengths.items(), key=lambda item: (item[1], item[0])):
        code <<= length - previous
        table[symbol] = (length, code)
        code, previous = code + 1, length
    return table


def huffman_lengths(symbols: list[int]) -> dict[int, int]:
    """Each symbol's Huffman code length (and the end-of-stream marker's) for these data."""
    if not symbols:
        raise ValueError("no symbols to code")
    counts = Counter(symbols)
    codec = HuffmanCodec.from_frequencies(counts, eof=EOF_SYMBOL)
    return {symbol: length for symbol, (length, _) in codec.get_code_table().items()}


def huffman_encode(symbols: list[int], lengths: dict[int, int]) -> bytes:
    codec = HuffmanCodec(canonical_code(lengths), eof=EOF_SYMBOL)
    return codec.encode(symbols)


def huffman_decode(data: bytes, lengths: dict[int, int]) -> list[int]:
    codec = HuffmanCodec(canonical_code(lengths), eof=EOF_SYMBOL)
    return codec.decode(data)


def huffman_bits(symbols: list[int], lengths: dict[int, int]) -> int:
    """The payload's length in bits, end marker included (before padding to whole bytes)."""
    counts = Counter(symbols)
    return sum(count * lengths[symbol] for symbol, count in counts.items()) + lengths[EOF_SYMBOL]
