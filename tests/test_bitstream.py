"""The bitstream of lesson 08: one file per model, bit-exact round trips, bpp from its length,
and every kind of damage refused."""

import copy
import dataclasses
import importlib.util
import json
import struct
import time
import zlib
from pathlib import Path

import pytest
import torch

from nerv_lessons.bitstream import (
    MAGIC,
    MODEL_KINDS,
    PRELUDE,
    VERSION,
    BitstreamError,
    HeaderError,
    ModelKind,
    decode,
    decode_model,
    encode,
    kind_of,
    pack,
    quantize_model,
    quantized_frames,
    read_header,
    register_kind,
)
from nerv_lessons.compress import EOF_SYMBOL, make_permanent, prune_global
from nerv_lessons.hnerv import HNeRV, HNeRVConfig, frames_in
from nerv_lessons.metrics import bits_per_pixel
from nerv_lessons.nerv import NeRV, NeRVConfig
from nerv_lessons.residual import RCHNeRV, res_hnerv
from nerv_lessons.train import TrainConfig, frame_times, train
from nerv_lessons.two_stream import TwoStream, two_stream_budget

TINY_HNERV = dict(
    height=80, width=160, strides=(5, 2, 2, 2), encoder_width=8, embed_dim=4, fc_dim=12, min_width=4
)
TINY_NERV = dict(
    height=80, width=160, strides=(5, 2, 2, 2), fc_dim=8, lower_width=8, stem_hidden=16, pe_levels=4
)


# --- the bitstream --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_hnerv(bunny):
    torch.manual_seed(0)
    model = HNeRV(HNeRVConfig(**TINY_HNERV))
    train(
        model,
        bunny[:4],
        TrainConfig(epochs=3, batch_size=2, lr=5e-3, progress=False),
        model_input=frames_in,
    )
    with torch.no_grad():
        embeddings = model.encode(bunny[:4])
    return model, embeddings


@pytest.fixture(scope="module")
def hnerv_file(trained_hnerv):
    model, embeddings = trained_hnerv
    return encode(model, embeddings, weight_bits=8, embed_bits=6)


def test_hnerv_round_trip_is_bit_exact(trained_hnerv, hnerv_file):
    model, embeddings = trained_hnerv
    kind, network, decoded_embeddings, frames = decode_model(hnerv_file)
    assert kind == "hnerv" and frames == 4
    parts = quantize_model(model, embeddings, 8, 6)
    for name, q in parts.items():
        if name != "embeddings":
            assert torch.equal(network.state_dict()[name], q.dequantize()), name
    assert torch.equal(decoded_embeddings, parts["embeddings"].dequantize())
    decoded = decode(hnerv_file)
    assert decoded.shape == (4, 3, 80, 160)
    assert torch.equal(decoded, quantized_frames(model, embeddings, None, 8, 6))
    # The encoder is not in the file: only decoder tensors and the embeddings.
    assert not any(e["name"].startswith("encoder") for e in read_header(hnerv_file)[0]["tensors"])


def test_decode_draws_on_the_device_it_is_given(hnerv_file):
    # The meta device holds shapes only: enough to see where the network and frames live.
    kind, network, embeddings, frames = decode_model(hnerv_file, device="meta")
    assert next(network.parameters()).device.type == "meta"
    assert embeddings.device.type == "meta"
    assert decode(hnerv_file, device="meta").shape == (4, 3, 80, 160)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_decode_on_cuda_matches_the_quantized_model_on_cuda(trained_hnerv, hnerv_file):
    model, embeddings = trained_hnerv
    on_gpu = decode(hnerv_file, device="cuda")
    assert torch.equal(on_gpu, quantized_frames(model, embeddings, None, 8, 6, device="cuda"))
    assert (on_gpu.cpu() - decode(hnerv_file)).abs().max() < 1e-3  # same weights, other kernels


