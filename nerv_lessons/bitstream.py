# Generated from notebooks/08_compression.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
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
