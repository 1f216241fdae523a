"""The rate-coded file's plumbing, written by hand and not shown in a lesson: its constants,
the decoder's checks, the prelude and the ANS words. Lesson 12's `entropy` module writes and
reads the file through these (`entropy.encode_tensors`, `entropy.decode_tensors`).

The file: prelude (magic, version, three lengths) | JSON header | parameters (float32) | ANS
words (uint32) | CRC32. The decoder trusts none of it: each refusal is lesson 08's
`BitstreamError` (a damaged file) or `HeaderError` (an intact file whose header lies).
"""

import json
import math
import struct
import zlib
from contextlib import contextmanager

import constriction
import numpy as np
import torch

from nerv_lessons._bitstream_checks import HEADER_FIELDS as LESSON_08_FIELDS
from nerv_lessons._bitstream_checks import MAGIC as LESSON_08_MAGIC
from nerv_lessons._bitstream_checks import (
    BitstreamError,
    Field,
    HeaderError,
    _check_fields,
    _check_length_and_crc,
    _check_model,
    _holds,
    _parse_header,
)

MAGIC = b"NeRVrate"  # 8 bytes: "a nerv_lessons file coded with a learned rate" (not lesson 08's)
VERSION = 1  # raise when the layout changes; decoders refuse other versions
PRELUDE = struct.Struct("<8sHIIQ")  # magic, version, header, parameter and word bytes
CHECKSUM = struct.Struct("<I")  # CRC32 of everything before it
# constriction is a compiled module: its submodules are attributes, not importable packages.
AnsCoder = constriction.stream.stack.AnsCoder
FAMILIES = {
    "gaussian": constriction.stream.model.QuantizedGaussian,
    "laplace": constriction.stream.model.QuantizedLaplace,
}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
STEP_KINDS = ("tensor", "matrix")  # one step, or shape[0] + shape[1] factorised steps

# Bounds on what a file may ask for, all far above the course's models (HNeRV-S has some 1.5
# million parameters). An ANS symbol can cost almost nothing, so unlike lesson 08's Huffman
# codes the payload's length does not bound the symbol count: MAX_NUMBERS does.
MAX_NUMBERS = 2**26  # symbols in all: 512 MiB as int64
MAX_SYMBOL = 2**30  # |q|: fits constriction's int32 symbols, with room for a range
MAX_ALPHABET = 2**16  # hi - lo + 1: each symbol of the range holds >= 2^-24, in all <= 2^-8
MAX_SCALE = 2.0**20  # sigma, in step units
MIN_SCALE = 0.1  # the smallest sigma entropy.fit_model gives (its SCALE_MIN; a test checks)
MAX_TENSORS, MAX_DIMS, MAX_NAME = 2**12, 8, 256

HEADER_FIELDS = {
    "tensors": Field((list,), 1, MAX_TENSORS),
    "symbols_crc32": Field((int,), 0, 2**32 - 1),  # of the shapes and symbols: _check_symbols
}
# A model's file also names its kind, config and frames, as lesson 08's does (same checks).
MODEL_FIELDS = {name: LESSON_08_FIELDS[name] for name in ("kind", "config", "frames")}
MODEL_FIELDS |= {name: LESSON_08_FIELDS[name] for name in ("height", "width")}
TENSOR_FIELDS = {
    "name": Field((str,), 1, MAX_NAME),
    "shape": Field((list,), 0, MAX_DIMS),
    "dtype": Field((str,), 1, 16),  # and one of DTYPES
    "family": Field((str,), 1, 16),  # and one of FAMILIES
    "step": Field((str,), 1, 16),  # and one of STEP_KINDS
    "range": Field((list,), 2, 2),  # [lowest, highest] symbol of the tensor
}
DIMENSION = Field((int,), 1, MAX_NUMBERS)
SYMBOL = Field((int,), -MAX_SYMBOL, MAX_SYMBOL)


def _numbers(entry: dict) -> int:
    return math.prod(entry["shape"])  # Python ints: no overflow, however large the shape


def _step_count(entry: dict) -> int:
    shape = entry["shape"]
    return shape[0] + shape[1] if entry["step"] == "matrix" else 1


def _params_size(entries: list) -> int:
    """Bytes of the parameter block: mu, sigma and the steps of each tensor, float32."""
    return 4 * sum(2 + _step_count(entry) for entry in entries)


def _check_choice(path: str, value, choices) -> None:
    if value not in choices:
        raise _holds(path, value, f"one of {', '.join(choices)}")


def _check_entry(path: str, entry) -> None:
    """One tensor's header entry: its fields, its shape, its kinds, its symbol range."""
    _check_fields(path, entry, TENSOR_FIELDS)
    for dim, size in enumerate(entry["shape"]):
        DIMENSION.check(f"{path}.shape[{dim}]", size)
    _check_choice(f"{path}.dtype", entry["dtype"], DTYPES)
    _check_choice(f"{path}.family", entry["family"], FAMILIES)
    _check_choice(f"{path}.step", entry["step"], STEP_KINDS)
    if entry["step"] == "matrix" and len(entry["shape"]) < 2:
        raise _holds(f"{path}.step", "matrix", "'tensor' for a tensor of under 2 dims")
    bounds = entry["range"]
    for end, value in enumerate(bounds):
        SYMBOL.check(f"{path}.range[{end}]", value)
    low, high = bounds
    if not low <= high < low + MAX_ALPHABET:
        allowed = f"[lowest, highest] with lowest <= highest < lowest + {MAX_ALPHABET}"
        raise _holds(f"{path}.range", bounds, allowed)


