"""Lesson 12's entropy module: learned steps and their gradient, the rate proxy against
hand-computed bits, bit-exact round trips through the ANS file, every kind of bad file
refused, and the file's size against the proxy's bits."""

import json
import math
import struct
import zlib

import pytest
import torch
from torch import nn

from nerv_lessons import entropy
from nerv_lessons.entropy import (
    CHECKSUM,
    MAGIC,
    P_MIN,
    PRELUDE,
    VERSION,
    BitstreamError,
    CodedTensor,
    HeaderError,
    LearnedSteps,
    Step,
    decode_tensors,
    encode_tensors,
    fit_model,
    pack,
    proxy_bits,
    quantized_call,
    rate_bits,
    rate_bpp,
    rate_report,
    read_file,
    step_grid,
    tensor_bits,
)

torch.set_num_threads(1)


# --- the rate proxy --------------------------------------------------------------------------


def test_gaussian_bits_by_hand():
    """Symbols 0, 1, -1 under N(0, 1): P(0) = erf(1/2 / sqrt 2), P(+-1) = (erf(3/2 / sqrt 2) -
    erf(1/2 / sqrt 2)) / 2."""
    p0 = math.erf(0.5 / math.sqrt(2))
    p1 = (math.erf(1.5 / math.sqrt(2)) - math.erf(0.5 / math.sqrt(2))) / 2
    expected = -math.log2(p0) - 2 * math.log2(p1)  # 0.934 + 2 * 2.6 = 6.13 bits
    q = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    assert float(tensor_bits(q, "gaussian", mu=0.0, sigma=1.0)) == pytest.approx(expected, 1e-12)
    q32 = q.float()  # training's float32 keeps 6 digits
    assert float(tensor_bits(q32, "gaussian", mu=0.0, sigma=1.0)) == pytest.approx(expected, 1e-6)


def test_laplace_bits_by_hand():
    """Under Laplace(0, b): P(0) = 1 - exp(-1/(2b)), P(+-1) = (exp(-1/(2b)) - exp(-3/(2b))) / 2."""
    b = 0.7
    p0 = 1 - math.exp(-0.5 / b)
    p1 = (math.exp(-0.5 / b) - math.exp(-1.5 / b)) / 2
    expected = -math.log2(p0) - 2 * math.log2(p1)
    q = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    assert float(tensor_bits(q, "laplace", mu=0.0, sigma=b)) == pytest.approx(expected, 1e-12)


def test_far_tail_is_finite_and_floored():
    """Far from mu both cdf values round to 1 without the reflection; the clamp charges
    -log2(P_MIN) = 24 bits and the gradient stays finite."""
    q = torch.tensor([40.0, -40.0, 3.0], requires_grad=True)
    bits = tensor_bits(q, "gaussian", mu=0.0, sigma=1.0)
    assert bits.item() < 2 * 24 + 12
    per_symbol = entropy.symbol_bits(q, 0.0, 1.0, "gaussian")
    assert per_symbol[:2].tolist() == [-math.log2(P_MIN)] * 2
    bits.backward()
    assert torch.isfinite(q.grad).all()
    # A tail bin three sigmas out, reflected: float32 gives what float64 gives.
    exact = entropy.symbol_bits(torch.tensor([3.0], dtype=torch.float64), 0.0, 1.0)
    assert per_symbol[2].item() == pytest.approx(exact.item(), 1e-5)


def test_fit_model():
    q = torch.tensor([0.0, 1.0, 1.0, 2.0, 6.0], dtype=torch.float64)
    mu, sigma = fit_model(q, "gaussian")
    assert float(mu) == pytest.approx(2.0) and float(sigma) == pytest.approx(math.sqrt(4.4))
    mu, b = fit_model(q, "laplace")
    assert float(mu) == 1.0 and float(b) == pytest.approx((1 + 0 + 0 + 1 + 5) / 5)
    _, sigma = fit_model(torch.zeros(7), "gaussian")  # a constant tensor: the floor
    assert float(sigma) == pytest.approx(entropy.SCALE_MIN)


def test_rate_bpp():
    bits = torch.tensor(96000.0)
    assert float(rate_bpp(bits, 2, 80, 160)) == pytest.approx(96000 / (2 * 80 * 160))


# --- learned steps ---------------------------------------------------------------------------