def test_nerv_round_trip_from_the_stored_frame_count(bunny):
    torch.manual_seed(0)
    model = NeRV(NeRVConfig(**TINY_NERV))
    train(
        model,
        bunny[:4],
        TrainConfig(epochs=2, batch_size=2, progress=False),
        model_input=frame_times,
    )
    data = encode(model, frames=4)
    decoded = decode(data)
    assert decoded.shape == (4, 3, 80, 160)
    assert torch.equal(decoded, quantized_frames(model, frames=4))
    with torch.no_grad():  # 8-bit weights stay close to the float model
        assert (decoded - model(torch.linspace(0, 1, 4))).abs().max() < 0.1


def test_bpp_is_the_file_length_over_the_pixels(hnerv_file):
    header, _ = read_header(hnerv_file)
    bpp = bits_per_pixel(len(hnerv_file), header["frames"], header["height"], header["width"])
    assert bpp == 8 * len(hnerv_file) / (4 * 80 * 160)


def test_fewer_bits_make_a_smaller_file(trained_hnerv):
    model, embeddings = trained_hnerv
    sizes = [len(encode(model, embeddings, weight_bits=b)) for b in (8, 6, 4)]
    assert sizes[0] > sizes[1] > sizes[2]


def test_truncated_file_is_refused(hnerv_file):
    for cut in (1, 100, len(hnerv_file) - 10):
        with pytest.raises(BitstreamError, match="truncated"):
            decode(hnerv_file[:-cut])
    with pytest.raises(BitstreamError, match="truncated"):
        decode(hnerv_file[:10])


@pytest.mark.parametrize("where", [30, 200, -100, -2])
def test_flipped_byte_is_refused(hnerv_file, where):
    where = where % len(hnerv_file)
    bad = bytearray(hnerv_file)
    bad[where] ^= 0x01
    with pytest.raises(BitstreamError, match="checksum"):
        decode(bytes(bad))


def test_wrong_magic_and_newer_version_are_refused(hnerv_file):
    with pytest.raises(BitstreamError, match="magic"):
        decode(b"XXXXXXXX" + hnerv_file[8:])
    for version, word in [(VERSION + 1, "newer"), (VERSION - 1, "older.*encode the model again")]:
        body = bytearray(hnerv_file[:-4])
        struct.pack_into("<H", body, 8, version)  # another version, with a valid checksum
        other = bytes(body) + struct.pack("<I", zlib.crc32(body))
        with pytest.raises(BitstreamError, match=word):
            decode(other)
    with pytest.raises(BitstreamError, match="unexpected bytes"):
        decode(hnerv_file + b"\x00")
    with pytest.raises(TypeError, match="bytes"):
        decode("not bytes")
    assert hnerv_file.startswith(MAGIC) and PRELUDE.size == 22


def test_encode_rejects_bad_input(trained_hnerv):
    model, embeddings = trained_hnerv
    with pytest.raises(ValueError, match="embeddings"):
        encode(model)
    with pytest.raises(ValueError, match="frames=T"):
        encode(NeRV(NeRVConfig(**TINY_NERV)))
    with pytest.raises(ValueError, match="no model kind"):
        encode(torch.nn.Linear(2, 2), frames=3)
    pruned = copy.deepcopy(model)
    prune_global(pruned.decoder, 0.2)
    with pytest.raises(ValueError, match="make_permanent"):
        encode(pruned, embeddings)


def test_a_new_kind_is_a_registry_entry(bunny):
    class Variant(NeRV):
        pass

    with pytest.raises(ValueError, match="register_kind"):
        kind_of(Variant(NeRVConfig(**TINY_NERV)))
    nerv = MODEL_KINDS["nerv"]
    register_kind(
        "variant-test", ModelKind(Variant, NeRVConfig, nerv.stored, Variant, nerv.render, ())
    )
    try:
        model = Variant(NeRVConfig(**TINY_NERV))
        data = encode(model, frames=3)
        assert read_header(data)[0]["kind"] == "variant-test"
        assert torch.equal(decode(data), quantized_frames(model, frames=3))
        with pytest.raises(ValueError, match="already registered"):
            register_kind("variant-test", nerv)
    finally:
        del MODEL_KINDS["variant-test"]
    with pytest.raises(BitstreamError, match="not registered"):
        decode(data)


