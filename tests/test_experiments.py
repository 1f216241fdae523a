"""The experiments layer: rows, seeds, the cache, floors, verdicts, CSV + JSON, the CLI."""

import math
from dataclasses import replace

import pytest
import torch
from flat_family import Flat  # importing it registers the "test-flat" family

from nerv_lessons import cli, experiments
from nerv_lessons.experiments import (
    Experiment,
    Row,
    load_results,
    run,
    seed_row,
    verdict,
)
from nerv_lessons.scales import SCALES

# A tiny clip and a tiny model family: the machinery, not the models, is under test here.
SCALE = replace(SCALES["quick"], height=40, width=80, frames=4, frame_step=1, epochs=2)


TABLE = Experiment(
    "test-table",
    paper="nobody",
    table="Table 0",
    recipe="hnerv",
    rows=(Row("plain", "test-flat", paper_psnr=30.0), Row("shifted", "test-flat", {"bias": 0.5})),
    claims=(("plain", "shifted"),),
)


pytestmark = pytest.mark.usefixtures("scratch_cache")  # conftest: a cache of its own


def test_run_gives_one_line_per_row_after_the_floor(clip):
    results = run(TABLE, SCALE, seeds=3, video=clip)
    labels = [line["row"] for line in results.rows]
    assert labels == ["floor: mean frame", "plain", "shifted"]
    plain = results["plain"]
    assert plain["seeds"] == 3 and plain["params"] == 3 * 40 * 80 and plain["epochs"] == 2
    assert plain["ppp"] == pytest.approx(3 * 40 * 80 / (4 * 40 * 80))
    assert plain["paper_psnr"] == 30.0
    floor = results["floor: mean frame"]
    mean = clip.mean(0, keepdim=True).expand_as(clip)
    expected = (-10 * torch.log10(((mean - clip) ** 2).flatten(1).mean(1))).mean().item()
    assert floor["psnr_mean"] == pytest.approx(expected, abs=1e-4)


def test_seeds_differ_and_a_rerun_comes_from_the_cache(clip, capsys):
    first = run(TABLE, SCALE, seeds=2, video=clip)
    assert first["plain"]["psnr_std"] > 0  # two seeds, two initialisations
    second = run(TABLE, SCALE, seeds=2, video=clip)
    assert "2 from the cache" in capsys.readouterr().out
    assert second["plain"]["psnr_mean"] == first["plain"]["psnr_mean"]


def test_the_cache_key_changes_with_the_clip(clip, capsys):
    run(TABLE, SCALE, seeds=1, video=clip)
    capsys.readouterr()
    run(TABLE, SCALE, seeds=1, video=clip.flip(0))
    assert "from the cache" not in capsys.readouterr().out


def test_fit_returns_the_trained_model(clip):
    setup, record = experiments.fit(TABLE, "plain", SCALE, seed=0, video=clip)
    assert isinstance(setup.model, Flat) and not record["cached"]
    again, record = experiments.fit(TABLE, "plain", SCALE, seed=0, video=clip)
    assert record["cached"]
    assert torch.equal(again.model.frame, setup.model.frame)


def test_held_out_split_scores_the_odd_frames_apart(clip):
    table = replace(TABLE, name="test-split", split="even")
    results = run(table, SCALE, seeds=1, video=clip)
    assert "heldout_psnr_mean" in results["plain"]
    mean_of_even = clip[::2].mean(0, keepdim=True)
    odd = clip[1::2]
    expected = (-10 * torch.log10(((mean_of_even - odd) ** 2).flatten(1).mean(1))).mean()
    assert results["floor: mean frame"]["heldout_psnr_mean"] == pytest.approx(expected.item(), 1e-4)


@pytest.mark.parametrize(
    "better, worse, expected",
    [
        ((30.0, 0.1), (28.0, 0.1), "holds"),
        ((28.0, 0.1), (30.0, 0.1), "inverted"),
        ((30.0, 1.0), (29.5, 1.0), "within noise"),
    ],
)
def test_verdict(better, worse, expected):
    def line(mean, std, seeds=3):
        return {"psnr_mean": mean, "psnr_std": std, "seeds": seeds}

    assert verdict(line(*better), line(*worse))[0] == expected
    assert verdict(line(*better, seeds=1), line(*worse, seeds=1))[0] == "too few seeds"


