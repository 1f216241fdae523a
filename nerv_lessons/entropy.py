# Generated from notebooks/12_entropy.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Training for the file (NVRC, Kwan et al., NeurIPS 2024): learned quantization steps, a rate
the loss can differentiate, and a real file, coded with ANS, whose size that rate predicts.

    latent weight x --(x / delta; round, or add noise)--> symbols q
      --(a Gaussian or Laplacian model of q)--> bits: the rate proxy R, in the loss R + lambda D
      --(the same model, constriction's ANS coder)--> the file

Lesson 08 quantized after training, at a bit depth chosen by hand, and Huffman-coded the
symbols. Here the steps delta are parameters trained with the network (`LearnedSteps`), the
loss sees the bits the symbols will cost (`rate_bits`), and the file codes them with the very
model the proxy assumed (`encode_model`, `decode`), so `rate_report` can set the two side by
side and name what separates them. The file's checks and constants (`_entropy_file`) are
plumbing written by hand; their public names are importable from here. Introduced in lesson
12 (notebooks/12_entropy.ipynb).
"""

import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from nerv_lessons._entropy_file import (
    CHECKSUM,
    DTYPES,
    FAMILIES,
    MAGIC,
    MAX_ALPHABET,
    MAX_NUMBERS,
    MAX_SCALE,
    MAX_SYMBOL,
    MIN_SCALE,
    PRELUDE,
    STEP_KINDS,
    VERSION,
    BitstreamError,
    HeaderError,
    _ans_decode,
    _ans_encode,
    _check_expected,
    _check_header,
    _check_model_header,
    _check_symbols,
    _coder_models,
    _coder_net,
    _read_params,
    _symbols_crc,
    pack,
    read_file,
    split_file,
)
from nerv_lessons.bitstream import (
    EXACT_PER_FRAME,
    MODEL_KINDS,
    _check_inputs,
    _per_frame,
    _unpack,
    kind_of,
    render,
)

# fmt: off
__all__ = [  # this module's own names, then the plumbing's public names it re-exports
    "round_ste", "add_noise", "MODES", "step_grid", "initial_step", "Step", "LearnedSteps",
    "quantized_call", "P_MIN", "SCALE_MIN", "gaussian_cdf", "laplace_cdf", "CDFS",
    "bin_probability", "symbol_bits", "fit_model", "tensor_bits", "rate_bits", "rate_bpp",
    "as_float32", "CodedTensor", "encode_tensors", "decode_tensors", "stored_tensors",
    "model_fields", "encode_model", "decode_model", "decode", "proxy_bits", "RateReport",
    "rate_report",
    "MAGIC", "VERSION", "PRELUDE", "CHECKSUM", "DTYPES", "FAMILIES", "STEP_KINDS",
    "MAX_ALPHABET", "MAX_NUMBERS", "MAX_SCALE", "MAX_SYMBOL", "MIN_SCALE", "BitstreamError",
    "HeaderError", "pack", "read_file", "split_file",
]
# fmt: on


# The floor on a symbol's probability: constriction's probabilities are multiples of 2^-24
# and none is below one such step, so neither the coder nor the proxy charges a symbol more
# than 24 bits. Below the floor the proxy's gradient is zero.
P_MIN = 2.0**-24
# The smallest sigma (in step units) a fitted model takes. At 0.1 a Gaussian's central bin
# already holds all but 6e-7 of the mass and its neighbours sit near P_MIN: less means
# nothing more. It also keeps a constant tensor's sigma (0) from dividing by zero.
SCALE_MIN = 0.1


def gaussian_cdf(z: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-z / math.sqrt(2))


def laplace_cdf(z: torch.Tensor) -> torch.Tensor:
    tail = 0.5 * torch.exp(-z.abs())  # exp of a number <= 0: neither branch overflows
    return torch.where(z < 0, tail, 1 - tail)


CDFS = {"gaussian": gaussian_cdf, "laplace": laplace_cdf}


def bin_probability(q, mu, sigma, family="gaussian", ends=None) -> torch.Tensor:
    """P(q - 1/2 < X < q + 1/2) for X ~ family(mu, sigma), at least P_MIN. The bin is
    reflected to the lower side of mu first, where the two cdf values are small numbers that
    float32 keeps to full precision; above mu, F(q + 1/2) - F(q - 1/2) would be 1 - 1 = 0 far
    out. The clamp keeps -log2 finite. ends=(low, high): the end bins reach to -inf and +inf,
    taking the tails beyond the range, as constriction's models do (measured: they do not
    renormalize the inner bins)."""
    if family not in CDFS:
        raise ValueError(f"family is one of {', '.join(CDFS)}, got {family!r}")
    cdf = CDFS[family]
    upper, lower = (q + 0.5 - mu) / sigma, (q - 0.5 - mu) / sigma
    if ends is not None:
        upper = torch.where(q >= ends[1], math.inf, upper)
        lower = torch.where(q <= ends[0], -math.inf, lower)
    # Both models are symmetric about mu. A tensor of one value has both ends infinite: the
    # sum is NaN, no side is taken, and its one bin holds everything (p = 1, 0 bits).
    side = torch.where(upper + lower > 0, -1.0, 1.0)
    return (cdf(side * upper) - cdf(side * lower)).abs().clamp_min(P_MIN)


def symbol_bits(q, mu, sigma, family="gaussian", ends=None) -> torch.Tensor:
    """-log2 P(q): each symbol's ideal code length under the model, in bits."""
    return -torch.log2(bin_probability(q, mu, sigma, family, ends))


