"""The bitstream of lesson 08: one file per model, bit-exact round trips, bpp from its length,
and every kind of damage refused."""

import copy
import struct
import zlib

import pytest
import torch

from nerv_lessons.bitstream import (
    MAGIC,
    MODEL_KINDS,
    PRELUDE,
    VERSION,
    BitstreamError,
    ModelKind,
    decode,
    decode_model,
    encode,
    kind_of,
    quantize_model,
    quantized_frames,
    read_header,
    register_kind,
)
from nerv_lessons.compress import prune_global
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