def _check_header(header, params_size: int) -> None:
    """All the header says of itself, and the parameter block's length, before any decoding."""
    is_model = isinstance(header, dict) and "kind" in header
    _check_fields("", header, HEADER_FIELDS | (MODEL_FIELDS if is_model else {}))
    seen = set()
    for index, entry in enumerate(header["tensors"]):
        _check_entry(f"tensors[{index}]", entry)
        if entry["name"] in seen:
            raise _holds(f"tensors[{index}].name", entry["name"], "each name once")
        seen.add(entry["name"])
    numbers = sum(_numbers(entry) for entry in header["tensors"])
    if numbers > MAX_NUMBERS:
        raise HeaderError("tensors", f"lists {numbers} numbers; allowed: at most {MAX_NUMBERS}")
    needed = _params_size(header["tensors"])
    if params_size != needed:
        raise HeaderError(
            "tensors",
            f"lists tensors whose mu, sigma and steps take {needed} bytes (4 each), but the "
            f"prelude gives {params_size}: a shape or a step kind in the header is wrong",
        )


def _check_prelude(data) -> tuple[int, int, int]:
    """(header, parameter, word) lengths in bytes, after checking the file's length, magic,
    version, the lengths the prelude gives and the CRC32 of everything before it."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"decode takes the file's bytes, got {type(data).__name__}")
    if len(data) < PRELUDE.size + CHECKSUM.size:
        raise BitstreamError(f"truncated: {len(data)} bytes is shorter than any valid file")
    magic, version, *sizes = PRELUDE.unpack_from(data)
    if magic == LESSON_08_MAGIC:
        raise BitstreamError(
            "this is a lesson 08 file (Huffman codes): read it with bitstream.decode"
        )
    if magic != MAGIC:
        raise BitstreamError(f"wrong magic {magic!r} (expected {MAGIC!r}): not a rate-coded file")
    if version != VERSION:
        newer = version > VERSION
        raise BitstreamError(
            f"file format version {version} is {'newer' if newer else 'older'} than this "
            f"decoder's ({VERSION}): "
            + ("update nerv_lessons to read it" if newer else "encode the tensors again")
        )
    _check_length_and_crc(data, PRELUDE.size + sum(sizes) + CHECKSUM.size)
    if sizes[2] % 4:
        raise BitstreamError(f"the ANS words take {sizes[2]} bytes: not whole 32-bit words")
    return tuple(sizes)


def split_file(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(header JSON, parameter block, ANS words) of a file whose prelude and CRC32 check."""
    header_size, params_size, _ = _check_prelude(data)
    start, end = PRELUDE.size + header_size, PRELUDE.size + header_size + params_size
    return (
        bytes(data[PRELUDE.size : start]),
        bytes(data[start:end]),
        bytes(data[end : -CHECKSUM.size]),
    )


def read_file(data: bytes) -> tuple[dict, bytes, bytes]:
    """(header, parameter block, ANS words) once the file and its header check. With `pack`
    it edits a file, as the tests do to make one that lies."""
    text, params, words = split_file(data)
    header = _parse_header(text)
    _check_header(header, len(params))
    return header, params, words


def pack(header: dict, params: bytes, words: bytes) -> bytes:
    """The file for these parts: prelude, JSON header, parameters, ANS words, CRC32."""
    text = json.dumps(header, separators=(",", ":")).encode()
    body = PRELUDE.pack(MAGIC, VERSION, len(text), len(params), len(words)) + text + params + words
    return body + CHECKSUM.pack(zlib.crc32(body))


def _read_params(header: dict, params: bytes) -> list[tuple[float, float, torch.Tensor]]:
    """Each tensor's (mu, sigma, steps) from the parameter block, checked: mu finite and
    within the symbol bounds, sigma in SCALE_MIN..MAX_SCALE, the steps finite and > 0 (what
    the coder and the grid need to work at all)."""
    values, offset, models = np.frombuffer(params, "<f4"), 0, []
    for index, entry in enumerate(header["tensors"]):
        count = _step_count(entry)
        mu, sigma = float(values[offset]), float(values[offset + 1])
        steps = torch.from_numpy(values[offset + 2 : offset + 2 + count].astype(np.float32))
        if not (math.isfinite(mu) and abs(mu) <= MAX_SYMBOL and MIN_SCALE <= sigma <= MAX_SCALE):
            raise HeaderError(
                f"tensors[{index}]",
                f"({entry['name']!r}) has mu {mu}, sigma {sigma} in the parameter block; "
                f"allowed: a finite mu, |mu| <= {MAX_SYMBOL}, sigma in {MIN_SCALE}..{MAX_SCALE}",
            )
        if not (steps.isfinite().all() and (steps > 0).all()):
            raise HeaderError(
                f"tensors[{index}]",
                f"({entry['name']!r}) has steps that are not finite or not > 0 in the parameter "
                "block; allowed: finite steps > 0 (as exp(log-step) gives them)",
            )
        models.append((mu, sigma, steps))
        offset += 2 + count
    return models