def fit_model(q: torch.Tensor, family="gaussian") -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, sigma) of the continuous model, fitted to these symbols by maximum likelihood:
    mean and standard deviation (Gaussian), median and mean |q - median| (Laplace, whose
    sigma is the scale b); sigma at least SCALE_MIN. Differentiable, so in training the
    model follows the symbols (the variance is clamped, not its root, whose gradient at 0 is
    infinite)."""
    flat = q.flatten()
    if family == "gaussian":
        mu = flat.mean()
        return mu, (flat - mu).pow(2).mean().clamp_min(SCALE_MIN**2).sqrt()
    if family == "laplace":
        mu = flat.median()
        return mu, (flat - mu).abs().mean().clamp_min(SCALE_MIN)
    raise ValueError(f"family is one of {', '.join(CDFS)}, got {family!r}")


def tensor_bits(q: torch.Tensor, family="gaussian", mu=None, sigma=None, ends=False):
    """The proxy's bits for one tensor's symbols: under (mu, sigma) if given, else fitted.
    ends: the lowest and highest symbol's bins take the tails beyond them (the file's model;
    a few bits fewer where the model puts mass outside the range)."""
    if mu is None or sigma is None:
        mu, sigma = fit_model(q, family)
    limits = (q.min().detach(), q.max().detach()) if ends else None
    return symbol_bits(q, mu, sigma, family, limits).sum()


def rate_bits(symbols: dict[str, torch.Tensor], family="gaussian", ends=False) -> torch.Tensor:
    """The proxy's bits for every stored number: each tensor under its own fitted model."""
    return sum(tensor_bits(q, family, ends=ends) for q in symbols.values())


def rate_bpp(bits, frames: int, height: int, width: int):
    """bits / (T * H * W), a tensor if bits is one (the loss's R). metrics.bits_per_pixel is
    the same for a file, from its length in bytes."""
    return bits / (frames * height * width)


def as_float32(value) -> float:
    """The float32 nearest `value`, as a Python float: what the file stores and both sides use."""
    return float(np.float32(float(value)))


def round_ste(y: torch.Tensor) -> torch.Tensor:
    """round(y) forward, identity backward (straight-through). The network trains on the very
    integers the file stores, while a gradient still reaches the steps and the weights (round's
    own gradient is zero almost everywhere). The sum is exact: y + (round(y) - y) == round(y)."""
    return y + (torch.round(y) - y).detach()


def add_noise(y: torch.Tensor) -> torch.Tensor:
    """y + U(-1/2, 1/2): a smooth stand-in for rounding with the distribution of its error, so
    the rate has a gradient with respect to every symbol, not only through the step."""
    return y + torch.empty_like(y).uniform_(-0.5, 0.5)


