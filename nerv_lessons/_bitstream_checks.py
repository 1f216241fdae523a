"""The bitstream's file format and the decoder's checks: a decoder that trusts nothing.

Plumbing written by hand (not course content): lesson 08 (notebooks/08_compression.ipynb)
explains what is checked and shows damaged and lying files refused; `nerv_lessons.bitstream`
calls these checks and re-exports the public names (`BitstreamError`, `HeaderError`, `MAGIC`,
`VERSION`, the limits and the header's field table).

    prelude (magic, version, header bytes, payload bytes) | JSON header | payload | CRC32

In order: the prelude and the CRC32 (`_check_prelude`: damage); every header field against a
table of types and ranges, the Huffman table a complete prefix code, the payload able to hold
the tensors listed (`_check_header`: a header that lies about itself); the model the config
builds, on the meta device, against the header's tensors and frames (`_check_model`); the
symbols and statistics as they are read (`_check_codes`, `_check_part`). Each refusal is a
`BitstreamError`, a `HeaderError` naming the field where the header lies.
"""

import json
import math
import struct
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from typing import get_args, get_origin, get_type_hints

import numpy as np
import torch
from torch import nn

from nerv_lessons._bitstream_kinds import MODEL_KINDS, ModelKind, _unpack
from nerv_lessons.compress import EOF_SYMBOL

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


def _check_prelude(data: bytes) -> int:
    """The header's length in bytes, after checking the file's length, magic, version, the
    lengths the prelude gives and the CRC32 of everything before it."""
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
    _check_length_and_crc(data, PRELUDE.size + header_size + payload_size + CHECKSUM.size)
    return header_size


def _check_length_and_crc(data: bytes, expected: int) -> None:
    """The file is as long as its prelude says, and its last 4 bytes are the CRC32 of the
    rest (lesson 08's file, and lesson 12's: both end in one)."""
    if len(data) < expected:
        raise BitstreamError(f"truncated: the file says {expected} bytes, it has {len(data)}")
    if len(data) > expected:
        raise BitstreamError(f"{len(data) - expected} unexpected bytes after the end of the file")
    body, (stored,) = data[: -CHECKSUM.size], CHECKSUM.unpack_from(data, len(data) - CHECKSUM.size)
    if zlib.crc32(body) != stored:
        raise BitstreamError("corrupt: the CRC32 checksum does not match (a changed byte?)")


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
