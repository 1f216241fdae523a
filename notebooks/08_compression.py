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
# # Lesson 08: Compression to a real bitstream, against H.264 and H.265
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/nerv-lessons/nerv-lessons/blob/main/notebooks/08_compression.ipynb)
#
# A trained NeRV or HNeRV *is* the compressed video, but only once it is a file. This lesson
# takes a model through the papers' pipeline (prune, quantize, Huffman-code), writes one file
# that holds everything the decoder needs, and reads it back to frames. Then it encodes the
# same frames with real H.264 and H.265 and compares rate and distortion, with bits per pixel
# measured from the length of the files. It builds the modules `compress`, `bitstream`,
# `codecs` and `rate_distortion`. It starts with the idea in a few lines: one weight tensor
# quantized, Huffman-coded and counted in bytes.

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
import copy
import math
import time
from dataclasses import replace

import matplotlib.pyplot as plt
import torch

from nerv_lessons._exercises import exercise, right, wrong
from nerv_lessons.data import load_clip
from nerv_lessons.hnerv import HNeRV, embed_frames, frames_in, hnerv_budget, hnerv_size
from nerv_lessons.metrics import bits_per_pixel, ms_ssim, params_per_pixel, psnr
from nerv_lessons.scales import start_lesson
from nerv_lessons.train import TrainConfig, evaluate, train

scale, device = start_lesson()
notebook_start = time.perf_counter()
video = load_clip(scale, device)
frames, height, width = len(video), scale.height, scale.width
print(f"clip: {frames} frames of {height}x{width}")

# %% [markdown]
# ## A model to compress
#
# The model is lesson 04's HNeRV at the scale's budget, trained with HNeRV's recipe for its
# Table 2 (`hnerv-vs-nerv`): `fit` takes it from the experiments cache, so it trains once per
# machine. Seed 0 is the model the sections below compress; seeds 1 and 2 give the spread
# in the pruning table. The floor is the clip's mean frame.

# %%
from nerv_lessons.experiments import FLOORS, fit, results_folder, run, seed_row, verdict
from nerv_lessons.hnerv import HNERV_VS_NERV

seeds = [0, 1, 2]
recipe = TrainConfig.hnerv(scale, progress=False)  # the row's recipe, for the fine-tunes
trained = [fit(HNERV_VS_NERV, "HNeRV", scale, seed, device, video) for seed in seeds]
model, record = trained[0][0].model, trained[0][1]
hnerv_config = model.config
embeddings = embed_frames(model, video)  # (T, d, 2, 4): with the decoder, all the file keeps
base_psnr = evaluate(model, video, frames_in)["psnr"].mean().item()
floor_psnr = psnr(FLOORS["mean frame"](video, torch.arange(frames)), video).mean().item()
size = hnerv_size(hnerv_config, frames)
print(
    f"HNeRV c2={hnerv_config.fc_dim}: {size / 1e6:.4f}M numbers (embeddings + decoder), "
    f"{params_per_pixel(size, frames, height, width):.3f} per pixel, {recipe.epochs} epochs at "
    f"lr {recipe.lr:g}: seed 0 {base_psnr:.2f} dB ({record['seconds']:.1f} s of training, "
    f"from the cache: {record['cached']}); floor: mean frame {floor_psnr:.2f} dB"
)

# %% [markdown]
# ## The idea first: one weight tensor to bytes
#
# The core of the papers' pipeline in a few lines, on one tensor: the trained decoder's
# largest weight tensor. Put each number on a grid of 2^b levels from the tensor's min to its
# max (b = 8: 255 steps of size `step`) and keep the integer level, a *symbol*: rounding to
# the nearest level moves a number by at most half a step. Then count how often each symbol
# occurs and give frequent symbols short codes. Huffman's algorithm: take the two rarest
# groups of symbols, merge them (one more bit tells them apart, for every symbol in both),
# and repeat until one group is left. The coded size is each symbol's count times its code
# length.

# %%
import heapq
from collections import Counter

weight_name, weights = max(model.decoder.state_dict().items(), key=lambda item: item[1].numel())
weights = weights.detach().cpu()
b = 8
low, high = weights.min(), weights.max()
step = (high - low) / (2**b - 1)  # 255 steps from min to max
levels = torch.round((weights - low) / step).long()  # the symbols, 0..255: what is stored
restored = low + levels * step  # what the decoder gets back


def huffman_code_lengths(counts: dict) -> dict:
    """Each symbol's code length: merge the two rarest groups until one group is left."""
    heap = [(count, order, [symbol]) for order, (symbol, count) in enumerate(counts.items())]
    heapq.heapify(heap)
    code_lengths = dict.fromkeys(counts, 0)
    while len(heap) > 1:
        count_a, _, group_a = heapq.heappop(heap)
        count_b, order, group_b = heapq.heappop(heap)
        for symbol in group_a + group_b:
            code_lengths[symbol] += 1  # one more bit tells the two groups apart
        heapq.heappush(heap, (count_a + count_b, order, group_a + group_b))
    return code_lengths


counts = Counter(levels.flatten().tolist())
counts[-1] = 1  # an end-of-stream marker, coded once (the package's Huffman code has one too)
code_lengths = huffman_code_lengths(counts)
coded_bits = sum(count * code_lengths[symbol] for symbol, count in counts.items())
fixed_bytes = weights.numel() * b / 8
coded_bytes = coded_bits / 8 + 2 * 4  # the codes, and min and step as float32
print(f"{weight_name} {tuple(weights.shape)}: {weights.numel()} numbers")
print(f"{b} bits each: {fixed_bytes:.0f} B; largest error {(weights - restored).abs().max():.2e}")
print(f"  = {((weights - restored).abs().max() / (step / 2)).item():.4f} of half a step")
print(
    f"Huffman: {len(code_lengths)} symbols, codes of {min(code_lengths.values())} to "
    f"{max(code_lengths.values())} bits: {coded_bytes:.0f} B, {1 - coded_bytes / fixed_bytes:.1%} "
    f"saved, {8 * coded_bytes / (frames * height * width):.3f} bits per pixel of the clip"
)

# %% [markdown]
# The same with the package's functions (shown in the sections below): the same symbols and
# values, and the same number of coded bits. (Huffman codes can differ where counts tie, but
# every Huffman code of the same counts has the same total length, the smallest possible.)

# %%
from nerv_lessons.compress import huffman_bits, huffman_lengths, quantize

package = quantize(weights, b)  # one min and one step for the whole tensor
torch.testing.assert_close(package.symbols, levels, rtol=0, atol=0)
torch.testing.assert_close(package.dequantize(), restored)
symbol_list = levels.flatten().tolist()
assert huffman_bits(symbol_list, huffman_lengths(symbol_list)) == coded_bits
print(f"package: same symbols, same values, {coded_bits} coded bits as ours")

# %% [markdown]
# What the papers' pipeline, and the package, add to these few lines:
#
# - pruning first (section 1): the smallest weights set to zero share one symbol, whose code
#   gets short;
# - a min and step along one axis where that lowers the error (section 2, `quantize_best`, as
#   HNeRV's code);
# - one Huffman table for every tensor of the model, made canonical so that the file stores
#   only the code lengths (section 3);
# - a file with a header that says how to read it back and a CRC, and a decoder that checks
#   everything it reads (section 4);
# - rate and distortion measured from real files, against real H.264 and H.265 (sections 5, 6).

# %% [markdown]
# ## 1. Pruning: set the smallest weights to zero
#
# Global magnitude pruning ranks every conv and linear weight of the stored network by |w| and
# sets the smallest fraction to zero, with one threshold across all layers. We name that
# fraction `sparsity`: the fraction set to zero. (NeRV's code calls its knob `prune_ratio` and
# means the fraction *kept*; its issue #17 is about the confusion.) For HNeRV only the decoder
# is pruned, since the encoder is not stored. Two choices of ours: NeRV's code prunes only its
# stem's linear layers and its blocks' convs, where we also prune the head (a few hundred
# weights); HNeRV's code has no pruning at all, and the paper's Table 16 is what we follow.
# `torch.nn.utils.prune` keeps a mask that it re-applies in every forward pass, so the
# course's unchanged `train` fine-tunes the surviving weights while the zeros stay zero;
# `make_permanent` then folds the mask into the weights.

# %%
#| export compress
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


# %% [markdown]
# Prune copies of each seed's model at several sparsities, fine-tune each for a tenth of the
# training epochs (at least 2) at a tenth of the learning rate, and measure PSNR before and
# after. Seed 0's pruned models are kept for the sections below.

# %%
sparsities = [0.0, 0.1, 0.25, 0.5]
finetune = replace(recipe, epochs=max(2, scale.epochs // 10), lr=recipe.lr / 10)
pruned, scores = {}, {s: {"before": [], "after": []} for s in sparsities}
for seed, (setup, _) in zip(seeds, trained):
    for sparsity in sparsities:
        candidate = copy.deepcopy(setup.model)
        prune_global(candidate.decoder, sparsity)
        scores[sparsity]["before"].append(evaluate(candidate, video, frames_in)["psnr"].mean())
        train(candidate, video, replace(finetune, seed=seed), model_input=frames_in)
        make_permanent(candidate.decoder)
        scores[sparsity]["after"].append(evaluate(candidate, video, frames_in)["psnr"].mean())
        if seed == 0:  # kept: (the model, its PSNR after pruning, after the fine-tune)
            pruned[sparsity] = (candidate, *(scores[sparsity][k][0].item() for k in scores[0.0]))
rows = {s: {k: seed_row(v) for k, v in scores[s].items()} for s in sparsities}
print(f"HNeRV decoder pruned, {finetune.epochs}-epoch fine-tune, seeds {seeds} (mean +- std)")
print(f"{'':22} {'after pruning':>16} {'after fine-tune':>16}")
print(f"{'floor: mean frame':22} {floor_psnr:16.2f} {floor_psnr:16.2f}")
for sparsity in sparsities:
    before, after = rows[sparsity]["before"], rows[sparsity]["after"]
    zeros = sparsity_of(pruned[sparsity][0].decoder)
    print(
        f"sparsity {sparsity:4.0%} ({zeros:5.1%} 0s) "
        f"{before['psnr_mean']:8.2f} +- {before['psnr_std']:.2f}"
        f" {after['psnr_mean']:8.2f} +- {after['psnr_std']:.2f}"
    )

fig, ax = plt.subplots(figsize=(5, 3))
for key, style in (("before", "o--"), ("after", "o-")):
    means = [rows[s][key]["psnr_mean"] for s in sparsities]
    stds = [rows[s][key]["psnr_std"] for s in sparsities]
    label = "pruned" if key == "before" else "pruned + fine-tuned"
    ax.errorbar(sparsities, means, stds, fmt=style, capsize=3, label=label)
ax.axhline(floor_psnr, color="gray", lw=0.8, ls=":", label="floor: mean frame")
ax.set(xlabel="sparsity (fraction of weights set to zero)", ylabel="PSNR (dB)")
ax.set_title(f"HNeRV decoder, {scale.name} scale, seeds {seeds}", fontsize=9)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The HNeRV paper's Table 16 (video and size not stated; we read it as 640x1280) keeps
# 37.56 dB at 0 % and 37.51 dB at 10 % sparsity and 36.61 dB at 25 %; it compresses at 10 %.
# What carries over is the order of the rows after the fine-tune (which adds training, so
# the 0 % row is fine-tuned too), judged over the seeds:

# %%
paper_table16 = {0.0: 37.56, 0.1: 37.51, 0.25: 36.61}  # prune + quantize + entropy-code
prune_verdicts = {}
for better, worse in ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5)):
    result, gap, noise = verdict(rows[better]["after"], rows[worse]["after"])
    prune_verdicts[better, worse] = result
    paper = paper_table16[better] - paper_table16[worse] if worse in paper_table16 else None
    paper_text = "not in the paper" if paper is None else f"paper {paper:+.2f} dB"
    print(
        f"{better:4.0%} > {worse:4.0%} sparsity: ours {gap:+.2f} dB, noise {noise:.2f} -> "
        f"{result} ({paper_text})"
    )