def test_seed_row_feeds_verdict():
    row = seed_row([26.0, 27.0, 28.0], "steady")
    assert row == {"steady_mean": 27.0, "steady_std": 1.0, "seeds": 3}
    assert verdict(seed_row([30.0, 30.1, 29.9]), seed_row([20.0, 20.1, 19.9]))[0] == "holds"
    assert math.isnan(seed_row([1.0])["psnr_std"])
    with pytest.raises(ValueError, match="one value per seed"):
        seed_row([])


def test_csv_and_sidecar_round_trip(clip, tmp_path):
    results = run(TABLE, SCALE, seeds=2, video=clip)
    path = results.save(tmp_path / "out")
    assert path.name == "test-table.csv"
    header = path.read_text().splitlines()[0].split(",")
    for column in (
        "row",
        "psnr_mean",
        "psnr_std",
        "ms_ssim_mean",
        "ms_ssim_std",
        "seeds",
        "params",
        "ppp",
        "epochs",
        "seconds",
        "paper_psnr",
    ):
        assert column in header
    rows, sidecar = load_results(path)
    assert [row["row"] for row in rows] == [line["row"] for line in results.rows]
    assert rows[1]["psnr_mean"] == pytest.approx(results["plain"]["psnr_mean"], rel=1e-5)
    assert rows[2]["paper_psnr"] is None
    assert sidecar["provenance"]["seeds"] == [0, 1]
    assert sidecar["provenance"]["torch"] == torch.__version__
    assert sidecar["verdicts"][0]["better"] == "plain"


def test_bad_definitions_say_what_is_wrong():
    with pytest.raises(ValueError, match="distinct labels"):
        Experiment("x", "p", "t", "hnerv", rows=(Row("a", "test-flat"), Row("a", "test-flat")))
    with pytest.raises(ValueError, match="names rows"):
        Experiment("x", "p", "t", "hnerv", rows=(Row("a", "test-flat"),), claims=(("a", "b"),))
    with pytest.raises(ValueError, match="split"):
        Experiment("x", "p", "t", "hnerv", rows=(Row("a", "test-flat"),), split="odd")
    with pytest.raises(ValueError, match="no\\s+lesson registered"):
        experiments.register(Experiment("x", "p", "t", "hnerv", rows=(Row("a", "nothing"),)))
    with pytest.raises(KeyError, match="nerv-lessons list"):
        run("no-such-table", SCALE)
    with pytest.raises(ValueError, match="at least one"):
        run(TABLE, SCALE, seeds=[])


def test_missing_results_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the experiment"):
        load_results(tmp_path / "none.csv")


