"""Why the quick scale is what it is: training speed and the PSNR it reaches, on this machine.

    python benchmarks/quick_scale.py                       # speed table + convergence table
    python benchmarks/quick_scale.py --out benchmarks/results/quick_scale_cpu.txt

Part 1 times one training step of the course's three main models at quick-scale sizes
(80x160, 0.05M) for several batch sizes, thread counts and memory formats: frames per second.
Part 2 trains HNeRV, HNeRV's NeRV baseline and NeRV with the quick scale's recipe for
several epoch counts and prints the PSNR each reaches beside the clip's mean-frame floor, the
measurement behind `scales.SCALES["quick"]` (every 8th frame, 80 epochs, each paper's batch).
Part 3 times `experiments.run` on one row and two seeds from an empty cache, one training
after the other against two single-threaded worker processes (`experiments.workers_for`).

    python benchmarks/quick_scale.py --parts parallel        # only part 3
"""

import argparse
import os
import tempfile
import time
from dataclasses import replace

import torch

from nerv_lessons.data import load_clip
from nerv_lessons.experiments import (
    CACHE_VARIABLE,
    MODELS,
    WORKERS_VARIABLE,
    Experiment,
    Row,
    run,
)
from nerv_lessons.hnerv import frames_in  # noqa: F401  (registers the HNeRV families)
from nerv_lessons.metrics import psnr
from nerv_lessons.scales import SCALES, seed_everything
from nerv_lessons.train import RECIPES, TrainConfig, evaluate, make_loss, train

FAMILIES = {"hnerv": "hnerv", "baseline_nerv": "hnerv", "nerv": "nerv"}  # family -> recipe


def frames_per_second(family, video, batch, steps, channels_last=False) -> float:
    """Training frames per second of one family at one batch size (after 3 warm-up steps)."""
    seed_everything(0)
    setup = MODELS[family](video, SCALES["quick"].model_params)
    model = setup.model.to(memory_format=torch.channels_last) if channels_last else setup.model
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    loss = make_loss(RECIPES[FAMILIES[family]]["loss"])
    indices = torch.arange(batch) % len(video)
    for step in range(steps + 3):
        if step == 3:
            start = time.perf_counter()
        pred = model(setup.model_input(video, indices))
        error = loss(pred, video[indices])
        optimizer.zero_grad(set_to_none=True)
        error.backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


PARTS = ("speed", "convergence", "parallel")


def speed_table(video, steps: int) -> list[str]:
    lines = ["training frames/s at 80x160, 0.05M (higher is better)"]
    lines.append(
        f"{'model':<14} {'threads':>7} {'layout':>13} "
        + " ".join(f"{f'batch {b}':>9}" for b in (1, 2, 4, 8))
    )
    threads = torch.get_num_threads()
    for family in FAMILIES:
        for count, channels_last in ((threads, False), (1, False), (threads, True)):
            torch.set_num_threads(count)
            speeds = [
                frames_per_second(family, video, b, steps, channels_last) for b in (1, 2, 4, 8)
            ]
            layout = "channels-last" if channels_last else "contiguous"
            lines.append(
                f"{family:<14} {count:>7} {layout:>13} " + " ".join(f"{s:9.1f}" for s in speeds)
            )
        torch.set_num_threads(threads)
    return lines


def convergence_table(video, epoch_counts) -> list[str]:
    quick = SCALES["quick"]
    floor = psnr(video.mean(0, keepdim=True).expand_as(video), video).mean().item()
    lines = [f"PSNR (dB) after training, quick recipe; floor (mean frame) {floor:.2f} dB"]
    lines.append(f"{'model':<14} " + " ".join(f"{f'{e} ep':>14}" for e in epoch_counts))
    for family, recipe in FAMILIES.items():
        cells = []
        for epochs in epoch_counts:
            seed_everything(0)
            setup = MODELS[family](video, quick.model_params)
            config = replace(TrainConfig.recipe(recipe, quick), epochs=epochs, progress=False)
            seconds = train(setup.model, video, config, setup.model_input)["seconds"][-1]
            score = evaluate(setup.model, video, setup.model_input)["psnr"].mean().item()
            cells.append(f"{score:6.2f} ({seconds:4.0f} s)")
        lines.append(f"{family:<14} " + " ".join(f"{c:>14}" for c in cells))
    return lines


def parallel_table(video) -> list[str]:
    lines = ["run(): one row, 2 seeds, empty cache: wall-clock seconds (lower is better)"]
    for family, recipe in FAMILIES.items():
        table = Experiment(f"bench-{family}", "-", "-", recipe, rows=(Row(family, family),))
        seconds = []
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as cache:
                os.environ[CACHE_VARIABLE], os.environ[WORKERS_VARIABLE] = cache, str(workers)
                start = time.perf_counter()
                run(table, SCALES["quick"], seeds=2, video=video, progress=False)
                seconds.append(time.perf_counter() - start)
        lines.append(
            f"{family:<14} one after the other {seconds[0]:5.1f} s | 2 workers x 1 thread "
            f"{seconds[1]:5.1f} s | {seconds[0] / seconds[1]:.2f}x"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per speed cell")
    parser.add_argument("--epochs", type=int, nargs="+", default=[40, 80, 120])
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    parser.add_argument("--out", help="also write the report to this file")
    arguments = parser.parse_args()
    video = load_clip(SCALES["quick"])
    report = [
        f"device cpu | torch {torch.__version__} | {torch.get_num_threads()} threads | "
        f"clip {tuple(video.shape)} (quick: every {SCALES['quick'].frame_step}th frame)"
    ]
    for part in arguments.parts:
        if part == "speed":
            report += speed_table(video, arguments.steps)
        elif part == "convergence":
            report += convergence_table(video, arguments.epochs)
        else:
            report += parallel_table(video)
        report.append("")
    print("\n".join(report))
    if arguments.out:
        with open(arguments.out, "w") as file:
            file.write("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
