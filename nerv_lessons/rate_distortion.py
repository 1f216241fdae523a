# Generated from notebooks/08_compression.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Rate-distortion from real files: an experiment's rows trained over seeds (through the
experiments cache), each written to a file by `bitstream.encode`, read back by `decode` and
scored on the clip. bpp is the file's length over T * H * W; ppp the model's size over the
same pixels.

    points = file_points(HNERV_RATE_DISTORTION, scale, seeds=3, device=device)
    curve_of(points, "hnerv")                       # one mean point per row, sorted by bpp
    seed_bd_rates(points, "baseline_nerv", "hnerv")   # HNeRV's BD-rate against NeRV, per seed

Introduced in lesson 08 (notebooks/08_compression.ipynb).
"""

import csv
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from nerv_lessons.bitstream import decode, encode
from nerv_lessons.codecs import bd_rate
from nerv_lessons.experiments import Experiment, Row, clip_for, experiment_named, fit, register
from nerv_lessons.hnerv import embed_frames
from nerv_lessons.metrics import bits_per_pixel, ms_ssim, params_per_pixel, psnr

# Multiples of the scale's budget. HNeRV's widths have a floor of 12 channels, which makes
# sizes under 0.75x all about the same model; these four are four real sizes at every scale.
SIZES = (0.75, 1.0, 1.5, 2.0)
FAMILIES = {"HNeRV": "hnerv", "NeRV": "baseline_nerv"}

HNERV_RATE_DISTORTION = register(
    Experiment(
        "hnerv-rate-distortion",
        "HNeRV (CVPR 2023)",
        "Fig. 6, compression: HNeRV vs NeRV at four sizes (on UVG there, values not in the text)",
        "hnerv",
        rows=tuple(
            Row(f"{name} {size:g}x", model, size=size)
            for name, model in FAMILIES.items()
            for size in SIZES
        ),
        claims=tuple((f"HNeRV {size:g}x", f"NeRV {size:g}x") for size in SIZES),
    )
)


def to_file(model: nn.Module, video: torch.Tensor, weight_bits=8, embed_bits=6) -> bytes:
    """The model as a file: a model with an encoder (HNeRV) keeps each frame's embedding,
    one without (NeRV) keeps only the number of frames."""
    model = model.cpu()
    if hasattr(model, "encode"):
        stored = embed_frames(model, video.cpu())
        return encode(model, stored, weight_bits=weight_bits, embed_bits=embed_bits)
    return encode(model, frames=len(video), weight_bits=weight_bits)


def file_points(
    experiment: Experiment | str,
    scale,
    seeds: int | Sequence[int] = 3,
    device="cpu",
    video: torch.Tensor | None = None,
    weight_bits: int = 8,
    embed_bits: int = 6,
) -> list[dict]:
    """One point per (row, seed): the trained model (`fit`, so from the cache after `run`)
    written to a file and decoded. Keys: row, model, seed, params, ppp, bytes, bpp, psnr,
    ms_ssim (of the decoded frames) and trained_psnr (of the float model)."""
    experiment = experiment_named(experiment)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    video = clip_for(scale, device, video)
    frames, _, height, width = video.shape
    points = []
    for row in experiment.rows:
        for seed in seeds:
            setup, record = fit(experiment, row.label, scale, seed, device, video)
            data = to_file(setup.model, video, weight_bits, embed_bits)
            decoded = decode(data, device)
            points.append(
                dict(
                    row=row.label,
                    model=row.model,
                    seed=seed,
                    params=setup.params,
                    ppp=params_per_pixel(setup.params, frames, height, width),
                    bytes=len(data),
                    bpp=bits_per_pixel(len(data), frames, height, width),
                    psnr=psnr(decoded, video).mean().item(),
                    ms_ssim=ms_ssim(decoded, video).mean().item(),
                    trained_psnr=record["psnr"].mean().item(),
                )
            )
    return points


def curve_of(points: list[dict], model: str, seed: int | None = None) -> list[dict]:
    """One family's rate-distortion curve, sorted by bpp: a seed's own points, or (seed None)
    per row the mean over seeds of bpp, psnr and ms_ssim."""
    chosen = [p for p in points if p["model"] == model and seed in (None, p["seed"])]
    if not chosen:
        raise ValueError(f"no points for model {model!r} (seed {seed}) among the points given")
    by_row: dict[str, list[dict]] = {}
    for point in chosen:
        by_row.setdefault(point["row"], []).append(point)
    curve = [
        {"row": row}
        | {k: sum(p[k] for p in group) / len(group) for k in ("bpp", "psnr", "ms_ssim")}
        for row, group in by_row.items()
    ]
    return sorted(curve, key=lambda point: point["bpp"])


def curve_bd_rate(anchor: list[dict], test: list[dict], metric="psnr", method="cubic") -> float:
    """`codecs.bd_rate` of two curves of points (dicts with bpp and the metric)."""
    return bd_rate(
        [p["bpp"] for p in anchor],
        [p[metric] for p in anchor],
        [p["bpp"] for p in test],
        [p[metric] for p in test],
        method,
    )


def seed_bd_rates(points: list[dict], anchor: str, test: str, metric="psnr", method="cubic"):
    """The test family's BD-rate against the anchor's, one per seed (each seed's own two
    curves): {seed: a number in percent, or the reason `bd_rate` refused that seed}."""
    rates = {}
    for seed in sorted({p["seed"] for p in points}):
        try:
            curves = (curve_of(points, anchor, seed), curve_of(points, test, seed))
            rates[seed] = curve_bd_rate(*curves, metric, method)
        except ValueError as error:
            rates[seed] = str(error)
    return rates


def save_points(points: list[dict], path: str | Path) -> Path:
    """The points as CSV, one file a line (readable by pandas and by eye)."""
    path = Path(path)
    if not points:
        raise ValueError("no points to save")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, list(points[0]))
        writer.writeheader()
        writer.writerows(
            {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in p.items()} for p in points
        )
    return path


TEXT_COLUMNS, INTEGER_COLUMNS = ("row", "model"), ("seed", "params", "bytes")


def load_points(path: str | Path) -> list[dict]:
    """The points `save_points` wrote, numbers as numbers."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no points at {path}: run `nerv-lessons files NAME` first")
    with path.open(newline="") as file:
        lines = list(csv.DictReader(file))
    number = {**dict.fromkeys(INTEGER_COLUMNS, int), **dict.fromkeys(TEXT_COLUMNS, str)}
    return [{k: number.get(k, float)(v) for k, v in line.items()} for line in lines]
