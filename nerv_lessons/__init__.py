"""nerv_lessons: the helper package that the NeRV Lessons notebooks build, one module a lesson.

Each public module is generated from the ``#| export`` cells of the lesson that teaches it
(its first line names the lesson); see CONTRIBUTING.md. Modules whose names start with ``_``
are plumbing written by hand.

    scales, data, metrics, viz    lesson 00, video as data
    encoding                      lesson 01, positional encoding
    upsample                      lesson 02, upsampling
    nerv, train, experiments, cli lesson 03, NeRV, the training loop, the experiments
"""

__version__ = "0.1.0"
