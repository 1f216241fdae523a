"""Wrong answers for lesson 10's exercises (tests/test_exercises.py feeds them to the checks)."""

import math
from dataclasses import replace

from nerv_lessons.experiments import Experiment, Row

FORTY = Row("NeRV, 40 levels", "baseline_nerv", {"pe_levels": 40})
CLAIM = ("NeRV, 40 levels", "NeRV, 20 levels")


def _my_table() -> Experiment:
    """Lesson 10's MY_TABLE, as its cell builds it (not registered here)."""
    return Experiment(
        "my-nerv-pe-levels",
        paper="ours (not in a paper)",
        table="HNeRV's NeRV baseline with fewer PE levels",
        recipe="hnerv",
        rows=(
            Row("NeRV, 80 levels", "baseline_nerv"),
            Row("NeRV, 20 levels", "baseline_nerv", {"pe_levels": 20}),
        ),
        claims=(("NeRV, 80 levels", "NeRV, 20 levels"),),
    )


MY_TABLE = _my_table()


def _table(name="my-nerv-pe-levels-40", rows=(*MY_TABLE.rows, FORTY), claims=None):
    claims = (*MY_TABLE.claims, CLAIM) if claims is None else claims
    return lambda: replace(MY_TABLE, name=name, rows=rows, claims=claims)


def _verdict(noise_of, seeds_first=True, least=3):
    """A claim_verdict with one step changed."""

    def judge(better, worse):
        gap = better["psnr_mean"] - worse["psnr_mean"]
        noise = noise_of(better["psnr_std"], worse["psnr_std"])
        few = min(better["seeds"], worse["seeds"]) < least
        if seeds_first and few:
            return "too few seeds"
        if abs(gap) < noise:
            return "within noise"
        if not seeds_first and few:  # asked only once the gap is beyond the noise
            return "too few seeds"
        return "holds" if gap > 0 else "inverted"

    return judge


def _two_stds(a, b):
    return 2 * math.hypot(a, b)


def _never_inverted(better, worse):
    """Reads any gap that is not clearly positive as 'within noise'."""
    gap = better["psnr_mean"] - worse["psnr_mean"]
    if min(better["seeds"], worse["seeds"]) < 3:
        return "too few seeds"
    return "holds" if gap >= _two_stds(better["psnr_std"], worse["psnr_std"]) else "within noise"


ANSWERS = {
    "my_experiment": [
        {"my_experiment": _table(name="my-nerv-pe-levels")},  # kept MY_TABLE's name
        {"my_experiment": _table(claims=MY_TABLE.claims)},  # forgot the new claim
        {"my_experiment": _table(claims=(*MY_TABLE.claims, CLAIM[::-1]))},  # claim reversed
        {  # another label for the new row
            "my_experiment": _table(
                rows=(*MY_TABLE.rows, replace(FORTY, label="NeRV, 40")),
                claims=(*MY_TABLE.claims, ("NeRV, 40", "NeRV, 20 levels")),
            )
        },
        {"my_experiment": _table(rows=(*MY_TABLE.rows, replace(FORTY, model="nerv")))},
        {"my_experiment": _table(rows=(*MY_TABLE.rows, replace(FORTY, changes={"pe": 40})))},
        {"my_experiment": _table(rows=(*MY_TABLE.rows, replace(FORTY, epochs=0.5)))},
    ],
    "prediction": [
        {"prediction": "within noise"},
        {"prediction": "inverted"},
        {"prediction": "yes"},  # not one of the choices
    ],
    "claim_verdict": [
        {"claim_verdict": _verdict(lambda a, b: 2 * (a + b))},  # stds added, not combined
        {"claim_verdict": _verdict(math.hypot)},  # one std of the gap, not two
        {"claim_verdict": _verdict(_two_stds, seeds_first=False)},  # NaN noise reads as a gap
        {"claim_verdict": _verdict(_two_stds, least=2)},  # two seeds let through
        {"claim_verdict": _verdict(_two_stds, least=0)},  # no seed count at all
        {"claim_verdict": _never_inverted},
    ],
}


def context():
    """The lesson state the exercises read: MY_TABLE, and the measured claim the prediction
    is checked against (quick scale, 3 seeds, on a CPU)."""
    return {
        "MY_TABLE": MY_TABLE,
        "forty_claim": {
            "better": "NeRV, 40 levels",
            "worse": "NeRV, 20 levels",
            "verdict": "holds",
            "gap": 1.11,
            "noise": 0.79,
        },
    }
