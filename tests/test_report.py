"""Lesson 10's report (and the command line's report), and exact reproduction of a run."""

import csv
import json
import shutil
from dataclasses import replace

import flat_family  # noqa: F401  (registers the "test-flat" family)
import pytest

from nerv_lessons import cli
from nerv_lessons.experiments import Experiment, Row, run
from nerv_lessons.report import FIELDS, collect, lines, markdown, write_report
from nerv_lessons.scales import SCALES

SCALE = replace(SCALES["quick"], height=40, width=80, frames=4, frame_step=1, epochs=40)


TABLE = Experiment(
    "report-table",
    paper="nobody",
    table="Table 0",
    recipe="hnerv",
    rows=(
        Row("plain", "test-flat", paper_psnr=30.0),
        Row("shifted", "test-flat", {"bias": 0.5}, paper_psnr=20.0),
    ),
    claims=(("plain", "shifted"),),
)


pytestmark = pytest.mark.usefixtures("scratch_cache")  # conftest: a cache of its own


@pytest.fixture
def saved(tmp_path, clip):
    """A results folder with the table at two scales (3 seeds at quick, 1 at lesson)."""
    root = tmp_path / "results"
    run(TABLE, SCALE, seeds=3, video=clip).save(root / "quick")
    lesson = replace(SCALE, name="lesson")
    run(TABLE, lesson, seeds=1, video=clip).save(root / "lesson")
    (root / "quick" / "points-files.csv").write_text("row,bpp\nx,1\n")  # not a table
    return root


def test_the_report_sets_every_scale_beside_the_paper(saved):
    found = collect(saved)
    assert list(found) == ["report-table"]
    assert list(found["report-table"]) == ["quick", "lesson"]  # the scales' order, not a-z
    text = markdown(found)
    assert "| row | paper | quick | lesson | quick − paper | lesson − paper |" in text
    plain = next(line for line in text.splitlines() if line.startswith("| plain |"))
    assert "30.00" in plain and "(3)" in plain and "(1)" in plain
    claim = next(line for line in text.splitlines() if line.startswith("- paper: plain > shifted"))
    assert "quick: holds" in claim and "lesson: too few seeds" in claim
    assert "- ours at quick: 4 frames of 40x80, 40 epochs, cpu" in text


def test_the_report_recomputes_differences_and_verdicts(saved):
    flat = lines(collect(saved, ["quick"]))
    plain = next(line for line in flat if line["row"] == "plain")
    assert plain["difference"] == pytest.approx(plain["ours_mean"] - 30.0)
    claim = next(line for line in flat if line["row"].startswith("claim"))
    assert claim["verdict"] == "holds" and claim["gap"] > claim["noise"]


def test_write_report_saves_markdown_and_csv(saved, tmp_path):
    out = tmp_path / "out" / "report.md"
    text = write_report(saved, out=out)
    assert out.read_text().strip() == text.strip()
    with out.with_suffix(".csv").open() as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(FIELDS)
    # per scale: the floor, two rows and one claim
    assert len(rows) == 2 * 4 and {row["scale"] for row in rows} == {"quick", "lesson"}


def test_the_report_says_what_is_missing(saved, tmp_path):
    with pytest.raises(FileNotFoundError, match="no results folder"):
        collect(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"no results for scale paper .*quick"):
        collect(saved, ["paper"])
    empty = tmp_path / "empty"
    (empty / "quick").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no saved tables"):
        write_report(empty)


def test_the_command_line_report(saved, tmp_path, capsys):
    assert cli.main(["report", "--results", str(saved), "--scale", "quick"]) == 0
    assert "### report-table" in capsys.readouterr().out
    out = tmp_path / "r.md"
    assert cli.main(["report", "--results", str(saved), "--out", str(out)]) == 0
    assert out.is_file() and out.with_suffix(".csv").is_file()
    assert cli.main(["report", "--results", str(tmp_path / "nowhere")]) == 2
    assert "no results folder" in capsys.readouterr().err


def test_the_same_seed_on_the_same_device_gives_the_same_numbers(clip, tmp_path, monkeypatch):
    # Two runs from two empty caches: nothing is read back, both train.
    first = run(TABLE, SCALE, seeds=2, video=clip)
    shutil.rmtree(tmp_path / "cache")
    second = run(TABLE, SCALE, seeds=2, video=clip)
    for label in ("plain", "shifted"):
        assert first[label]["psnr_mean"] == second[label]["psnr_mean"]
        assert first[label]["psnr_std"] == second[label]["psnr_std"]
    # The sidecar keeps enough to rerun a row: its family, changes, sizes and recipe.
    sidecar = json.loads(first.save(tmp_path / "saved").with_suffix(".json").read_text())
    shifted = sidecar["rows"][1]
    assert shifted["model"] == "test-flat" and shifted["changes"] == {"bias": 0.5}
    assert shifted["train"]["epochs"] == 40 and shifted["train"]["loss"] == "l2"
    assert shifted["train"]["lr"] == pytest.approx(1e-3 * SCALE.lr_factor)