# --- the other model kinds of the course ----------------------------------------------------


def test_res_hnerv_is_its_own_kind_and_round_trips(bunny):
    torch.manual_seed(0)
    model = res_hnerv(HNeRVConfig(**TINY_HNERV))
    with torch.no_grad():  # make the residual units' zero-initialized convs non-trivial
        for block in model.decoder.blocks:
            block.refine[-1].weight.normal_(0, 0.05)
        embeddings = model.encode(bunny[:3])
    assert kind_of(model) == "res_hnerv" and kind_of(HNeRV(HNeRVConfig(**TINY_HNERV))) == "hnerv"
    data = encode(model, embeddings)
    assert read_header(data)[0]["kind"] == "res_hnerv"
    assert any("refine" in e["name"] for e in read_header(data)[0]["tensors"])
    assert torch.equal(decode(data), quantized_frames(model, embeddings))


def test_two_stream_round_trips_without_its_encoder(bunny):
    torch.manual_seed(0)
    model = TwoStream(two_stream_budget(0.05, 3, 80, 160))
    with torch.no_grad():
        embeddings = model.encode(bunny[:3])
        direct = model.streams(embeddings, torch.arange(3.0) / 3)["frame"]
    data = encode(model, embeddings)
    header = read_header(data)[0]
    assert header["kind"] == "two_stream" and (header["height"], header["width"]) == (80, 160)
    assert not any(e["name"].startswith("encoder") for e in header["tensors"])
    decoded = decode(data)
    assert torch.equal(decoded, quantized_frames(model, embeddings))
    assert (decoded - direct).abs().max() < 0.05  # 8-bit weights, 6-bit embeddings


def test_a_model_its_config_does_not_rebuild_is_refused_at_encode(trained_hnerv):
    model, embeddings = trained_hnerv
    changed = copy.deepcopy(model)
    head = changed.decoder.head
    changed.decoder.head = torch.nn.Conv2d(head.in_channels, 3, kernel_size=5, padding=2)
    with pytest.raises(ValueError, match="cannot be stored.*head.weight.*register_kind"):
        encode(changed, embeddings)
    extra = copy.deepcopy(model)
    extra.decoder.blocks.append(torch.nn.Conv2d(4, 4, 1))
    with pytest.raises(ValueError, match="cannot be stored"):
        encode(extra, embeddings)
    with pytest.raises(ValueError, match="cannot be stored"):
        rc = RCHNeRV(HNeRVConfig(**TINY_HNERV))
        rc.decoder.head = torch.nn.Conv2d(rc.decoder.head.in_channels, 3, kernel_size=1)
        encode(rc, rc.encode(torch.rand(2, 3, 80, 160)))


def test_rc_hnerv_file_keeps_its_lowres_frames_exactly(bunny):
    torch.manual_seed(0)
    model = RCHNeRV(HNeRVConfig(**TINY_HNERV))
    with torch.no_grad():
        embeddings, lowres = model.encode(bunny[:3])
        direct = model.decode(embeddings, lowres)
    with pytest.raises(ValueError, match="embeddings and lowres per frame, got 1"):
        encode(model, embeddings)
    data = encode(model, (embeddings, lowres))
    header = read_header(data)[0]
    assert header["kind"] == "rc_hnerv"
    kind, network, (decoded_embeddings, decoded_lowres), frames = decode_model(data)
    assert frames == 3 and decoded_lowres.shape == lowres.shape
    assert (decoded_lowres * 255 - lowres * 255).abs().max() < 1e-3  # 8-bit pixels, exact
    decoded = decode(data)
    assert torch.equal(decoded, quantized_frames(model, (embeddings, lowres)))
    assert (decoded - direct.clamp(0, 1)).abs().max() < 0.05  # 8-bit weights, 6-bit embeddings
    # The low-resolution frames are in the file, so its bpp counts them: 3 x 8 bits per
    # low-resolution pixel at least, plus the model.
    assert 8 * len(data) > 3 * 8 * lowres[0, 0].numel() * 3