# %% [markdown]
# The paper's first step costs 0.05 dB, which is "nearly free"; an order so small can come
# out within noise at any scale, and the printed verdict says whether it does here. The
# trend that carries over: the loss grows quickly with sparsity (see 50 %), and after the
# fine-tune every row stays far above the floor.

# %% [markdown]
# ## 2. Quantization: b bits per number
#
# Each tensor becomes integers on a grid of 2^b - 1 steps between its minimum and maximum, as
# above (the package calls the step `scale`):
#
#     scale = (max - min) / (2^b - 1),   q = round((x - min) / scale),   x' = min + q * scale
#
# Rounding moves each number by at most half a step, so |x - x'| <= scale / 2. One min/scale
# pair can serve the whole tensor (per-tensor), or the min and max can be taken *along* one
# axis, giving one pair for every position of the other dimensions (a smaller range each, so a
# smaller step). HNeRV's code (`quant_tensor`) tries per-tensor and each axis whose pairs
# number under 2 % of the tensor, rounds those pairs to float16, and keeps the candidate with
# the lowest mean error; `quantize_best` does the same. A 850 x 41 x 1 x 1 conv weight thus
# gets at most 41 pairs (the min along axis 0), never 850. The float16 rounding can move a
# min or scale by a hair, so a few numbers may land just past half a step (the clamp to the
# grid catches them), as in the reference. (NeRV's code divides by 2^b instead.)


# %% [markdown]
# ### Exercise: one grid per row
#
# Write `quantize_along(x, bits, axis)`: the min and max taken along `axis` (kept as a
# dimension of size 1, so that they broadcast against `x`), each slice on its own grid of
# 2^bits levels from its min to its max; return `(symbols, low, step)` with
# `x ~ low + symbols * step`. Keep low and step in float32 (the package rounds per-axis
# statistics to float16; leave that out). The check tries rows of very different ranges,
# checks the half-step bound, and compares each row with the package's `quantize` of that row.


# %%
def quantize_along(x: torch.Tensor, bits: int, axis: int):
    """(symbols, low, step): each slice along `axis` on a grid of 2^bits levels."""
    ### BEGIN SOLUTION
    low, high = x.amin(axis, keepdim=True), x.amax(axis, keepdim=True)
    step = (high - low) / (2**bits - 1)
    symbols = torch.round((x - low) / step).long()
    return symbols, low, step
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("quantize_along"):
    from nerv_lessons.compress import quantize

    generator = torch.Generator().manual_seed(0)
    widths = torch.logspace(-2, 1, 6)[:, None]  # rows from 0.01 to 10 wide
    x = torch.randn(6, 40, generator=generator) * widths + torch.arange(6.0)[:, None]
    bits, top = 4, 15
    for axis, pairs in ((1, (6, 1)), (0, (1, 40))):
        try:
            symbols, low, step = quantize_along(x, bits, axis)
        except (NotImplementedError, NameError):
            raise
        except Exception as error:  # a broken answer is a wrong one: say what broke
            wrong(
                f"quantize_along(x, {bits}, axis={axis}) raised {type(error).__name__}: {error} "
                "(do low and step broadcast against x?)"
            )
        shapes = (tuple(low.shape), tuple(step.shape))
        if shapes != (pairs, pairs):
            wrong(
                f"along axis {axis} of a 6 x 40 tensor, low and step have shapes {shapes}; "
                f"expected {pairs} each: reduce along that axis only and keep it, with size 1"
            )
        if symbols.shape != x.shape or symbols.is_floating_point():
            wrong(f"give the symbols as an integer tensor of x's shape, got {symbols.dtype}")
        if symbols.min() < 0 or symbols.max() > top:
            wrong(
                f"the symbols run {symbols.min()}..{symbols.max()}, but {bits} bits hold "
                f"{2**bits} values: count the steps between the lowest and the highest level"
            )
        if (symbols.amin(axis) != 0).any() or (symbols.amax(axis) != top).any():
            wrong(
                f"each slice's min must be symbol 0 and its max symbol {top}: the grid runs "
                "from the slice's min to its max, with nothing left over"
            )
        worst = ((x - (low + symbols * step)).abs() / (step / 2)).max().item()
        if worst > 1 + 1e-4:
            wrong(
                f"a number moved {worst:.2f} half-steps from its value: a number rounded to "
                "the nearest level never moves more than one"
            )
    symbols, low, step = quantize_along(x, bits, 1)
    for row in range(len(x)):
        if not torch.equal(symbols[row], quantize(x[row], bits).symbols):
            wrong(f"row {row} differs from the package's quantize of that row alone")
    whole = (x - quantize(x, bits).dequantize()).abs().mean()
    ratio = whole / (x - (low + symbols * step)).abs().mean()
    right(
        f"each row on its own grid, every error within half its row's step; the mean error "
        f"is {ratio:.0f} times smaller than with one grid for the whole tensor"
    )


# %%
#| export compress
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


# %% [markdown]
# The bound, checked on every tensor of the trained decoder and on the embeddings, at 8 and
# 4 bits: the largest error divided by half a step is at most 1, plus what float16's
# rounding of a min or scale adds (a few parts in a thousand).

# %%
tensors = dict(model.decoder.state_dict()) | {"embeddings": embeddings}
for bits in (8, 4):
    worst = 0.0
    for x in tensors.values():
        q = quantize_best(x, bits)
        error = (x.detach().cpu().float() - q.dequantize()).abs()
        worst = max(worst, (error / (q.scale / 2)).max().item())
    print(f"{bits} bits: max |x - x'| / (scale / 2) over {len(tensors)} tensors = {worst:.4f}")

stem = model.decoder.stem[0].weight.detach().cpu()
q4 = quantize_best(stem, 4)
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.hist(stem.flatten(), bins=80, alpha=0.6, label="weights")
ax.hist(q4.dequantize().flatten(), bins=80, alpha=0.6, label="4-bit dequantized")
ax.set(xlabel="weight value", ylabel="count")
ax.set_title(f"decoder stem weights, 4 bits, axis={q4.axis}", fontsize=9)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. Entropy coding: Huffman codes for the symbols
#
# Quantized weights are not uniform: most sit near zero, so a fixed b bits per symbol wastes
# bits. A Huffman code gives frequent symbols short codes (as in the few lines above; here
# dahuffman builds it). We make the
# code *canonical* (codes assigned in order of length, then symbol), so the file needs only
# each symbol's code length to rebuild the table, not the codes themselves.

# %% [markdown]
# ### Exercise: the codes from their lengths
#
# The file stores only each symbol's code length; the decoder rebuilds the codes from them,
# so both sides must build the same ones: the *canonical* code. Take the symbols in order of
# code length, then of symbol; the first gets a code of all zeros; each next one gets the
# previous code plus one, with zeros appended to it when the length grows. Write
# `codes_from_lengths(lengths)`: {symbol: length} -> {symbol: code as a string of 0s and 1s}.
# (Symbol -1 is the end-of-stream marker.)


# %%
def codes_from_lengths(lengths: dict[int, int]) -> dict[int, str]:
    """The canonical prefix code with these code lengths, as bit strings."""
    ### BEGIN SOLUTION
    codes, code, previous = {}, 0, 0
    for symbol, length in sorted(lengths.items(), key=lambda item: (item[1], item[0])):
        code <<= length - previous  # a longer code: zeros appended
        codes[symbol] = format(code, f"0{length}b")
        code, previous = code + 1, length
    return codes
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("codes_from_lengths"):
    from nerv_lessons.compress import canonical_code, huffman_lengths, quantize

    gaussian = quantize(torch.randn(4000, generator=torch.Generator().manual_seed(0)), 6)
    tables = {
        "{-1: 3, 0: 1, 1: 2, 2: 3}": {-1: 3, 0: 1, 1: 2, 2: 3},
        "6-bit Gaussian symbols": huffman_lengths(gaussian.symbols.tolist()),
    }
    for what, lengths in tables.items():
        try:
            codes = codes_from_lengths(lengths)
        except (NotImplementedError, NameError):
            raise
        except Exception as error:  # a broken answer is a wrong one: say what broke
            wrong(f"codes_from_lengths({what}) raised {type(error).__name__}: {error}")
        if not isinstance(codes, dict) or set(codes) != set(lengths):
            wrong(f"{what}: give a dict with one code for each symbol of the table")
        for symbol, code in codes.items():
            if not isinstance(code, str) or set(code) - {"0", "1"} or len(code) != lengths[symbol]:
                wrong(f"{what}: symbol {symbol} got {code!r}; its code has {lengths[symbol]} bits")
        ordered = sorted(codes.values())
        for first, then in zip(ordered, ordered[1:]):
            if then.startswith(first):
                wrong(
                    f"{what}: code {first} is the start of code {then}, so a decoder that "
                    f"reads {first} cannot tell whether a symbol ended: not a prefix code"
                )
        canonical = {s: format(c, f"0{n}b") for s, (n, c) in canonical_code(lengths).items()}
        if codes != canonical:
            symbol = next(s for s in canonical if codes[s] != canonical[s])
            wrong(
                f"{what}: a prefix code, but not the canonical one (symbol {symbol} got "
                f"{codes[symbol]}): the decoder, which knows only the lengths, would build "
                "other codes. Check the order in which the symbols take their codes"
            )
    count = len(tables["6-bit Gaussian symbols"])
    right(
        f"a prefix code that the decoder rebuilds from the lengths alone: for {count} symbols "
        "the file stores one small number each, never the codes"
    )


# %%
#| export compress
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


# %% [markdown]
# The saving on the trained model's symbols (8-bit weights, 6-bit embeddings), against fixed
# length codes of the same bits; the HNeRV paper reports "8 %" saved, NeRV's about 10 %.


# %%
def symbols_of(model, weight_bits=8, embed_bits=6):
    parts = [quantize_best(x, weight_bits) for x in model.decoder.state_dict().values()]
    # This model's own embeddings: fine-tuning after pruning also changed its encoder.
    parts.append(quantize_best(embed_frames(model, video), embed_bits))
    return [q.symbols.flatten().tolist() for q in parts], [q.bits for q in parts]


for sparsity in (0.0, 0.1, 0.25):
    lists, bits = symbols_of(pruned[sparsity][0])
    symbols = [s for part in lists for s in part]
    lengths = huffman_lengths(symbols)
    coded = huffman_encode(symbols, lengths)
    assert huffman_decode(coded, lengths) == symbols  # lossless
    fixed = sum(len(part) * b for part, b in zip(lists, bits))
    saving = 1 - huffman_bits(symbols, lengths) / fixed
    print(
        f"sparsity {sparsity:4.0%}: {len(symbols)} symbols, fixed {fixed / 8:.0f} B, "
        f"Huffman {len(coded)} B: saves {saving:.1%} (paper: about 8-10 %)"
    )

# %% [markdown]
# Unpruned and at the paper's 10 %, ours saves less than the papers' 8-10 %; at 25 % the
# zeros push it above. Huffman gains only where some symbols are much
# more frequent than others: an untrained decoder's weights are uniform (their initialization)
# and save about nothing; training makes them bell-shaped, and our short quick-scale training
# does so less than 300 epochs of a 1.5M model. Pruning helps too: the zeros share one symbol.
# The one tensor of the first section saved more than the whole model: on one grid for the
# whole tensor most weights use few of the levels, while the per-axis grids `quantize_best`
# picks for some tensors (for a lower error) spread their symbols over more levels, and the
# 6-bit embeddings share the table.

