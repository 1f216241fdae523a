"""Student copies of the lessons: solutions out, outputs cleared (``nerv-lessons student-copies``).

Plumbing written by hand (not course content). Every block between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``raise NotImplementedError()`` at the block's indentation, as
nbgrader writes it (the markers are nbgrader's, so nbgrader can take over). Outputs, execution
counts and every metadata key but the kernel and the code folds are dropped, so no solution
survives in a copy; ``solution_leaks`` says if one did.
"""

from __future__ import annotations

import re
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
PLACEHOLDER = ("# YOUR CODE HERE", "raise NotImplementedError()")
KEPT_CELL_METADATA = ("jupyter", "cellView")  # the code folds (JupyterLab, Colab)
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")
LESSON_NAME = re.compile(r"\d\d_\w+\.ipynb")


def strip_solutions(source: str, where: str = "cell") -> str:
    """``source`` with each solution block replaced by the placeholder, indentation kept."""
    lines, out, inside = source.split("\n"), [], None
    for number, line in enumerate(lines, 1):
        marker = line.strip()
        if marker == BEGIN:
            if inside is not None:
                raise ValueError(f"{where}, line {number}: {BEGIN} inside another solution")
            inside = line[: len(line) - len(line.lstrip())]
            out.extend(inside + text for text in PLACEHOLDER)
        elif marker == END:
            if inside is None:
                raise ValueError(f"{where}, line {number}: {END} without a {BEGIN} before it")
            inside = None
        elif inside is None:
            out.append(line)
    if inside is not None:
        raise ValueError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def solution_lines(source: str) -> list[str]:
    """The stripped lines inside ``source``'s solution blocks."""
    found, inside = [], False
    for line in source.split("\n"):
        marker = line.strip()
        if marker in (BEGIN, END):
            inside = marker == BEGIN
        elif inside and marker:
            found.append(marker)
    return found


def student_notebook(notebook):
    """A student copy of an ``nbformat`` notebook (the argument is left as it is)."""
    import copy

    student = copy.deepcopy(notebook)
    student.metadata = {k: v for k, v in student.metadata.items() if k in KEPT_NOTEBOOK_METADATA}
    for index, cell in enumerate(student.cells):
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA}
        cell.pop("attachments", None)
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, where=f"cell {index}")
            cell.outputs, cell.execution_count = [], None
    return student


def solution_leaks(original, student) -> list[str]:
    """Lines found only in the original's solutions that still appear anywhere in the copy."""
    import nbformat

    elsewhere = "\n".join(strip_solutions(cell.source) for cell in original.cells)
    text = nbformat.writes(student)
    return [
        line
        for cell in original.cells
        for line in solution_lines(cell.source)
        if len(line) > 3 and line not in elsewhere and line in text
    ]


def lessons_folder() -> Path:
    """The repository's notebooks/ folder (the course is installed from a clone)."""
    folder = Path(__file__).resolve().parents[1] / "notebooks"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no lessons at {folder}: install the course from a clone of the repository "
            "(pip install -e .) or pass the notebooks folder with --lessons"
        )
    return folder


def write_student_copies(out_dir: str | Path, lessons: str | Path | None = None) -> list[Path]:
    """Write a student copy of every lesson notebook in ``lessons`` into ``out_dir``."""
    import nbformat

    source = Path(lessons) if lessons is not None else lessons_folder()
    notebooks = sorted(p for p in source.glob("*.ipynb") if LESSON_NAME.fullmatch(p.name))
    if not notebooks:
        raise FileNotFoundError(f"no lesson notebooks (NN_name.ipynb) in {source}")
    out = Path(out_dir)
    if out.resolve() == source.resolve():
        raise ValueError(f"{out} is the lessons folder: write the copies somewhere else")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        original = nbformat.read(path, as_version=4)
        student = student_notebook(original)
        if leaks := solution_leaks(original, student):
            raise RuntimeError(f"{path.name}: solution text left in the copy: {leaks[:3]}")
        target = out / path.name
        nbformat.write(student, target)
        written.append(target)
    return written