def test_factorised_step_has_a_plus_b_parameters():
    step = Step((6, 4, 3, 3), initial=0.01, factorised=True)
    assert step.log_steps.numel() == 6 + 4
    grid = step.grid()
    assert grid.shape == (6, 4, 1, 1)
    assert torch.allclose(grid, torch.full_like(grid, 0.01))
    with torch.no_grad():
        step.log_steps.copy_(torch.arange(10.0) / 10)
    steps = step.steps()
    assert torch.equal(step.grid()[2, 3, 0, 0], steps[2] * steps[6 + 3])
    assert Step((5,), initial=0.01, factorised=False).log_steps.numel() == 1


def test_per_tensor_steps_for_biases_and_on_request():
    model = nn.Conv2d(3, 5, 3)
    steps = LearnedSteps(dict(model.named_parameters()), per_tensor=())
    assert steps.step("weight").log_steps.numel() == 5 + 3
    assert steps.step("bias").log_steps.numel() == 1
    steps = LearnedSteps(dict(model.named_parameters()), per_tensor=("weight",))
    assert steps.step("weight").log_steps.numel() == 1


def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))


@pytest.mark.parametrize("mode", ["round", "noise"])
def test_gradient_reaches_every_log_step(mode):
    """R + lambda D through the straight-through rounding (or the noise): d loss / d log-step is
    finite and non-zero for every step, and the latent weights get a gradient too."""
    model = tiny_model()
    steps = LearnedSteps(dict(model.named_parameters()), bits=4)
    inputs, target = torch.randn(32, 8), torch.randn(32, 4)
    output, symbols = quantized_call(model, steps, (inputs,), mode=mode)
    loss = rate_bpp(rate_bits(symbols), 1, 16, 16) + 100 * (output - target).pow(2).mean()
    loss.backward()
    for name, step in zip(steps.names, steps.steps):
        assert torch.isfinite(step.log_steps.grad).all(), name
        assert (step.log_steps.grad != 0).any(), name
    assert all((p.grad != 0).any() for p in model.parameters())


def test_rate_alone_pushes_steps_up():
    """A larger step gives smaller symbols and fewer bits: the rate's gradient says so."""
    model = tiny_model()
    steps = LearnedSteps(dict(model.named_parameters()))
    _, symbols = quantized_call(model, steps, (torch.randn(2, 8),))
    rate_bits(symbols).backward()
    assert sum(float(step.log_steps.grad.sum()) for step in steps.steps) < 0


def test_round_mode_trains_on_what_the_file_stores():
    """The weights round mode computes with are the exported symbols times the stored steps,
    bit for bit, and the model's forward with them is what quantized_call returns."""
    model = tiny_model()
    steps = LearnedSteps(dict(model.named_parameters()))
    inputs = torch.randn(5, 8)
    output, symbols = quantized_call(model, steps, (inputs,))
    trained = steps.dequantize(symbols)
    coded = steps.export(dict(model.named_parameters()))
    for name, weight in trained.items():
        assert torch.equal(weight.detach(), coded[name].dequantize()), name
        assert torch.equal(symbols[name].detach(), coded[name].symbols.float()), name
        half_step = step_grid(coded[name].steps, weight.shape) / 2
        latent = dict(model.named_parameters())[name].detach()
        assert ((latent - coded[name].dequantize()).abs() <= half_step * 1.0001).all()
    reference = torch.func.functional_call(
        model, {n: w.detach() for n, w in trained.items()}, (inputs,)
    )
    assert torch.equal(output.detach(), reference)


# --- round trips -----------------------------------------------------------------------------


def coded(symbols, steps=None, mu=0.0, sigma=1.0, family="gaussian", dtype=torch.float32):
    symbols = torch.as_tensor(symbols, dtype=torch.int64)
    steps = torch.tensor([0.01]) if steps is None else torch.as_tensor(steps, dtype=torch.float32)
    return CodedTensor(symbols, steps, mu, sigma, family, dtype)