def _coder_model(entry: dict, mu: float, sigma: float):
    """constriction's model of one tensor's symbols, on the header's range; None for a tensor
    of one value, which costs no words (the range says it all, and constriction refuses an
    alphabet of one symbol)."""
    low, high = entry["range"]
    return None if low == high else FAMILIES[entry["family"]](low, high, mu, sigma)


def _coder_models(header: dict, parameters: list) -> list:
    return [_coder_model(e, mu, sigma) for e, (mu, sigma, _) in zip(header["tensors"], parameters)]


@contextmanager
def _coder_net(stage: str):
    """Whatever constriction raises comes out as a BitstreamError: its Rust panics are
    BaseExceptions (pyo3's PanicException), so this catches those too; never an interrupt."""
    try:
        yield
    except (BitstreamError, KeyboardInterrupt, SystemExit, MemoryError, GeneratorExit):
        raise
    except BaseException as error:
        raise BitstreamError(
            f"{stage} failed although the file passed every check ({type(error).__name__}: {error})"
        ) from error


def _ans_encode(symbols: list[torch.Tensor], models: list) -> bytes:
    """The ANS words of all tensors. ANS is a stack (last in, first out): the tensors go in
    last first, so that decoding gives them back first first."""
    coder = AnsCoder()
    for q, model in reversed(list(zip(symbols, models))):
        if model is not None:
            coder.encode_reverse(q.flatten().numpy().astype(np.int32), model)
    return coder.get_compressed().astype("<u4").tobytes()


def _ans_decode(header: dict, models: list, words: bytes) -> list[torch.Tensor]:
    """Every tensor's symbols (int64, its shape) from the words, in the header's order."""
    decoded = []
    with _coder_net("ANS decoding"):
        coder = AnsCoder(np.frombuffer(words, "<u4").astype(np.uint32))
        for entry, model in zip(header["tensors"], models):
            if model is None:
                flat = np.full(_numbers(entry), entry["range"][0], np.int64)
            else:
                flat = coder.decode(model, _numbers(entry)).astype(np.int64)
            decoded.append(torch.from_numpy(flat).reshape(entry["shape"]))
    return decoded


def _symbols_crc(symbols: list[torch.Tensor]) -> int:
    """CRC32 of each tensor's shape and symbols (int32): what the words decode to, in the
    shapes the header gives them (so a shape of the same size that lies is caught too)."""
    crc = 0
    for q in symbols:
        crc = zlib.crc32(json.dumps(list(q.shape)).encode(), crc)
        crc = zlib.crc32(q.flatten().numpy().astype("<i4").tobytes(), crc)
    return crc


def _check_symbols(header: dict, symbols: list[torch.Tensor]) -> None:
    """The decoded symbols are the ones encoded. ANS cannot tell by itself: decoding goes on
    past the end of the words (an empty coder gives the lowest symbol, for free, forever), and
    a wrong model decodes other symbols without complaint. So the encoder keeps a CRC32 of the
    shapes and symbols in the header, and a shape, range or model that lies shows up here."""
    crc = _symbols_crc(symbols)
    if crc != header["symbols_crc32"]:
        raise HeaderError(
            "tensors",
            f"decode to symbols whose CRC32 is {crc}, not the {header['symbols_crc32']} the "
            "encoder stored: a shape, range, family or parameter is not what the words were "
            "coded with (the file was edited after encoding?); encode the tensors again",
        )


def _check_expected(header: dict, expected: dict) -> None:
    """The header lists exactly the expected names, each of the expected shape (a model's
    state_dict shapes, say): a lie that keeps the file consistent, such as a weight of shape
    (4, 6) listed as (6, 4), shows up only against what the reader knows."""
    names = [entry["name"] for entry in header["tensors"]]
    for index, entry in enumerate(header["tensors"]):
        if entry["name"] not in expected:
            raise _holds(f"tensors[{index}].name", entry["name"], f"one of {sorted(expected)}")
        shape = list(expected[entry["name"]])
        if entry["shape"] != shape:
            raise _holds(f"tensors[{index}].shape", entry["shape"], f"{shape}, the expected")
    missing = [name for name in expected if name not in names]
    if missing:
        raise HeaderError("tensors", f"lists no {missing[0]!r}; it is expected")


def _check_model_header(header: dict) -> tuple:
    """A model's file: lesson 08's checks of kind, config, tensors and frames (the network
    built on the meta device, so a lying config allocates nothing). (kind, config, network)."""
    tensors = [{"name": e["name"], "shape": e["shape"]} for e in header["tensors"]]
    return _check_model({**header, "tensors": tensors})
