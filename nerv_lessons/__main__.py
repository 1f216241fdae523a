"""`python -m nerv_lessons list|run ...`: the same command line as `nerv-lessons`."""

from nerv_lessons.cli import main

if __name__ == "__main__":  # not when a spawned worker process imports this module again
    raise SystemExit(main())
