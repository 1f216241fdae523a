# Generated from notebooks/08_compression.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""The bitstream: a trained model of the course -> one file -> frames.

    the stored part of the model (MODEL_KINDS) -> quantize (compress.quantize_best)
      -> Huffman-code the symbols (compress.huffman_*) -> prelude, JSON header, payload, CRC32

`encode(model, embeddings)` writes the file and `decode(data)` gives back the frames. The file
holds everything the decoder needs, so bits per pixel is 8 * len(file) / (T * H * W). Each
model kind is an entry of `MODEL_KINDS` (name -> model class, config class, builder), so new
kinds are stored by registering them. Introduced in lesson 08 (notebooks/08_compression.ipynb).
"""

import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from nerv_lessons.compress import (
    Quantized,
    huffman_decode,
    huffman_encode,
    huffman_lengths,
    quantize_best,
)
from nerv_lessons.hnerv import BaselineNeRV, BaselineNeRVConfig, Decoder, HNeRV, HNeRVConfig
from nerv_lessons.nerv import NeRV, NeRVConfig
from nerv_lessons.residual import LOWRES_BITS, RCHNeRV, res_hnerv, upsize
from nerv_lessons.two_stream import TwoStream, TwoStreamConfig


@dataclass(frozen=True)
class ModelKind:
    """How to store one kind of model: which part goes in the file, how to rebuild it."""

    model_class: type  # the trained model's class: how encode recognizes the kind
    config_class: type  # its config dataclass: the header stores asdict(config)
    stored: Callable[[nn.Module], nn.Module]  # model -> the part the file keeps
    build: Callable  # config -> an empty stored part, for decode
    render: Callable  # (stored part, per-frame tensors, frame indices, T) -> frames
    # What the file keeps per frame besides the network: () for NeRV, ("embeddings",) for
    # HNeRV; render gets that one tensor, or a tuple of them when there are several.
    per_frame: tuple[str, ...]
    load_config: Callable | None = None  # header dict -> config (None: config_class(**dict))
    frame_size: Callable = lambda config: (config.height, config.width)

    def config_from(self, values: dict):
        """The config a file's header describes."""
        if self.load_config is not None:
            return self.load_config(values)
        return self.config_class(**values)


class StoredParts(nn.Module):
    """Some named parts of a model (what a file keeps) and the model's config."""

    def __init__(self, config, **parts: nn.Module):
        super().__init__()
        self.config = config
        for name, part in parts.items():
            self.add_module(name, part)


def _nerv_render(network, embeddings, indices, frames):
    return network(indices.float() / max(frames - 1, 1))  # frame times, as train.frame_times


def _hnerv_render(decoder, embeddings, indices, frames):
    return decoder(embeddings[indices])


TWO_STREAM_PARTS = ("hf_decoder", "lfd1", "lfd2")  # the encoder is not stored


def _two_stream_parts(model: TwoStream) -> StoredParts:
    return StoredParts(model.config, **{name: getattr(model, name) for name in TWO_STREAM_PARTS})


def _two_stream_render(parts, embeddings, indices, frames):
    times = indices.float() / frames  # as two_stream.frames_and_times: index / T
    return TwoStream.streams(parts, embeddings[indices], times)["frame"]  # parts: same names


def _rc_parts(config: HNeRVConfig, decoder: nn.Module | None = None) -> StoredParts:
    return StoredParts(config, decoder=decoder if decoder is not None else Decoder(config))


def _rc_render(parts, per_frame, indices, frames):
    embeddings, lowres = per_frame  # as RCHNeRV.decode: bicubic base + tanh residual
    config = parts.config
    base = upsize(lowres[indices], config.height, config.width)
    return base + torch.tanh(parts.decoder.raw(embeddings[indices]))


def _two_stream_config(values: dict) -> TwoStreamConfig:
    values = dict(values)
    hf = HNeRVConfig(**values.pop("hf"))
    return TwoStreamConfig(
        hf=hf, lf1=tuple(values.pop("lf1")), lf2=tuple(values.pop("lf2")), **values
    )