def test_statistics_are_float32_per_tensor_and_float16_per_axis(trained_hnerv, hnerv_file):
    model, embeddings = trained_hnerv
    header = read_header(hnerv_file)[0]
    parts = quantize_model(model, embeddings, 8, 6)
    expected = sum((4 if q.axis is None else 2) * q.statistics() for q in parts.values())
    assert header["stats_bytes"] == expected
    assert any(e["axis"] is not None for e in header["tensors"])  # per-axis pairs are used


# --- a decoder that trusts nothing: intact files whose header lies ----------------------------

FUZZ_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_bitstream.py"


def lying(data: bytes, change, payload=None) -> bytes:
    """The file with its header changed by change(header) (and its payload by payload(bytes))
    and the CRC recomputed: intact, and lying."""
    header, original = read_header(data)
    header = copy.deepcopy(header)
    change(header)
    return pack(header, original if payload is None else payload(original))


def _top(**values):
    return lambda header: header.update(values)


def _config(**values):
    return lambda header: header["config"].update(values)


def _tensor(index, **values):
    return lambda header: header["tensors"][index].update(values)


def _changed(path, change):
    """change(old value) -> new value, at a path of keys and indices into the header."""

    def apply(header):
        *parents, last = path
        for key in parents:
            header = header[key]
        header[last] = change(header[last])

    return apply


def _longest_code(header):  # the entry with the longest code: changing it breaks the tree
    return max(range(len(header["huffman_lengths"])), key=lambda i: header["huffman_lengths"][i][1])


def _code_length(change):  # change(old length) -> new length, for the longest code
    def apply(header):
        entry = header["huffman_lengths"][_longest_code(header)]
        entry[1] = change(entry[1])

    return apply


def _drop_end_marker(header):
    header["huffman_lengths"] = [e for e in header["huffman_lengths"] if e[0] != EOF_SYMBOL]


def _symbol_past_the_bits(header):  # 8-bit weights: symbols 0..255; 256 needs 9 bits
    header["huffman_lengths"][_longest_code(header)][0] = 256


def _symbol_twice(header):
    header["huffman_lengths"][2][0] = header["huffman_lengths"][1][0]


def _embeddings(**values):  # the last tensor of an HNeRV file
    return lambda header: header["tensors"][-1].update(values)


