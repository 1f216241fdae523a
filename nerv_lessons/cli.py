# Generated from notebooks/03_nerv.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""The command line on the experiment registry: it parses, then calls the layer below.

    nerv-lessons list
    nerv-lessons run hnerv-vs-nerv --scale quick --seeds 3 --out results/quick
    nerv-lessons run hnerv-vs-nerv --video my_clip.mp4        # any clip load_video reads
    nerv-lessons run hnerv-vs-nerv --video clip.yuv --yuv-size 1080x1920
    nerv-lessons files hnerv-rate-distortion --scale quick   # lesson 08: the rows as files
    nerv-lessons rate nvrc-rate-distortion --scale cpu       # lesson 12: R + lambda D files
    nerv-lessons space-time videoinr-space-time --scale cpu  # lesson 13: VideoINR's rows
    nerv-lessons report --out report.md                      # lesson 10: beside the papers
    nerv-lessons student-copies student/                     # the lessons without solutions

`run` and `files` are resumable: every (row, seed) trained before on this machine comes from
the cache, so a command stopped half-way starts where it stopped. Introduced in lesson 03
(notebooks/03_nerv.ipynb); lessons 08, 10, 12 and 13 add `files`, `report`, `rate` and
`space-time`.
"""

import argparse
import importlib
import sys
from dataclasses import replace
from pathlib import Path

import torch

from nerv_lessons import experiments
from nerv_lessons.data import load_video, select_frames
from nerv_lessons.scales import SCALES, pick_device, pick_scale

# The lessons' modules that register experiments (a fixed list: nothing named on the command
# line is ever imported).
COURSE_MODULES = (
    "experiments",
    "hnerv",
    "residual",
    "two_stream",
    "compress",
    "rate_distortion",
    "inpaint",
    "hinerv",
    "rate_training",
    "videoinr",
)


def load_registry() -> dict:
    """Import every module that registers experiments; the registry they fill."""
    for name in COURSE_MODULES:
        importlib.import_module(f"nerv_lessons.{name}")
    return experiments.EXPERIMENTS


def frame_size(text: str) -> tuple[int, int]:
    """'HxW' -> (H, W), for --size and --yuv-size."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW, e.g. 320x640") from None
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: both sides must be positive")
    return height, width


