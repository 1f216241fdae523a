"""Exercise checks: each lesson's check cell says right, wrong (and why), or not done yet.

Plumbing written by hand (not course content). A check cell reads::

    # Check: says right or wrong, and why.
    with exercise("raw_bpp"):
        if raw_bpp(8, "420") != 12.0:
            wrong("4:2:0 keeps fewer chroma samples than 4:4:4; count them per 2x2 block")
        right("8-bit 4:2:0 costs 12 bits per pixel")

In a student copy the exercise's solution is ``raise NotImplementedError``: calling it, or
reading a name it never defined, makes the check print "Not done yet" instead of failing, so
the rest of the lesson still runs. A wrong answer raises ``Wrong`` (an AssertionError), so a
notebook run with a wrong solution fails. tests/test_exercises.py feeds every check a wrong
answer and asserts it says wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

NOT_DONE = "Not done yet"


class Wrong(AssertionError):
    """An exercise's answer is wrong; the message says why (without giving the answer away)."""


def wrong(why: str) -> None:
    """Stop the check: the answer is wrong, because ``why``."""
    raise Wrong(f"Wrong: {why}")


def right(what: str) -> None:
    """The check passed; ``what`` says what the answer shows."""
    print(f"Right: {what}")


@contextmanager
def exercise(*names: str) -> Iterator[None]:
    """Run a check of the exercise that defines ``names``; unfinished work is 'not done yet'."""
    if not names:
        raise ValueError("exercise() needs the names the exercise defines, e.g. exercise('gamma')")
    listed = ", ".join(f"`{name}`" for name in names)
    try:
        yield
    except NotImplementedError:
        print(f"{NOT_DONE}: {listed} still raises NotImplementedError; write it, then rerun.")
    except NameError as error:
        if getattr(error, "name", None) not in names:
            raise  # a name the exercise does not define: a bug in the check, not the answer
        print(f"{NOT_DONE}: `{error.name}` is not defined; run the exercise cell above.")
