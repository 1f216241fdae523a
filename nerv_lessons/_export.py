"""Build the package from the lessons, and check that the two agree.

The lessons are the source. A code cell of a lesson's py:percent twin whose first line is
``#| export NAME`` belongs to ``nerv_lessons/NAME.py``; the module is those cells in lesson
order, under a banner that names the lesson. One module comes from exactly one lesson.

    python -m nerv_lessons._export           # write nerv_lessons/*.py from notebooks/*.py
    python -m nerv_lessons._export --check   # only report what differs (the tests run this)

This file is plumbing, not course content: modules whose name starts with ``_`` are written by
hand and are not shown in any lesson.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPORT_MARK = re.compile(r"^#\| export (\w+)\s*$")
BANNER = (
    "# Generated from {lesson} by `python -m nerv_lessons._export`.\n"
    "# Edit the lesson, not this file: a test fails when the two differ.\n"
)


def lesson_sources(root: Path = ROOT) -> list[Path]:
    """The py:percent twins of the lessons, in course order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.py"))


def code_cells(lesson: Path) -> list[str]:
    """The source of each code cell of a py:percent lesson, as jupytext reads it."""
    import jupytext

    notebook = jupytext.read(lesson)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def exported_cells(lesson: Path) -> dict[str, list[str]]:
    """Module name -> the cells of ``lesson`` marked for it, marker line removed."""
    modules: dict[str, list[str]] = {}
    for source in code_cells(lesson):
        first, _, body = source.partition("\n")
        match = EXPORT_MARK.match(first)
        if match:
            modules.setdefault(match.group(1), []).append(body.strip("\n"))
    return modules


def render_module(lesson: Path, cells: list[str], root: Path = ROOT) -> str:
    """The text of a package module: the banner, then the cells with two blank lines between."""
    banner = BANNER.format(lesson=lesson.relative_to(root).as_posix())
    return banner + "\n\n\n".join(cells) + "\n"


def expected_modules(root: Path = ROOT) -> dict[Path, tuple[Path, str]]:
    """Package file -> (the lesson it comes from, its expected text)."""
    expected: dict[Path, tuple[Path, str]] = {}
    for lesson in lesson_sources(root):
        for name, cells in exported_cells(lesson).items():
            target = root / "nerv_lessons" / f"{name}.py"
            if target in expected:
                other = expected[target][0].name
                raise ValueError(
                    f"nerv_lessons/{name}.py is exported by both {other} and {lesson.name}; "
                    "each module is taught in exactly one lesson: rename one of them"
                )
            expected[target] = (lesson, render_module(lesson, cells, root))
    return expected


def differences(root: Path = ROOT) -> list[str]:
    """Every way the package and the lessons disagree, as readable messages ([] if none)."""
    problems = []
    expected = expected_modules(root)
    for target, (lesson, text) in expected.items():
        where = target.relative_to(root).as_posix()
        if not target.exists():
            problems.append(f"{where} is missing: run `python -m nerv_lessons._export`")
            continue
        shipped = target.read_text()
        if shipped != text:
            diff = difflib.unified_diff(
                text.splitlines(),
                shipped.splitlines(),
                f"cells of {lesson.name}",
                where,
                n=1,
                lineterm="",
            )
            problems.append(
                f"{where} differs from the code shown in {lesson.relative_to(root).as_posix()}. "
                "Edit the lesson, then run `python -m nerv_lessons._export`:\n"
                + "\n".join(list(diff)[:40])
            )
    for module in sorted((root / "nerv_lessons").glob("*.py")):
        if not module.name.startswith("_") and module not in expected:
            problems.append(
                f"nerv_lessons/{module.name} is not shown in any lesson: move its code into "
                "'#| export' cells of the lesson that teaches it"
            )
    return problems


def export(root: Path = ROOT) -> list[Path]:
    """Write every module whose text differs from its lesson; return the files written."""
    written = []
    for target, (_, text) in expected_modules(root).items():
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences()
        print("\n\n".join(problems) or "package and lessons agree")
        return 1 if problems else 0
    for path in export():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
