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
import math
import struct
import zlib
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, is_dataclass
from itertools import chain
from typing import get_args, get_origin, get_type_hints

import numpy as np
import torch
from torch import nn

from nerv_lessons.compress import (
    EOF_SYMBOL,
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


class HeaderError(BitstreamError):
    """The file is intact (its checksum matches) but its header lies: a field is missing,
    unknown, of the wrong type or out of range, or disagrees with the payload or with the
    model its config builds. `field` names it, e.g. "frames", "config.fc_dim" or
    "tensors[3].shape"."""

    def __init__(self, field: str, problem: str):
        super().__init__(field, problem)  # both kept in args, so the error pickles
        self.field = field

    def __str__(self) -> str:
        return f"header field {self.args[0]!r} {self.args[1]}"


def _stats_dtype(axis: int | None) -> str:
    """How a tensor's min/scale values are stored: float32 per tensor, float16 per axis."""
    return "<f4" if axis is None else "<f2"


def pack(header: dict, payload: bytes) -> bytes:
    """The file for a header and a payload: prelude, JSON header, payload, CRC32. `encode`
    ends with it; with `read_header` it edits a file (as this lesson does to test decode)."""
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
    header = _parse_header(bytes(body[PRELUDE.size : PRELUDE.size + header_size]))
    payload = bytes(body[PRELUDE.size + header_size :])
    _check_header(header, len(payload))
    return header, payload


# The payload bounds what a file stores (every symbol costs a bit or more); these bound what
# it may ask for besides (a NeRV draws any number of frames from one network). All are far
# above the course's sizes.
MAX_BITS = 16  # compress.quantize's range: 1 to 16 bits a symbol
MAX_CODE_LENGTH = 64  # a Huffman code this long needs some 10^13 symbols (Fibonacci counts)
MAX_FRAMES = 2**16
MAX_SIDE = 2**13  # frame height and width (8K video is 4320 x 7680)
MAX_PIXELS = 2**31  # frames x height x width: 24 GiB of float32 frames
MAX_NUMBER = 2**16  # any number in a config: widths, strides, levels, rates
MAX_STAGES = 16  # the length of a config's tuple (strides)
MAX_TENSORS, MAX_DIMS, MAX_NAME = 2**12, 8, 256


@dataclass(frozen=True)
class Field:
    """What one header value may be: one of some JSON types and, for a number, a range (for
    a list or a string: a range of lengths). None: no bound on that side."""

    types: tuple[type, ...]
    low: float | None = None
    high: float | None = None

    def admits(self, value) -> bool:
        if not isinstance(value, self.types) or (
            isinstance(value, bool) and bool not in self.types
        ):
            return False  # JSON's true is a Python int; the format never means it as one
        if value is None or isinstance(value, dict):
            return True
        size = len(value) if isinstance(value, list | str) else value
        if isinstance(size, float) and not math.isfinite(size):  # json reads 1e999 as inf
            return False
        return (self.low is None or size >= self.low) and (self.high is None or size <= self.high)

    def check(self, path: str, value) -> None:
        if not self.admits(value):
            raise _holds(path, value, str(self))

    def __str__(self) -> str:
        names = " or ".join("null" if t is type(None) else t.__name__ for t in self.types)
        if self.low is None and self.high is None:
            return names
        bounds = f"{self.low}..{self.high}" if self.high is not None else f">= {self.low}"
        unit = {list: " entries", str: " characters"}.get(self.types[0])
        return f"{names} of {bounds}{unit}" if unit else f"{names} in {bounds}"


HEADER_FIELDS = {
    "kind": Field((str,), 1, 64),
    "config": Field((dict,)),  # checked against the kind's config class: _check_config
    "frames": Field((int,), 1, MAX_FRAMES),
    "height": Field((int,), 1, MAX_SIDE),
    "width": Field((int,), 1, MAX_SIDE),
    "tensors": Field((list,), 1, MAX_TENSORS),
    "stats_bytes": Field((int,), 0),  # and no more than the payload: _check_payload
    "huffman_lengths": Field((list,), 2, 2**MAX_BITS + 1),  # symbols and the end marker
}
TENSOR_FIELDS = {
    "name": Field((str,), 1, MAX_NAME),
    "shape": Field((list,), 0, MAX_DIMS),
    "bits": Field((int,), 1, MAX_BITS),
    "axis": Field((int, type(None)), 0, MAX_DIMS - 1),  # and one of the shape's axes
}
DIMENSION = Field((int,), 1, 2**40)  # one size in a shape (the payload bounds their product)
# A config's fields, by their Python type (a tuple is a JSON list, a nested config an object).
CONFIG_TYPES = {
    int: Field((int,), 0, MAX_NUMBER),
    float: Field((int, float), 0, MAX_NUMBER),
    str: Field((str,), 1, 64),
    bool: Field((bool,)),
}


def _holds(field: str, value, allowed: str) -> HeaderError:
    """The error for a value that is not allowed, cut short: a lying header can be long."""
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return HeaderError(field, f"holds {shown}; allowed: {allowed}")


def _parse_header(text: bytes) -> dict:
    """The header's JSON. Refused besides bad JSON: NaN and Infinity (not JSON, though
    Python's json reads them) and a field given twice (json would keep the last silently)."""

    def refuse_constant(name):
        raise HeaderError("header", f"holds {name}; allowed: finite numbers (JSON has no {name})")

    def unique(pairs):
        seen = set()
        for name, _ in pairs:
            if name in seen:
                raise HeaderError(name, "is given twice; allowed: once")
            seen.add(name)
        return dict(pairs)

    try:
        return json.loads(
            text.decode("utf-8"), parse_constant=refuse_constant, object_pairs_hook=unique
        )
    except HeaderError:
        raise
    except (ValueError, RecursionError) as error:  # bad UTF-8, bad JSON, nesting too deep
        raise HeaderError("header", f"is not UTF-8 JSON ({error})") from error


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_names(path: str, values, names) -> None:
    """values is an object with exactly these fields: none missing, none unknown."""
    where = path or "header"
    if not isinstance(values, dict):
        raise _holds(where, values, f"an object with the fields {', '.join(names)}")
    for name in names:
        if name not in values:
            raise HeaderError(_join(path, name), "is missing; it is required")
    for name, value in values.items():
        if name not in names:
            raise _holds(_join(path, name), value, f"nothing: {where} has no such field")


def _check_fields(path: str, values, table: dict[str, Field]) -> None:
    _check_names(path, values, table)
    for name, field in table.items():
        field.check(_join(path, name), values[name])


def _check_config(path: str, values, config_class) -> None:
    """The header's config against its dataclass: exactly its fields, each of its type
    (CONFIG_TYPES). The config's own checks (strides that divide the frame, a known
    activation, looked up in a table) come when it is built."""
    hints = get_type_hints(config_class)
    names = [field.name for field in fields(config_class)]
    _check_names(path, values, names)
    for name in names:
        _check_config_value(f"{path}.{name}", values[name], hints[name])


def _check_config_value(path: str, value, hint) -> None:
    if is_dataclass(hint):  # a nested config: the two-stream model's HF stream
        _check_config(path, value, hint)
    elif get_origin(hint) is tuple:  # tuple[int, ...]: 1..MAX_STAGES items; tuple[int, int]: 2
        items = get_args(hint)
        any_length = items[-1] is Ellipsis
        low, high = (1, MAX_STAGES) if any_length else (len(items), len(items))
        Field((list,), low, high).check(path, value)
        for index, item in enumerate(value):
            _check_config_value(f"{path}[{index}]", item, items[0 if any_length else index])
    elif hint in CONFIG_TYPES:
        CONFIG_TYPES[hint].check(path, value)
    # Other types are left to the config's own checks when it is built.


def _check_tensors(tensors: list) -> None:
    for index, entry in enumerate(tensors):
        path = f"tensors[{index}]"
        _check_fields(path, entry, TENSOR_FIELDS)
        for dim, size in enumerate(entry["shape"]):
            DIMENSION.check(f"{path}.shape[{dim}]", size)
        if entry["axis"] is not None and entry["axis"] >= len(entry["shape"]):
            allowed = (
                f"null or an axis of its shape {entry['shape']} (0..{len(entry['shape']) - 1})"
            )
            raise _holds(f"{path}.axis", entry["axis"], allowed)


def _huffman_table(entries: list, bits: int) -> dict[int, int]:
    """symbol -> code length, once the table is one that canonical_code builds and
    huffman_decode can trust: [symbol, length] pairs, distinct symbols in 0..2^bits - 1 (the
    most bits a tensor has) or the end marker, lengths 1..MAX_CODE_LENGTH, Kraft sum 1."""
    symbols, lengths = Field((int,), EOF_SYMBOL, 2**bits - 1), {}
    for index, entry in enumerate(entries):
        path = f"huffman_lengths[{index}]"
        if not (isinstance(entry, list) and len(entry) == 2 and all(type(x) is int for x in entry)):
            raise _holds(path, entry, "a [symbol, length] pair of ints")
        symbol, length = entry
        if not symbols.admits(symbol):
            allowed = f"symbols in 0..{2**bits - 1} ({bits} bits, the most a tensor has)"
            raise _holds(path, entry, f"{allowed} or {EOF_SYMBOL} (the end marker)")
        if symbol in lengths:
            raise _holds(path, entry, f"each symbol once ({symbol} is listed twice)")
        if not 1 <= length <= MAX_CODE_LENGTH:
            raise _holds(path, entry, f"code lengths in 1..{MAX_CODE_LENGTH}")
        lengths[symbol] = length
    if EOF_SYMBOL not in lengths:
        raise HeaderError("huffman_lengths", f"has no end marker ({EOF_SYMBOL}); it is required")
    # Huffman's codes are the leaves of a full binary tree: sum(2^-length) is exactly 1.
    # Above 1, two codes overlap (no prefix code); below 1, some bit strings are no code.
    kraft = sum(2 ** (MAX_CODE_LENGTH - length) for length in lengths.values())
    if kraft != 2**MAX_CODE_LENGTH:
        raise HeaderError(
            "huffman_lengths",
            f"has code lengths whose Kraft sum, sum(2^-length), is {kraft / 2**MAX_CODE_LENGTH:.6g}"
            "; allowed: exactly 1 (a complete prefix code)",
        )
    return lengths


def _numbers(entry: dict) -> int:
    return math.prod(entry["shape"])  # Python ints: no overflow, however large the shape


def _stats_shape(entry: dict) -> list[int]:
    """The shape of a tensor's min (and scale): all 1s per tensor; along an axis, the
    tensor's shape with a 1 there."""
    shape, axis = entry["shape"], entry["axis"]
    return [1] * len(shape) if axis is None else [*shape[:axis], 1, *shape[axis + 1 :]]


def _stats_size(entry: dict) -> int:
    """Bytes of a tensor's min and scale values in the payload."""
    return 2 * math.prod(_stats_shape(entry)) * np.dtype(_stats_dtype(entry["axis"])).itemsize


def _check_payload(header: dict, lengths: dict[int, int], payload_size: int) -> None:
    """The payload holds what the header lists: the statistics to the byte, and the
    symbols at one shortest to one longest code each (so a lying shape is refused before
    anything of its size is allocated)."""
    stats_bytes = header["stats_bytes"]
    if stats_bytes > payload_size:
        raise _holds("stats_bytes", stats_bytes, f"at most the payload's {payload_size} bytes")
    code_bytes = payload_size - stats_bytes
    shortest, longest = min(lengths.values()), max(lengths.values())
    numbers = sum(_numbers(entry) for entry in header["tensors"])
    fewest, most = 8 * (code_bytes - 1) // longest + 1, 8 * code_bytes // shortest
    if not fewest <= numbers <= most:
        raise HeaderError(
            "tensors",
            f"lists shapes of {numbers} numbers in all; allowed: {max(fewest, 0)}..{most}, what "
            f"the payload's {code_bytes} bytes of codes ({shortest} to {longest} bits each) hold",
        )
    needed = sum(_stats_size(entry) for entry in header["tensors"])
    if stats_bytes != needed:
        tensors = f"the min/scale bytes of the {len(header['tensors'])} tensors listed"
        raise _holds("stats_bytes", stats_bytes, f"{needed}, {tensors}")


def _check_header(header, payload_size: int) -> None:
    """All the header says of itself and of the payload, before any model is built."""
    _check_fields("", header, HEADER_FIELDS)
    _check_tensors(header["tensors"])
    pixels = header["height"] * header["width"]
    if header["frames"] * pixels > MAX_PIXELS:
        allowed = f"at most {MAX_PIXELS // pixels} frames of {header['height']}x{header['width']}"
        raise _holds("frames", header["frames"], f"{allowed} (MAX_PIXELS decoded pixels)")
    bits = max(entry["bits"] for entry in header["tensors"])
    lengths = _huffman_table(header["huffman_lengths"], bits)
    _check_payload(header, lengths, payload_size)


def _check_model(header: dict) -> tuple[ModelKind, object, nn.Module]:
    """The kind, config and stored part a checked header describes, the part built on the
    meta device (shapes only, no memory: a config that lies allocates nothing), once the
    header's tensors are that part's and its per-frame tensors fit it."""
    name = header["kind"]
    if name not in MODEL_KINDS:
        allowed = (
            f"one of the kinds registered here ({', '.join(MODEL_KINDS)}): it is not registered"
        )
        raise _holds("kind", name, allowed)
    kind = MODEL_KINDS[name]
    _check_config("config", header["config"], kind.config_class)
    try:
        config = kind.config_from(header["config"])
        with torch.device("meta"):
            network = kind.build(config)
    except Exception as error:  # the config's own checks, or whatever a builder trips on
        raise HeaderError("config", f"does not build a {name!r} model: {error}") from error
    shapes = {n: list(x.shape) for n, x in network.state_dict().items()}
    _check_tensor_list(header["tensors"], shapes, kind.per_frame)
    _check_frames(header, kind, config, network)
    return kind, config, network


def _check_tensor_list(tensors: list, shapes: dict[str, list[int]], per_frame) -> None:
    """The header's tensors are the built part's, each with its shape, and the kind's
    per-frame tensors: each once, none missing, in any order (pruning re-registers the
    weights it touched, so a pruned model lists them after their biases)."""
    names = {*shapes, *per_frame}
    allowed = f"the {len(shapes)} tensors of the model the config builds, and per frame {per_frame}"
    seen = set()
    for index, entry in enumerate(tensors):
        name = entry["name"]
        if name not in names or name in seen:
            why = "is listed twice" if name in seen else "is none of them"
            raise _holds(f"tensors[{index}].name", name, f"{allowed} ({name!r} {why})")
        seen.add(name)
        if name in shapes and entry["shape"] != shapes[name]:
            built = f"{shapes[name]}, the shape of {name!r} in the model the config builds"
            raise _holds(f"tensors[{index}].shape", entry["shape"], built)
    missing = [name for name in [*shapes, *per_frame] if name not in seen]
    if missing:
        raise HeaderError("tensors", f"lists no {missing[0]!r}; allowed: {allowed}")


def _check_frames(header: dict, kind: ModelKind, config, network: nn.Module) -> None:
    """The frames: of the config's size, one entry per frame in each per-frame tensor, and
    drawn by the network from per-frame tensors of the header's shapes. That last is tried
    on meta tensors: shapes only, no work."""
    size = [header["height"], header["width"]]
    if size != list(kind.frame_size(config)):
        height, width = kind.frame_size(config)
        field = "height" if size[0] != height else "width"
        raise _holds(field, header[field], f"{height}x{width}, the frame size of the config")
    index = {entry["name"]: i for i, entry in enumerate(header["tensors"])}
    stored = [header["tensors"][index[name]] for name in kind.per_frame]
    for entry in stored:
        if entry["shape"][:1] != [header["frames"]]:
            allowed = f"the length of per-frame tensor {entry['name']!r}, of shape {entry['shape']}"
            raise _holds("frames", header["frames"], allowed)
    per_frame = tuple(torch.empty(entry["shape"], device="meta") for entry in stored)
    indices = torch.arange(min(header["frames"], 2), device="meta")
    try:
        drawn = kind.render(network, _unpack(per_frame), indices, header["frames"]).shape
    except Exception as error:  # shapes that do not fit: the layers say so
        drawn = error
    if drawn != (len(indices), 3, *size):
        field = f"tensors[{index[kind.per_frame[0]]}].shape" if stored else "config"
        shapes = ", ".join(f"{entry['name']} {entry['shape']}" for entry in stored)
        raise HeaderError(
            field,
            f"does not draw 3x{size[0]}x{size[1]} frames (got {drawn}): per frame the "
            f"file holds {shapes or 'nothing'}",
        )


def _unpack(per_frame: tuple):
    """Per-frame tensors as render takes them: None, one tensor, or a tuple of several."""
    return per_frame[0] if len(per_frame) == 1 else per_frame or None


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


def _check_codes(header: dict, symbols: list[int], lengths: dict[int, int], size: int) -> None:
    """The codes are the symbols of the shapes, no fewer, no more, and fill the code bytes to
    the last (encode cuts the end marker at the end of its byte)."""
    numbers = sum(_numbers(entry) for entry in header["tensors"])
    if len(symbols) != numbers:
        raise HeaderError(
            "tensors", f"lists shapes of {numbers} numbers; the payload's codes hold {len(symbols)}"
        )
    bits = sum(count * lengths[symbol] for symbol, count in Counter(symbols).items())
    if (bits + 7) // 8 != size:
        raise BitstreamError(
            f"the payload holds {size} bytes of codes, its symbols fill {(bits + 7) // 8}: "
            "the prelude's payload length or the header's 'stats_bytes' is wrong"
        )


def _check_part(path: str, entry: dict, symbols, minimum, scale) -> None:
    top = int(symbols.max())
    if top >= 2 ** entry["bits"]:
        allowed = f"{top.bit_length()} or more: the symbols of {entry['name']!r} reach {top}"
        raise _holds(f"{path}.bits", entry["bits"], allowed)
    if not (minimum.isfinite().all() and scale.isfinite().all() and (scale > 0).all()):
        raise HeaderError(
            path,
            f"({entry['name']!r}) has min/scale values in the payload that are not finite, or "
            "a scale <= 0; allowed: finite values, scales > 0 (as quantize writes them)",
        )


@contextmanager
def _safety_net(stage: str):
    """Below the checks, a net: whatever a stage raises comes out as a BitstreamError, so an
    error the checks missed still reads as a bad file (and says so). Running out of memory
    is left alone: that is the machine's, not the file's."""
    try:
        yield
    except (BitstreamError, MemoryError, torch.cuda.OutOfMemoryError):
        raise
    except Exception as error:
        raise BitstreamError(
            f"{stage} failed although the file passed every check ({type(error).__name__}: {error})"
        ) from error


def _assign(kind: ModelKind, config, network: nn.Module, parts: dict[str, Quantized]):
    """(the meta-built part holding the file's dequantized weights, the per-frame tensors).
    load_state_dict's assign makes the weights the part's own tensors, so nothing is
    allocated that the payload does not hold, not even the encoder some builders make on
    the way. A kind whose part keeps state the file does not (left on meta) is built for real."""
    weights = {n: q.dequantize() for n, q in parts.items() if n not in kind.per_frame}
    network.load_state_dict(weights, assign=True)
    if any(x.is_meta for x in chain(network.parameters(), network.buffers())):
        network = kind.build(config)
        network.load_state_dict(weights)
    return network, tuple(parts[name].dequantize() for name in kind.per_frame)


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
