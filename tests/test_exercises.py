"""Every lesson's exercises: at least two, each with a check that can say wrong, and unfinished
work that says "not done yet" instead of failing.

The wrong answers live in tests/wrong_answers/lesson_NN.py, one module per lesson:
``ANSWERS = {"name": [{"name": a wrong answer, ...}, ...]}`` keyed by the first name the check
passes to ``exercise(...)``, and an optional ``context()`` returning the lesson state the
exercise and check cells read (a small frame, a measured number). Each check cell runs here on
its own, in a namespace of the usual imports plus that context.
"""

import ast
import importlib.util
import io
import math
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nerv_lessons import _exercises, _export, _student

ROOT = Path(__file__).resolve().parents[1]
LESSONS = _export.lesson_sources(ROOT)
ANSWERS_FOLDER = Path(__file__).parent / "wrong_answers"


def exercise_names(check: str) -> tuple[str, ...]:
    """The names passed to ``exercise(...)`` in a check cell."""
    for node in ast.walk(ast.parse(check)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "exercise":
            return tuple(arg.value for arg in node.args)
    return ()


def exercises(lesson: Path) -> list[tuple[str, str]]:
    """(exercise cell, check cell) pairs of a lesson, in order."""
    cells = _export.code_cells(lesson)
    return [
        (cell, cells[i + 1] if i + 1 < len(cells) else "")
        for i, cell in enumerate(cells)
        if _student.BEGIN in cell
    ]


def answers_module(lesson: Path):
    path = ANSWERS_FOLDER / f"lesson_{lesson.stem[:2]}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def namespace(module, **answers) -> dict:
    names = {"math": math, "np": np, "torch": torch, "F": F, "nn": nn}
    names.update(exercise=_exercises.exercise, right=_exercises.right, wrong=_exercises.wrong)
    if module is not None and hasattr(module, "context"):
        names.update(module.context())
    names.update(answers)
    return names


def run_cell(source: str, names: dict) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(source, "<cell>", "exec"), names)
    return out.getvalue()


def not_implemented(*args, **kwargs):
    raise NotImplementedError()


CASES = [
    pytest.param(lesson, index, id=f"{lesson.stem[:2]}-{index}")
    for lesson in LESSONS
    for index in range(len(exercises(lesson)))
]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_lesson_has_two_checked_exercises(lesson):
    pairs = exercises(lesson)
    assert len(pairs) >= 2, f"{lesson.name}: at least two exercises (### BEGIN SOLUTION blocks)"
    for solution, check in pairs:
        assert check.startswith("# Check"), f"{lesson.name}: a '# Check' cell follows each exercise"
        assert exercise_names(check), (
            f"{lesson.name}: the check after\n{solution[:200]}\nmust run inside "
            "`with exercise('name', ...):` (nerv_lessons._exercises)"
        )
        leaked = [
            line for line in _student.solution_lines(solution) if len(line) > 12 and line in check
        ]
        assert not leaked, f"{lesson.name}: the check repeats the solution: {leaked}"


@pytest.mark.parametrize("lesson, index", CASES)
def test_check_says_wrong_to_every_wrong_answer(lesson, index):
    solution, check = exercises(lesson)[index]
    first = exercise_names(check)[0]
    module = answers_module(lesson)
    wrong_answers = getattr(module, "ANSWERS", {}).get(first)
    assert wrong_answers, (
        f"add wrong answers for {first!r} to tests/wrong_answers/lesson_{lesson.stem[:2]}.py"
    )
    for answer in wrong_answers:
        with pytest.raises(_exercises.Wrong):
            run_cell(check, namespace(module, **answer))


@pytest.mark.parametrize("lesson, index", CASES)
def test_solution_passes_its_check(lesson, index):
    solution, check = exercises(lesson)[index]
    module = answers_module(lesson)
    names = namespace(module)
    run_cell(solution, names)
    assert "Right" in run_cell(check, names)


@pytest.mark.parametrize("lesson, index", CASES)
def test_unfinished_exercise_is_not_done_yet(lesson, index):
    solution, check = exercises(lesson)[index]
    module = answers_module(lesson)
    student = _student.strip_solutions(solution)
    names = namespace(module)
    try:  # the student copy's exercise cell: raises, or defines functions that raise
        run_cell(student, names)
    except NotImplementedError:
        pass
    assert _exercises.NOT_DONE in run_cell(check, names)
    names = namespace(module)  # the exercise cell never run at all
    assert _exercises.NOT_DONE in run_cell(check, names)


def test_exercise_helpers():
    with pytest.raises(ValueError, match="needs the names"):
        with _exercises.exercise():
            pass
    out = io.StringIO()
    with redirect_stdout(out), _exercises.exercise("gamma"):
        gamma  # noqa: B018, F821  (never defined: not done yet)
    assert _exercises.NOT_DONE in out.getvalue()
    with pytest.raises(NameError), _exercises.exercise("gamma"):
        other_name  # noqa: B018, F821  (a bug in the check is not hidden)
    with pytest.raises(_exercises.Wrong, match="Wrong: because"), _exercises.exercise("gamma"):
        _exercises.wrong("because")