def many_tensors() -> dict[str, CodedTensor]:
    g = torch.Generator().manual_seed(1)
    conv = torch.round(torch.randn(6, 4, 3, 3, generator=g) * 5).long()
    linear = torch.round(torch.randn(3, 7, generator=g) * 2 - 4).long()  # mostly negative
    return {
        "conv.weight": coded(conv, torch.rand(10, generator=g) + 0.01, 0.125, 5.0),
        "conv.bias": coded([-3, 0, 2, 2, 9, -120], [0.003], -0.5, 3.25, "laplace"),
        "fc.weight": coded(linear, torch.rand(10, generator=g) + 0.5, -4.0, 2.0),
        "constant": coded(torch.full((4, 5), -7), torch.rand(9, generator=g) + 0.1, -7.0, 0.25),
        "scalar": coded(torch.tensor(42), [0.5], 42.0, 0.125),
        "one": coded([3], [2.0], 0.0, 1.0),
        "half": coded(torch.tensor([[1, -1], [0, 5]]), [0.25, 0.5, 1.0, 2.0], dtype=torch.float16),
    }


def assert_same(decoded: dict, original: dict):
    assert list(decoded) == list(original)
    for name, t in original.items():
        d = decoded[name]
        assert torch.equal(d.symbols, t.symbols) and d.symbols.dtype == torch.int64, name
        assert torch.equal(d.steps, t.steps) and d.steps.dtype == torch.float32, name
        assert (d.mu, d.sigma, d.family, d.dtype) == (t.mu, t.sigma, t.family, t.dtype), name
        assert torch.equal(d.dequantize(), t.dequantize()), name


def test_round_trip_many_tensors():
    tensors = many_tensors()
    assert_same(decode_tensors(encode_tensors(tensors)), tensors)


def test_round_trip_of_an_export():
    model = tiny_model()
    steps = LearnedSteps(dict(model.named_parameters()), bits=6)
    for family in ("gaussian", "laplace"):
        tensors = steps.export(dict(model.named_parameters()), family)
        decoded = decode_tensors(encode_tensors(tensors))
        assert_same(decoded, tensors)
        weights = {name: t.dequantize() for name, t in decoded.items()}
        model.load_state_dict(weights)  # what a decoder does with them


def test_mu_and_sigma_are_stored_as_float32():
    """A mu that float32 cannot hold comes back as the float32 the coder used on both sides."""
    tensors = {"w": coded([0, 1, 2, -1], mu=0.1, sigma=1.1)}
    decoded = decode_tensors(encode_tensors(tensors))["w"]
    assert decoded.mu == entropy.as_float32(0.1) and decoded.sigma == entropy.as_float32(1.1)
    assert torch.equal(decoded.symbols, tensors["w"].symbols)


def test_a_tensor_of_one_value_costs_no_words():
    _, _, words = read_file(encode_tensors({"c": coded(torch.full((100,), 5), mu=5.0, sigma=0.1)}))
    assert words == b""


def test_encode_refuses_what_it_cannot_store():
    with pytest.raises(ValueError, match="signed integers"):
        encode_tensors({"w": CodedTensor(torch.zeros(3), torch.tensor([1.0]), 0.0, 1.0)})
    with pytest.raises(ValueError, match="float32"):
        steps = torch.tensor([1.0], dtype=torch.float64)
        encode_tensors({"w": CodedTensor(torch.tensor([1, 2]), steps, 0.0, 1.0)})
    with pytest.raises(HeaderError, match="sigma"):  # decode's own check, run by encode
        encode_tensors({"w": coded([1, 2], sigma=0.0)})
    with pytest.raises(HeaderError, match="range"):
        encode_tensors({"w": coded([0, 2**17])})
    with pytest.raises(ValueError, match="steps do not fit"):
        encode_tensors({"w": coded([[1, 2]], steps=[1.0, 2.0, 3.0, 4.0])})


# --- bad files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_file() -> bytes:
    return encode_tensors(many_tensors())


def repacked(data: bytes, edit) -> bytes:
    """The file with its header edited by `edit` and a valid checksum: an intact file that lies."""
    header, params, words = read_file(data)
    edit(header)
    return pack(header, params, words)


def test_not_bytes(good_file):
    with pytest.raises(TypeError, match="bytes"):
        decode_tensors(list(good_file))


def test_wrong_magic(good_file):
    with pytest.raises(BitstreamError, match="wrong magic"):
        decode_tensors(b"NotMine!" + good_file[8:])
    from nerv_lessons.bitstream import MAGIC as LESSON_08_MAGIC

    with pytest.raises(BitstreamError, match="lesson 08 file.*bitstream.decode"):
        decode_tensors(LESSON_08_MAGIC + good_file[8:])


@pytest.mark.parametrize("version,fix", [(VERSION + 1, "update"), (VERSION - 1, "encode")])
def test_unknown_version(good_file, version, fix):
    data = good_file[:8] + struct.pack("<H", version) + good_file[10:]
    with pytest.raises(BitstreamError, match=f"version {version}.*{fix}"):
        decode_tensors(data)


