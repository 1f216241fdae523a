"""Wrong answers for lesson 00's exercises (tests/test_exercises.py feeds them to the checks)."""

ANSWERS = {
    "raw_bpp": [
        {"raw_bpp": lambda bit_depth, chroma: bit_depth * 3.0},  # 4:2:0 counted as 4:4:4
        {"raw_bpp": lambda bit_depth, chroma: bit_depth * {"444": 3.0, "420": 2.0}[chroma]},
    ],
}