def test_cli_lists_and_runs(tmp_path, capsys, monkeypatch):
    assert cli.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "nerv-embedding" in listed and "Table 6" in listed
    monkeypatch.setitem(experiments.EXPERIMENTS, TABLE.name, TABLE)
    frames = tmp_path / "frames"
    frames.mkdir()
    import imageio.v3 as iio

    for index in range(4):
        iio.imwrite(frames / f"{index:03d}.png", (torch.rand(40, 80, 3) * 255).byte().numpy())
    monkeypatch.setitem(cli.SCALES, "quick", SCALE)
    code = cli.main(
        [
            "run",
            TABLE.name,
            "--scale",
            "quick",
            "--seeds",
            "1",
            "--video",
            str(frames),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    rows, _ = load_results(tmp_path / "out" / "test-table.csv")
    assert math.isfinite(rows[1]["psnr_mean"])
    assert cli.main(["run", "no-such-table"]) == 2


def test_cli_takes_a_short_clip_with_fewer_frames(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(experiments.EXPERIMENTS, TABLE.name, TABLE)
    monkeypatch.setitem(cli.SCALES, "quick", SCALE)
    frames = tmp_path / "frames"
    frames.mkdir()
    import imageio.v3 as iio

    for index in range(3):
        iio.imwrite(frames / f"{index:03d}.png", (torch.rand(40, 80, 3) * 255).byte().numpy())
    common = ["run", TABLE.name, "--scale", "quick", "--seeds", "1", "--video", str(frames)]
    with pytest.raises(ValueError, match="fewer frames"):
        cli.main(common)  # the scale asks for 4 frames, the clip has 3
    assert cli.main([*common, "--frames", "3", "--out", str(tmp_path / "out")]) == 0
    assert cli.main([*common, "--frame-step", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


@pytest.mark.slow  # two spawned worker processes train 4 tiny rows: about 10 s
def test_missing_rows_train_in_parallel_processes_then_come_from_the_cache(bunny, capsys):
    table = Experiment(
        "test-parallel",
        paper="nobody",
        table="Table 0",
        recipe="hnerv",
        rows=(Row("small", "baseline_nerv", size=0.5), Row("large", "baseline_nerv")),
    )
    assert experiments.workers_for("cpu", 4) == min(4, torch.get_num_threads())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(experiments.WORKERS_VARIABLE, "2")
        first = run(table, SCALE, seeds=2, video=bunny[:4])
    assert "from the cache" not in capsys.readouterr().out  # trained, in the workers
    second = run(table, SCALE, seeds=2, video=bunny[:4])  # serial now: all four cached
    assert "2 from the cache" in capsys.readouterr().out
    assert second["large"]["psnr_mean"] == first["large"]["psnr_mean"]


def test_the_workers_variable(monkeypatch):
    monkeypatch.setenv(experiments.WORKERS_VARIABLE, "1")
    assert experiments.workers_for("cpu", 8) == 1
    monkeypatch.setenv(experiments.WORKERS_VARIABLE, "3")
    assert experiments.workers_for("cpu", 2) == 2  # never more than there are jobs
    assert experiments.workers_for("cuda", 8) == 3
    monkeypatch.setenv(experiments.WORKERS_VARIABLE, "two")
    with pytest.raises(ValueError, match="whole number"):
        experiments.workers_for("cpu", 2)
    monkeypatch.delenv(experiments.WORKERS_VARIABLE)
    assert experiments.workers_for("cuda", 8) == 1


def test_a_notebook_copy_of_a_package_class_shares_its_cache_key():
    # A lesson's notebook runs the package's code from its export cells: its classes live in
    # __main__, with the same source. They must key the cache as the package's classes do,
    # or a later lesson retrains what the lesson that built the model already trained.
    import inspect
    import linecache

    from nerv_lessons import nerv

    source = inspect.getsource(nerv)
    for index, text in enumerate(
        (
            source,
            source.replace(
                "return expect_shape(x, (batch, 3,", "return -expect_shape(x, (batch, 3,"
            ),
        )
    ):
        cell = f"<notebook cell {index}>"
        linecache.cache[cell] = (len(text), None, text.splitlines(True), cell)  # as IPython does
        namespace = {"__name__": "__main__"}
        exec(compile(text, cell, "exec"), namespace)
        copy = namespace["NeRV"]
        assert copy is not nerv.NeRV and copy.__module__ == "__main__"
        expected = inspect.getsource(nerv.NeRV) if index == 0 else None  # edited: no twin
        assert experiments._class_code(copy) == expected


def test_a_notebooks_builder_trains_in_workers_only_as_the_packages_twin(tmp_path, monkeypatch):
    """A lesson's builder that reads as the package's (its export cell, unedited) may train in
    worker processes, which import the package; an edited one trains in the lesson itself."""
    import importlib
    import inspect

    source = inspect.getsource(experiments.build_nerv)
    header = "import torch\nfrom nerv_lessons.experiments import *\n\n\n"
    (tmp_path / "lesson_copy.py").write_text(header + source)
    (tmp_path / "lesson_edited.py").write_text(header + source.replace('"""', '"""Edited. ', 1))
    monkeypatch.syspath_prepend(str(tmp_path))
    copy, edited = (importlib.import_module(name) for name in ("lesson_copy", "lesson_edited"))
    assert experiments._worker_module(experiments.build_nerv) == "nerv_lessons.experiments"
    assert experiments._worker_module(copy.build_nerv) == "nerv_lessons.experiments"
    assert experiments._worker_module(edited.build_nerv) is None