# %% [markdown]
# ## 4. One file: everything the decoder needs
#
# The file is a fixed prelude (magic, format version, header and payload lengths), a JSON
# header (model kind and config, frame count and size, each tensor's shape, bits and axis, the
# Huffman code lengths), a binary payload (the min/scale values, float32 for a per-tensor pair
# and float16 for per-axis ones, then the Huffman-coded symbols) and a CRC32 of all of it.
# No pickle: nothing in the file runs code. Decoding checks, in order, that the file is
# long enough, the magic, the version, the lengths and the checksum, and says which failed;
# a damaged file never decodes to garbage silently. Then it checks what the header says,
# since an intact file can still lie (below).
#
# What is stored depends on the model kind, an entry of a table (`MODEL_KINDS`): NeRV
# (lesson 03's, and lesson 04's NeRV of HNeRV's tables) keeps the whole network and decodes
# frame times i / (T - 1) from the stored frame count; HNeRV keeps its decoder and the
# embeddings, never the encoder. Lesson 06's HNeRV with residual blocks (`res_hnerv`) and
# lesson 07's two-stream model (its three decoders and the HF embeddings) are registered
# too, and so is lesson 06's RC-HNeRV: its decoder, its embeddings and its 8-bit
# low-resolution frames (a second per-frame tensor, stored exactly as 8-bit symbols), so its
# bpp is the length of its file. Other kinds are added with `register_kind`. The table is
# plumbing, written by hand in `nerv_lessons/_bitstream_kinds.py`; what it says:

# %%
# NBVAL_CHECK_OUTPUT
from nerv_lessons.bitstream import MODEL_KINDS

for name, kind in MODEL_KINDS.items():
    per_frame = ", ".join(kind.per_frame) or "nothing (frames drawn from i / (T - 1))"
    print(f"{name:14} {kind.model_class.__name__:13} per frame: {per_frame}")

# %% [markdown]
# The file keeps the config, not the code, so `encode` first rebuilds the stored part from
# the config (on PyTorch's "meta" device: shapes only, no memory) and refuses a model whose
# weight names or shapes differ. `res_hnerv` returns an HNeRV whose blocks were swapped after
# it was built: without this check it would be written as a plain HNeRV, and only `decode`
# would fail. Here it is recognized as its own kind.
#
# The file format is an idea of its own, so it gets its own module, `bitstream`, which uses
# the `compress` tools above: the models never touch bytes. Its first cell (folded: click to
# show) is the module's docstring and imports: the model kinds and the decoder's checks come
# from the two plumbing modules, and their public names (`MODEL_KINDS`, `register_kind`,
# `kind_of`, `BitstreamError`, `HeaderError`, `MAGIC`, `VERSION`, ...) are importable from
# `nerv_lessons.bitstream`.

# %% cellView="form" jupyter={"source_hidden": true}
#| export bitstream
"""The bitstream: a trained model of the course -> one file -> frames.

    the stored part of the model (MODEL_KINDS) -> quantize (compress.quantize_best)
      -> Huffman-code the symbols (compress.huffman_*) -> prelude, JSON header, payload, CRC32

`encode(model, embeddings)` writes the file and `decode(data)` gives back the frames. The file
holds everything the decoder needs, so bits per pixel is 8 * len(file) / (T * H * W). Each
model kind is an entry of `MODEL_KINDS` (name -> model class, config class, builder), so new
kinds are stored by registering them. The kinds (`_bitstream_kinds`) and the decoder's checks
(`_bitstream_checks`) are plumbing written by hand; their public names are importable from
here. Introduced in lesson 08 (notebooks/08_compression.ipynb).
"""

import json
import zlib
from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from nerv_lessons._bitstream_checks import (
    CHECKSUM,
    CONFIG_TYPES,
    DIMENSION,
    HEADER_FIELDS,
    MAGIC,
    MAX_BITS,
    MAX_CODE_LENGTH,
    MAX_DIMS,
    MAX_FRAMES,
    MAX_NAME,
    MAX_NUMBER,
    MAX_PIXELS,
    MAX_SIDE,
    MAX_STAGES,
    MAX_TENSORS,
    PRELUDE,
    TENSOR_FIELDS,
    VERSION,
    BitstreamError,
    Field,
    HeaderError,
    _check_codes,
    _check_header,
    _check_model,
    _check_part,
    _check_prelude,
    _numbers,
    _parse_header,
    _safety_net,
    _stats_dtype,
    _stats_shape,
    _stats_size,
)
from nerv_lessons._bitstream_kinds import (
    EXACT_PER_FRAME,
    MODEL_KINDS,
    TWO_STREAM_PARTS,
    ModelKind,
    StoredParts,
    _assign,
    _check_inputs,
    _per_frame,
    _unpack,
    draw_at_frame_times,
    eight_bit,
    kind_of,
    register_kind,
)
from nerv_lessons.compress import (
    Quantized,
    huffman_decode,
    huffman_encode,
    huffman_lengths,
    quantize_best,
)

# fmt: off
__all__ = [  # this module's own names, then the plumbing's public names it re-exports
    "quantize_model", "render", "quantized_frames", "pack", "encode", "read_header",
    "decode_model", "decode",
    "MODEL_KINDS", "ModelKind", "StoredParts", "register_kind", "kind_of", "eight_bit",
    "EXACT_PER_FRAME", "TWO_STREAM_PARTS", "draw_at_frame_times",
    "MAGIC", "VERSION", "PRELUDE", "CHECKSUM", "BitstreamError", "HeaderError", "Field",
    "HEADER_FIELDS", "TENSOR_FIELDS", "DIMENSION", "CONFIG_TYPES", "MAX_BITS",
    "MAX_CODE_LENGTH", "MAX_FRAMES", "MAX_SIDE", "MAX_PIXELS", "MAX_NUMBER", "MAX_STAGES",
    "MAX_TENSORS", "MAX_DIMS", "MAX_NAME",
]
# fmt: on

# %% [markdown]
# First what the file must reproduce: every tensor the file keeps, quantized (the stored
# part's weights with `quantize_best`, the per-frame tensors beside them), and the frames the
# quantized model draws. `decode` must give exactly these frames.


# %%
#| export bitstream
def quantize_model(
    model: nn.Module, embeddings=None, weight_bits: int = 8, embed_bits: int = 6
) -> dict[str, Quantized]:
    """Every tensor the file keeps, quantized: the stored part's state_dict (weights at
    weight_bits; learned features such as lesson 11's grids at embed_bits), plus the kind's
    per-frame tensors ("embeddings" at embed_bits, RC-HNeRV's "lowres" exactly at 8 bits).
    Prune masks must be made permanent first."""
    kind = MODEL_KINDS[kind_of(model)]  # kind_of checks masks
    parts = {
        name: quantize_best(x, embed_bits if kind.is_feature(name) else weight_bits)
        for name, x in kind.stored(model).state_dict().items()
    }
    for name, x in zip(kind.per_frame, _per_frame(kind, model, embeddings)):
        exact = EXACT_PER_FRAME.get(name)
        parts[name] = exact(x) if exact is not None else quantize_best(x, embed_bits)
    return parts


def _load(kind: ModelKind, config, parts: dict[str, Quantized], device="cpu"):
    """The stored part rebuilt from config with the dequantized weights, and the per-frame
    tensors (None, one tensor, or a tuple), on `device` (dequantized on the CPU first, so
    every device starts from the same numbers)."""
    network = kind.build(config)
    weights = {n: q.dequantize() for n, q in parts.items() if n not in kind.per_frame}
    network.load_state_dict(weights)
    per_frame = tuple(parts[name].dequantize().to(device) for name in kind.per_frame)
    return network.to(device).eval(), _unpack(per_frame)


@torch.no_grad()
def render(kind: ModelKind, network, embeddings, frames: int, chunk: int = 8) -> torch.Tensor:
    """All T frames the stored part draws, T x 3 x H x W float32 in [0, 1]. Clamped as
    `train.reconstruct` does: the two-stream and RC-HNeRV sums can leave [0, 1] (the
    reference code scores them unclamped; a stored frame is 8-bit, so we clamp)."""
    network.eval()
    indices = torch.arange(frames, device=next(network.parameters()).device)
    parts = [kind.render(network, embeddings, part, frames) for part in indices.split(chunk)]
    return torch.cat(parts).clamp(0, 1)


def quantized_frames(
    model, embeddings=None, frames=None, weight_bits=8, embed_bits=6, device="cpu"
):
    """The frames the quantized model draws, without any file: what decode must give
    (drawn on `device`: compare with decode on the same device, bit for bit)."""
    name = kind_of(model)
    kind = MODEL_KINDS[name]
    frames = _check_inputs(kind, model, embeddings, frames)
    parts = quantize_model(model, embeddings, weight_bits, embed_bits)
    config = kind.config_from(json.loads(json.dumps(asdict(model.config))))  # as decode
    network, dequantized = _load(kind, config, parts, device)
    return render(kind, network, dequantized, frames)


# %% [markdown]
# The file itself: `pack` lays out prelude, header, payload and CRC32; `encode` quantizes the
# stored part, codes every symbol with one Huffman table and writes the header that says how
# to read the payload back; `read_header` checks a file (`_check_prelude` for damage,
# `_check_header` for a header that lies: see below) and returns its header and payload.


# %%
#| export bitstream
def pack(header: dict, payload: bytes) -> bytes:
    """The file for a header and a payload: prelude (magic, version, header and payload
    lengths), JSON header, payload, CRC32. `encode` ends with it; with `read_header` it edits
    a file (as this lesson does to test decode)."""
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    body = PRELUDE.pack(MAGIC, VERSION, len(header_bytes), len(payload)) + header_bytes + payload
    return body + CHECKSUM.pack(zlib.crc32(body))


def encode(
    model: nn.Module, embeddings=None, frames: int | None = None, weight_bits=8, embed_bits=6
) -> bytes:
    """The file for this model: NeRV needs frames=T; HNeRV needs its (T, d, h, w) embeddings;
    RC-HNeRV the pair its encode gives, (embeddings, lowres). Refuses (ValueError) a model
    that its stored config would not rebuild (see kind_of), and any file decode would refuse."""
    name = kind_of(model)
    kind = MODEL_KINDS[name]
    frames = _check_inputs(kind, model, embeddings, frames)
    parts = quantize_model(model, embeddings, weight_bits, embed_bits)
    symbols = [s for q in parts.values() for s in q.symbols.flatten().tolist()]
    lengths = huffman_lengths(symbols)
    stats_bytes = b"".join(
        torch.cat([q.minimum.flatten(), q.scale.flatten()])
        .numpy()
        .astype(_stats_dtype(q.axis))
        .tobytes()
        for q in parts.values()
    )
    payload = stats_bytes + huffman_encode(symbols, lengths)
    height, width = kind.frame_size(model.config)
    header = {
        "kind": name,
        "config": asdict(model.config),
        "frames": frames,
        "height": height,
        "width": width,
        "tensors": [
            {"name": n, "shape": list(q.symbols.shape), "bits": q.bits, "axis": q.axis}
            for n, q in parts.items()
        ],
        "stats_bytes": len(stats_bytes),
        "huffman_lengths": [[symbol, length] for symbol, length in sorted(lengths.items())],
    }
    data = pack(header, payload)
    _check_model(read_header(data)[0])  # write only what decode reads: its checks, on this file
    return data


def read_header(data: bytes) -> tuple[dict, bytes]:
    """(header, payload) of a file, after checking length, magic, version and checksum, and
    then the header itself (_check_header): all it says of itself and of the payload."""
    header_size = _check_prelude(data)  # a BitstreamError that says what is damaged
    header = _parse_header(bytes(data[PRELUDE.size : PRELUDE.size + header_size]))
    payload = bytes(data[PRELUDE.size + header_size : len(data) - CHECKSUM.size])
    _check_header(header, len(payload))
    return header, payload


# %% [markdown]
# ### A decoder that trusts nothing
#
# The CRC proves that the bytes are the ones written, not that what they say is true: anyone
# can edit a header and recompute the CRC, and a header that lies would reach torch, which
# allocates what it is told (10^9 frames) or fails with a message about reshapes. So the
# decoder checks, before it allocates or decodes anything, each header field against a table
# of types and ranges (none missing, none unknown); that the Huffman table is a complete
# prefix code (its Kraft sum, the sum of 2^-length over the codes, is exactly 1); that the
# payload can hold the tensors listed (each symbol costs at least one bit). Then it builds the
# model the config describes on the meta device (shapes only, no memory) and compares its
# tensors' names and shapes with the header's. Each refusal is a `HeaderError` (a
# `BitstreamError`) that names the field, what it holds and what is allowed. These checks
# are plumbing, written by hand in `nerv_lessons/_bitstream_checks.py`; the damaged and lying
# files below show each at work.
#
# `decode_model` reads the payload back as `encode` wrote it, checking it as it reads (every
# symbol within its tensor's bits, every scale > 0), and loads the weights into the part the
# header describes. Last, a safety net: should an error slip past the checks, it still comes
# out as a `BitstreamError` that says so.