# (what the header says, how to make it say so, what the message must name)
HEADER_LIES = [
    ("frames 0", _top(frames=0), r"'frames' holds 0; allowed: int in 1\.\.65536"),
    ("frames 10^9", _top(frames=10**9), r"'frames' holds 1000000000"),
    ("frames -3", _top(frames=-3), r"'frames' holds -3"),
    ("frames 4x", _changed(["frames"], lambda n: 4 * n), r"'frames' holds 16.*'embeddings'"),
    ("frames a float", _top(frames=4.0), r"'frames' holds 4\.0"),
    ("frames true", _top(frames=True), r"'frames' holds True"),
    ("height +5", _changed(["height"], lambda n: n + 5), r"'height' holds 85.*80x160"),
    ("kind unknown", _top(kind="hnerv2"), r"'kind' holds 'hnerv2'.*not registered"),
    ("kind nerv", _top(kind="nerv"), r"'config\.\w+' is missing"),
    ("field unknown", _top(colour="red"), r"'colour' holds 'red'; allowed: nothing"),
    ("field missing", lambda header: header.pop("stats_bytes"), r"'stats_bytes' is missing"),
    ("fc_dim 10^6", _config(fc_dim=10**6), r"'config\.fc_dim' holds 1000000.*0\.\.65536"),
    ("fc_dim 60000", _config(fc_dim=60000), r"'tensors\[0\]\.shape'.*config builds"),
    ("fc_dim + 1", _changed(["config", "fc_dim"], lambda n: n + 1), r"'tensors\[0\]\.shape'"),
    (
        "fc_dim missing",
        lambda header: header["config"].pop("fc_dim"),
        r"'config\.fc_dim' is missing",
    ),
    ("fc_dim a string", _config(fc_dim="12"), r"'config\.fc_dim' holds '12'"),
    ("config unknown field", _config(colour="red"), r"'config\.colour'"),
    ("strides short", _changed(["config", "strides"], lambda s: s[:-1]), r"'tensors\[\d+\]"),
    ("strides empty", _config(strides=[]), r"'config\.strides' holds \[\]"),
    ("strides do not divide", _config(strides=[7, 2, 2, 2]), r"'config' does not build.*divisible"),
    ("activation", _config(activation="__import__('os')"), r"'config'.*unknown activation"),
    ("renamed tensor", _tensor(0, name="stem.0.weigth"), r"'tensors\[0\]\.name' holds 'stem"),
    (
        "tensor dropped",
        lambda header: header["tensors"].pop(),
        r"'stats_bytes' holds \d+; allowed: \d+, the min/scale bytes of the 12 tensors",
    ),
    ("shape negative", _tensor(0, shape=[-12, 4, 1, 1]), r"'tensors\[0\]\.shape\[0\]' holds -12"),
    (
        "shape huge",
        _tensor(0, shape=[10**6, 10**6]),
        r"'tensors' lists shapes of \d{13} numbers",
    ),
    ("shape 9 dims", _tensor(0, shape=[1] * 9), r"'tensors\[0\]\.shape' holds \[1, 1"),
    ("axis past the shape", _tensor(1, axis=1), r"'tensors\[1\]\.axis' holds 1"),
    ("axis 99", _tensor(0, axis=99), r"'tensors\[0\]\.axis' holds 99"),
    ("bits 0", _tensor(0, bits=0), r"'tensors\[0\]\.bits' holds 0; allowed: int in 1\.\.16"),
    ("bits 64", _tensor(0, bits=64), r"'tensors\[0\]\.bits' holds 64"),
    ("bits below the symbols", _embeddings(bits=5), r"'tensors\[12\]\.bits' holds 5.*reach 63"),
    ("embeddings that fit no decoder", _embeddings(shape=[4, 4, 4, 2]), r"'tensors\[12\]\.shape'"),
    ("stats_bytes + 2", _changed(["stats_bytes"], lambda n: n + 2), r"'stats_bytes' holds"),
    ("stats_bytes huge", _top(stats_bytes=10**9), r"'stats_bytes' holds 1000000000"),
    ("code table empty", _top(huffman_lengths=[]), r"'huffman_lengths' holds \[\]"),
    ("code not prefix-free", _code_length(lambda old: 1), r"'huffman_lengths'.*Kraft sum"),
    ("code incomplete", _code_length(lambda old: old + 1), r"Kraft"),
    ("code 200 bits", _code_length(lambda old: 200), r"'huffman_lengths\[\d+\]'.*1\.\.64"),
    ("code without end", _drop_end_marker, r"'huffman_lengths' has no end marker"),
    ("symbol listed twice", _symbol_twice, r"'huffman_lengths\[2\]'.*listed twice"),
    ("symbol past the bits", _symbol_past_the_bits, r"'huffman_lengths\[\d+\]'.*0\.\.255"),
    ("symbol not an int", _changed(["huffman_lengths", 0], lambda e: ["a", 1]), r"pair of ints"),
]


@pytest.mark.parametrize(
    "change, field", [lie[1:] for lie in HEADER_LIES], ids=[lie[0] for lie in HEADER_LIES]
)
def test_a_header_that_lies_is_refused_naming_the_field(hnerv_file, change, field):
    with pytest.raises(HeaderError, match=field):
        decode(lying(hnerv_file, change))


