# Generated from notebooks/12_entropy.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Training for the file (NVRC): fine-tune a trained model with R + lambda D, R the rate
proxy of every stored number in bits per pixel and D the mean squared error, the steps
learned with the weights; then the points of lesson 12's rate-distortion curves.

    tuned = fine_tune(model, video, lam=1000)          # a Tuned: model, embeddings, steps
    data = entropy.encode_model(tuned.model, tuned.steps, tuned.embeddings)
    points = rate_points(scale, seeds=3)               # every method's files, scored

Introduced in lesson 12 (notebooks/12_entropy.ipynb).
"""

import copy
import hashlib
import json
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.func import functional_call

from nerv_lessons import bitstream, entropy
from nerv_lessons.bitstream import MODEL_KINDS, _per_frame, _unpack, kind_of
from nerv_lessons.entropy import LearnedSteps, initial_step, rate_bits, rate_bpp, stored_tensors
from nerv_lessons.experiments import (
    Experiment,
    Row,
    cache_folder,
    clip_for,
    experiment_named,
    fit,
    register,
    source_version,
)
from nerv_lessons.hnerv import embed_frames
from nerv_lessons.metrics import bits_per_pixel, ms_ssim, psnr
from nerv_lessons.scales import seed_everything


@dataclass(frozen=True)
class RateRecipe:
    """How a trained model is fine-tuned for the file. 30 epochs from a trained model: the
    rate falls most in the first ten (lesson 12 plots it); lr 1e-3 for weights and per-frame
    tensors, 1e-2 for the log-steps (a step moves by a few per cent an epoch)."""

    epochs: int = 30
    batch: int = 2
    lr: float = 1e-3
    step_lr: float = 1e-2
    mode: str = "noise"  # training's stand-in for rounding ("round": straight-through)
    family: str = "gaussian"
    start_bits: int = 8  # the steps start on lesson 08's 8-bit grid

    def __post_init__(self):
        if self.epochs < 1 or self.batch < 1 or self.lr <= 0 or self.step_lr <= 0:
            raise ValueError(f"epochs and batch >= 1, lr and step_lr > 0: got {self}")
        if self.mode not in entropy.MODES:
            raise ValueError(f"mode is one of {', '.join(entropy.MODES)}, got {self.mode!r}")


DEFAULT_RECIPE = RateRecipe()  # frozen: one shared default is safe


class Drawn(nn.Module):
    """A model's stored part and its per-frame tensors as one module whose forward draws
    frames, so that `functional_call` swaps quantized values into both at once."""

    def __init__(self, kind, stored: nn.Module, per_frame: dict[str, torch.Tensor], frames):
        super().__init__()
        self.kind, self.stored, self.frames = kind, stored, frames
        self.per_frame = nn.ParameterDict(
            {name: nn.Parameter(x.detach().clone()) for name, x in per_frame.items()}
        )

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        values = _unpack(tuple(self.per_frame[name] for name in self.kind.per_frame))
        return self.kind.render(self.stored, values, indices, self.frames)


@dataclass
class Tuned:
    """A fine-tuned copy of a model, its per-frame tensors (or None) and its learned steps."""

    model: nn.Module
    embeddings: torch.Tensor | tuple | None
    steps: LearnedSteps
    history: dict


def _file_names(drawn: Drawn) -> dict[str, str]:
    """Drawn's parameter names -> the file's tensor names: "stored.x" -> "x" and
    "per_frame.embeddings" -> "embeddings"."""
    return {name: name.partition(".")[2] for name, _ in drawn.named_parameters()}


def fine_tune(model, video, lam: float | None, recipe=DEFAULT_RECIPE, seed=0, embeddings=None):
    """A copy of `model` fine-tuned with R + lam * D (`lam` None: D alone, no quantization:
    the control, the same extra epochs without the rate). Per-frame tensors (HNeRV's
    embeddings, from its encoder when not given) are tuned too; the encoder is not stored."""
    kind = MODEL_KINDS[kind_of(model)]
    frames, _, height, width = video.shape
    tuned = copy.deepcopy(model).to(video.device)
    if kind.per_frame and embeddings is None:
        with torch.no_grad():
            embeddings = embed_frames(tuned, video)
    per_frame = dict(zip(kind.per_frame, _per_frame(kind, tuned, embeddings)))
    drawn = Drawn(kind, kind.stored(tuned), per_frame, frames).train()
    names = _file_names(drawn)
    latent = {names[name]: x for name, x in drawn.named_parameters()}
    if set(latent) != set(stored_tensors(tuned, _unpack(tuple(per_frame.values())))):
        raise ValueError("the stored part has buffers a file keeps: fine_tune trains parameters")
    seed_everything(seed)
    steps = LearnedSteps(latent, recipe.start_bits).to(video.device)
    optimizer = torch.optim.Adam(
        [
            {"params": list(drawn.parameters()), "lr": recipe.lr},
            {"params": list(steps.parameters()), "lr": recipe.step_lr},
        ]
    )
    long_names = {short: long for long, short in names.items()}
    rates, errors = [], []
    for _ in range(recipe.epochs):
        for indices in torch.randperm(frames, device=video.device).split(recipe.batch):
            if lam is None:
                loss = distortion = (drawn(indices) - video[indices]).pow(2).mean()
                rate = torch.zeros((), device=video.device)
            else:
                symbols = steps.symbols(latent, recipe.mode)
                weights = {long_names[n]: x for n, x in steps.dequantize(symbols).items()}
                drawn_frames = functional_call(drawn, weights, (indices,))
                distortion = (drawn_frames - video[indices]).pow(2).mean()
                rate = rate_bpp(rate_bits(symbols, recipe.family), frames, height, width)
                loss = rate + lam * distortion
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        rates.append(rate.detach())  # kept on the device: one host sync at the end
        errors.append(distortion.detach())
    history = {"rate_bpp": torch.stack(rates).tolist(), "mse": torch.stack(errors).tolist()}
    tuned_per_frame = _unpack(tuple(drawn.per_frame[n].detach() for n in kind.per_frame))
    return Tuned(tuned.eval(), tuned_per_frame, steps, history)


NVRC_RATE_DISTORTION = register(
    Experiment(
        "nvrc-rate-distortion",
        "NVRC (NeurIPS 2024)",
        "R + lambda D fine-tuning against lesson 08's file (the notes give no numbers); "
        "`nerv-lessons rate` writes the points",
        "hnerv",
        rows=(Row("HNeRV", "hnerv"),),
    )
)
LAMBDAS = (100, 300, 1000, 3000)  # 0.7 to 1.4 bpp at quick scale
# Lesson 08's weight bits, down to 4; embeddings at 6 bits, as lesson 08 keeps them. At 3
# bits the fixed grids fell below the mean-frame floor in our runs, so they are left out (as
# is lambda 10000): each point is a fine-tuning or files encoded, decoded and scored, and the
# lesson has to fit CI's time.
BIT_DEPTHS = (4, 6, 8)
EMBED_BITS = 6


def _digest(*parts) -> str:
    """A hash of tensors and JSON-able values: the cache key of one fine-tuning."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            digest.update(part.detach().cpu().contiguous().numpy().tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _rate_cache_path(model, video, suffix: str, *parts):
    """Where a result of this model on this clip is cached (the cache folder of
    `experiments`, under rate/): keyed by the weights, the clip, `parts`, the device, torch
    and this module's source."""
    state = list(model.state_dict().values())
    device = torch.device(video.device).type
    source = source_version("rate_training")
    key = _digest(*state, video, *parts, device, torch.__version__, source)
    return cache_folder() / "rate" / f"{key}{suffix}"