# %%
#| export bitstream
def _read_parts(header: dict, payload: bytes) -> dict[str, Quantized]:
    """Every tensor's symbols and statistics from a checked header's payload, checked as
    they are read: the codes hold exactly the symbols of the shapes, each symbol fits its
    tensor's bits, each min is finite and each scale finite and > 0."""
    stats, codes = payload[: header["stats_bytes"]], payload[header["stats_bytes"] :]
    lengths = {symbol: length for symbol, length in header["huffman_lengths"]}
    with _safety_net("Huffman decoding"):
        symbols = huffman_decode(codes, lengths)
    _check_codes(header, symbols, lengths, len(codes))
    symbols = torch.tensor(symbols)
    parts, used_bytes, used_symbols = {}, 0, 0
    for index, entry in enumerate(header["tensors"]):
        count, stat_shape, dtype = _numbers(entry), _stats_shape(entry), _stats_dtype(entry["axis"])
        end = used_bytes + _stats_size(entry)
        values = torch.from_numpy(np.frombuffer(stats[used_bytes:end], dtype).astype("<f4"))
        pairs = len(values) // 2
        minimum, scale = values[:pairs].reshape(stat_shape), values[pairs:].reshape(stat_shape)
        part = symbols[used_symbols : used_symbols + count].reshape(entry["shape"])
        _check_part(f"tensors[{index}]", entry, part, minimum, scale)
        parts[entry["name"]] = Quantized(part, minimum, scale, entry["bits"], entry["axis"])
        used_bytes, used_symbols = end, used_symbols + count
    return parts


def decode_model(data: bytes, device="cpu") -> tuple[str, nn.Module, object, int]:
    """(kind name, stored part with dequantized weights, per-frame tensors (None, the
    embeddings, or RC-HNeRV's (embeddings, lowres)), frame count), all on `device`. Each
    check comes before the work it guards; a malformed file raises a BitstreamError."""
    header, payload = read_header(data)  # the file, and what its header says of itself
    kind, config, network = _check_model(header)  # the model it describes, on meta
    parts = _read_parts(header, payload)  # the symbols and statistics
    with _safety_net("loading the weights"):
        network, per_frame = _assign(kind, config, network, parts)
    network = network.to(device).eval()  # outside the net: a device's errors are its own
    per_frame = tuple(x.to(device) for x in per_frame)
    return header["kind"], network, _unpack(per_frame), header["frames"]


def decode(data: bytes, device="cpu") -> torch.Tensor:
    """The T x 3 x H x W frames a file holds, drawn on `device` (a GPU draws them far faster;
    a file decodes to the same weights everywhere, the frames may differ in the last bits)."""
    name, network, embeddings, frames = decode_model(data, device)
    with _safety_net("drawing the frames"):
        return render(MODEL_KINDS[name], network, embeddings, frames)


# %% [markdown]
# Write the 10 %-pruned model (the paper's choice) to a file, read it back, and check the two
# promises: the decoded weights are exactly the dequantized weights, and the decoded frames are
# exactly what the quantized model draws. Bits per pixel counts the whole file.
#
# Embeddings use 6 bits, as the official HNeRV README and the later papers do (the HNeRV text
# says 8): the embeddings are a small part of the file and lose little at 6 bits (see the
# sweep below). The decoder weights use 8 bits, as everywhere in the papers.

# %%
from nerv_lessons.bitstream import (
    decode,
    decode_model,
    encode,
    quantize_model,
    quantized_frames,
    read_header,
)

chosen = pruned[0.1][0].cpu()
chosen_embeddings = embed_frames(chosen, video.cpu())
data = encode(chosen, chosen_embeddings, weight_bits=8, embed_bits=6)
kind, network, decoded_embeddings, stored_frames = decode_model(data)
parts = quantize_model(chosen, chosen_embeddings, 8, 6)
exact_weights = all(
    torch.equal(network.state_dict()[name], q.dequantize())
    for name, q in parts.items()
    if name != "embeddings"
)
exact_embeddings = torch.equal(decoded_embeddings, parts["embeddings"].dequantize())
decoded = decode(data, device)  # frames drawn on the lesson's device, compared on the same
exact_frames = torch.equal(decoded, quantized_frames(chosen, chosen_embeddings, device=device))
file_bpp = bits_per_pixel(len(data), frames, height, width)
file_psnr = psnr(decoded, video).mean().item()
print(
    f"{kind}: {len(data)} bytes for {stored_frames} frames "
    f"-> {file_bpp:.4f} bpp, {file_psnr:.2f} dB"
)
print(f"bit-exact: weights {exact_weights}, embeddings {exact_embeddings}, frames {exact_frames}")

# %% [markdown]
# Every kind of damage is caught, with a message that says what is wrong:

# %%
damaged = {
    "truncated": data[:-10],
    "one byte flipped": data[:200] + bytes([data[200] ^ 0xFF]) + data[201:],
    "wrong magic": b"NOTNERV!" + data[8:],
    "newer version": data[:8] + (99).to_bytes(2, "little") + data[10:],
}
for what, bad in damaged.items():
    try:
        decode(bad)
        print(f"{what}: decoded (this should not happen)")
    except ValueError as error:
        print(f"{what}: {type(error).__name__}: {error}")

# %% [markdown]
# And files that are intact but lie: the header edited, the CRC recomputed by `pack`. The
# old decoder tried to allocate 10^9 frames, or failed deep in torch; this one refuses each
# before any work, and names the field. The activation is a name looked up in a fixed table
# (`nerv.ACTIVATIONS`), never code that runs.

# %%
from nerv_lessons.bitstream import BitstreamError, pack

header, payload = read_header(data)


def lying(change) -> bytes:
    edited = copy.deepcopy(header)
    change(edited)
    return pack(edited, payload)


lies = {
    "10^9 frames": lambda h: h.update(frames=10**9),
    "c2 one wider": lambda h: h["config"].update(fc_dim=h["config"]["fc_dim"] + 1),
    "an activation that is code": lambda h: h["config"].update(activation="__import__('os')"),
    "200-bit codes": lambda h: h.update(
        huffman_lengths=[[s, 200] for s, _ in h["huffman_lengths"]]
    ),
    "64-bit symbols": lambda h: h["tensors"][0].update(bits=64),
}
for what, change in lies.items():
    try:
        decode(lying(change))
        print(f"{what}: decoded (this should not happen)")
    except BitstreamError as error:
        print(f"{what}: {type(error).__name__}: {error}")

# %%
from nerv_lessons.bitstream import kind_of
from nerv_lessons.residual import res_hnerv

variant = res_hnerv(chosen.config)  # untrained: only its kind and round trip matter here
variant_embeddings = embed_frames(variant, video.cpu())
variant_file = encode(variant, variant_embeddings)
same = torch.equal(
    decode(variant_file, device), quantized_frames(variant, variant_embeddings, device=device)
)
print(f"res_hnerv(config): kind {kind_of(variant)!r}, {len(variant_file)} bytes, bit-exact {same}")
swapped = copy.deepcopy(chosen)
swapped.decoder.head = torch.nn.Conv2d(swapped.decoder.head.in_channels, 3, 5, padding=2)
try:
    encode(swapped, chosen_embeddings)
except ValueError as error:
    print(f"an HNeRV with a 5x5 head swapped in: ValueError: {error}")

# %% [markdown]
# Lesson 06's RC-HNeRV has a file of its own: decoder, embeddings and the 8-bit
# low-resolution frames. Its seed-0 model from lesson 06's table (same budget and recipe,
# from the cache) is written here, so its bpp is measured from its file, low-resolution
# frames included, beside the HNeRV file above.

# %%
from nerv_lessons.residual import RC_HNERV_VS_HNERV, lowres_bpp, representation_size

rc_model = fit(RC_HNERV_VS_HNERV, "RC-HNeRV", scale, 0, device, video)[0].model
with torch.no_grad():
    rc_stored = tuple(part.cpu() for part in rc_model.cpu().encode(video.cpu()))
rc_file = encode(rc_model, rc_stored)
rc_decoded = decode(rc_file, device)
rc_exact = torch.equal(rc_decoded, quantized_frames(rc_model, rc_stored, device=device))
print(
    f"rc_hnerv: {representation_size(rc_model, frames) / 1e6:.4f}M numbers, {len(rc_file)} "
    f"bytes -> {bits_per_pixel(len(rc_file), frames, height, width):.4f} bpp "
    f"(the low-res frames' 8 bits alone: {lowres_bpp(height, width):.4f} bpp), "
    f"{psnr(rc_decoded, video).mean().item():.2f} dB, bit-exact {rc_exact}"
)

# %% [markdown]
# ### Quality against bits, from real files
#
# Each point is an encoded file: its PSNR from the decoded frames, its bpp from its length.
# The sweep runs first and prints nothing (it also writes the 10 %-pruned model with 6-bit
# weights, for a prediction): its numbers come after the prediction.

# %%
weight_sweep = {}
for bits in (4, 5, 6, 7, 8):
    blob = encode(chosen, chosen_embeddings, weight_bits=bits, embed_bits=8)
    weight_sweep[bits] = (
        bits_per_pixel(len(blob), frames, height, width),
        psnr(decode(blob, device), video).mean().item(),
    )
embed_sweep = {}
for bits in (4, 5, 6, 7, 8):
    blob = encode(chosen, chosen_embeddings, weight_bits=8, embed_bits=bits)
    embed_sweep[bits] = (
        bits_per_pixel(len(blob), frames, height, width),
        psnr(decode(blob, device), video).mean().item(),
    )
six_bit_file = encode(chosen, chosen_embeddings, weight_bits=6, embed_bits=6)
file_sizes = {8: len(data), 6: len(six_bit_file)}  # bytes, weights at 8 or 6 bits

# %% [markdown]
# ### Predict: 6-bit weights instead of 8
#
# The file written above (`data`) holds 8-bit weights and 6-bit embeddings. The same model
# with 6-bit weights (the embeddings still at 6 bits): what fraction of the 8-bit file's size
# is its file? Set `predicted_ratio` before you read on. Think of what two bits fewer do to
# fixed-length codes, to Huffman's codes (which follow how often each symbol occurs), to the
# header with its table of code lengths, and to what does not change.

# %%
### BEGIN SOLUTION
# Fixed-length codes would give 6/8 = 0.75. Huffman spends about 7.3 bits on an 8-bit weight
# (it saves some 8 %); a grid 4 times coarser costs about 2 bits less a symbol, and the code
# table shrinks with the symbols: a little below 0.75.
predicted_ratio = 0.72
### END SOLUTION

# %%
# Check: says right or wrong, and why.
with exercise("predicted_ratio"):
    measured = file_sizes[6] / file_sizes[8]
    if abs(predicted_ratio - measured) > 0.05:
        why = (
            "each weight does cost fewer bits on a coarser grid: fewer levels, fewer distinct "
            "symbols, and shorter codes for them"
            if predicted_ratio > measured
            else "two bits fewer cut the number of levels by 4, but not the bits per symbol: "
            "Huffman's code for each symbol shortens by about a bit per bit removed"
        )
        wrong(f"you predicted {predicted_ratio:.2f}, the files measure {measured:.3f}: {why}")
    right(
        f"predicted {predicted_ratio:.2f}, measured {measured:.3f} "
        f"({file_sizes[8]} -> {file_sizes[6]} bytes). Fixed-length codes would "
        "give 0.75; Huffman's codes track how often the symbols occur, about a bit shorter for "
        "each bit removed, and the code table shrinks with the number of symbols"
    )

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, sweep, what in zip(
    axes, (weight_sweep, embed_sweep), ("weight bits (embeddings 8)", "embedding bits (weights 8)")
):
    ax.plot([sweep[b][0] for b in sweep], [sweep[b][1] for b in sweep], "o-")
    for b, (x, y) in sweep.items():
        ax.annotate(str(b), (x, y), fontsize=8)
    ax.axhline(pruned[0.1][2], color="gray", lw=0.8, label="float32 model")
    ax.set(xlabel="bpp (whole file)", ylabel="PSNR (dB)", title=what)
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()
for bits in embed_sweep:
    print(
        f"embeddings at {bits} bits: {embed_sweep[bits][1]:.2f} dB, {embed_sweep[bits][0]:.4f} bpp"
    )