MODES = {"round": round_ste, "noise": add_noise}


def step_grid(steps: torch.Tensor, shape) -> torch.Tensor:
    """The step of every number in a tensor of `shape`, shaped to broadcast against it, from the
    numbers the file stores: one step for the whole tensor, or NVRC's factorised steps,
    delta_out (shape[0] numbers) then delta_in (shape[1] numbers), delta[i, j] = delta_out[i] *
    delta_in[j], shared across a convolution's kernel positions. Training, export and decode
    all build the grid here, so the three agree to the bit."""
    shape = tuple(shape)
    if steps.numel() == 1:
        return steps.reshape([1] * len(shape))
    if len(shape) < 2 or steps.numel() != shape[0] + shape[1]:
        raise ValueError(
            f"{steps.numel()} steps do not fit a tensor of shape {shape}: give one step, or "
            "shape[0] + shape[1] for a tensor of 2 or more dims"
        )
    rows = shape[0]
    grid = steps[:rows, None] * steps[None, rows:]
    return grid.reshape(*shape[:2], *[1] * (len(shape) - 2))


def initial_step(x: torch.Tensor, bits: int = 8) -> float:
    """max |x| / (2^(bits-1) - 1): the step of a uniform `bits`-bit grid symmetric about zero,
    where training starts (lesson 08's 8 bits). An all-zero tensor gets a tiny step (any step
    gives it the symbol 0)."""
    return max(float(x.detach().abs().max()), 2.0**-24) / (2 ** (bits - 1) - 1)


class Step(nn.Module):
    """One tensor's learned step, kept as log-steps: any real value is a valid parameter and
    exp keeps the step positive. A tensor of 2 or more dims gets shape[0] + shape[1] of them
    (factorised); a bias, an embedding or any tensor asked to, one."""

    def __init__(self, shape, initial: float, factorised: bool):
        super().__init__()
        self.shape = tuple(shape)
        count = self.shape[0] + self.shape[1] if factorised else 1
        # Factorised: each half holds sqrt(initial), so every product starts at `initial`.
        start = math.log(initial) / (2 if factorised else 1)
        self.log_steps = nn.Parameter(torch.full((count,), start))

    def steps(self) -> torch.Tensor:
        """The numbers the file stores: one step, or delta_out then delta_in."""
        return self.log_steps.exp()

    def grid(self) -> torch.Tensor:
        return step_grid(self.steps(), self.shape)