@pytest.mark.parametrize("cut", [0, 10, PRELUDE.size + CHECKSUM.size, 100, -5, -1])
def test_truncated(good_file, cut):
    with pytest.raises(BitstreamError, match="truncated"):
        decode_tensors(good_file[:cut])


def test_trailing_bytes(good_file):
    with pytest.raises(BitstreamError, match="unexpected bytes"):
        decode_tensors(good_file + b"\x00")


def test_every_changed_byte_is_caught(good_file):
    """One flipped bit anywhere: in the prelude a length or magic goes wrong, elsewhere the
    CRC32 does not match."""
    for position in range(0, len(good_file), 7):
        data = bytearray(good_file)
        data[position] ^= 0x10
        with pytest.raises(BitstreamError):
            decode_tensors(bytes(data))
    data = bytearray(good_file)
    data[PRELUDE.size + 3] ^= 0x01  # in the JSON header
    with pytest.raises(BitstreamError, match="corrupt.*CRC32"):
        decode_tensors(bytes(data))


def test_ans_words_not_whole_words(good_file):
    header, params, words = read_file(good_file)
    with pytest.raises(BitstreamError, match="not whole 32-bit words"):
        decode_tensors(pack(header, params, words + b"\x01"))


def set_field(index, field, value):
    def edit(header):
        header["tensors"][index][field] = value

    return edit


@pytest.mark.parametrize(
    "edit,field",
    [
        (set_field(1, "shape", [5]), "tensors"),  # a bias one number short
        (set_field(1, "shape", [12]), "tensors"),  # a bias listing more numbers than coded
        (set_field(0, "shape", [6, 5, 3, 3]), "tensors"),  # factorised: the steps no longer fit
        (set_field(0, "shape", [4, 6, 3, 3]), "tensors"),  # same sizes, transposed
        (set_field(2, "range", [-13, 2]), "tensors"),  # another model, other symbols
        (set_field(3, "range", [-6, -6]), "tensors"),  # a constant tensor's value
        (set_field(1, "family", "gaussian"), "tensors"),  # the wrong model family
        (set_field(1, "family", "cauchy"), "tensors[1].family"),
        (set_field(1, "dtype", "int8"), "tensors[1].dtype"),
        (set_field(1, "step", "matrix"), "tensors[1].step"),
        (set_field(0, "range", [5, -5]), "tensors[0].range"),
        (set_field(0, "range", [0, 2**16]), "tensors[0].range"),
        (set_field(0, "range", [0, 1.5]), "tensors[0].range[1]"),
        (set_field(0, "shape", [6, 0, 3, 3]), "tensors[0].shape[1]"),
        (set_field(0, "shape", [2**20, 2**20]), "tensors"),  # too many numbers
        (set_field(4, "name", "conv.weight"), "tensors[4].name"),
        (lambda header: header["tensors"][0].pop("range"), "tensors[0].range"),
        (lambda header: header.update(extra=1), "extra"),
        (lambda header: header.update(symbols_crc32=-1), "symbols_crc32"),
        (lambda header: header.update(tensors=[]), "tensors"),
    ],
)
def test_lying_header_names_its_field(good_file, edit, field):
    with pytest.raises(HeaderError) as caught:
        decode_tensors(repacked(good_file, edit))
    assert caught.value.field == field
    assert repr(field) in str(caught.value)  # "header field 'tensors[1].family' holds ..."


def test_header_that_is_not_json(good_file):
    _, params, words = read_file(good_file)
    text = b"{not json"
    body = PRELUDE.pack(MAGIC, VERSION, len(text), len(params), len(words)) + text + params + words
    with pytest.raises(HeaderError, match="not UTF-8 JSON"):
        decode_tensors(body + CHECKSUM.pack(zlib.crc32(body)))


def test_lying_parameters(good_file):
    """A sigma of 0 or a negative step in the parameter block: refused before the coder runs."""
    header, params, words = read_file(good_file)
    zero_sigma = params[:4] + struct.pack("<f", 0.0) + params[8:]
    with pytest.raises(HeaderError, match="sigma 0.0") as caught:
        decode_tensors(pack(header, zero_sigma, words))
    assert caught.value.field == "tensors[0]"
    negative_step = params[:8] + struct.pack("<f", -1.0) + params[12:]
    with pytest.raises(HeaderError, match="steps that are not finite or not > 0"):
        decode_tensors(pack(header, negative_step, words))


