"""Wrong answers for lesson 08's exercises (tests/test_exercises.py feeds them to the checks)."""

import functools

import numpy as np
import torch

# --- quantize_along: a student's likely mistakes ----------------------------------------------


def _floor(x, bits, axis):  # truncates instead of rounding: errors up to a whole step
    low, high = x.amin(axis, keepdim=True), x.amax(axis, keepdim=True)
    step = (high - low) / (2**bits - 1)
    return torch.floor((x - low) / step).long(), low, step


def _two_to_the_bits(x, bits, axis):  # 2^b steps (NeRV's code): the max lands past the top
    low, high = x.amin(axis, keepdim=True), x.amax(axis, keepdim=True)
    step = (high - low) / 2**bits
    return torch.round((x - low) / step).long(), low, step


def _clamped_two_to_the_bits(x, bits, axis):  # the same, clamped: the top numbers move a step
    symbols, low, step = _two_to_the_bits(x, bits, axis)
    return symbols.clamp(0, 2**bits - 1), low, step


def _no_keepdim(x, bits, axis):  # the reduced axis dropped: low no longer broadcasts
    low, high = x.amin(axis), x.amax(axis)
    step = (high - low) / (2**bits - 1)
    return torch.round((x - low) / step).long(), low, step


def _whole_tensor(x, bits, axis):  # one grid for everything, whatever the axis
    low, high = x.min().reshape(1, 1), x.max().reshape(1, 1)
    step = (high - low) / (2**bits - 1)
    return torch.round((x - low) / step).long(), low, step


# --- codes_from_lengths -----------------------------------------------------------------------


def _no_zeros_appended(lengths):  # counts up, but never appends zeros when the length grows
    codes, code = {}, 0
    for symbol, length in sorted(lengths.items(), key=lambda item: (item[1], item[0])):
        codes[symbol] = format(code, f"0{length}b")
        code += 1
    return codes


def _ties_backwards(lengths):  # a prefix code, but equal lengths taken in reverse symbol order
    codes, code, previous = {}, 0, 0
    for symbol, length in sorted(lengths.items(), key=lambda item: (item[1], -item[0])):
        code <<= length - previous
        codes[symbol] = format(code, f"0{length}b")
        code, previous = code + 1, length
    return codes


def _starts_at_one(lengths):  # the first code is 1, not all zeros
    codes, code, previous = {}, 1, 0
    for symbol, length in sorted(lengths.items(), key=lambda item: (item[1], item[0])):
        code <<= length - previous
        codes[symbol] = format(code, f"0{length}b")
        code, previous = code + 1, length
    return codes


# --- paper_bpp --------------------------------------------------------------------------------


def _pixels(data):
    from nerv_lessons.bitstream import read_header

    header, _ = read_header(data)
    return header["frames"] * header["height"] * header["width"]


def _paper_bpp(stat_bits, data, model, embeddings, weight_bits=8, embed_bits=6):
    from nerv_lessons.bitstream import quantize_model, read_header
    from nerv_lessons.compress import huffman_bits

    header, _ = read_header(data)
    parts = quantize_model(model, embeddings, weight_bits, embed_bits)
    symbols = [s for q in parts.values() for s in q.symbols.flatten().tolist()]
    lengths = dict(header["huffman_lengths"])
    stats = sum(q.statistics() for q in parts.values())
    return (huffman_bits(symbols, lengths) + stat_bits * stats) / _pixels(data)


# --- bd_rate_by_lines -------------------------------------------------------------------------


def _curves(anchor_rates, anchor_psnr, test_rates, test_psnr):
    curves = []
    for rates, quality in ((anchor_rates, anchor_psnr), (test_rates, test_psnr)):
        order = np.argsort(quality)
        curves.append((np.asarray(quality, float)[order], np.asarray(rates, float)[order]))
    return curves


def _bd(anchor_rates, anchor_psnr, test_rates, test_psnr, *, logs=True, shared=True, sign=1):
    curves = _curves(anchor_rates, anchor_psnr, test_rates, test_psnr)
    pick = (max, min) if shared else (min, max)
    low = pick[0](quality[0] for quality, _ in curves)
    high = pick[1](quality[-1] for quality, _ in curves)
    grid = np.linspace(low, high, 2001)
    if logs:
        anchor, test = (np.interp(grid, q, np.log(r)) for q, r in curves)
        return float((np.exp(sign * np.mean(test - anchor)) - 1) * 100)
    anchor, test = (np.interp(grid, q, r) for q, r in curves)  # mean rates, not log rates
    return float((np.mean(test) / np.mean(anchor) - 1) * 100)


def _bd_fraction(*curves):  # the ratio minus one, not in percent
    return _bd(*curves) / 100


ANSWERS = {
    "quantize_along": [
        {"quantize_along": _floor},
        {"quantize_along": _two_to_the_bits},
        {"quantize_along": _clamped_two_to_the_bits},
        {"quantize_along": _no_keepdim},
        {"quantize_along": _whole_tensor},
    ],
    "codes_from_lengths": [
        {"codes_from_lengths": _no_zeros_appended},
        {"codes_from_lengths": _ties_backwards},
        {"codes_from_lengths": _starts_at_one},
    ],
    "predicted_ratio": [
        {"predicted_ratio": 1.0},  # "Huffman adapts, so the bits per symbol do not matter"
        {"predicted_ratio": 0.5},
        {"predicted_ratio": 0.25},  # the fraction of the bits removed, not what is left
    ],
    "paper_bpp": [
        {"paper_bpp": lambda data, model, embeddings, *bits: 8 * len(data) / _pixels(data)},
        {"paper_bpp": functools.partial(_paper_bpp, 32)},  # min/scale counted as float32
        {"paper_bpp": functools.partial(_paper_bpp, 0)},  # min/scale not counted
    ],
    "bd_rate_by_lines": [
        {"bd_rate_by_lines": functools.partial(_bd, logs=False)},
        {"bd_rate_by_lines": functools.partial(_bd, shared=False)},
        {"bd_rate_by_lines": functools.partial(_bd, sign=-1)},  # anchor minus test
        {"bd_rate_by_lines": _bd_fraction},
    ],
}


@functools.cache
def _hnerv_file():
    """A tiny untrained HNeRV, its embeddings of four random frames, and its file."""
    from nerv_lessons.bitstream import encode
    from nerv_lessons.hnerv import HNeRV, HNeRVConfig

    torch.manual_seed(0)
    config = HNeRVConfig(
        height=80,
        width=160,
        strides=(5, 2, 2, 2),
        encoder_width=8,
        embed_dim=4,
        fc_dim=12,
        min_width=4,
    )
    model = HNeRV(config)
    with torch.no_grad():
        embeddings = model.encode(torch.rand(4, 3, 80, 160))
    return model, embeddings, encode(model, embeddings, weight_bits=8, embed_bits=6)


def context():
    model, embeddings, data = _hnerv_file()
    return {
        "chosen": model,
        "chosen_embeddings": embeddings,
        "data": data,
        # bytes of the 10 %-pruned model's files at 8 and 6 weight bits, quick scale
        "file_sizes": {8: 50992, 6: 36500},
    }