def _training_arguments(command: argparse.ArgumentParser, out: str) -> None:
    command.add_argument("name", help="an experiment name from `nerv-lessons list`")
    command.add_argument("--scale", choices=list(SCALES), help="default: the device's (README)")
    command.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per row (default 3)")
    command.add_argument("--video", type=Path, help="a clip of your own: mp4, frame folder, .yuv")
    command.add_argument("--yuv-size", type=frame_size, help="HxW of a raw .yuv clip")
    command.add_argument("--size", type=frame_size, help="resize your clip to HxW (default: no)")
    command.add_argument("--frames", type=int, help="how many frames (default: the scale's)")
    command.add_argument("--frame-step", type=int, help="every Nth frame (default: the scale's)")
    command.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    command.add_argument("--out", type=Path, help=f"folder for {out} (default results/SCALE)")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="nerv-lessons", description="Run the course's paper tables from the command line."
    )
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the registered experiments: name, paper, table, rows")
    run = commands.add_parser("run", help="train an experiment's rows and save its table")
    _training_arguments(run, "NAME.csv and NAME.json")
    files = commands.add_parser("files", help="write each trained row to a file, score it")
    _training_arguments(files, "NAME-files.csv")
    rate = commands.add_parser("rate", help="lesson 12's files: fine-tuned for R + lambda D")
    _training_arguments(rate, "NAME-points.csv")
    space_time = commands.add_parser("space-time", help="lesson 13's held-out frames: VideoINR")
    _training_arguments(space_time, "NAME-scores.csv")
    report = commands.add_parser("report", help="every saved table beside the paper's")
    report.add_argument("--results", type=Path, help="the folder of <scale>/ tables")
    report.add_argument("--scale", action="append", help="only this scale (repeatable)")
    report.add_argument("--out", type=Path, help="write FILE (Markdown) and FILE's .csv")
    copies = commands.add_parser("student-copies", help="the lessons, solutions left out")
    copies.add_argument("out_dir", type=Path, help="folder for the copies (NN_name.ipynb)")
    copies.add_argument("--lessons", type=Path, help="the notebooks folder (default: the repo's)")
    return main


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    if arguments.command == "student-copies":  # plumbing for instructors: nothing to train
        from nerv_lessons._student import write_student_copies

        try:
            written = write_student_copies(arguments.out_dir, arguments.lessons)
        except (FileNotFoundError, ValueError) as error:
            print(error, file=sys.stderr)
            return 2
        print(f"wrote {len(written)} student copies to {arguments.out_dir}")
        return 0
    registry = load_registry()
    if arguments.command == "list":
        for name, experiment in sorted(registry.items()):
            rows = " | ".join(row.label for row in experiment.rows)
            print(f"{name:<24} {experiment.paper}, {experiment.table}: {rows}")
        return 0
    if arguments.command == "report":
        from nerv_lessons.report import write_report  # lesson 10's module

        try:
            text = write_report(
                arguments.results or experiments.results_root(), arguments.scale, arguments.out
            )
        except FileNotFoundError as error:
            print(error, file=sys.stderr)
            return 2
        print(f"wrote {arguments.out} and its .csv" if arguments.out else text)
        return 0
    if arguments.name not in registry:
        print(f"no experiment {arguments.name!r}; `nerv-lessons list` shows them", file=sys.stderr)
        return 2
    scale = pick_scale(arguments.scale)
    for name in ("frames", "frame_step"):  # a reader's clip may be shorter than Bunny
        value = getattr(arguments, name)
        if value is not None and value < 1:
            print(f"--{name.replace('_', '-')} must be at least 1, got {value}", file=sys.stderr)
            return 2
        scale = replace(scale, **{name: value}) if value is not None else scale
    device = torch.device(arguments.device) if arguments.device else pick_device()
    video = None
    if arguments.video is not None:
        clip = load_video(
            arguments.video, crop=None, size=arguments.size, yuv_size=arguments.yuv_size
        )
        video = select_frames(clip, scale)
    out = arguments.out or Path("results") / scale.name
    if arguments.command == "files":
        from nerv_lessons.rate_distortion import file_points, save_points  # lesson 08's

        points = file_points(arguments.name, scale, arguments.seeds, device, video)
        print(f"saved {save_points(points, out / f'{arguments.name}-files.csv')}")
        return 0
    if arguments.command == "rate":
        from nerv_lessons.rate_distortion import save_points
        from nerv_lessons.rate_training import NVRC_RATE_DISTORTION, rate_points  # lesson 12's

        if arguments.name != NVRC_RATE_DISTORTION.name:
            print(f"`rate` runs {NVRC_RATE_DISTORTION.name!r} only", file=sys.stderr)
            return 2
        points = rate_points(scale, arguments.seeds, device, video)
        print(f"saved {save_points(points, out / f'{arguments.name}-points.csv')}")
        return 0
    if arguments.command == "space-time":
        from nerv_lessons.rate_distortion import save_points
        from nerv_lessons.videoinr import SPACE_TIME, space_time_scores  # lesson 13's

        if arguments.name != SPACE_TIME.name:
            print(f"`space-time` runs {SPACE_TIME.name!r} only", file=sys.stderr)
            return 2
        lines = space_time_scores(scale, arguments.seeds, device, video)
        print(f"saved {save_points(lines, out / f'{arguments.name}-scores.csv')}")
        return 0
    # A bar per row on a terminal; plain lines in a log or a notebook (no stale bars).
    results = experiments.run(arguments.name, scale, arguments.seeds, device, video)
    results.show()
    path = results.save(out)
    print(f"saved {path} and {path.with_suffix('.json')}")
    return 0