def test_a_pruned_model_round_trips_though_its_tensors_come_in_another_order(trained_hnerv):
    # make_permanent re-registers each pruned weight, so the state_dict lists it after its
    # bias: the header's order is the model's, and decode takes any order.
    model, embeddings = trained_hnerv
    pruned = copy.deepcopy(model)
    prune_global(pruned.decoder, 0.3)
    make_permanent(pruned.decoder)
    data = encode(pruned, embeddings)
    names = [entry["name"] for entry in read_header(data)[0]["tensors"]]
    assert names.index("stem.0.bias") < names.index("stem.0.weight")
    assert torch.equal(decode(data), quantized_frames(pruned, embeddings))


def test_a_header_refused_by_the_schema_costs_no_work(hnerv_file):
    # decode used to build 10^9 frames, or a 10^6-wide decoder, before anything checked them
    start = time.perf_counter()
    for change in (_top(frames=10**9), _config(fc_dim=10**6), _config(fc_dim=60000)):
        with pytest.raises(HeaderError):
            decode(lying(hnerv_file, change))
    assert time.perf_counter() - start < 2


def test_an_intact_file_repacks_to_itself(hnerv_file):
    assert pack(*read_header(hnerv_file)) == hnerv_file
    assert torch.equal(decode(lying(hnerv_file, lambda header: None)), decode(hnerv_file))


@pytest.fixture(scope="module")
def nerv_file():
    torch.manual_seed(0)
    return encode(NeRV(NeRVConfig(**TINY_NERV)), frames=4)


@pytest.mark.parametrize(
    "frames, field",
    [(0, r"'frames' holds 0"), (10**9, r"'frames' holds 10{9}"), (2**16 + 1, r"1\.\.65536")],
)
def test_a_nerv_file_asks_for_no_more_frames_than_the_limit(nerv_file, frames, field):
    # A NeRV draws any number of frames from one network: only the limit bounds its count.
    with pytest.raises(HeaderError, match=field):
        decode(lying(nerv_file, _top(frames=frames)))
    assert decode(lying(nerv_file, _top(frames=5))).shape == (5, 3, 80, 160)


def test_not_json_or_no_object_is_refused(hnerv_file):
    header, payload = read_header(hnerv_file)
    with pytest.raises(HeaderError, match=r"'header' holds \[1, 2\]"):
        decode(pack([1, 2], payload))
    text = json.dumps(header).replace('"frames":', '"frames":NaN,"frames2":')
    with pytest.raises(HeaderError, match="'header' holds NaN"):
        decode(_file(text.encode(), payload))
    twice = json.dumps(header).replace('"frames":', '"frames":4,"frames":')
    with pytest.raises(HeaderError, match="'frames' is given twice"):
        decode(_file(twice.encode(), payload))
    for text in (b"\xff\xfe{}", b'{"kind": "hnerv"', b"[" * 100_000):
        with pytest.raises(HeaderError, match="'header' is not UTF-8 JSON"):
            decode(_file(text, payload))


def _file(header_bytes: bytes, payload: bytes) -> bytes:
    """A file around any header bytes, JSON or not, with a valid CRC."""
    body = PRELUDE.pack(MAGIC, VERSION, len(header_bytes), len(payload)) + header_bytes + payload
    return body + struct.pack("<I", zlib.crc32(body))


def test_a_payload_that_lies_is_refused(hnerv_file):
    def nan_first(payload):  # the first tensor's min: NaN as float32 and as float16
        return b"\xff" * 4 + payload[4:]

    with pytest.raises(HeaderError, match=r"'tensors\[0\]'.*not finite"):
        decode(lying(hnerv_file, lambda header: None, nan_first))
    with pytest.raises(BitstreamError, match="payload"):
        decode(lying(hnerv_file, lambda header: None, lambda payload: payload + b"\x00" * 3))


