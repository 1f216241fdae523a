# Generated from notebooks/03_nerv.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Experiments: one paper table as data, trained over seeds, scored beside a floor.

    TABLE = register(Experiment(
        "nerv-embedding", paper="NeRV (NeurIPS 2021)", table="Table 6", recipe="nerv",
        rows=(Row("PE", "nerv", paper_psnr=37.26), Row("None", "nerv", {"embedding": "none"})),
        claims=(("PE", "None"),),
    ))
    results = run("nerv-embedding", scale, seeds=3, device=device)
    results.show()                      # mean +- std per row, the floor, the paper, verdicts
    results.save("results/quick")       # nerv-embedding.csv + nerv-embedding.json

A row names a model family (registered by the lesson that builds the model, with
`register_model`) and the changes to its configuration. `run` trains every row through the
one `train` and keeps each trained (row, clip, recipe, seed) in a disk cache, so a model that
several lessons use trains once per machine. Introduced in lesson 03 (notebooks/03_nerv.ipynb).
"""

import csv
import datetime
import functools
import hashlib
import importlib
import inspect
import json
import math
import multiprocessing
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

import nerv_lessons
from nerv_lessons.data import check_frames, load_clip
from nerv_lessons.metrics import ms_ssim, ms_ssim_window, params_per_pixel, psnr
from nerv_lessons.nerv import NeRV, count_parameters, nerv_for_scale
from nerv_lessons.scales import Scale, seed_everything
from nerv_lessons.train import RECIPES, TrainConfig, evaluate, frame_times, train

CACHE_VARIABLE = "NERV_LESSONS_CACHE"
FLOOR_PREFIX = "floor: "


@dataclass
class Setup:
    """What a model family builds for a clip: the model, what its forward takes for a batch
    of frame indices (`model_input(video, indices)`), its size as the paper counts it, and,
    for inpainting, the training mask (1 = known pixel)."""

    model: nn.Module
    model_input: Callable = frame_times
    params: int = 0
    mask: torch.Tensor | None = None


@dataclass(frozen=True)
class Row:
    """One row of a table: a label, a model family and the changes to its configuration.
    `size` and `epochs` are multiples of the scale's budget and epochs; `recipe` changes the
    experiment's training recipe (e.g. {"loss": "l2"}); `paper_*` are the paper's numbers."""

    label: str
    model: str
    changes: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    size: float = 1.0
    epochs: float = 1.0
    paper_psnr: float | None = None
    paper_ms_ssim: float | None = None
    # A row that its own paper trains differently (a key of train.RECIPES, e.g. "two_stream"):
    # it gets that recipe at the scale, then `recipe`'s changes. None: the experiment's.
    paper_recipe: str | None = None


@dataclass(frozen=True)
class Experiment:
    """A paper's table as the course reproduces it. `claims` are (better, worse) row labels
    the paper orders; `recipe` a key of train.RECIPES; `frames` and `frame_step` pick the
    clip (None: the scale's); split "even" trains on the even frames and scores the odd ones
    apart (held-out frames); `floors` name non-learned rows (FLOORS)."""

    name: str
    paper: str
    table: str
    recipe: str
    rows: tuple[Row, ...]
    claims: tuple[tuple[str, str], ...] = ()
    split: str = "all"
    floors: tuple[str, ...] = ("mean frame",)
    note: str = ""

    def __post_init__(self):
        labels = [row.label for row in self.rows]
        if len(set(labels)) != len(labels) or not labels:
            raise ValueError(f"experiment {self.name!r}: rows need distinct labels, got {labels}")
        for pair in self.claims:
            if missing := [label for label in pair if label not in labels]:
                raise ValueError(
                    f"experiment {self.name!r}: claim {pair} names rows {missing} that the "
                    f"table lacks (rows: {labels})"
                )
        for recipe in {self.recipe, *(row.paper_recipe for row in self.rows)} - {None}:
            if recipe not in RECIPES:
                raise ValueError(f"unknown recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
        if self.split not in SPLITS:
            raise ValueError(f"split {self.split!r}: choose one of {', '.join(SPLITS)}")
        if unknown := [name for name in self.floors if name not in FLOORS]:
            raise ValueError(f"unknown floors {unknown}: choose from {', '.join(FLOORS)}")


MODELS: dict[str, Callable[..., Setup]] = {}
EXPERIMENTS: dict[str, Experiment] = {}


def register_model(name: str, build: Callable[..., Setup]) -> None:
    """Make `name` a model family: build(video, budget, **changes) -> Setup, where video is
    the training clip (T, 3, H, W) and budget the size in millions of parameters."""
    MODELS[name] = build


def register(experiment: Experiment) -> Experiment:
    """Add an experiment to the registry that `run` and `nerv-lessons list` read."""
    for row in experiment.rows:
        if row.model not in MODELS:
            raise ValueError(
                f"row {row.label!r} of {experiment.name!r} uses model {row.model!r}, which no "
                f"lesson registered (known: {', '.join(MODELS) or 'none'})"
            )
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def experiment_named(name: str | Experiment) -> Experiment:
    if isinstance(name, Experiment):
        return name
    if name not in EXPERIMENTS:
        raise KeyError(
            f"no experiment {name!r}: `nerv-lessons list` shows them "
            f"(registered now: {', '.join(sorted(EXPERIMENTS)) or 'none'})"
        )
    return EXPERIMENTS[name]


# Which frames a run trains on, and which it scores apart as held-out (never seen).
SPLITS = {
    "all": lambda frames: (torch.arange(frames), None),
    "even": lambda frames: (torch.arange(0, frames, 2), torch.arange(1, frames, 2)),
}


def mean_frame(video: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """The floor every learned row must beat: one frame, the mean of the training frames,
    shown for every frame of the clip."""
    return video[seen].mean(0, keepdim=True).expand_as(video)


FLOORS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"mean frame": mean_frame}


def register_floor(name: str, copy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    """A non-learned baseline: copy(video, seen_indices) -> its copy of the whole clip."""
    FLOORS[name] = copy


PACKAGE = Path(nerv_lessons.__file__).parent
COURSE_IMPORT = re.compile(r"^from nerv_lessons\.(\w+) import", re.MULTILINE)


def source_version(*modules: str) -> str:
    """A hash of the source a result depends on: these package modules (default: all) and
    every package module they import, directly or not. Edit any of them and cached results
    made with them go stale; an edit elsewhere (say, to the bitstream) leaves them valid."""
    todo, seen = list(modules or [path.stem for path in PACKAGE.glob("*.py")]), set()
    while todo:
        name = todo.pop()
        if name not in seen and (PACKAGE / f"{name}.py").is_file():
            seen.add(name)
            todo += COURSE_IMPORT.findall((PACKAGE / f"{name}.py").read_text())
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(name.encode() + (PACKAGE / f"{name}.py").read_bytes())
    return digest.hexdigest()[:12]


def results_root() -> Path:
    """results/ of the repository, where lessons save their tables (committed, so a reader
    sees them on GitHub); ./results/ for an installed package."""
    root = Path(nerv_lessons.__file__).resolve().parents[1]
    return (root if (root / "pyproject.toml").is_file() else Path.cwd()) / "results"


def results_folder(scale: Scale) -> Path:
    """results/<scale>/: one scale's tables (see results_root)."""
    return results_root() / scale.name


def cache_folder() -> Path:
    """$NERV_LESSONS_CACHE, else .cache/ at the repository root (ignored by git), else
    ~/.cache/nerv-lessons for an installed package."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    root = Path(nerv_lessons.__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file():
        return root / ".cache" / "runs"
    return Path.home() / ".cache" / "nerv-lessons"


def _clip_digest(video: torch.Tensor) -> str:
    return hashlib.sha256(video.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def _row_recipe(experiment: Experiment, row: Row, scale: Scale, seed: int) -> TrainConfig:
    paper = row.paper_recipe or experiment.recipe
    config = TrainConfig.recipe(paper, scale, progress=False, seed=seed)
    epochs = max(1, round(config.epochs * row.epochs))
    return replace(config, epochs=epochs, **row.recipe)


def _model_digest(setup: Setup) -> str:
    """What the built model is: its initial weights (so its configuration, shapes and
    initialisation) and the source of its layers' classes and of its input function (so its
    forward pass). An edit elsewhere in the module, such as a new table, leaves it unchanged."""
    digest = hashlib.sha256()
    for name, tensor in setup.model.state_dict().items():
        digest.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    classes = {type(part) for part in setup.model.modules()}
    for code in sorted(code for c in classes if (code := _class_code(c)) is not None):
        digest.update(code.encode())
    digest.update(_source(setup.model_input).encode())
    return digest.hexdigest()[:16]


@functools.cache
def _class_code(cls: type) -> str | None:
    """The source a layer class stands for in the cache key. A lesson's notebook runs the
    package's classes from its export cells: where a notebook class's methods read exactly as
    the package class's, the package's source stands in, so a model trained in the lesson
    that builds it and one trained in a later lesson share the cache. Other classes (torch's)
    count only through their weights."""
    if cls.__module__.startswith("nerv_lessons"):
        return _source(cls)
    defines = re.compile(rf"^class {cls.__name__}\b", re.MULTILINE)
    for path in sorted(PACKAGE.glob("*.py")):
        if defines.search(path.read_text()):
            twin = getattr(_import_quietly(f"nerv_lessons.{path.stem}"), cls.__name__, None)
            if isinstance(twin, type) and _methods(twin) == _methods(cls) is not None:
                return _source(twin)
    return None


def _methods(cls: type) -> dict[str, str] | None:
    """The source of each function a class defines (None when one has no source)."""
    found = {}
    for name, value in vars(cls).items():
        function = getattr(value, "__func__", value)
        if inspect.isfunction(function):
            try:
                found[name] = inspect.getsource(function)
            except OSError:
                return None
    return found


def _import_quietly(name: str):
    """Import a package module without letting its registrations replace a notebook's."""
    if name in sys.modules:
        return sys.modules[name]
    kinds = sys.modules.get("nerv_lessons._bitstream_kinds")  # lesson 08's file kinds, if loaded
    tables = (MODELS, EXPERIMENTS, FLOORS, *([kinds.MODEL_KINDS] if kinds else []))
    saved = [dict(table) for table in tables]
    try:
        return importlib.import_module(name)
    finally:
        for table, before in zip(tables, saved):
            table.clear()
            table.update(before)


def _source(thing) -> str:
    try:
        return inspect.getsource(thing)
    except (OSError, TypeError):  # defined in a notebook or built in: its name stands in
        return getattr(thing, "__qualname__", repr(thing))


def _cache_key(experiment, row, recipe, scale, clip_digest, seed, device, setup) -> str:
    what = dict(
        model=row.model,
        changes=row.changes,
        budget=scale.model_params * row.size,
        recipe=asdict(recipe),
        split=experiment.split,
        clip=clip_digest,
        seed=seed,
        device=torch.device(device).type,
        torch=torch.__version__,
        model_digest=_model_digest(setup),
        source=source_version("train"),
    )
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _prepare(experiment: Experiment, label: str, scale: Scale, seed: int, device, video):
    """A row's recipe, its training frames, its freshly built Setup (seeded) and the file
    that caches its trained model."""
    rows = {row.label: row for row in experiment.rows}
    if label not in rows:
        raise KeyError(f"{experiment.name!r} has no row {label!r}: rows are {list(rows)}")
    row = rows[label]
    recipe = _row_recipe(experiment, row, scale, seed)
    seen, _ = SPLITS[experiment.split](len(video))
    seen = seen.to(video.device)
    seed_everything(seed)  # the model's initial weights
    setup = MODELS[row.model](video[seen], scale.model_params * row.size, **row.changes)
    setup.model.to(video.device)
    key = _cache_key(experiment, row, recipe, scale, _clip_digest(video), seed, device, setup)
    return recipe, seen, setup, cache_folder() / key[:2] / f"{key}.pt"


def fit(
    experiment: Experiment | str,
    label: str,
    scale: Scale,
    seed: int = 0,
    device="cpu",
    video: torch.Tensor | None = None,
) -> tuple[Setup, dict]:
    """One row trained with one seed, from the cache when it ran before on this machine:
    (its Setup, with the trained model on `device`; and its record: per-frame psnr and
    ms_ssim on the whole clip, history, seconds, cached)."""
    experiment = experiment_named(experiment)
    video = clip_for(scale, device, video)
    recipe, seen, setup, path = _prepare(experiment, label, scale, seed, device, video)
    if path.is_file():
        stored = torch.load(path, map_location=video.device, weights_only=True)
        setup.model.load_state_dict(stored.pop("state"))
        setup.model.eval()
        return setup, stored | {"cached": True}

    # The model's input is computed from the whole clip at the whole clip's indices, so a
    # held-out frame's time (NeRV) or pixels (HNeRV) are what they would be in the full clip.
    def model_input(_, indices):
        return setup.model_input(video, seen[indices])

    history = train(setup.model, video[seen], recipe, model_input, setup.mask)
    quality = evaluate(setup.model, video, setup.model_input)
    record = dict(
        psnr=quality["psnr"],
        ms_ssim=quality["ms_ssim"],
        seconds=history["seconds"][-1],
        epochs=recipe.epochs,
        history=history,
        params=setup.params,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(record | {"state": setup.model.state_dict()}, path)
    return setup, record | {"cached": False}


_CLIPS: dict = {}  # the scale's Bunny clip, read once per process


def clip_for(scale: Scale, device="cpu", video: torch.Tensor | None = None) -> torch.Tensor:
    """The clip an experiment runs on: `video` when given (a reader's own), else the scale's
    Bunny clip (read once, then kept on the CPU)."""
    if video is None:
        if scale not in _CLIPS:
            _CLIPS[scale] = load_clip(scale)
        video = _CLIPS[scale]
    check_frames(video, "video")
    return video.to(device)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _summary(label, model, scores, video, params, epochs, seconds, paper=(None, None)) -> dict:
    """A results row from per-seed scores [(psnr frames, ms_ssim frames)], seen/held-out."""
    frames, _, height, width = video.shape
    line = dict(row=label, model=model)
    for part, frames_of in (("", "seen"), ("heldout_", "heldout")):
        if scores[0][frames_of] is None:
            continue
        for metric in ("psnr", "ms_ssim"):
            per_seed = [score[frames_of][metric] for score in scores]
            line[f"{part}{metric}_mean"], line[f"{part}{metric}_std"] = _mean_std(per_seed)
    line |= dict(
        seeds=len(scores),
        params=params,
        ppp=params_per_pixel(params, frames, height, width),
        epochs=epochs,
        seconds=seconds,
        paper_psnr=paper[0],
        paper_ms_ssim=paper[1],
    )
    return line


def _scores(per_frame: dict, seen: torch.Tensor, heldout: torch.Tensor | None) -> dict:
    def mean(indices):
        if indices is None:
            return None
        return {metric: per_frame[metric][indices].mean().item() for metric in ("psnr", "ms_ssim")}

    return {"seen": mean(seen), "heldout": mean(heldout)}


def provenance(scale: Scale, device, seeds: Sequence[int], video: torch.Tensor) -> dict:
    """Where numbers came from: scale, device, torch, seeds, date, package version, commit."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                cwd=Path(nerv_lessons.__file__).parent,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return dict(
        scale=asdict(scale),
        device=str(device),
        device_name=name,
        torch=torch.__version__,
        seeds=list(seeds),
        clip=list(video.shape),
        date=datetime.date.today().isoformat(),
        package=nerv_lessons.__version__,
        commit=commit,
        source=source_version(),
        ms_ssim_window=ms_ssim_window(*video.shape[-2:]),
    )


def run(
    experiment: Experiment | str,
    scale: Scale,
    seeds: int | Sequence[int] = 3,
    device="cpu",
    video: torch.Tensor | None = None,
    progress: bool | None = None,
) -> "Results":
    """Train every row of `experiment` with each seed (`seeds`: a count from 0, or a list),
    through the cache; score the floors; return the table with its provenance."""
    experiment = experiment_named(experiment)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds: run at least one (3 or more for a verdict)")
    video = clip_for(scale, device, video)
    seen, heldout = (
        part if part is None else part.to(video.device)
        for part in SPLITS[experiment.split](len(video))
    )
    show_bar = sys.stderr.isatty() if progress is None else progress
    trained_apart = _train_missing(experiment, scale, seeds, device, video)
    lines = [_floor_line(name, video, seen, heldout) for name in experiment.floors]
    for row in experiment.rows:
        scores, seconds, cached = [], 0.0, 0
        bar = tqdm(seeds, desc=row.label, disable=not show_bar, leave=False)
        for seed in bar:
            setup, record = fit(experiment, row.label, scale, seed, device, video)
            scores.append(_scores(record, seen, heldout))
            seconds += record["seconds"]
            cached += record["cached"] and (row.label, seed) not in trained_apart
        lines.append(
            _summary(
                row.label,
                row.model,
                scores,
                video,
                record["params"],
                record["epochs"],
                seconds / len(seeds),
                (row.paper_psnr, row.paper_ms_ssim),
            )
        )
        if not show_bar:
            note = f", {cached} from the cache" if cached else ""
            print(f"  {row.label}: {len(seeds)} seeds, {lines[-1]['psnr_mean']:.2f} dB{note}")
    return Results(experiment, lines, provenance(scale, device, seeds, video))


WORKERS_VARIABLE = "NERV_LESSONS_WORKERS"


def workers_for(device, jobs: int) -> int:
    """How many processes train a table's missing (row, seed) pairs at once. On a CPU, one
    single-threaded process per thread torch would use: on 2 cores, two 1-thread trainings
    side by side finish about 1.4x sooner than one after the other with 2 threads each
    (benchmarks/quick_scale.py). On CUDA, one. $NERV_LESSONS_WORKERS overrides (1: never)."""
    if text := os.environ.get(WORKERS_VARIABLE):
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{WORKERS_VARIABLE}={text!r}: give a whole number >= 1")
        count = int(text)
    else:
        count = torch.get_num_threads() if torch.device(device).type == "cpu" else 1
    return max(1, min(count, jobs))


def _worker_module(build: Callable) -> str | None:
    """The package module a worker imports to build a family: the builder's own, or for a
    builder defined in a notebook the package module whose function of that name reads the
    same (a lesson running its export cells). None: a worker cannot build it. A twin whose
    classes differ costs only time: the cache key `fit` checks afterwards tells them apart."""
    if build.__module__.startswith("nerv_lessons"):
        return build.__module__
    defines = re.compile(rf"^def {build.__name__}\b", re.MULTILINE)
    for path in sorted(PACKAGE.glob("*.py")):
        if defines.search(path.read_text()):
            twin = getattr(_import_quietly(f"nerv_lessons.{path.stem}"), build.__name__, None)
            if callable(twin) and _source(twin) == _source(build):
                return twin.__module__
    return None


def _train_missing(experiment: Experiment, scale: Scale, seeds, device, video) -> set:
    """Train the pairs the cache lacks in parallel processes, when workers_for allows and
    every family has a package module a worker can import (`_worker_module`). Returns the
    pairs it trained; `fit` then reads them back (and trains any others itself)."""
    missing = [
        (row.label, seed)
        for row in experiment.rows
        for seed in seeds
        if not _prepare(experiment, row.label, scale, seed, device, video)[3].is_file()
    ]
    workers = workers_for(device, len(missing))
    if workers < 2:
        return set()
    modules = {_worker_module(MODELS[row.model]) for row in experiment.rows}
    if None in modules:
        return set()
    jobs = [(experiment, label, scale, seed, video.cpu()) for label, seed in missing]
    modules = sorted(modules)
    # spawn, not fork: a forked child of a process whose OpenMP threads already ran can hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, context, _worker_start, (modules,)) as pool:
        list(pool.map(_fit_in_worker, jobs))
    return set(missing)


def _worker_start(modules: list[str]) -> None:
    """One thread per worker; import the modules that register the table's families."""
    torch.set_num_threads(1)
    for name in modules:
        importlib.import_module(name)


def _fit_in_worker(job) -> None:
    experiment, label, scale, seed, video = job
    fit(experiment, label, scale, seed, "cpu", video)


def _floor_line(name: str, video: torch.Tensor, seen, heldout) -> dict:
    copy = FLOORS[name](video, seen)
    per_frame = {"psnr": psnr(copy, video), "ms_ssim": ms_ssim(copy, video)}
    line = _summary(FLOOR_PREFIX + name, "-", [_scores(per_frame, seen, heldout)], video, 0, 0, 0.0)
    return line | {"psnr_std": 0.0, "ms_ssim_std": 0.0}


def verdict(better: dict, worse: dict, metric: str = "psnr") -> tuple[str, float, float]:
    """Does `better` beat `worse` as the paper says? (verdict, gap, noise): "holds" when the
    gap of the means is positive and at least 2 standard deviations of the gap (the rows'
    seed-to-seed stds combined, sqrt(s1^2 + s2^2)), "inverted" when it is as far negative,
    "within noise" otherwise; "too few seeds" under 3."""
    gap = better[f"{metric}_mean"] - worse[f"{metric}_mean"]
    noise = 2 * math.hypot(better[f"{metric}_std"], worse[f"{metric}_std"])
    if min(better["seeds"], worse["seeds"]) < 3:
        return "too few seeds", gap, noise
    if abs(gap) < noise:
        return "within noise", gap, noise
    return ("holds" if gap > 0 else "inverted"), gap, noise


def seed_row(values: Sequence[float], metric: str = "psnr") -> dict:
    """A row for `verdict` from one score per seed (any score where higher is better)."""
    if len(values) == 0:
        raise ValueError("seed_row needs one value per seed, got none")
    mean, std = _mean_std([float(value) for value in values])
    return {f"{metric}_mean": mean, f"{metric}_std": std, "seeds": len(values)}


COLUMNS = (
    "row",
    "model",
    "psnr_mean",
    "psnr_std",
    "ms_ssim_mean",
    "ms_ssim_std",
    "heldout_psnr_mean",
    "heldout_psnr_std",
    "heldout_ms_ssim_mean",
    "heldout_ms_ssim_std",
    "seeds",
    "params",
    "ppp",
    "epochs",
    "seconds",
    "paper_psnr",
    "paper_ms_ssim",
)


@dataclass
class Results:
    """An experiment's table: one dict per row (floors first) and the run's provenance."""

    experiment: Experiment
    rows: list[dict]
    provenance: dict

    def __getitem__(self, label: str) -> dict:
        for line in self.rows:
            if line["row"] == label:
                return line
        raise KeyError(f"no row {label!r}: rows are {[line['row'] for line in self.rows]}")

    def recipe_of(self, row: Row) -> TrainConfig:
        """The training recipe `row` ran with (at seed 0), from the run's scale."""
        scale = Scale(**self.provenance["scale"])
        return _row_recipe(self.experiment, row, scale, self.provenance["seeds"][0])

    def verdicts(self, metric: str = "psnr") -> list[dict]:
        """Each of the paper's claims, judged from the seeds (see `verdict`)."""
        judged = []
        for better, worse in self.experiment.claims:
            result, gap, noise = verdict(self[better], self[worse], metric)
            judged.append(dict(better=better, worse=worse, verdict=result, gap=gap, noise=noise))
        return judged

    def show(self, metric: str = "psnr") -> None:
        """Print the table: ours (mean +- std over seeds) beside the paper's, then verdicts."""
        info, experiment = self.provenance, self.experiment
        scale = info["scale"]
        print(
            f"{experiment.paper}, {experiment.table} | ours: {scale['name']} scale "
            f"({info['clip'][0]} frames of {info['clip'][2]}x{info['clip'][3]}), "
            f"{info['device']}, seeds {info['seeds']}"
        )
        heldout = "heldout_psnr_mean" in self.rows[0]
        header = f"{'row':<22} {'PSNR':>14} {'MS-SSIM':>16}"
        header += f" {'held-out PSNR':>14}" if heldout else ""
        print(header + f" {'params':>9} {'ppp':>6} {'epochs':>6} || {'paper':>6}")
        for line in self.rows:
            text = f"{line['row']:<22} {_pm(line, 'psnr', 2):>14} {_pm(line, 'ms_ssim', 4):>16}"
            text += f" {_pm(line, 'heldout_psnr', 2):>14}" if heldout else ""
            paper = "-" if line["paper_psnr"] is None else f"{line['paper_psnr']:.2f}"
            print(
                text + f" {line['params']:9,d} {line['ppp']:6.3f} {line['epochs']:6d} || {paper:>6}"
            )
        for judged in self.verdicts(metric):
            print(
                f"paper: {judged['better']} > {judged['worse']} | ours: gap "
                f"{judged['gap']:+.2f}, noise {judged['noise']:.2f} -> {judged['verdict']}"
            )

    def save(self, folder: str | Path) -> Path:
        """Write FOLDER/NAME.csv (one row a line) and FOLDER/NAME.json (provenance)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.experiment.name}.csv"
        columns = [column for column in COLUMNS if any(column in line for line in self.rows)]
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: _csv_value(line.get(k)) for k in columns} for line in self.rows)
        sidecar = dict(
            experiment=self.experiment.name,
            paper=self.experiment.paper,
            table=self.experiment.table,
            provenance=self.provenance,
            verdicts=self.verdicts(),
            # Enough to rerun a row: its family, changes and sizes, and the recipe it trained
            # with at this scale (seed s of the run sets seed=s).
            rows=[
                asdict(row) | {"train": asdict(self.recipe_of(row))} for row in self.experiment.rows
            ],
        )
        path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2, default=str) + "\n")
        return path


def _pm(line: dict, metric: str, digits: int) -> str:
    mean, std = line.get(f"{metric}_mean"), line.get(f"{metric}_std")
    if mean is None:
        return "-"
    return f"{mean:.{digits}f}" + (
        "" if std is None or math.isnan(std) else f" +- {std:.{digits}f}"
    )


def _csv_value(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else value


def load_results(path: str | Path) -> tuple[list[dict], dict]:
    """Read a saved table back: its rows (numbers as floats, blanks as None) and sidecar."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results at {path}: run the experiment and save it first")
    with path.open(newline="") as file:
        rows = [{k: _parse(k, v) for k, v in line.items()} for line in csv.DictReader(file)]
    sidecar = path.with_suffix(".json")
    return rows, json.loads(sidecar.read_text()) if sidecar.is_file() else {}


def _parse(column: str, text: str):
    if column in ("row", "model"):
        return text
    if text == "":
        return None
    number = float(text)
    return int(number) if column in ("seeds", "params", "epochs") else number


def build_nerv(video: torch.Tensor, budget: float, **changes) -> Setup:
    """NeRV (lesson 03), the widest within `budget` million parameters for this clip."""
    frames, _, height, width = video.shape
    sizes = Scale("clip", height, width, frames, epochs=1, model_params=budget)
    model = NeRV(nerv_for_scale(sizes, **changes))
    return Setup(model, frame_times, count_parameters(model))


register_model("nerv", build_nerv)

# NeRV's ablations (its Tables 6, 7, 9 and 10, on UVG). The first row of each is the
# paper's baseline (PE, PixelShuffle, GELU, 0.7 L1 + 0.3 SSIM), so one trained model per
# seed serves all four tables: the cache sees the same row and trains it once.
NERV_BASELINE = dict(paper_psnr=37.26, paper_ms_ssim=0.970)
NERV_EMBEDDING = register(
    Experiment(
        "nerv-embedding",
        "NeRV (NeurIPS 2021)",
        "Table 6, input embedding",
        "nerv",
        rows=(
            Row("PE", "nerv", **NERV_BASELINE),
            Row("None", "nerv", {"embedding": "none"}, paper_psnr=24.93, paper_ms_ssim=0.769),
        ),
        claims=(("PE", "None"),),
    )
)
NERV_UPSAMPLING = register(
    Experiment(
        "nerv-upsampling",
        "NeRV (NeurIPS 2021)",
        "Table 7, upscale layer",
        "nerv",
        rows=(
            Row("PixelShuffle", "nerv", **NERV_BASELINE),
            Row(
                "Transpose conv",
                "nerv",
                {"upsample": "deconv"},
                paper_psnr=36.63,
                paper_ms_ssim=0.967,
            ),
            Row(
                "Bilinear", "nerv", {"upsample": "bilinear"}, paper_psnr=29.56, paper_ms_ssim=0.873
            ),
        ),
        claims=(("PixelShuffle", "Bilinear"), ("PixelShuffle", "Transpose conv")),
    )
)
NERV_ACTIVATION = register(
    Experiment(
        "nerv-activation",
        "NeRV (NeurIPS 2021)",
        "Table 9, activation",
        "nerv",
        rows=(
            Row("GELU", "nerv", **NERV_BASELINE),
            Row("Swish", "nerv", {"activation": "swish"}, paper_psnr=37.08, paper_ms_ssim=0.969),
            Row("ReLU", "nerv", {"activation": "relu"}, paper_psnr=35.89, paper_ms_ssim=0.963),
        ),
        claims=(("GELU", "ReLU"), ("Swish", "ReLU")),
    )
)
NERV_LOSS = register(
    Experiment(
        "nerv-loss",
        "NeRV (NeurIPS 2021)",
        "Table 10, loss",
        "nerv",
        rows=(
            Row("0.7 L1 + 0.3 SSIM", "nerv", **NERV_BASELINE),
            Row("L1", "nerv", recipe={"loss": "l1"}, paper_psnr=35.77, paper_ms_ssim=0.959),
            Row("L2", "nerv", recipe={"loss": "l2"}, paper_psnr=35.64, paper_ms_ssim=0.956),
        ),
        claims=(("0.7 L1 + 0.3 SSIM", "L2"),),
    )
)