def test_expected_shapes(good_file):
    """The reader's own shapes: a header listing other ones is refused before any decoding."""
    expected = {name: list(t.symbols.shape) for name, t in many_tensors().items()}
    decode_tensors(good_file, expected)
    lying = repacked(good_file, set_field(2, "shape", [7, 3]))
    with pytest.raises(HeaderError) as caught:
        decode_tensors(lying, expected)
    assert caught.value.field == "tensors[2].shape"
    with pytest.raises(HeaderError, match="lists no 'extra'"):
        decode_tensors(good_file, {**expected, "extra": [3]})


def test_json_header_is_plain(good_file):
    """The header is readable JSON: names, shapes, dtypes, families, step kinds, ranges."""
    text = good_file[PRELUDE.size : PRELUDE.size + PRELUDE.unpack_from(good_file)[2]]
    entry = json.loads(text)["tensors"][1]
    assert entry == {
        "name": "conv.bias",
        "shape": [6],
        "dtype": "float32",
        "family": "laplace",
        "step": "tensor",
        "range": [-120, 9],
    }


# --- the proxy beside the file ---------------------------------------------------------------

HEADER_ALLOWANCE = 256  # bytes: prelude 26, checksum 4, a one-tensor JSON header ~ 110
MARGIN = 0.02


@pytest.mark.parametrize("family", ["gaussian", "laplace"])
def test_file_size_is_the_proxy_within_the_margin(family):
    """10,000 symbols of a rounded N(0, 3^2), fixed seed: the file's bits are the proxy's
    within 2 %, plus the header's bytes; the words alone are the coder's model's bits within
    0.5 % + 64 bits."""
    g = torch.Generator().manual_seed(0)
    q = torch.round(torch.randn(10_000, generator=g) * 3).long()
    mu, sigma = fit_model(q.double(), family)
    tensors = {"x": coded(q, [0.01], entropy.as_float32(mu), entropy.as_float32(sigma), family)}
    report = rate_report(tensors, frames=1, height=100, width=100)
    assert report.proxy_bits == pytest.approx(proxy_bits(tensors))
    file_bits = 8 * len(encode_tensors(tensors))
    assert file_bits == 8 * report.file_bytes
    assert (1 - MARGIN) * report.proxy_bits <= file_bits
    assert file_bits <= (1 + MARGIN) * report.proxy_bits + 8 * HEADER_ALLOWANCE
    assert abs(report.coder_bits) <= 0.005 * report.model_bits + 64
    assert report.ends_bits <= 0
    assert report.params_bytes == 12 and report.header_bytes <= HEADER_ALLOWANCE
    assert "rate proxy" in report.table()
    print(f"\n{family}\n{report.table()}")


def test_end_bins_take_the_tails():
    """constriction's end bins hold the model's mass beyond the range: symbols at the ends of
    a range cut short cost what ends=True says, not what the plain proxy says."""
    # Range [0, 1] under N(0, 1): P(1) = 1 - F(1/2), P(0) = F(1/2). The zeros come first: a
    # run of the lowest symbol at the very end is coded onto the empty coder, and costs nothing.
    q = torch.tensor([0] * 100 + [1] * 900)
    tensors = {"x": coded(q, mu=0.0, sigma=1.0)}
    by_hand = -900 * math.log2(1 - 0.5 * (1 + math.erf(0.5 / math.sqrt(2))))
    by_hand -= 100 * math.log2(0.5 * (1 + math.erf(0.5 / math.sqrt(2))))
    report = rate_report(tensors, 1, 10, 10)
    assert report.model_bits == pytest.approx(by_hand, 1e-9)
    assert report.proxy_bits > report.model_bits + 400  # plain: P(1) = F(3/2) - F(1/2) ...
    assert 0 <= report.coder_bits <= 64  # the final state: a 64-bit number, flushed as 2 words


def test_ends_in_training_keep_a_gradient():
    q = (torch.randn(200) * 4).requires_grad_()
    bits = tensor_bits(entropy.round_ste(q), "gaussian", ends=True)
    bits.backward()
    assert torch.isfinite(q.grad).all() and (q.grad != 0).any()
    assert float(tensor_bits(torch.full((5,), 3.0), ends=True)) == 0.0  # one value: no bits


