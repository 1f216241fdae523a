"""Student copies: solutions out, nothing of them left, and every copy runs in a fresh kernel.

Running a copy is a whole lesson again (its trained rows come from the experiments' disk
cache); the root conftest.py moves these runs after the notebooks, which fill that cache.
"""

import json
from pathlib import Path

import nbformat
import pytest

from nerv_lessons import _exercises, _student, cli

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    assert cli.main(["student-copies", str(out)]) == 0
    return out


def test_every_lesson_gets_a_copy(copies):
    assert sorted(p.name for p in copies.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_copy_holds_no_solution(copies, notebook):
    original = nbformat.read(notebook, as_version=4)
    student = nbformat.read(copies / notebook.name, as_version=4)
    text = (copies / notebook.name).read_text()
    assert _student.BEGIN not in text and _student.END not in text
    assert not _student.solution_leaks(original, student)
    solutions = sum(cell.source.count(_student.BEGIN) for cell in original.cells)
    assert text.count("raise NotImplementedError()") >= solutions > 0
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    assert set(student.metadata) <= set(_student.KEPT_NOTEBOOK_METADATA)
    assert len(student.cells) == len(original.cells)  # nothing else removed


def test_indentation_is_kept():
    source = (
        "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n"
    )
    student = _student.strip_solutions(source)
    assert "return x + y" not in student
    assert "    raise NotImplementedError()" in student and "    y = 1" in student
    compile(student, "<copy>", "exec")


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n### END SOLUTION\n", "without a"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
    ],
)
def test_broken_markers_are_refused(source, message):
    with pytest.raises(ValueError, match=message):
        _student.strip_solutions(source)


def test_a_leak_is_found():
    original = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nanswer = 6 * 7\n### END SOLUTION")]
    )
    student = _student.student_notebook(original)
    assert not _student.solution_leaks(original, student)
    student.cells[0].outputs = [nbformat.v4.new_output("stream", text="answer = 6 * 7")]
    assert _student.solution_leaks(original, student) == ["answer = 6 * 7"]


def test_bad_folders_are_refused(tmp_path, capsys):
    assert cli.main(["student-copies", str(tmp_path / "out"), "--lessons", str(tmp_path)]) == 2
    assert "no lesson notebooks" in capsys.readouterr().err
    lessons = str(ROOT / "notebooks")
    assert cli.main(["student-copies", lessons, "--lessons", lessons]) == 2
    assert "somewhere else" in capsys.readouterr().err


def errors_of(cell) -> list[str]:
    return [o["ename"] for o in cell.get("outputs", []) if o["output_type"] == "error"]


def printed(cell) -> str:
    return "".join(
        o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream"
    )


@pytest.mark.slow
@pytest.mark.student_copy
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_copy_runs(copies, notebook):
    """Every cell runs but the exercises (NotImplementedError) and their checks (not done yet)."""
    from nbclient import NotebookClient

    student = nbformat.read(copies / notebook.name, as_version=4)
    client = NotebookClient(
        student,
        timeout=1800,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(copies)}},
    )
    client.execute()
    problems = []
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        errors, source = errors_of(cell), cell.source
        if _student.PLACEHOLDER[1] in source:
            if errors not in ([], ["NotImplementedError"]):
                problems.append(f"exercise cell {index} raised {errors}")
        elif source.startswith("# Check"):
            if errors or _exercises.NOT_DONE not in printed(cell):
                problems.append(f"check cell {index} said {errors or printed(cell)[:200]!r}")
        elif errors:
            text = json.dumps(cell.outputs)[:600]
            problems.append(f"cell {index} failed ({errors}): {source[:120]!r} -> {text}")
    assert not problems, f"{notebook.name}:\n" + "\n".join(problems)