def tuned_cached(model, video, lam, recipe=DEFAULT_RECIPE, seed=0) -> Tuned:
    """`fine_tune`, from the cache when this model, clip, lambda, recipe and seed were tuned
    before with this source."""
    path = _rate_cache_path(model, video, ".pt", lam, asdict(recipe), seed)
    if path.is_file():
        stored = torch.load(path, map_location=video.device, weights_only=True)
        tuned = copy.deepcopy(model).to(video.device)
        tuned.load_state_dict(stored["state"])
        steps = LearnedSteps(stored["latent"], recipe.start_bits).to(video.device)
        steps.load_state_dict(stored["steps"])
        return Tuned(tuned.eval(), stored["embeddings"], steps, stored["history"])
    tuned = fine_tune(model, video, lam, recipe, seed)
    latent = stored_tensors(tuned.model, tuned.embeddings)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = dict(state=tuned.model.state_dict(), embeddings=tuned.embeddings, latent=latent)
    torch.save(record | dict(steps=tuned.steps.state_dict(), history=tuned.history), path)
    return tuned


def _point(method: str, setting, seed: int, data: bytes, decoded, video) -> dict:
    frames, _, height, width = video.shape
    reference = video.detach().cpu()
    return dict(
        row=f"{method} {setting:g}",
        model=method,
        seed=seed,
        setting=setting,
        bytes=len(data),
        bpp=bits_per_pixel(len(data), frames, height, width),
        psnr=psnr(decoded.cpu(), reference).mean().item(),
        ms_ssim=ms_ssim(decoded.cpu(), reference).mean().item(),
    )