MODEL_KINDS: dict[str, ModelKind] = {
    "nerv": ModelKind(NeRV, NeRVConfig, lambda model: model, NeRV, _nerv_render, ()),
    # Lesson 04's NeRV of HNeRV's tables: the whole network too, from the same frame times.
    "baseline_nerv": ModelKind(
        BaselineNeRV, BaselineNeRVConfig, lambda model: model, BaselineNeRV, _nerv_render, ()
    ),
    "hnerv": ModelKind(
        HNeRV, HNeRVConfig, lambda model: model.decoder, Decoder, _hnerv_render, ("embeddings",)
    ),
    # Lesson 06's HNeRV with residual decoder blocks: still an HNeRV, told apart by its weights.
    "res_hnerv": ModelKind(
        HNeRV,
        HNeRVConfig,
        lambda model: model.decoder,
        lambda config: res_hnerv(config).decoder,
        _hnerv_render,
        ("embeddings",),
    ),
    # Lesson 06's RC-HNeRV: the decoder, and per frame its embedding and 8-bit low-res frame.
    "rc_hnerv": ModelKind(
        RCHNeRV,
        HNeRVConfig,
        lambda model: _rc_parts(model.config, model.decoder),
        _rc_parts,
        _rc_render,
        ("embeddings", "lowres"),
    ),
    # Lesson 07's two streams: the HF decoder, both LF decoders and the HF embeddings.
    "two_stream": ModelKind(
        TwoStream,
        TwoStreamConfig,
        _two_stream_parts,
        lambda config: _two_stream_parts(TwoStream(config)),
        _two_stream_render,
        ("embeddings",),
        load_config=_two_stream_config,
        frame_size=lambda config: (config.hf.height, config.hf.width),
    ),
}


def register_kind(name: str, kind: ModelKind) -> None:
    """Make a new model kind storable (a later lesson's variant of NeRV or HNeRV)."""
    if name in MODEL_KINDS:
        raise ValueError(f"model kind {name!r} is already registered")
    MODEL_KINDS[name] = kind


def _rebuild_mismatch(kind: ModelKind, model: nn.Module) -> str | None:
    """None if rebuilding the stored part from the config a file would hold (model.config
    through JSON) gives the same state-dict names and shapes as the model; else what differs."""
    state = kind.stored(model).state_dict()
    masked = [name for name in state if name.endswith("_orig") or name.endswith("_mask")]
    if masked:
        raise ValueError(f"{masked[0]}: the model still holds prune masks; call make_permanent")
    try:
        config = kind.config_from(json.loads(json.dumps(asdict(model.config))))
        with torch.device("meta"):  # shapes only, no memory
            rebuilt = {n: tuple(x.shape) for n, x in kind.build(config).state_dict().items()}
    except (TypeError, ValueError) as error:
        return f"its config does not rebuild ({error})"
    shapes = {name: tuple(x.shape) for name, x in state.items()}
    missing, extra = sorted(set(rebuilt) - set(shapes)), sorted(set(shapes) - set(rebuilt))
    resized = [n for n in sorted(set(shapes) & set(rebuilt)) if shapes[n] != rebuilt[n]]
    if resized:
        return f"{resized[0]} is {shapes[resized[0]]} in the model, {rebuilt[resized[0]]} rebuilt"
    if missing or extra:
        return f"the model lacks {missing[:2]} and has {extra[:2]}, against the rebuilt one"
    return None


def kind_of(model: nn.Module) -> str:
    """The registered name of this model: the first kind of its exact class whose builder,
    given model.config, makes the same weights (names and shapes). Kinds of one class (HNeRV,
    and lesson 06's HNeRV with residual blocks) are told apart so."""
    candidates = [n for n, kind in MODEL_KINDS.items() if type(model) is kind.model_class]
    if not candidates:
        raise ValueError(
            f"no model kind is registered for {type(model).__name__}: registered are "
            f"{', '.join(MODEL_KINDS)}; add one with register_kind"
        )
    problems = {}
    for name in candidates:
        problems[name] = _rebuild_mismatch(MODEL_KINDS[name], model)
        if problems[name] is None:
            return name
    tried = "; ".join(f"as {name!r}: {problem}" for name, problem in problems.items())
    raise ValueError(
        f"this {type(model).__name__} cannot be stored: the file keeps only model.config, and "
        f"rebuilding from it gives other weights ({tried}), so decode would fail. Was the model "
        "changed after it was built (layers swapped)? Register a kind whose build makes this "
        "architecture (register_kind), or build the model so that its config describes it"
    )