def test_a_lie_about_what_the_file_does_not_store_allocates_nothing(bunny):
    # res_hnerv builds a whole HNeRV, encoder included, and keeps its decoder. decode builds
    # on the meta device and assigns the file's weights, so a 60000-wide encoder (never
    # stored, so no check can see it) is never allocated: some 10^11 numbers otherwise.
    torch.manual_seed(0)
    model = res_hnerv(HNeRVConfig(**TINY_HNERV))
    with torch.no_grad():
        data = encode(model, model.encode(bunny[:2]))
    wide = lying(data, _config(encoder_width=60000))
    assert torch.equal(decode(wide), decode(data))


def _fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_bitstream", FUZZ_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzzed_files_raise_bitstream_error_every_time(hnerv_file, nerv_file):
    # benchmarks/fuzz_bitstream.py's cases: half damage (CRC as it was), half lies (CRC
    # recomputed); a case fails if frames come back or another exception escapes.
    counts, failures = _fuzzer().fuzz({"hnerv": hnerv_file, "nerv": nerv_file}, 500, seed=0)
    assert not failures, "\n".join(failures[:10])
    breaks = ("truncate", "flip", "edit", "replace", "delete", "add", "nudge")
    assert all(counts[f"break: {how}"] > 0 for how in breaks), counts


def test_an_error_the_checks_miss_still_comes_out_as_a_bitstream_error(hnerv_file, monkeypatch):
    # The safety net under the checks: simulate a gap, a render that fails on real tensors.
    kind = MODEL_KINDS["hnerv"]

    def render(network, embeddings, indices, frames):
        if indices.is_meta:  # the checks' dry run on shapes passes...
            return kind.render(network, embeddings, indices, frames)
        raise RuntimeError("a gap in the checks")  # ...and the real one fails

    monkeypatch.setitem(MODEL_KINDS, "hnerv", dataclasses.replace(kind, render=render))
    with pytest.raises(BitstreamError, match="drawing the frames failed although the file passed"):
        decode(hnerv_file)


def test_a_kind_with_state_the_file_does_not_keep_is_built_for_real():
    # decode assigns the file's weights to a part built on meta; a part with a buffer the
    # file does not keep (non-persistent) would keep a meta tensor, so it is built for real.
    class Buffered(NeRV):
        def __init__(self, config):
            super().__init__(config)
            self.register_buffer("scratch", torch.ones(3), persistent=False)

    nerv = MODEL_KINDS["nerv"]
    register_kind(
        "buffered-test", ModelKind(Buffered, NeRVConfig, nerv.stored, Buffered, nerv.render, ())
    )
    try:
        model = Buffered(NeRVConfig(**TINY_NERV))
        data = encode(model, frames=3)
        assert not decode_model(data)[1].scratch.is_meta
        assert torch.equal(decode(data), quantized_frames(model, frames=3))
    finally:
        del MODEL_KINDS["buffered-test"]


# --- the plumbing modules behind the lesson's code -------------------------------------------


def _defined_names(module) -> set[str]:
    """Public names a module defines at its top level (not the ones it imports)."""
    import ast
    import inspect

    names = set()
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


def test_the_plumbing_public_names_are_the_bitstreams():
    # Lesson 08 moved the model kinds and the decoder's checks to hand-written modules; every
    # public name stays importable from nerv_lessons.bitstream, as the very same object (a
    # kind registered or patched there is the one decode uses).
    from nerv_lessons import _bitstream_checks, _bitstream_kinds, bitstream

    for module in (_bitstream_checks, _bitstream_kinds):
        for name in _defined_names(module):
            assert name in bitstream.__all__, f"{module.__name__}.{name} is not re-exported"
            assert getattr(bitstream, name) is getattr(module, name), name
    assert _defined_names(bitstream) <= set(bitstream.__all__)
    assert all(hasattr(bitstream, name) for name in bitstream.__all__)