def fixed_steps(model, embeddings, weight_bits: int) -> LearnedSteps:
    """Untrained steps on lesson 08's grid: max|x| / (2^(b-1) - 1) per tensor, weights at
    `weight_bits` and per-frame tensors at EMBED_BITS. No factorising: one step a tensor."""
    tensors = stored_tensors(model, embeddings)
    kind = MODEL_KINDS[kind_of(model)]
    steps = LearnedSteps(tensors, weight_bits, per_tensor=tuple(tensors))
    for name in kind.per_frame:
        step = initial_step(tensors[name], EMBED_BITS)
        steps.step(name).log_steps.data.fill_(torch.tensor(step).log())
    return steps


def _on_cpu(model, embeddings):
    moved = embeddings.cpu() if isinstance(embeddings, torch.Tensor) else embeddings
    return copy.deepcopy(model).cpu(), moved


def seed_points(model, video, seed, recipe=DEFAULT_RECIPE, lambdas=LAMBDAS, bits=BIT_DEPTHS):
    """One seed's points, each a real file decoded and scored: lesson 08's file ("huffman")
    and the same bit depths on a fixed grid through ANS ("ans") of the trained model; the
    same two files of the model tuned as long without the rate ("control", "control_ans");
    and the files of the model tuned with R + lambda D ("nvrc")."""
    model = model.to(video.device).eval()
    kind = MODEL_KINDS[kind_of(model)]
    with torch.no_grad():
        embeddings = embed_frames(model, video) if kind.per_frame else None
    control = tuned_cached(model, video, None, recipe, seed)
    model, embeddings = _on_cpu(model, embeddings)  # lesson 08's encoder works on the CPU
    control_model, control_embeddings = _on_cpu(control.model, control.embeddings)
    points = []
    for weight_bits in bits:
        data = bitstream.encode(model, embeddings, len(video), weight_bits, EMBED_BITS)
        points.append(_point("huffman", weight_bits, seed, data, bitstream.decode(data), video))
        steps = fixed_steps(model, embeddings, weight_bits)
        data = entropy.encode_model(model, steps, embeddings, len(video))
        points.append(_point("ans", weight_bits, seed, data, entropy.decode(data), video))
        data = bitstream.encode(
            control_model, control_embeddings, len(video), weight_bits, EMBED_BITS
        )
        points.append(_point("control", weight_bits, seed, data, bitstream.decode(data), video))
        steps = fixed_steps(control_model, control_embeddings, weight_bits)
        data = entropy.encode_model(control_model, steps, control_embeddings, len(video))
        points.append(_point("control_ans", weight_bits, seed, data, entropy.decode(data), video))
    for lam in lambdas:
        tuned = tuned_cached(model, video, lam, recipe, seed)
        data = entropy.encode_model(tuned.model, tuned.steps, tuned.embeddings, len(video))
        points.append(_point("nvrc", lam, seed, data, entropy.decode(data), video))
    return points


def rate_points(scale, seeds=3, device="cpu", video=None, recipe=DEFAULT_RECIPE, lambdas=LAMBDAS):
    """Every method's points for seeds 0..N-1 (or the seeds given), each seed's base model
    trained by `fit` (from the experiments cache: lesson 08's HNeRV 1x at the same scale).
    A seed's points are cached too (rate/, as JSON): a second run only reads them."""
    video = clip_for(scale, device, video)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    experiment = experiment_named(NVRC_RATE_DISTORTION)
    points = []
    for seed in seeds:
        setup, _ = fit(experiment, "HNeRV", scale, seed, device, video)
        what = (asdict(recipe), list(lambdas), list(BIT_DEPTHS), seed)
        path = _rate_cache_path(setup.model, video, ".json", *what)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(seed_points(setup.model, video, seed, recipe, lambdas)))
        points += json.loads(path.read_text())
    return points