def _per_frame(kind: ModelKind, model, embeddings) -> tuple[torch.Tensor, ...]:
    """The per-frame tensors as a tuple in kind.per_frame's order: `embeddings` is None (a
    kind that keeps none), one tensor, or a tuple such as RCHNeRV.encode's (embedding, lowres)."""
    given = () if embeddings is None else embeddings
    given = tuple(given) if isinstance(given, tuple | list) else (given,)
    if len(given) != len(kind.per_frame):
        names = " and ".join(kind.per_frame) or "nothing (embeddings=None)"
        raise ValueError(
            f"{type(model).__name__} keeps {names} per frame, got {len(given)} tensor(s): "
            + ("pass embeddings=None" if not kind.per_frame else "encode(model, embeddings)")
        )
    if any(len(x) != len(given[0]) for x in given):
        raise ValueError(f"the per-frame tensors differ in length: {[len(x) for x in given]}")
    return given


def _check_inputs(kind: ModelKind, model, embeddings, frames) -> int:
    """The frame count, after checking the per-frame tensors (or their absence) fit the kind."""
    given = _per_frame(kind, model, embeddings)
    if not given:
        if frames is None or frames < 1:
            raise ValueError(
                f"{type(model).__name__} stores no embeddings, so the file needs the frame "
                f"count: pass frames=T (got {frames})"
            )
        return int(frames)
    if frames is not None and frames != len(given[0]):
        raise ValueError(f"frames={frames} but there are {len(given[0])} embeddings")
    return len(given[0])


def eight_bit(pixels: torch.Tensor) -> Quantized:
    """Pixels already on the 8-bit grid (RC-HNeRV's low-resolution frames) as symbols
    round(255 x), stored exactly: min 0, scale 1/255."""
    levels = 2**LOWRES_BITS - 1
    symbols = torch.round(pixels.detach().float().cpu() * levels).clamp(0, levels).long()
    ones = [1] * pixels.ndim
    return Quantized(symbols, torch.zeros(ones), torch.full(ones, 1 / levels), LOWRES_BITS, None)


# Per-frame tensors stored exactly by their own rule; any other (embeddings) is quantized.
EXACT_PER_FRAME = {"lowres": eight_bit}


