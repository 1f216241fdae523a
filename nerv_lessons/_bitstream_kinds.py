"""The bitstream's model kinds: which part of each model of the course a file keeps, and how a
decoder rebuilds it and draws frames from it.

Plumbing written by hand (not course content): lesson 08 (notebooks/08_compression.ipynb)
says what each kind stores and `nerv_lessons.bitstream` uses this table; its public names are
imported there (`from nerv_lessons.bitstream import MODEL_KINDS, register_kind, kind_of`).

    "nerv", "baseline_nerv": the whole network; frames drawn from the times i / (T - 1)
    "hnerv", "res_hnerv":    the decoder and each frame's embedding (never the encoder)
    "rc_hnerv":              the decoder, each frame's embedding and its 8-bit low-res frame
    "two_stream":            the HF decoder, both LF decoders and the HF embeddings
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import chain

import torch
from torch import nn

from nerv_lessons.compress import Quantized
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
    # State-dict names that are learned features rather than weights (lesson 11's HiNeRV
    # grids): quantize_model gives them embed_bits, as it gives HNeRV's embeddings.
    is_feature: Callable[[str], bool] = lambda name: False

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


def draw_at_frame_times(network, embeddings, indices, frames):
    """The frames at these indices of a model read at the times i / (T - 1), as
    train.frame_times gives them (NeRV, lesson 11's HiNeRV): it keeps nothing per frame."""
    return network(indices.float() / max(frames - 1, 1))


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
    "nerv": ModelKind(NeRV, NeRVConfig, lambda model: model, NeRV, draw_at_frame_times, ()),
    # Lesson 04's NeRV of HNeRV's tables: the whole network too, from the same frame times.
    "baseline_nerv": ModelKind(
        BaselineNeRV, BaselineNeRVConfig, lambda model: model, BaselineNeRV, draw_at_frame_times, ()
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
    """Make a new model kind storable (a later lesson's model). A kind registered again for a
    class of the same name replaces the old one: the lesson's cell run twice, or the package
    module of the class a notebook defines. Another class under a taken name is refused."""
    old = MODEL_KINDS.get(name)
    if old is not None and old.model_class.__qualname__ != kind.model_class.__qualname__:
        raise ValueError(
            f"model kind {name!r} is already registered for {old.model_class.__qualname__}"
        )
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


def _unpack(per_frame: tuple):
    """Per-frame tensors as render takes them: None, one tensor, or a tuple of several."""
    return per_frame[0] if len(per_frame) == 1 else per_frame or None


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