# %% [markdown]
# Fewer embedding bits need not give a smaller file. All symbols, the weights' and the
# embeddings', share one Huffman table, as in HNeRV's code, so changing the embeddings' bits
# changes the codes of the weights too. The payload split by owner, under the shared table:

# %%
from nerv_lessons.compress import huffman_lengths

for bits in (4, 6, 8):
    parts = quantize_model(chosen, chosen_embeddings, 8, bits)
    lengths = huffman_lengths([s for q in parts.values() for s in q.symbols.flatten().tolist()])
    owners = {
        "weights": [
            s for n, q in parts.items() if n != "embeddings" for s in q.symbols.flatten().tolist()
        ],
        "embeddings": parts["embeddings"].symbols.flatten().tolist(),
    }
    coded = {who: sum(lengths[s] for s in part) / 8 for who, part in owners.items()}
    stats = sum((4 if q.axis is None else 2) * q.statistics() for q in parts.values())
    print(
        f"embeddings at {bits} bits: weights {coded['weights']:.0f} B, embeddings "
        f"{coded['embeddings']:.0f} B, min/scale {stats} B, {len(lengths)} table entries"
    )

# %% [markdown]
# Under the shared table, 8-bit embeddings give the smallest file: going down to 4 bits the
# weights' codes grow, while the embeddings' own codes do not even shrink against 8 bits
# (against 6 bits they do, by more than the weights grow). The table is fitted to all
# symbols together: 4-bit embeddings crowd their
# symbols into 0-15, which then get shorter codes, and the weights' symbols longer ones.
# Separate tables would avoid this, at the cost of a second table in the file.

# %% [markdown]
# ### Our bits against the papers' bits
#
# HNeRV's code computes bpp as the Huffman bits of all symbols plus 16 bits per stored
# min/scale value, over T * H * W: it counts no header and no Huffman table, and counts
# every min/scale as 16 bits (its per-axis ones are float16, as ours; we keep a per-tensor
# pair in 32). Our bpp is the file's length. The two differ most at small scales, where the
# header is a large share of a small file.

# %% [markdown]
# ### Exercise: bpp the papers' way
#
# Write `paper_bpp(data, model, embeddings)`: from a file's header (`read_header`) and the
# same quantization (`quantize_model`), count only the Huffman payload bits (`huffman_bits`
# over all symbols with the header's code lengths) plus 16 bits per min/scale value, divided
# by T * H * W.

# %%
from nerv_lessons.bitstream import quantize_model, read_header
from nerv_lessons.compress import huffman_bits


