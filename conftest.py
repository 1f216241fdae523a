"""Prints how long each notebook took under nbval, so lessons can keep CI inside its budget.

Set NERV_LESSONS_TIMES=path.json to also save the times (the README's course map is filled
from such a file).
"""

import json
import os
import time
from collections import defaultdict

_seconds: dict[str, float] = defaultdict(float)
_started: dict[str, float] = {}


def _notebook(nodeid: str) -> str | None:
    path = nodeid.split("::")[0]
    if "test_student_copy_runs[" in nodeid:  # a lesson's student copy, run after the lessons
        return "student/" + nodeid.split("[")[1].rstrip("]") + ".ipynb"
    return path if path.endswith(".ipynb") else None


def pytest_collection_modifyitems(items):
    """Run the student copies last: they read the trained rows the lessons left in the cache."""
    items.sort(key=lambda item: item.get_closest_marker("student_copy") is not None)


def pytest_runtest_logstart(nodeid, location):
    if _notebook(nodeid):
        _started[nodeid] = time.perf_counter()


def pytest_runtest_logfinish(nodeid, location):
    notebook = _notebook(nodeid)
    if notebook and nodeid in _started:
        _seconds[notebook] += time.perf_counter() - _started.pop(nodeid)


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    terminalreporter.section("notebook times")
    for notebook, seconds in sorted(_seconds.items()):
        terminalreporter.write_line(f"{seconds:8.1f} s  {notebook}")
    terminalreporter.write_line(f"{sum(_seconds.values()):8.1f} s  all notebooks")
    if os.environ.get("NERV_LESSONS_TIMES"):
        with open(os.environ["NERV_LESSONS_TIMES"], "w") as file:
            json.dump(dict(sorted(_seconds.items())), file, indent=1)
