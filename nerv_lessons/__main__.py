"""`python -m nerv_lessons list|run ...`: the same command line as `nerv-lessons`."""

from nerv_lessons.cli import main

raise SystemExit(main())