def paper_bpp(data, model, embeddings, weight_bits=8, embed_bits=6):
    ### BEGIN SOLUTION
    header, _ = read_header(data)
    parts = quantize_model(model, embeddings, weight_bits, embed_bits)
    symbols = [s for q in parts.values() for s in q.symbols.flatten().tolist()]
    lengths = {symbol: length for symbol, length in header["huffman_lengths"]}
    stat_values = sum(q.statistics() for q in parts.values())
    bits = huffman_bits(symbols, lengths) + 16 * stat_values
    return bits / (header["frames"] * header["height"] * header["width"])
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("paper_bpp"):
    from nerv_lessons.bitstream import read_header

    header, payload = read_header(data)
    pixels = header["frames"] * header["height"] * header["width"]
    coded_bits = 8 * (len(payload) - header["stats_bytes"])  # the Huffman codes, whole bytes
    stat_values = sum(
        2 * (1 if e["axis"] is None else math.prod(e["shape"]) // e["shape"][e["axis"]])
        for e in header["tensors"]
    )
    expected = (coded_bits + 16 * stat_values) / pixels
    whole = 8 * len(data) / pixels
    got = paper_bpp(data, chosen, chosen_embeddings)
    # The codes are padded to whole bytes after the end marker: allow two bytes of slack.
    if abs(got - expected) * pixels > 16:
        wrong(
            f"paper_bpp gives {got:.5f} bpp, expected {expected:.5f} (the whole file is "
            f"{whole:.5f}): the papers count two things only, each at its own price per "
            "number; check which parts of the file your count includes"
        )
    right(
        f"the papers' accounting gives {got:.4f} bpp, the whole file {whole:.4f} bpp "
        f"({1 - got / whole:.0%} of the file is the header with its table, the extra 16 bits "
        "of each per-tensor min/scale, the checksum and padding)"
    )


# %%
header, payload = read_header(data)
huffman_bytes = len(payload) - header["stats_bytes"]
layout = {
    "prelude + JSON header (config, shapes, code lengths)": len(data) - len(payload) - 4,
    "min/scale values (float32 per tensor, float16 per axis)": header["stats_bytes"],
    "Huffman-coded symbols": huffman_bytes,
    "CRC32": 4,
}
for what, size in layout.items():
    print(f"{what:55s} {size:7d} B  {size / len(data):6.1%}")

# %% [markdown]
# ## 5. Real codecs: H.264 and H.265 through ffmpeg
#
# The `codecs` module pipes raw RGB frames (rgb24) into ffmpeg, encodes them with libx264 or
# libx265 at a given CRF (preset pinned to `medium`, the paper's decoding benchmark preset),
# keeps the raw .264/.265 stream (no container, so the size is the codec's own bits, less the
# encoder's options text, which decoders ignore), decodes
# it back to RGB and measures PSNR and MS-SSIM with the course's metrics. The ffmpeg binary is
# imageio-ffmpeg's (it ships libx264 and libx265) or else the system's.
#
# The pixel format matters. Codecs work in YUV; yuv420p keeps the colour (chroma) planes at
# half the width and half the height, which is what real video uses, yuv444p keeps them whole.
# Converting RGB to yuv420p and back, with no compression at all, already costs PSNR, and
# more at small sizes, where colour edges are a larger share of the pixels.

# %%
#| export codecs
"""Real codecs for comparison: H.264 (libx264) and H.265 (libx265) through ffmpeg, and BD-rate.

    frames (T, 3, H, W) -> rgb24 -> ffmpeg -> raw .264/.265 bytes -> ffmpeg -> rgb24 -> frames

Sizes are the real files' lengths; quality uses the course's metrics on RGB frames.
`bd_rate` is the Bjontegaard delta rate between two rate-distortion curves.
Introduced in lesson 08 (notebooks/08_compression.ipynb).
"""

import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from nerv_lessons.data import check_frames
from nerv_lessons.metrics import bits_per_pixel, ms_ssim, psnr

# name -> (ffmpeg encoder, raw stream format, file suffix)
CODECS = {"h264": ("libx264", "h264", ".264"), "h265": ("libx265", "hevc", ".265")}
PRESET = "medium"  # pinned: presets trade encode time for size
# Scored by PSNR, so tuned for it: "-tune psnr" turns off the psycho-visual options (x264's
# psy-rd and adaptive quantization, x265's psy-rd/psy-rdoq) that spend bits on looks, not MSE.
TUNE = "psnr"
FRAME_RATE = 25  # pinned: rate control depends a little on the frame rate
PIXEL_FORMATS = ("yuv420p", "yuv444p")


# %% [markdown]
# Then the plumbing (folded: click to show): which ffmpeg binary to use (imageio-ffmpeg's,
# else the system's, checked for the encoder), running it, and `ffmpeg_decode_seconds`,
# which times ffmpeg's decoding for `benchmarks/decode_speed.py`.


# %% cellView="form" jupyter={"source_hidden": true}
#| export codecs
def ffmpeg_candidates() -> list[str]:
    """The ffmpeg binaries to try, in order: imageio-ffmpeg's, then the system's (PATH)."""
    found = []
    try:
        import imageio_ffmpeg

        found.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    system = shutil.which("ffmpeg")
    if system is not None and system not in found:
        found.append(system)
    return found


def find_ffmpeg(path: str | os.PathLike | None = None) -> str:
    """The ffmpeg binary: `path` if given, else imageio-ffmpeg's, else the system's."""
    if path is not None:
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(f"no executable ffmpeg at {path}: check the path")
        return str(path)
    found = ffmpeg_candidates()
    if not found:
        raise FileNotFoundError(
            "no ffmpeg found: `pip install imageio-ffmpeg` (it ships ffmpeg with libx264 and "
            "libx265) or install ffmpeg on the system"
        )
    return found[0]


@functools.lru_cache(maxsize=16)
def _encoders(ffmpeg: str) -> str:
    try:
        result = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise RuntimeError(f"cannot run {ffmpeg} ({error}): is it an ffmpeg binary?") from error
    return result.stdout


def check_encoder(codec: str, ffmpeg: str | None = None) -> str:
    """The ffmpeg binary that has the encoder for `codec` ("h264" or "h265"): `ffmpeg` if
    given, else the first of imageio-ffmpeg's and the system's that has it."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}: choose one of {', '.join(CODECS)}")
    tried = [find_ffmpeg(ffmpeg)] if ffmpeg is not None else ffmpeg_candidates()
    if not tried:
        find_ffmpeg()  # raises the "no ffmpeg found" error
    encoder = CODECS[codec][0]
    for binary in tried:
        if re.search(rf"\s{encoder}\s", _encoders(binary)):
            return binary
    raise RuntimeError(
        f"{' and '.join(tried)} {'has' if len(tried) == 1 else 'have'} no {encoder} encoder "
        f"(needed for {codec}): install imageio-ffmpeg, whose ffmpeg has it, or an ffmpeg "
        "built with it, and pass its path as ffmpeg="
    )


def _run(command: list[str], stdin: bytes | None = None) -> bytes:
    result = subprocess.run(command, input=stdin, capture_output=True)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()[-500:]
        raise RuntimeError(f"ffmpeg failed ({' '.join(command[:6])} ...): {message}")
    return result.stdout


def ffmpeg_decode_seconds(
    data: bytes, codec: str, threads: int = 1, loops: int = 1, ffmpeg=None
) -> float:
    """ffmpeg's own time to decode a stream `loops` times over (`-benchmark` rtime, process
    start excluded), as the HNeRV paper's `ffmpeg -threads N -i video -f null -benchmark -`.
    A raw stream repeated is a longer valid stream: loop a short clip, since rtime has
    millisecond resolution."""
    ffmpeg = find_ffmpeg(ffmpeg)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"video{CODECS[codec][2]}"
        path.write_bytes(data * loops)
        command = [ffmpeg, "-hide_banner", "-benchmark", "-threads", str(threads)]
        command += ["-f", CODECS[codec][1], "-i", str(path)]
        command += ["-f", "null", "-"]
        result = subprocess.run(command, capture_output=True, text=True)
    found = re.search(r"rtime=([0-9.]+)s", result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(f"ffmpeg decoding failed: {result.stderr.strip()[-300:]}")
    return float(found.group(1))


# %% [markdown]
# The codec itself: frames to rgb24 bytes, through ffmpeg to a raw H.264/H.265 stream at a
# CRF, and back; `codec_point` measures one file.


# %%
#| export codecs
def to_rgb24(frames: torch.Tensor) -> bytes:
    """T x 3 x H x W floats in [0, 1] -> the bytes of T frames of H x W x RGB, 8 bits each."""
    check_frames(frames)
    pixels = (frames.detach().cpu().float() * 255).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).contiguous().numpy().tobytes()


def encode_video(
    frames: torch.Tensor,
    codec: str = "h264",
    crf: int | None = 28,
    pix_fmt: str = "yuv420p",
    preset: str = PRESET,
    ffmpeg: str | None = None,
) -> bytes:
    """The raw H.264/H.265 stream of the frames at this CRF (crf=None: lossless YUV)."""
    ffmpeg = check_encoder(codec, ffmpeg)
    if pix_fmt not in PIXEL_FORMATS:
        raise ValueError(f"unknown pixel format {pix_fmt!r}: choose one of {PIXEL_FORMATS}")
    height, width = frames.shape[-2:]
    if height % 2 or width % 2:
        raise ValueError(f"{height}x{width}: yuv420p needs even frame sizes; crop a row/column")
    encoder, muxer, suffix = CODECS[codec]
    if crf is None:  # lossless: only the RGB <-> YUV conversion changes the pixels
        quality = ["-qp", "0"] if codec == "h264" else []
        x265 = "lossless=1:log-level=error"
    else:
        quality, x265 = ["-crf", str(crf)], "log-level=error"
    # Both encoders write their options as text into the stream (an SEI message the decoder
    # ignores: ~0.7 kB for x264, ~2.3 kB for x265), a large share of a small clip's file.
    # We leave it out: x265's info=0, and a filter that drops x264's SEI units (type 6).
    if codec == "h265":
        quality += ["-x265-params", f"{x265}:info=0"]
    else:
        quality += ["-bsf:v", "filter_units=remove_types=6"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"video{suffix}"
        command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "rawvideo"]
        command += ["-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(FRAME_RATE)]
        command += ["-i", "-", "-c:v", encoder, "-preset", preset, "-tune", TUNE]
        command += ["-pix_fmt", pix_fmt]
        _run([*command, *quality, "-f", muxer, "-y", str(path)], stdin=to_rgb24(frames))
        return path.read_bytes()


def decode_video(
    data: bytes, codec: str, height: int, width: int, ffmpeg: str | None = None, threads: int = 0
) -> torch.Tensor:
    """A raw H.264/H.265 stream -> T x 3 x H x W float32 frames in [0, 1] (via rgb24)."""
    ffmpeg = find_ffmpeg(ffmpeg)
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}: choose one of {', '.join(CODECS)}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"video{CODECS[codec][2]}"
        path.write_bytes(data)
        command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-threads", str(threads)]
        command += [
            "-f",
            CODECS[codec][1],
            "-i",
            str(path),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ]
        raw = _run(command)
    frame_bytes = height * width * 3
    if len(raw) == 0 or len(raw) % frame_bytes:
        raise RuntimeError(f"ffmpeg gave {len(raw)} bytes, not whole {height}x{width} RGB frames")
    pixels = torch.from_numpy(np.frombuffer(raw, np.uint8).copy()).view(-1, height, width, 3)
    return pixels.permute(0, 3, 1, 2).float() / 255


def codec_point(
    frames: torch.Tensor, codec: str, crf: int | None, pix_fmt: str = "yuv420p", ffmpeg=None
) -> dict:
    """Encode, decode and measure: {codec, crf, pix_fmt, bytes, bpp, psnr, ms_ssim}."""
    data = encode_video(frames, codec, crf, pix_fmt, ffmpeg=ffmpeg)
    height, width = frames.shape[-2:]
    decoded = decode_video(data, codec, height, width, ffmpeg)
    if len(decoded) != len(frames):
        raise RuntimeError(f"{codec} decoded {len(decoded)} frames of {len(frames)}")
    reference = frames.detach().cpu().float()
    return {
        "codec": codec,
        "crf": crf,
        "pix_fmt": pix_fmt,
        "bytes": len(data),
        "bpp": bits_per_pixel(len(data), len(frames), height, width),
        "psnr": psnr(decoded, reference).mean().item(),
        "ms_ssim": ms_ssim(decoded, reference).mean().item(),
    }


def colour_ceiling(frames: torch.Tensor, pix_fmt: str = "yuv420p", ffmpeg=None) -> float:
    """PSNR of RGB -> pix_fmt -> RGB with lossless coding: the best any CRF can reach."""
    return codec_point(frames, "h264", None, pix_fmt, ffmpeg)["psnr"]


# %% [markdown]
# First the ceilings that the colour format alone sets, at this scale's frame size:

# %%
from nerv_lessons.codecs import codec_point, colour_ceiling, find_ffmpeg

print(f"ffmpeg: {find_ffmpeg()}")
clip = video.cpu()
ceilings = {fmt: colour_ceiling(clip, fmt) for fmt in ("yuv420p", "yuv444p")}
for fmt, value in ceilings.items():
    print(f"RGB -> {fmt} -> RGB, lossless coding, {height}x{width}: {value:.2f} dB")

# %% [markdown]
# No CRF can take a 4:2:0 file above its ceiling. We sweep both formats with both codecs:

# %%
crfs = [18, 24, 30, 36, 42, 48]
codec_curves = {}
for codec in ("h264", "h265"):
    for fmt in ("yuv420p", "yuv444p"):
        codec_curves[codec, fmt] = [codec_point(clip, codec, crf, fmt) for crf in crfs]
        points = ", ".join(f"{p['bpp']:.3f}/{p['psnr']:.1f}" for p in codec_curves[codec, fmt])
        print(f"{codec} {fmt} (bpp/dB at CRF {crfs}): {points}")

# %% [markdown]
# Where does the cap bite? Against our model's PSNR, and at both ends of the sweep:

# %%
print(
    f"4:2:0 ceiling {ceilings['yuv420p']:.2f} dB; our HNeRV {base_psnr:.2f} dB, "
    f"{ceilings['yuv420p'] - base_psnr:.1f} dB below it"
)
for codec in ("h264", "h265"):
    for end in (0, -1):  # the best and the worst quality of the sweep
        a, b = codec_curves[codec, "yuv420p"][end], codec_curves[codec, "yuv444p"][end]
        print(
            f"{codec} CRF {a['crf']}: 4:2:0 {a['bpp']:.3f} bpp {a['psnr']:.2f} dB | "
            f"4:4:4 {b['bpp']:.3f} bpp {b['psnr']:.2f} dB"
        )

# %% [markdown]
# At quick scale our models sit far below the 4:2:0 ceiling, and at the low-quality end of
# the sweep the two formats differ by fractions of a dB, in either direction:
# there the choice barely matters. The cap shows at the high-quality end, where 4:2:0 falls
# behind 4:4:4. We use **yuv444p** for the comparison and BD-rates below (one line uses the
# 4:2:0 anchor), because our networks are scored on full-resolution RGB, and a 4:4:4 codec is
# held back only by its coding, at every quality. (The papers compare on YUV 4:2:0 sources,
# where the subsampling is already in the original.)

# %% [markdown]
# ## 6. Rate-distortion and BD-rate
#
# Two curves are compared by the Bjontegaard delta rate (BD-rate), as the Res-NeRV paper
# reports it: fit log(rate) as a cubic in PSNR for each curve, integrate both over the PSNR
# range they share, and turn the mean gap back into a rate ratio. -10 % means the test curve
# needs 10 % fewer bits than the anchor for the same quality, on average over that range.
# `method="piecewise"` joins the measured points with straight lines instead of fitting a
# cubic: the same integral, with nothing fitted between the points.


# %% [markdown]
# ### Exercise: BD-rate through straight lines
#
# Write `bd_rate_by_lines(anchor_rates, anchor_psnr, test_rates, test_psnr)`, the piecewise
# BD-rate in percent: each curve is log(rate) against PSNR, its points (sorted by PSNR) joined
# by straight lines (`np.interp` draws them); take the mean gap, test minus anchor, over the
# PSNR range both curves cover (the mean over a fine, even grid of PSNR values is close
# enough); turn that mean log gap back into a rate ratio, and the ratio into percent. The
# check begins with a known pair: a curve whose rates are all 0.8 times the anchor's.


# %%
def bd_rate_by_lines(anchor_rates, anchor_psnr, test_rates, test_psnr) -> float:
    """Piecewise-linear BD-rate of the test curve against the anchor, in percent."""
    ### BEGIN SOLUTION
    curves = []
    for rates, quality in ((anchor_rates, anchor_psnr), (test_rates, test_psnr)):
        order = np.argsort(quality)
        curves.append((np.asarray(quality, float)[order], np.log(np.asarray(rates, float))[order]))
    low = max(quality[0] for quality, _ in curves)
    high = min(quality[-1] for quality, _ in curves)
    grid = np.linspace(low, high, 2001)
    anchor, test = (np.interp(grid, quality, logs) for quality, logs in curves)
    return float((np.exp(np.mean(test - anchor)) - 1) * 100)
    ### END SOLUTION


# %%
# Check: says right or wrong, and why.
with exercise("bd_rate_by_lines"):
    from nerv_lessons.codecs import bd_rate

    rates, psnrs = [0.05, 0.1, 0.2, 0.4, 0.8], [28.0, 31.0, 33.5, 35.5, 37.0]
    other = ([0.07, 0.09, 0.26, 0.5, 1.1], [29.0, 30.5, 34.8, 36.1, 38.5])
    cases = {  # what, (anchor rates, anchor PSNR, test rates, test PSNR), expected BD-rate
        "rates 0.8 times the anchor's": ((rates, psnrs, [0.8 * r for r in rates], psnrs), -20.0),
        "rates 1.25 times the anchor's": ((rates, psnrs, [1.25 * r for r in rates], psnrs), 25.0),
        "0.8 times, and one more test point at 0.01 bpp, 20 dB": (
            (rates, psnrs, [0.01] + [0.8 * r for r in rates], [20.0, *psnrs]),
            -20.0,
        ),
        "two curves of other shapes": (
            (rates, psnrs, *other),
            bd_rate(rates, psnrs, *other, method="piecewise"),
        ),
    }
    for what, (curves, expected) in cases.items():
        try:
            got = float(bd_rate_by_lines(*curves))
        except (NotImplementedError, NameError):
            raise
        except Exception as error:  # a broken answer is a wrong one: say what broke
            wrong(f"{what}: bd_rate_by_lines raised {type(error).__name__}: {error}")
        if abs(got - expected) > 0.1:
            hints = {
                "rates 0.8 times the anchor's": "a test curve that needs 0.8 times the anchor's "
                "bits at every quality saves 20 %: BD-rate is in percent, negative when the test "
                "needs fewer bits",
                "rates 1.25 times the anchor's": "a test curve that needs a quarter more bits at "
                "every quality costs 25 % more, whichever curve is the anchor",
                "0.8 times, and one more test point at 0.01 bpp, 20 dB": "the new point lies below "
                "the anchor's lowest PSNR, where there is nothing to compare: only the range both "
                "curves cover counts",
                "two curves of other shapes": "a fixed ratio is the same in rate and in log rate, "
                "but these curves differ by different ratios at different PSNRs: which mean "
                "turns back into one ratio?",
            }
            wrong(f"{what}: got {got:+.2f} %, expected {expected:+.2f} %. {hints[what]}")
    right(
        f"{cases['two curves of other shapes'][1]:+.2f} % on the last pair, as the package's "
        "bd_rate(..., method='piecewise'); the mean of log(rate) over the shared PSNR range is "
        "what turns a whole curve into one rate ratio"
    )


# %%
#| export codecs
BD_METHODS = {"cubic": 4, "piecewise": 2}  # method -> the fewest points a curve needs


def bd_rate(anchor_rates, anchor_quality, test_rates, test_quality, method="cubic") -> float:
    """Bjontegaard delta rate of the test curve against the anchor, in percent: the mean
    difference of log(rate) over the quality range both cover (PSNR in dB, or MS-SSIM).
    method "cubic": each curve a cubic fit of log(rate) against quality (Bjontegaard's, the
    papers'; 4 or more points); "piecewise": straight lines between the measured points
    (no fit, so it cannot swing between them; 2 or more points)."""
    if method not in BD_METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(BD_METHODS)}")
    curves, lows, highs = [], [], []
    for name, rates, quality in (
        ("anchor", anchor_rates, anchor_quality),
        ("test", test_rates, test_quality),
    ):
        rates, quality = np.asarray(rates, float), np.asarray(quality, float)
        if rates.ndim != 1 or rates.shape != quality.shape:
            raise ValueError(f"{name}: rates and quality must be two equal-length lists")
        if len(rates) < BD_METHODS[method]:
            raise ValueError(
                f"{name}: the {method} method needs at least {BD_METHODS[method]} points, "
                f"got {len(rates)}"
            )
        if (rates <= 0).any() or len(np.unique(quality)) < len(quality):
            raise ValueError(f"{name}: rates must be > 0 and quality values distinct")
        order = np.argsort(quality)
        if (np.diff(rates[order]) <= 0).any():
            # A curve that dips has no single rate for a quality: no meaningful BD-rate.
            raise ValueError(f"{name}: quality must rise with rate along the curve")
        curves.append((quality[order], np.log(rates[order])))
        lows.append(quality.min())
        highs.append(quality.max())
    low, high = max(lows), min(highs)
    if low >= high:
        raise ValueError(
            f"the curves share no quality range (anchor {lows[0]:.3f}-{highs[0]:.3f}, "
            f"test {lows[1]:.3f}-{highs[1]:.3f}): BD-rate is undefined"
        )
    area = [_log_rate_area(quality, logs, low, high, method) for quality, logs in curves]
    return float((np.exp((area[1] - area[0]) / (high - low)) - 1) * 100)


def _log_rate_area(quality, log_rates, low, high, method) -> float:
    """The integral of log(rate) over quality from low to high, for one sorted curve."""
    if method == "cubic":
        fit = np.polyint(np.polyfit(quality, log_rates, 3))
        return np.polyval(fit, high) - np.polyval(fit, low)
    inside = quality[(quality > low) & (quality < high)]
    knots = np.concatenate([[low], inside, [high]])
    values = np.interp(knots, quality, log_rates)  # exact: the function is linear in between
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(knots)))


# %% [markdown]
# HNeRV against its NeRV (lesson 04's `BaselineNeRV`, the NeRV of HNeRV's tables) at four
# real sizes, three seeds each, trained with HNeRV's recipe (HNeRV's code trains its NeRV
# baseline so), written to files with 8-bit weights and 6-bit embeddings (no pruning, as
# the HNeRV code), decoded and measured. The experiment is data, like every table of the
# course; `file_points` turns its trained rows into files. The HNeRV paper draws this
# comparison on UVG (its Fig. 6, values not in the text), so the paper's column stays empty
# and its claim is the order.

# %%
#| export rate_distortion
"""Rate-distortion from real files: an experiment's rows trained over seeds (through the
experiments cache), each written to a file by `bitstream.encode`, read back by `decode` and
scored on the clip. bpp is the file's length over T * H * W; ppp the model's size over the
same pixels.

    points = file_points(HNERV_RATE_DISTORTION, scale, seeds=3, device=device)
    curve_of(points, "hnerv")                       # one mean point per row, sorted by bpp
    seed_bd_rates(points, "baseline_nerv", "hnerv")   # HNeRV's BD-rate against NeRV, per seed