def quantize_model(
    model: nn.Module, embeddings=None, weight_bits: int = 8, embed_bits: int = 6
) -> dict[str, Quantized]:
    """Every tensor the file keeps, quantized: the stored part's state_dict, plus the kind's
    per-frame tensors ("embeddings" at embed_bits, RC-HNeRV's "lowres" exactly at 8 bits).
    Prune masks must be made permanent first."""
    kind = MODEL_KINDS[kind_of(model)]  # kind_of checks masks
    parts = {
        name: quantize_best(x, weight_bits) for name, x in kind.stored(model).state_dict().items()
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
    return network.to(device).eval(), (per_frame[0] if len(per_frame) == 1 else per_frame or None)


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


MAGIC = b"NeRVLsn\x00"  # 8 bytes that say "this is a nerv_lessons file"
# Raise when the layout changes; decoders refuse other versions. 2: per-axis statistics
# reduce along the axis and are float16, as HNeRV's code (version 1 kept one axis, float32).
VERSION = 2
PRELUDE = struct.Struct("<8sHIQ")  # magic, version, header bytes, payload bytes
CHECKSUM = struct.Struct("<I")  # CRC32 of everything before it


class BitstreamError(ValueError):
    """The file is not a valid nerv_lessons bitstream (truncated, corrupt, wrong magic...)."""


def _stats_dtype(axis: int | None) -> str:
    """How a tensor's min/scale values are stored: float32 per tensor, float16 per axis."""
    return "<f4" if axis is None else "<f2"


def encode(
    model: nn.Module, embeddings=None, frames: int | None = None, weight_bits=8, embed_bits=6
) -> bytes:
    """The file for this model: NeRV needs frames=T; HNeRV needs its (T, d, h, w) embeddings;
    RC-HNeRV the pair its encode gives, (embeddings, lowres). Refuses (ValueError) a model
    that its stored config would not rebuild: see kind_of."""
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
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    body = PRELUDE.pack(MAGIC, VERSION, len(header_bytes), len(payload)) + header_bytes + payload
    return body + CHECKSUM.pack(zlib.crc32(body))


def read_header(data: bytes) -> tuple[dict, bytes]:
    """(header, payload) of a file, after checking length, magic, version and checksum."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"decode takes the file's bytes, got {type(data).__name__}")
    if len(data) < PRELUDE.size + CHECKSUM.size:
        raise BitstreamError(f"truncated: {len(data)} bytes is shorter than any valid file")
    magic, version, header_size, payload_size = PRELUDE.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError(f"wrong magic {magic!r} (expected {MAGIC!r}): not a nerv_lessons file")
    if version > VERSION:
        raise BitstreamError(
            f"file format version {version} is newer than this decoder's ({VERSION}): "
            "update nerv_lessons to read it"
        )
    if version < VERSION:
        raise BitstreamError(
            f"file format version {version} is older than this decoder's ({VERSION}), whose "
            "quantization statistics are laid out differently: encode the model again"
        )
    expected = PRELUDE.size + header_size + payload_size + CHECKSUM.size
    if len(data) < expected:
        raise BitstreamError(f"truncated: the file says {expected} bytes, it has {len(data)}")
    if len(data) > expected:
        raise BitstreamError(f"{len(data) - expected} unexpected bytes after the end of the file")
    body, (stored,) = data[: -CHECKSUM.size], CHECKSUM.unpack_from(data, len(data) - CHECKSUM.size)
    if zlib.crc32(body) != stored:
        raise BitstreamError("corrupt: the CRC32 checksum does not match (a changed byte?)")
    header = json.loads(body[PRELUDE.size : PRELUDE.size + header_size])
    return header, bytes(body[PRELUDE.size + header_size :])


def decode_model(data: bytes, device="cpu") -> tuple[str, nn.Module, object, int]:
    """(kind name, stored part with dequantized weights, per-frame tensors (None, the
    embeddings, or RC-HNeRV's (embeddings, lowres)), frame count), all on `device`."""
    header, payload = read_header(data)
    if header["kind"] not in MODEL_KINDS:
        raise BitstreamError(
            f"model kind {header['kind']!r} is not registered here ({', '.join(MODEL_KINDS)})"
        )
    kind = MODEL_KINDS[header["kind"]]
    config = kind.config_from(header["config"])
    lengths = {symbol: length for symbol, length in header["huffman_lengths"]}
    stats, symbols = payload[: header["stats_bytes"]], payload[header["stats_bytes"] :]
    symbols = torch.tensor(huffman_decode(symbols, lengths))
    parts, used_bytes, used_symbols = {}, 0, 0
    for entry in header["tensors"]:
        shape, axis = entry["shape"], entry["axis"]
        count = int(np.prod(shape))
        stat_shape = [1] * len(shape) if axis is None else [*shape[:axis], 1, *shape[axis + 1 :]]
        pairs, dtype = int(np.prod(stat_shape)), np.dtype(_stats_dtype(axis))
        end = used_bytes + 2 * pairs * dtype.itemsize
        values = torch.from_numpy(np.frombuffer(stats[used_bytes:end], dtype).astype("<f4"))
        if len(values) != 2 * pairs:
            raise BitstreamError("the header's tensor shapes do not match the payload")
        minimum, scale = values[:pairs].reshape(stat_shape), values[pairs:].reshape(stat_shape)
        part = symbols[used_symbols : used_symbols + count].reshape(shape)
        parts[entry["name"]] = Quantized(part, minimum, scale, entry["bits"], axis)
        used_bytes, used_symbols = end, used_symbols + count
    if used_symbols != len(symbols) or used_bytes != header["stats_bytes"]:
        raise BitstreamError("the header's tensor shapes do not match the payload")
    network, embeddings = _load(kind, config, parts, device)
    return header["kind"], network, embeddings, header["frames"]


def decode(data: bytes, device="cpu") -> torch.Tensor:
    """The T x 3 x H x W frames a file holds, drawn on `device` (a GPU draws them far faster;
    a file decodes to the same weights everywhere, the frames may differ in the last bits)."""
    name, network, embeddings, frames = decode_model(data, device)
    return render(MODEL_KINDS[name], network, embeddings, frames)
