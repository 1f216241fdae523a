"""The course's own rules: lessons build the package, pairs stay in step, lessons look alike."""

import ast
import json
import re
import shutil
from pathlib import Path

import jupytext
import pytest

from nerv_lessons import _export

ROOT = Path(__file__).resolve().parents[1]
LESSONS = _export.lesson_sources(ROOT)
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPOSITORY = "nerv-lessons/nerv-lessons"


def public_names(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {name for name in names if not name.startswith("_")}


def test_there_are_lessons():
    assert LESSONS and NOTEBOOKS


# --- the package is the code the lessons show ------------------------------------------------


def test_package_is_the_code_the_lessons_show():
    problems = _export.differences(ROOT)
    assert not problems, "\n\n".join(problems)


@pytest.fixture
def course_copy(tmp_path):
    """A scratch copy of the lessons and the package, to break on purpose."""
    for folder in ("notebooks", "nerv_lessons"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*.ipynb"))
    _export.export(tmp_path)  # start from agreement, whatever the working tree holds
    return tmp_path


def test_an_edited_module_is_caught(course_copy):
    module = course_copy / "nerv_lessons" / "metrics.py"
    module.write_text(module.read_text().replace("10 * torch.log10", "20 * torch.log10"))
    problems = _export.differences(course_copy)
    assert len(problems) == 1 and "nerv_lessons/metrics.py differs" in problems[0]
    assert "20 * torch.log10" in problems[0]  # the diff shows the change


def test_an_edited_lesson_is_caught_and_export_repairs_it(course_copy):
    lesson = course_copy / "notebooks" / "00_video_as_data.py"
    lesson.write_text(lesson.read_text().replace("KR, KB = 0.2126", "KR, KB = 0.299"))
    assert "nerv_lessons/data.py differs" in _export.differences(course_copy)[0]
    assert _export.export(course_copy) == [course_copy / "nerv_lessons" / "data.py"]
    assert _export.differences(course_copy) == []


def test_a_module_no_lesson_shows_is_caught(course_copy):
    (course_copy / "nerv_lessons" / "extra.py").write_text("def helper():\n    pass\n")
    (course_copy / "nerv_lessons" / "_private.py").write_text("def plumbing():\n    pass\n")
    problems = _export.differences(course_copy)
    assert problems == [
        "nerv_lessons/extra.py is not shown in any lesson: move its code into "
        "'#| export' cells of the lesson that teaches it"
    ]


def test_a_module_exported_by_two_lessons_is_refused(course_copy):
    shutil.copy(
        course_copy / "notebooks" / "00_video_as_data.py", course_copy / "notebooks" / "99_copy.py"
    )
    with pytest.raises(ValueError, match="exported by both 00_video_as_data.py and 99_copy.py"):
        _export.differences(course_copy)


def test_later_code_imports_the_package_instead_of_redefining_it():
    shipped = {
        name: module.stem
        for module in (ROOT / "nerv_lessons").glob("[!_]*.py")
        for name in public_names(module)
    }
    for lesson in LESSONS:
        for source in _export.code_cells(lesson):
            if _export.EXPORT_MARK.match(source.partition("\n")[0]):
                continue
            code = "\n".join(line for line in source.splitlines() if not line.startswith("%"))
            for node in ast.parse(code).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    assert node.name not in shipped, (
                        f"{lesson.name} redefines {node.name} outside an export cell; "
                        f"import it from nerv_lessons.{shipped[node.name]} instead"
                    )


# --- pairs and notebooks ---------------------------------------------------------------------


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_and_its_text_twin_are_in_step(notebook):
    twin = notebook.with_suffix(".py")
    assert twin.exists(), (
        f"{notebook.name} has no py:percent twin: run `jupytext --sync {notebook}`"
    )
    expected = jupytext.writes(jupytext.read(notebook), fmt="py:percent")
    assert expected == twin.read_text(), (
        f"{notebook.name} and {twin.name} are out of step: run `jupytext --sync {twin}` "
        "(the newer file wins)"
    )


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_every_lesson_has_a_notebook(lesson):
    assert lesson.with_suffix(".ipynb").exists(), f"run `jupytext --sync {lesson}`"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_run_and_small(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    unrun = [i for i, cell in enumerate(code) if cell["execution_count"] is None]
    assert not unrun, f"{notebook.name}: code cells {unrun} were never run; commit a real run"
    assert notebook.stat().st_size < 1_500_000, f"{notebook.name} is over 1.5 MB: smaller figures"
    errors = [o for cell in code for o in cell["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{notebook.name} was committed with an error output"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name)
def test_lesson_shape(lesson):
    text = lesson.read_text()
    badge = f"colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{lesson.stem}.ipynb"
    assert badge in text, f"{lesson.name} needs an 'Open in Colab' badge pointing at itself"
    assert '"google.colab" in sys.modules' in text, f"{lesson.name} needs the Colab set-up cell"
    assert "start_lesson(" in text, f"{lesson.name} must start by printing scale and device"
    assert text.count("### BEGIN SOLUTION") == text.count("### END SOLUTION") >= 1, (
        f"{lesson.name} needs an exercise between '### BEGIN SOLUTION' and '### END SOLUTION'"
    )
    cells = _export.code_cells(lesson)
    solution = next(i for i, cell in enumerate(cells) if "### BEGIN SOLUTION" in cell)
    assert cells[solution + 1].startswith("# Check"), (
        f"{lesson.name}: a check cell follows the exercise"
    )
    assert "plt.show()" in text or "player(" in text, f"{lesson.name} needs a plot or a widget"


# --- README and CI -------------------------------------------------------------------------


def readme_command(marker: str) -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", readme, re.S)
    assert match, f"README.md has no ```bash block after <!-- {marker} -->"
    return match.group(1).strip()


def test_ci_runs_the_readmes_test_command():
    command = readme_command("test-command")
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert command in lines, ".ci/run must run the README's test command, verbatim"


def test_readme_course_map_lists_every_lesson():
    readme = (ROOT / "README.md").read_text()
    for lesson in LESSONS:
        assert f"notebooks/{lesson.stem}.ipynb" in readme, f"README course map lacks {lesson.stem}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_folded_cells_fold_in_jupyterlab_and_colab(notebook):
    """A folded code cell carries both JupyterLab's and Colab's marks, so it folds in both."""
    for index, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        jupyter_fold = cell["metadata"].get("jupyter", {}).get("source_hidden", False)
        colab_fold = cell["metadata"].get("cellView") == "form"
        assert jupyter_fold == colab_fold, (
            f"{notebook.name}, cell {index}: fold with both marks, i.e. start the cell with "
            '`# %% jupyter={"source_hidden": true} cellView="form"` in the .py twin'
        )