Introduced in lesson 08 (notebooks/08_compression.ipynb).
"""

import csv
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from nerv_lessons.bitstream import decode, encode
from nerv_lessons.codecs import bd_rate
from nerv_lessons.experiments import Experiment, Row, clip_for, experiment_named, fit, register
from nerv_lessons.hnerv import embed_frames
from nerv_lessons.metrics import bits_per_pixel, ms_ssim, params_per_pixel, psnr

# Multiples of the scale's budget. HNeRV's widths have a floor of 12 channels, which makes
# sizes under 0.75x all about the same model; these four are four real sizes at every scale.
SIZES = (0.75, 1.0, 1.5, 2.0)
FAMILIES = {"HNeRV": "hnerv", "NeRV": "baseline_nerv"}

HNERV_RATE_DISTORTION = register(
    Experiment(
        "hnerv-rate-distortion",
        "HNeRV (CVPR 2023)",
        "Fig. 6, compression: HNeRV vs NeRV at four sizes (on UVG there, values not in the text)",
        "hnerv",
        rows=tuple(
            Row(f"{name} {size:g}x", model, size=size)
            for name, model in FAMILIES.items()
            for size in SIZES
        ),
        claims=tuple((f"HNeRV {size:g}x", f"NeRV {size:g}x") for size in SIZES),
    )
)


def to_file(model: nn.Module, video: torch.Tensor, weight_bits=8, embed_bits=6) -> bytes:
    """The model as a file: a model with an encoder (HNeRV) keeps each frame's embedding,
    one without (NeRV) keeps only the number of frames."""
    model = model.cpu()
    if hasattr(model, "encode"):
        stored = embed_frames(model, video.cpu())
        return encode(model, stored, weight_bits=weight_bits, embed_bits=embed_bits)
    return encode(model, frames=len(video), weight_bits=weight_bits)


def file_points(
    experiment: Experiment | str,
    scale,
    seeds: int | Sequence[int] = 3,
    device="cpu",
    video: torch.Tensor | None = None,
    weight_bits: int = 8,
    embed_bits: int = 6,
) -> list[dict]:
    """One point per (row, seed): the trained model (`fit`, so from the cache after `run`)
    written to a file and decoded. Keys: row, model, seed, params, ppp, bytes, bpp, psnr,
    ms_ssim (of the decoded frames) and trained_psnr (of the float model)."""
    experiment = experiment_named(experiment)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    video = clip_for(scale, device, video)
    frames, _, height, width = video.shape
    points = []
    for row in experiment.rows:
        for seed in seeds:
            setup, record = fit(experiment, row.label, scale, seed, device, video)
            data = to_file(setup.model, video, weight_bits, embed_bits)
            decoded = decode(data, device)
            points.append(
                dict(
                    row=row.label,
                    model=row.model,
                    seed=seed,
                    params=setup.params,
                    ppp=params_per_pixel(setup.params, frames, height, width),
                    bytes=len(data),
                    bpp=bits_per_pixel(len(data), frames, height, width),
                    psnr=psnr(decoded, video).mean().item(),
                    ms_ssim=ms_ssim(decoded, video).mean().item(),
                    trained_psnr=record["psnr"].mean().item(),
                )
            )
    return points


def curve_of(points: list[dict], model: str, seed: int | None = None) -> list[dict]:
    """One family's rate-distortion curve, sorted by bpp: a seed's own points, or (seed None)
    per row the mean over seeds of bpp, psnr and ms_ssim."""
    chosen = [p for p in points if p["model"] == model and seed in (None, p["seed"])]
    if not chosen:
        raise ValueError(f"no points for model {model!r} (seed {seed}) among the points given")
    by_row: dict[str, list[dict]] = {}
    for point in chosen:
        by_row.setdefault(point["row"], []).append(point)
    curve = [
        {"row": row}
        | {k: sum(p[k] for p in group) / len(group) for k in ("bpp", "psnr", "ms_ssim")}
        for row, group in by_row.items()
    ]
    return sorted(curve, key=lambda point: point["bpp"])


def curve_bd_rate(anchor: list[dict], test: list[dict], metric="psnr", method="cubic") -> float:
    """`codecs.bd_rate` of two curves of points (dicts with bpp and the metric)."""
    return bd_rate(
        [p["bpp"] for p in anchor],
        [p[metric] for p in anchor],
        [p["bpp"] for p in test],
        [p[metric] for p in test],
        method,
    )


def seed_bd_rates(points: list[dict], anchor: str, test: str, metric="psnr", method="cubic"):
    """The test family's BD-rate against the anchor's, one per seed (each seed's own two
    curves): {seed: a number in percent, or the reason `bd_rate` refused that seed}."""
    rates = {}
    for seed in sorted({p["seed"] for p in points}):
        try:
            curves = (curve_of(points, anchor, seed), curve_of(points, test, seed))
            rates[seed] = curve_bd_rate(*curves, metric, method)
        except ValueError as error:
            rates[seed] = str(error)
    return rates


# %% [markdown]
# The points are saved as CSV for lesson 10 (folded: `save_points` and `load_points`).


# %% cellView="form" jupyter={"source_hidden": true}
#| export rate_distortion
def save_points(points: list[dict], path: str | Path) -> Path:
    """The points as CSV, one file a line (readable by pandas and by eye)."""
    path = Path(path)
    if not points:
        raise ValueError("no points to save")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, list(points[0]))
        writer.writeheader()
        writer.writerows(
            {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in p.items()} for p in points
        )
    return path


TEXT_COLUMNS, INTEGER_COLUMNS = ("row", "model"), ("seed", "params", "bytes")


def load_points(path: str | Path) -> list[dict]:
    """The points `save_points` wrote, numbers as numbers."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no points at {path}: run `nerv-lessons files NAME` first")
    with path.open(newline="") as file:
        lines = list(csv.DictReader(file))
    number = {**dict.fromkeys(INTEGER_COLUMNS, int), **dict.fromkeys(TEXT_COLUMNS, str)}
    return [{k: number.get(k, float)(v) for k, v in line.items()} for line in lines]


# %% [markdown]
# `run` trains the rows (or reads them from the cache: the 1x rows are lesson 04's) and
# prints the float models' table; `file_points` then writes every seed's model to a file.

# %%
from nerv_lessons.metrics import ms_ssim_window
from nerv_lessons.rate_distortion import (
    FAMILIES,
    HNERV_RATE_DISTORTION,
    curve_bd_rate,
    curve_of,
    file_points,
    load_points,
    save_points,
    seed_bd_rates,
)

for row in HNERV_RATE_DISTORTION.rows:
    print(f"{row.label:10} model {row.model:13} size {row.size:g} x {scale.model_params}M")
rd_table = run(HNERV_RATE_DISTORTION, scale, seeds=3, device=device)
rd_table.show()
rd_table.save(results_folder(scale))
points = file_points(HNERV_RATE_DISTORTION, scale, seeds=3, device=device)
saved = save_points(points, results_folder(scale) / "hnerv-rate-distortion-files.csv")
print(f"{len(load_points(saved))} file points saved to {saved.name} (lesson 10 reads them)")
print(f"MS-SSIM: five scales with a {ms_ssim_window(height, width)}-pixel Gaussian window")

# %% [markdown]
# The floor of a rate-distortion table is a file too: the mean frame, coded once as a
# single H.264 frame (CRF 18, 4:4:4) and shown for every frame. Then each row's files: real
# size and ppp, bpp from the files, the bits each parameter costs (bpp / ppp), and the
# decoded PSNR (mean +- std over the seeds) beside the float model's.

# %%
from nerv_lessons.codecs import decode_video, encode_video

mean_image = clip.mean(0, keepdim=True)
floor_file = encode_video(mean_image, "h264", 18, "yuv444p")
floor_frames = decode_video(floor_file, "h264", height, width).expand_as(clip)
floor_point = {
    "row": "floor: mean frame",
    "bpp": bits_per_pixel(len(floor_file), frames, height, width),
    "psnr": psnr(floor_frames, clip).mean().item(),
    "ms_ssim": ms_ssim(floor_frames, clip).mean().item(),
}
print(f"{'row':18} {'params':>7} {'ppp':>6} {'bpp':>6} {'bits/param':>10} {'file PSNR':>14} float")
print(
    f"{floor_point['row']:18} {'-':>7} {'-':>6} {floor_point['bpp']:6.3f} {'-':>10} "
    f"{floor_point['psnr']:14.2f}"
)
file_rows = {}
for row in HNERV_RATE_DISTORTION.rows:
    group = [p for p in points if p["row"] == row.label]
    file_rows[row.label] = seed_row([p["psnr"] for p in group])
    bpp = sum(p["bpp"] for p in group) / len(group)
    line = file_rows[row.label]
    print(
        f"{row.label:18} {group[0]['params']:7,d} {group[0]['ppp']:6.3f} {bpp:6.3f} "
        f"{bpp / group[0]['ppp']:10.2f} {line['psnr_mean']:8.2f} +- {line['psnr_std']:.2f} "
        f"{rd_table[row.label]['psnr_mean']:.2f}"
    )
for better, worse in HNERV_RATE_DISTORTION.claims:
    result, gap, noise = verdict(file_rows[better], file_rows[worse])
    print(f"files: {better} > {worse}: gap {gap:+.2f} dB, noise {noise:.2f} -> {result}")

# %% [markdown]
# The curves, mean over the seeds, beside the codecs' and the floor's file:

# %%
inr_curves = {name: curve_of(points, model) for name, model in FAMILIES.items()}
codec_lines = {f"{codec} {fmt}": curve for (codec, fmt), curve in codec_curves.items()}
curves = inr_curves | codec_lines
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for name, curve in curves.items():
    style = "o-" if name in inr_curves else ("s--" if "444" in name else "x:")
    for ax, metric in zip(axes, ("psnr", "ms_ssim")):
        ax.plot([p["bpp"] for p in curve], [p[metric] for p in curve], style, label=name, ms=4)
for ax, metric, label in zip(axes, ("psnr", "ms_ssim"), ("PSNR (dB)", "MS-SSIM")):
    ax.plot(floor_point["bpp"], floor_point[metric], "k*", ms=9, label="floor: mean frame")
    ax.set(xscale="log", xlabel="bpp (whole file)", ylabel=label)
axes[0].axhline(ceilings["yuv420p"], color="gray", lw=0.6)
fig.suptitle(
    f"ours: {scale.name} scale, {height}x{width}, {frames} frames, {scale.epochs} epochs, "
    f"{device}, seeds {seeds} (mean)\npaper: HNeRV's Fig. 6 draws this on UVG",
    fontsize=8,
)
axes[1].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# BD-rates, two ways: Bjontegaard's cubic fit (the papers') and straight lines between the
# measured points (`method="piecewise"`, no fit). On smooth codec curves the two agree; on
# a curve that is nearly flat, as short trainings give, the cubic can swing far from the
# points, and where the two disagree the fit made the number. First HNeRV against NeRV,
# once per seed (each seed's own curves), for a verdict computed from the seeds:

# %%
per_seed = seed_bd_rates(points, "baseline_nerv", "hnerv", method="piecewise")
for seed, value in per_seed.items():
    shown = f"{value:+.1f} %" if isinstance(value, float) else f"undefined ({value})"
    print(f"seed {seed}: HNeRV vs NeRV, piecewise PSNR BD-rate {shown}")
numbers = [value for value in per_seed.values() if isinstance(value, float)]
if len(numbers) >= 3:  # fewer bits is better: judge the saving, -BD-rate, against zero
    saving = seed_row([-value for value in numbers], "saving")
    result, gap, noise = verdict(saving, seed_row([0.0] * len(numbers), "saving"), "saving")
    print(
        f"paper: HNeRV needs fewer bits than NeRV | ours: BD-rate {-gap:+.1f} % over "
        f"{len(numbers)} seeds, noise {noise:.1f} -> {result}"
    )
else:
    steps = [
        (a["row"], b["row"], b["psnr_mean"] - a["psnr_mean"], b["psnr_std"])
        for a, b in zip(rd_table.rows[1:5], rd_table.rows[2:5])
    ]
    print(f"{len(per_seed) - len(numbers)} of {len(per_seed)} seeds' HNeRV curves dip")
    for smaller, larger, gain, spread in steps:
        print(f"  {smaller} -> {larger}: {gain:+.2f} dB on average, seed spread {spread:.2f}")


def shared_range(a, b, metric="psnr"):
    low = max(min(p[metric] for p in a), min(p[metric] for p in b))
    return low, min(max(p[metric] for p in a), max(p[metric] for p in b))


print("mean curves (test vs anchor): cubic | piecewise, over the shared range")
for anchor, test in [
    ("h264 yuv444p", "h265 yuv444p"),
    ("NeRV", "HNeRV"),
    ("h264 yuv444p", "HNeRV"),
    ("h265 yuv444p", "HNeRV"),
    ("h264 yuv420p", "HNeRV"),
    ("h264 yuv444p", "NeRV"),
]:
    for metric in ("psnr", "ms_ssim"):
        try:
            cubic, piecewise = (
                curve_bd_rate(curves[anchor], curves[test], metric, method)
                for method in ("cubic", "piecewise")
            )
            low, high = shared_range(curves[anchor], curves[test], metric)
            agree = cubic * piecewise > 0 and 0.5 < (100 + cubic) / (100 + piecewise) < 2
            text = f"{cubic:+8.1f} % | {piecewise:+8.1f} % (over {low:.3f}-{high:.3f})"
            text += "" if agree else "  <- they disagree: the cubic fit made its number"
        except ValueError as error:
            text = f"undefined ({error})"
        print(f"{test:12} vs {anchor:12} {metric:7}: {text}")

# %% [markdown]
# Why the INRs spend so many more bits than the codecs here: a model's file is its
# parameters, so bpp = ppp x bits per parameter, and at quick scale each pixel carries far
# more parameters than in the papers. The papers' HNeRV 1.5M on 132 frames of 640x1280:

# %%
paper_ppp = 1.5e6 / (132 * 640 * 1280)
ours = next(p for p in points if p["row"] == "HNeRV 1x" and p["seed"] == 0)
bits_per_param = ours["bpp"] / ours["ppp"]
print(
    f"ours: HNeRV 1x {ours['ppp']:.4f} ppp x {bits_per_param:.2f} bits per parameter = "
    f"{ours['bpp']:.3f} bpp at {ours['psnr']:.2f} dB"
)
print(
    f"paper: HNeRV 1.5M {paper_ppp:.4f} ppp, {ours['ppp'] / paper_ppp:.0f} times fewer per "
    f"pixel; at our bits per parameter that is {paper_ppp * bits_per_param:.3f} bpp"
)

# %% [markdown]
# How to read these numbers:
#
# - Every trained row beats the floor's PSNR, but the floor's file is tiny: a model whose
#   file is larger and whose PSNR is lower than a codec's has not compressed anything yet.
# - HNeRV against NeRV, the paper's comparison, is judged at each size from the seeds (the
#   `files:` lines): from 1x up HNeRV's files are a little smaller than NeRV's, and its
#   mean PSNR is higher at every size; whether the seeds back that at each size, the verdict
#   on each line says. The per-seed BD-rate mostly cannot be computed, and the printed steps say
#   why:
#   above 1x, each larger HNeRV gains less in 80 epochs than its seeds spread, so a seed's
#   curve dips. The mean curves do rise, and their BD-rate is printed both ways.
# - Where cubic and piecewise disagree (marked), the cubic fit through a nearly flat curve
#   swung between the points; the piecewise number is what the measured points say. On the
#   codecs' smooth curves the two agree.
# - At quick scale the INRs lose to H.264 and H.265 by a wide margin. The cell above
#   measures why: bpp = ppp x bits per parameter, our models spend about 18 times more
#   parameters per pixel than the papers' Bunny model, and each parameter costs about 8
#   bits in both, so our bpp is that much higher for a model of the same kind. Lesson 10
#   runs this table at a scale with more frames per parameter.
# - H.265 against H.264 is printed above too; on this small clip its gain is small in PSNR,
#   larger in MS-SSIM.
#
# ### Decoding speed (HNeRV Table 12)
#
# `benchmarks/decode_speed.py` times our decoder (from the file, after loading) against
# ffmpeg's decoding of H.264/H.265 files, on one machine; its `--table12` mode uses the
# paper's 640x1280 frames and an untrained HNeRV 1.5M with r = 1.5 (speed does not depend on
# training). This cell reads the CPU results it wrote (it does not run it) and sets them
# beside the paper's Table 12, which times HNeRV on an RTX 2080 Ti GPU and the codecs on 4
# Xeon threads (folded: the cell parses the benchmark's text report; its output is below).

# %% cellView="form" jupyter={"source_hidden": true}
import re
from pathlib import Path

import nerv_lessons
from nerv_lessons.residual import count_macs

speed_file = Path(nerv_lessons.__file__).resolve().parents[1] / "benchmarks"
speed_file = speed_file / "results" / "decode_speed_cpu.txt"
paper_hnerv = {32: 395.9, 35: 332.7, 37: 224.8}  # Table 12, frames/s, RTX 2080 Ti
text = speed_file.read_text() if speed_file.exists() else ""
blocks = [block for block in text.split("\n\n") if "table 12 set-up" in block]
if not blocks:
    print(f"no --table12 results in {speed_file}: run benchmarks/decode_speed.py --table12")
else:
    block = blocks[-1]  # the latest run
    print(f"{speed_file.name}: {block.splitlines()[0]}")
    hnerv_fps = float(re.search(r"HNeRV decoder\s+([0-9.]+) frames/s", block).group(1))
    print(f"HNeRV 1.5M, 640x1280: ours {hnerv_fps:.2f} frames/s on the CPU; paper on a GPU:")
    for target, paper in paper_hnerv.items():
        print(f"  {target} dB column: {paper} frames/s, {paper / hnerv_fps:.0f} times ours")
    rows = re.findall(
        r"(h26[45]) target (\d+) dB: CRF\s+(\d+)\s+([0-9.]+) dB \| decode\s+([0-9.]+) "
        r"frames/s \(paper, 4 Xeon threads: ([0-9.]+)\)",
        block,
    )
    for codec, target, crf, quality, fps, paper in rows:
        print(
            f"{codec} near {target} dB (CRF {crf}, {quality} dB): ours {float(fps):.0f} "
            f"frames/s, paper {paper}: ours / paper = {float(fps) / float(paper):.1f}"
        )
    with torch.device("meta"):  # count the work without running it
        big = HNeRV(hnerv_budget(1.5, 132, 640, 1280, reduction=1.5)).decoder
        macs = count_macs(big, torch.zeros(1, big.config.embed_dim, *big.config.grid))
    print(
        f"one 640x1280 frame: {macs / 1e9:.1f} G multiply-accumulates in the decoder, so "
        f"{hnerv_fps * macs / 1e9:.0f} GMAC/s on this CPU and "
        f"{paper_hnerv[35] * macs / 1e12:.1f} TMAC/s to run it at the paper's 332.7 frames/s"
    )

# %% [markdown]
# The gap is the hardware, not the file: the decoder is a convolutional network, and its
# speed is the multiply-accumulates per frame (printed) divided by what the processor
# sustains; a GPU sustains far more than a few CPU threads. ffmpeg's decoders run on the CPU
# on both sides, so their rows compare two CPUs (and two ffmpeg builds). On a machine with a
# GPU, `python benchmarks/decode_speed.py --table12 --device cuda` times our decoder the
# paper's way.

# %% [markdown]
# ## Summary
#
# - The idea fits in a few lines: a grid of 2^b levels from a tensor's min to its max (error
#   <= step / 2), and Huffman's code lengths from merging the two rarest groups of symbols;
#   the file stores only the lengths, since the canonical code is rebuilt from them.
# - Prune (sparsity = fraction zeroed), fine-tune, quantize (per tensor or along an axis) and
#   Huffman-code: each step cuts bits; the file holds header, tables and payload with a CRC.
# - The decoder trusts nothing: the CRC catches damage, and a header that lies (checked
#   against a table of fields, the payload, and the model its config builds on the meta
#   device) is refused before any work, with a `HeaderError` that names the field.
# - `encode`/`decode` round-trip bit-exactly; bpp is the file's length, which the papers'
#   accounting (no header, no table, 16-bit min/scale) undercounts. NeRV, HNeRV, HNeRV with
#   residual blocks, RC-HNeRV and the two-stream model are registered kinds; `encode` refuses
#   a model that its stored config would not rebuild. 6-bit weights instead of 8 leave 0.72
#   of the file at quick scale, less than fixed-length codes' 6/8: Huffman's codes follow how
#   often the symbols occur (the prediction above).
# - Rate-distortion from real files (`rate_distortion`): HNeRV's PSNR is above its NeRV's at
#   every size, beyond the noise at some sizes (judged per size over 3 seeds); BD-rate two ways,
#   Bjontegaard's cubic and piecewise,
#   because a cubic through a flat curve makes its own number.
# - Against real H.264/H.265 (`-tune psnr`, yuv444p; 4:2:0 caps PSNR at small sizes)
#   quick-scale INRs lose, by the factor their parameters per pixel explain.
#   `benchmarks/decode_speed.py` times decoding.

# %%
print(f"lesson time: {time.perf_counter() - notebook_start:.0f} s on {device} ({scale.name} scale)")