def test_a_final_run_of_the_lowest_symbol_is_free():
    """ANS's empty state decodes to the lowest symbol and stays empty, so the symbols encoded
    first (the last tensor's last ones) cost nothing while they are the lowest: why the file
    keeps a CRC32 of the symbols, and a curiosity of the coder's bits."""
    tail = torch.tensor([0, 1, 1, 0, 1] * 20)
    short = rate_report({"x": coded(tail, mu=0.0, sigma=1.0)}, 1, 1, 1).words_bytes
    longer = torch.cat([tail, torch.zeros(500, dtype=torch.int64)])
    assert rate_report({"x": coded(longer, mu=0.0, sigma=1.0)}, 1, 1, 1).words_bytes == short


# --- a model's file ---------------------------------------------------------------------------

TINY_HNERV = dict(
    height=80, width=160, strides=(5, 2, 2, 2), encoder_width=8, embed_dim=4, fc_dim=12, min_width=4
)


@pytest.fixture(scope="module")
def tiny_hnerv(bunny):
    from nerv_lessons.hnerv import HNeRV, HNeRVConfig

    torch.manual_seed(0)
    model = HNeRV(HNeRVConfig(**TINY_HNERV)).eval()
    with torch.no_grad():
        embeddings = model.encode(bunny[:4])
    steps = LearnedSteps(entropy.stored_tensors(model, embeddings))
    return model, embeddings, steps


def test_model_file_decodes_to_the_quantized_model_bit_exact(tiny_hnerv):
    model, embeddings, steps = tiny_hnerv
    data = entropy.encode_model(model, steps, embeddings)
    coded = steps.export(entropy.stored_tensors(model, embeddings))
    name, network, stored, frames = entropy.decode_model(data)
    assert (name, frames) == ("hnerv", 4)
    for key, value in network.state_dict().items():
        assert torch.equal(value, coded[key].dequantize())
    assert torch.equal(stored, coded["embeddings"].dequantize())
    with torch.no_grad():
        expected = network(stored).clamp(0, 1)
    assert torch.equal(entropy.decode(data), expected)


def test_model_file_refuses_what_lesson_08_refuses(tiny_hnerv):
    model, embeddings, steps = tiny_hnerv
    data = entropy.encode_model(model, steps, embeddings)
    header, params, words = read_file(data)
    lying = json.loads(json.dumps(header))
    lying["config"]["strides"] = [5, 2, 2, 3]  # 80 x 160 is not a multiple of these
    with pytest.raises(HeaderError, match="config"):
        entropy.decode(pack(lying, params, words))
    lying = json.loads(json.dumps(header))
    lying["frames"] = 5  # four embeddings were stored
    with pytest.raises(HeaderError, match="frames"):
        entropy.decode(pack(lying, params, words))
    lying = json.loads(json.dumps(header))
    lying["kind"] = "no such kind"
    with pytest.raises(HeaderError, match="kind"):
        entropy.decode(pack(lying, params, words))


def test_a_tensor_file_is_not_a_model(tiny_hnerv):
    _, _, steps = tiny_hnerv
    data = encode_tensors({"w": CodedTensor(torch.tensor([1, 2, 3]), torch.ones(1), 2.0, 1.0)})
    with pytest.raises(BitstreamError, match="decode_tensors"):
        entropy.decode(data)


def test_model_file_needs_every_step_and_refuses_exact_kinds(tiny_hnerv, bunny):
    model, embeddings, _ = tiny_hnerv
    partial = LearnedSteps({"embeddings": embeddings})
    with pytest.raises(ValueError, match="no step"):
        entropy.encode_model(model, partial, embeddings)
    with pytest.raises(ValueError, match="embeddings"):
        entropy.encode_model(model, partial)  # HNeRV without its embeddings
    from nerv_lessons.hnerv import HNeRVConfig
    from nerv_lessons.residual import RCHNeRV

    rc = RCHNeRV(HNeRVConfig(**TINY_HNERV))
    with torch.no_grad():
        per_frame = rc.encode(bunny[:2])
    with pytest.raises(ValueError, match="exactly"):
        entropy.stored_tensors(rc, per_frame)


def test_the_file_and_the_proxy_agree_on_the_smallest_scale():
    from nerv_lessons import _entropy_file

    assert _entropy_file.MIN_SCALE == entropy.SCALE_MIN