class LearnedSteps(nn.Module):
    """The learned steps of some named tensors: a model's parameters, and any others the file
    stores (HNeRV's embeddings). It holds only the steps; the tensors stay where they are, so
    an optimizer gets the latent weights and the steps as two parameter groups, and the model
    itself is unchanged."""

    def __init__(self, tensors: dict[str, torch.Tensor], bits: int = 8, per_tensor=()):
        super().__init__()
        self.names = list(tensors)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.steps = nn.ModuleList(
            Step(x.shape, initial_step(x, bits), x.ndim >= 2 and name not in per_tensor)
            for name, x in tensors.items()
        )

    def step(self, name: str) -> Step:
        return self.steps[self.index[name]]

    def symbols(self, tensors: dict[str, torch.Tensor], mode="round") -> dict[str, torch.Tensor]:
        """Each tensor in step units, x / delta, rounded straight-through ("round") or with
        uniform noise ("noise"): the float symbols the rate and the network see in training."""
        if mode not in MODES:
            raise ValueError(f"mode is one of {', '.join(MODES)}, got {mode!r}")
        return {n: MODES[mode](x / self.step(n).grid()) for n, x in tensors.items()}

    def dequantize(self, symbols: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Symbols back to weights, q * delta: what the network computes with."""
        return {n: q * self.step(n).grid() for n, q in symbols.items()}

    @torch.no_grad()
    def export(self, tensors: dict[str, torch.Tensor], family="gaussian") -> dict:
        """name -> CodedTensor, what the file stores: integer symbols round(x / delta) from the
        float32 steps the file keeps, and the (mu, sigma) fitted to them, as float32 values.
        Dequantized, they are the weights round mode trained with, bit for bit."""
        coded = {}
        for name, x in tensors.items():
            steps = self.step(name).steps().detach().float().cpu()
            latent = x.detach().float().cpu()
            symbols = torch.round(latent / step_grid(steps, latent.shape)).long()
            mu, sigma = fit_model(symbols.double(), family)
            coded[name] = CodedTensor(
                symbols, steps, as_float32(mu), as_float32(sigma), family, x.dtype
            )
        return coded


def quantized_call(model: nn.Module, steps: LearnedSteps, args, kwargs=None, mode="round"):
    """(model(*args) run with its parameters that `steps` knows replaced by their quantized
    values, the symbols behind them: for the rate). torch.func.functional_call rather than
    parametrizations: the model's own parameters stay the latent weights the optimizer
    updates, nothing in the model is replaced or renamed (a parametrization renames "weight"
    to "parametrizations.weight.original" in the state_dict, which lesson 08's bitstream
    reads), and the quantized copies live only for this call."""
    latent = {n: x for n, x in model.named_parameters() if n in steps.index}
    symbols = steps.symbols(latent, mode)
    output = functional_call(model, steps.dequantize(symbols), tuple(args), kwargs)
    return output, symbols


@dataclass
class CodedTensor:
    """One tensor as the file keeps it: integer symbols, the steps that scale them back, and
    the model the coder codes them with."""

    symbols: torch.Tensor  # int64, the tensor's shape
    steps: torch.Tensor  # float32: one step, or delta_out (shape[0]) then delta_in (shape[1])
    mu: float  # the symbols' model: its centre and its scale (Gaussian: the standard
    sigma: float  # deviation; Laplace: b), in step units, float32 values
    family: str = "gaussian"  # or "laplace"
    dtype: torch.dtype = torch.float32  # of the dequantized tensor

    def dequantize(self) -> torch.Tensor:
        grid = step_grid(self.steps, self.symbols.shape)
        return (self.symbols.float() * grid).to(self.dtype).contiguous()


def _check_input(name: str, tensor: CodedTensor) -> None:
    """What encode needs and the header cannot see: integer symbols, float32 steps (the file
    stores float32; other steps would dequantize differently after decoding) and a dtype the
    file can name. Shapes, ranges and parameters are decode's checks, run by encode too."""
    if tensor.symbols.dtype not in (torch.int8, torch.int16, torch.int32, torch.int64):
        raise ValueError(f"{name}: symbols must be signed integers, got {tensor.symbols.dtype}")
    if tensor.steps.dtype != torch.float32 or tensor.steps.ndim != 1:
        raise ValueError(f"{name}: steps must be a 1-D float32 tensor, got {tensor.steps.dtype}")
    if tensor.dtype not in DTYPES.values():
        raise ValueError(f"{name}: dtype {tensor.dtype}; the file stores {', '.join(DTYPES)}")
    if tensor.symbols.numel() == 0:
        raise ValueError(f"{name}: an empty tensor; the file stores tensors of 1 or more numbers")
    step_grid(tensor.steps, tensor.symbols.shape)  # one step, or shape[0] + shape[1]: or raises


def _entry(name: str, tensor: CodedTensor) -> dict:
    q = tensor.symbols
    return {
        "name": name,
        "shape": list(q.shape),
        "dtype": next(key for key, value in DTYPES.items() if value == tensor.dtype),
        "family": tensor.family,
        "step": "tensor" if tensor.steps.numel() == 1 else "matrix",
        "range": [int(q.min()), int(q.max())],
    }


def _params(tensor: CodedTensor) -> bytes:
    """One tensor's part of the parameter block: mu, sigma, then its steps, float32."""
    values = [float(tensor.mu), float(tensor.sigma), *tensor.steps.detach().cpu().tolist()]
    return np.array(values, "<f4").tobytes()


def encode_tensors(tensors: dict[str, CodedTensor], model: dict | None = None) -> bytes:
    """The file for these tensors (`LearnedSteps.export` gives them); `model` (kind, config,
    frames, height, width: `model_fields`) makes it a model's file. mu and sigma are stored as
    float32 and the coder uses the stored values, the decoder's. Whatever decode would refuse
    is refused here, by decode's own checks: write only what decode reads."""
    for name, tensor in tensors.items():
        _check_input(name, tensor)
    symbols = [t.symbols.detach().cpu().long() for t in tensors.values()]
    header = {
        **(model or {}),
        "tensors": [_entry(name, tensor) for name, tensor in tensors.items()],
        "symbols_crc32": _symbols_crc(symbols),
    }
    params = b"".join(_params(tensor) for tensor in tensors.values())
    _check_header(header, len(params))
    if model is not None:  # the model as decode will read it: through JSON (tuples -> lists)
        _check_model_header(json.loads(json.dumps(header)))
    models = _coder_models(header, _read_params(header, params))
    with _coder_net("ANS encoding"):
        words = _ans_encode(symbols, models)
    return pack(header, params, words)


def _read_tensors(data: bytes, expected: dict | None = None) -> tuple[dict, dict]:
    """(header, name -> CodedTensor) of a file; every check before the work it guards."""
    header, params, words = read_file(data)
    if "kind" in header:
        _check_model_header(header)  # the model it names: lesson 08's checks
    if expected is not None:
        _check_expected(header, expected)
    parameters = _read_params(header, params)
    models = _coder_models(header, parameters)
    symbols = _ans_decode(header, models, words)
    _check_symbols(header, symbols)
    tensors = {
        entry["name"]: CodedTensor(q, steps, mu, sigma, entry["family"], DTYPES[entry["dtype"]])
        for entry, q, (mu, sigma, steps) in zip(header["tensors"], symbols, parameters)
    }
    return header, tensors


def decode_tensors(data: bytes, expected: dict | None = None) -> dict[str, CodedTensor]:
    """name -> CodedTensor, the file's tensors exactly as encoded. `expected` (name -> shape)
    checks the header's names and shapes against what the reader knows. A bad file raises a
    BitstreamError (a HeaderError if it is intact but lies)."""
    return _read_tensors(data, expected)[1]


def stored_tensors(model: nn.Module, embeddings=None) -> dict[str, torch.Tensor]:
    """Every tensor a file of this model keeps, named as lesson 08's file names them: the
    stored part's state_dict (its MODEL_KINDS entry), then the per-frame tensors (HNeRV:
    "embeddings"). Kinds whose per-frame tensors are exact pixels (RC-HNeRV) are lesson 08's."""
    kind = MODEL_KINDS[kind_of(model)]
    if exact := [name for name in kind.per_frame if name in EXACT_PER_FRAME]:
        raise ValueError(f"{exact} are stored exactly, not by a learned step: use bitstream.encode")
    tensors = dict(kind.stored(model).state_dict())
    tensors.update(zip(kind.per_frame, _per_frame(kind, model, embeddings)))
    return tensors


def model_fields(model: nn.Module, frames: int) -> dict:
    """What a model's file says besides its tensors, as lesson 08's header says it."""
    name = kind_of(model)
    height, width = MODEL_KINDS[name].frame_size(model.config)
    return dict(kind=name, config=asdict(model.config), frames=frames, height=height, width=width)


def encode_model(
    model: nn.Module, steps: LearnedSteps, embeddings=None, frames=None, family="gaussian"
) -> bytes:
    """The rate-coded file of a model: every stored tensor at its learned step, ANS-coded
    under its own (mu, sigma), and the kind, config and frame count lesson 08's decoder
    checks. NeRV needs frames=T; HNeRV its (T, d, h, w) embeddings."""
    kind = MODEL_KINDS[kind_of(model)]
    frames = _check_inputs(kind, model, embeddings, frames)
    tensors = stored_tensors(model, embeddings)
    if missing := [name for name in tensors if name not in steps.index]:
        raise ValueError(f"the steps have no step for {missing[:3]}: build them on these tensors")
    return encode_tensors(steps.export(tensors, family), model_fields(model, frames))


def decode_model(data: bytes, device="cpu") -> tuple[str, nn.Module, object, int]:
    """(kind name, stored part with its decoded weights, per-frame tensors, frame count), as
    lesson 08's `bitstream.decode_model` gives them, from a rate-coded file."""
    header, tensors = _read_tensors(data)
    if "kind" not in header:
        raise BitstreamError("this file holds tensors, not a model: read it with decode_tensors")
    kind, config, _ = _check_model_header(header)
    network = kind.build(config)
    network.load_state_dict(
        {name: t.dequantize() for name, t in tensors.items() if name not in kind.per_frame}
    )
    per_frame = tuple(tensors[name].dequantize().to(device) for name in kind.per_frame)
    return header["kind"], network.to(device).eval(), _unpack(per_frame), header["frames"]


def decode(data: bytes, device="cpu") -> torch.Tensor:
    """The T x 3 x H x W frames a rate-coded model file holds, drawn on `device`."""
    name, network, per_frame, frames = decode_model(data, device)
    return render(MODEL_KINDS[name], network, per_frame, frames)


def proxy_bits(tensors: dict[str, CodedTensor], ends=False) -> float:
    """The rate proxy of stored symbols under each tensor's own (float32) model, in float64:
    what the loss's R predicts (ends=False), or the bits of the coder's own model, whose end
    bins take the tails (ends=True)."""
    total = 0.0
    for t in tensors.values():
        mu, sigma = as_float32(t.mu), as_float32(t.sigma)
        bits = tensor_bits(t.symbols.double(), t.family, mu, sigma, ends)
        total += float(bits)
    return total


@dataclass
class RateReport:
    """The proxy's bits beside the file's, and what separates them, in bits or bytes."""

    proxy_bits: float  # -log2 P(q) summed over every symbol: the loss's R
    model_bits: float  # the same under the coder's model, whose end bins take the tails
    words_bytes: int  # the ANS words: the symbols as coded
    params_bytes: int  # mu, sigma and the steps of each tensor, float32
    header_bytes: int  # prelude, JSON header and checksum
    pixels: int  # T * H * W

    @property
    def file_bytes(self) -> int:
        return self.words_bytes + self.params_bytes + self.header_bytes

    @property
    def ends_bits(self) -> float:
        """Model minus proxy (<= 0): what the end bins save, holding the tails' mass."""
        return self.model_bits - self.proxy_bits

    @property
    def coder_bits(self) -> float:
        """Words minus the model's bits: what the coder itself adds, some 20 to 60 bits (its
        final 64-bit state, flushed as two words; probabilities rounded to multiples of 2^-24),
        less what a final run of the lowest symbol saves (coded onto the empty coder, free)."""
        return 8 * self.words_bytes - self.model_bits

    @property
    def side_bits(self) -> int:
        """What no proxy sees: the parameters and the header."""
        return 8 * (self.params_bytes + self.header_bytes)

    def table(self) -> str:
        rows = [
            ("rate proxy (R)", self.proxy_bits),
            ("  + end bins", self.ends_bits),
            ("  + coder", self.coder_bits),
            ("ANS words", 8 * self.words_bytes),
            ("  + parameters", 8 * self.params_bytes),
            ("  + header", 8 * self.header_bytes),
            ("file, 8 * len", 8 * self.file_bytes),
        ]
        lines = [f"{'':16}{'bits':>12}{'bpp':>10}"]
        lines += [f"{name:16}{bits:12.1f}{bits / self.pixels:10.5f}" for name, bits in rows]
        return "\n".join(lines)


def rate_report(tensors: dict[str, CodedTensor], frames: int, height: int, width: int):
    """The proxy's bits and the file's, for a video of T frames of H x W."""
    text, params, words = split_file(encode_tensors(tensors))
    return RateReport(
        proxy_bits=proxy_bits(tensors),
        model_bits=proxy_bits(tensors, ends=True),
        words_bytes=len(words),
        params_bytes=len(params),
        header_bytes=PRELUDE.size + len(text) + CHECKSUM.size,
        pixels=frames * height * width,
    )
