"""Lesson 08's rate-distortion layer: real files from trained rows, curves, per-seed BD-rates."""

import csv
from dataclasses import replace

import pytest
import torch

from nerv_lessons import cli, experiments
from nerv_lessons.bitstream import decode
from nerv_lessons.experiments import MODELS, Experiment, Row, register
from nerv_lessons.metrics import psnr
from nerv_lessons.rate_distortion import (
    HNERV_RATE_DISTORTION,
    SIZES,
    curve_bd_rate,
    curve_of,
    file_points,
    load_points,
    save_points,
    seed_bd_rates,
    to_file,
)
from nerv_lessons.scales import SCALES

SCALE = replace(SCALES["quick"], frames=4, frame_step=1, epochs=1)
TINY = Experiment(
    "test-rd",
    paper="nobody",
    table="Figure 0",
    recipe="hnerv",
    rows=(
        Row("HNeRV 1x", "hnerv"),
        Row("NeRV 1x", "baseline_nerv"),
        Row("NeRV 2x", "baseline_nerv", size=2.0),
    ),
)


pytestmark = pytest.mark.usefixtures("scratch_cache")  # conftest: a cache of its own


@pytest.fixture
def clip(bunny):
    return bunny[:4]


def test_the_registered_sizes_are_real_sizes():
    # HNeRV's 12-channel floor once made 0.5x and 0.75x nearly one model: each size must
    # give a model clearly larger than the last, for both families, at the quick scale.
    video = torch.zeros(16, 3, 80, 160)
    for family in ("hnerv", "baseline_nerv"):
        params = [MODELS[family](video, 0.05 * size).params for size in SIZES]
        assert all(b > 1.1 * a for a, b in zip(params, params[1:])), (family, params)
    labels = [row.label for row in HNERV_RATE_DISTORTION.rows]
    assert len(labels) == 2 * len(SIZES) and len(HNERV_RATE_DISTORTION.claims) == len(SIZES)


@pytest.mark.slow  # trains three tiny rows for one epoch with two seeds: a few seconds
def test_file_points_measure_real_files(clip):
    points = file_points(TINY, SCALE, seeds=2, video=clip)
    assert [(p["row"], p["seed"]) for p in points] == [
        (label, seed) for label in ("HNeRV 1x", "NeRV 1x", "NeRV 2x") for seed in (0, 1)
    ]
    frames, _, height, width = clip.shape
    for point in points:
        assert point["bpp"] == pytest.approx(8 * point["bytes"] / (frames * height * width))
        assert point["ppp"] == pytest.approx(point["params"] / (frames * height * width))
    # The point's PSNR is that of the file it describes, decoded.
    setup, _ = experiments.fit(TINY, "NeRV 2x", SCALE, 1, video=clip)
    data = to_file(setup.model, clip)
    last = points[-1]
    assert len(data) == last["bytes"]
    assert psnr(decode(data), clip).mean().item() == pytest.approx(last["psnr"])
    assert points[-1]["params"] > points[2]["params"]  # 2x is larger than 1x


def point(model, row, seed, bpp, quality):
    return dict(row=row, model=model, seed=seed, bpp=bpp, psnr=quality, ms_ssim=quality / 40)


def test_curve_of_averages_the_seeds_and_sorts_by_rate():
    points = [
        point("a", "big", 0, 2.0, 30.0),
        point("a", "big", 1, 4.0, 32.0),
        point("a", "small", 0, 1.0, 25.0),
        point("b", "other", 0, 0.5, 20.0),
    ]
    curve = curve_of(points, "a")
    assert [p["row"] for p in curve] == ["small", "big"]
    assert curve[1]["bpp"] == pytest.approx(3.0) and curve[1]["psnr"] == pytest.approx(31.0)
    assert [p["row"] for p in curve_of(points, "a", seed=1)] == ["big"]
    with pytest.raises(ValueError, match="no points for model 'c'"):
        curve_of(points, "c")


def test_seed_bd_rates_one_per_seed_with_reasons():
    qualities = [24.0, 26.0, 28.0, 30.0]
    points = []
    for seed in (0, 1):
        for i, quality in enumerate(qualities):
            rate = 0.1 * 2**i
            points.append(point("anchor", f"a{i}", seed, rate, quality))
            # seed 0: half the bits for the same quality; seed 1: a curve that dips
            test_quality = quality if seed == 0 else [24.0, 27.0, 26.0, 30.0][i]
            points.append(point("test", f"t{i}", seed, rate / 2, test_quality))
    rates = seed_bd_rates(points, "anchor", "test")
    assert rates[0] == pytest.approx(-50.0, abs=1e-6)
    assert "quality must rise with rate" in rates[1]
    anchor, test = curve_of(points, "anchor", 0), curve_of(points, "test", 0)
    assert curve_bd_rate(anchor, test) == pytest.approx(-50.0, abs=1e-6)


def test_save_points_writes_one_line_per_point(tmp_path):
    points = [point("a", "r", 0, 0.123456789, 30.0), point("a", "s", 1, 0.5, 31.0)]
    path = save_points(points, tmp_path / "sub" / "points.csv")
    with path.open() as file:
        lines = list(csv.DictReader(file))
    assert [line["row"] for line in lines] == ["r", "s"]
    assert float(lines[0]["bpp"]) == pytest.approx(0.123457)
    back = load_points(path)
    assert back[1] == {**points[1], "ms_ssim": pytest.approx(31.0 / 40)}
    assert isinstance(back[0]["seed"], int) and isinstance(back[0]["row"], str)
    with pytest.raises(ValueError, match="no points"):
        save_points([], tmp_path / "empty.csv")
    with pytest.raises(FileNotFoundError, match="nerv-lessons files"):
        load_points(tmp_path / "missing.csv")


@pytest.mark.slow  # trains three rows at 4 frames of 80x160 for 80 epochs: about 10 s
def test_the_command_line_writes_the_file_points(tmp_path, capsys):
    register(replace(TINY, name="test-rd-cli"))
    argv = ["files", "test-rd-cli", "--scale", "quick", "--frames", "4", "--frame-step", "1"]
    assert cli.main([*argv, "--seeds", "1", "--device", "cpu", "--out", str(tmp_path)]) == 0
    points = load_points(tmp_path / "test-rd-cli-files.csv")
    assert [p["row"] for p in points] == ["HNeRV 1x", "NeRV 1x", "NeRV 2x"]
    assert "saved" in capsys.readouterr().out
