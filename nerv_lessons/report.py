# Generated from notebooks/10_replication.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Reports: every saved table beside the paper's numbers, one table per experiment.

    nerv-lessons report                                   # Markdown on the screen
    nerv-lessons report --scale quick --scale cpu --out report.md   # and report.csv

A results folder holds results/<scale>/<experiment>.csv with its .json sidecar, as
`Results.save` writes them. The report reads them back, judges each claim again from the
saved means, stds and seeds (`experiments.verdict`), and says what produced each number.
Introduced in lesson 10 (notebooks/10_replication.ipynb).
"""

import csv
import io
from pathlib import Path

from nerv_lessons.experiments import load_results, verdict
from nerv_lessons.scales import SCALES

FIELDS = (
    "experiment",
    "paper",
    "table",
    "scale",
    "row",
    "metric",
    "paper_value",
    "ours_mean",
    "ours_std",
    "seeds",
    "difference",
    "verdict",
    "gap",
    "noise",
    "epochs",
    "device",
    "torch",
    "date",
    "commit",
)


def collect(root: str | Path, scales: list[str] | None = None) -> dict[str, dict]:
    """{experiment: {scale: (rows, sidecar)}} for every ROOT/<scale>/<name>.csv whose sidecar
    names its experiment (other CSVs, such as lesson 08's file points, are left out)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"no results folder {root}: save a table first (`nerv-lessons run NAME --out "
            f"{root}/quick`), or pass the folder that holds <scale>/<name>.csv"
        )
    present = sorted((p.name for p in root.iterdir() if p.is_dir()), key=scale_order)
    if scales:
        if missing := [name for name in scales if name not in present]:
            raise FileNotFoundError(
                f"no results for scale {', '.join(missing)} under {root} "
                f"(it has: {', '.join(present) or 'none'})"
            )
        present = sorted(scales, key=scale_order)
    found: dict[str, dict] = {}
    for scale in present:
        for path in sorted((root / scale).glob("*.csv")):
            rows, sidecar = load_results(path)
            if "experiment" in sidecar:
                found.setdefault(sidecar["experiment"], {})[scale] = (rows, sidecar)
    return found


def scale_order(name: str) -> tuple[int, str]:
    """Sort key for scale names: the course's scales in their order, then any other folder."""
    order = list(SCALES)
    return (order.index(name) if name in order else len(order), name)


def metric_of(rows: list[dict]) -> str:
    """What a table is scored on: held-out frames when it has them (HNeRV's Table 6)."""
    return "heldout_psnr" if any(r.get("heldout_psnr_mean") is not None for r in rows) else "psnr"


def lines(found: dict[str, dict]) -> list[dict]:
    """The report as flat lines, one per (experiment, scale, row) and one per claim."""
    out = []
    for name, by_scale in found.items():
        for scale, (rows, sidecar) in by_scale.items():
            metric, info = metric_of(rows), sidecar.get("provenance", {})
            common = dict(
                experiment=name,
                paper=sidecar.get("paper"),
                table=sidecar.get("table"),
                scale=scale,
                metric=metric,
                device=info.get("device_name") or info.get("device"),
                torch=info.get("torch"),
                date=info.get("date"),
                commit=info.get("commit"),
            )
            for row in rows:
                paper, mean = row.get("paper_psnr"), row.get(f"{metric}_mean")
                out.append(
                    common
                    | dict(
                        row=row["row"],
                        paper_value=paper,
                        ours_mean=mean,
                        ours_std=row.get(f"{metric}_std"),
                        seeds=row.get("seeds"),
                        difference=None if paper is None or mean is None else mean - paper,
                        epochs=row.get("epochs"),
                    )
                )
            by_label = {row["row"]: row for row in rows}
            for claim in sidecar.get("verdicts", []):
                better, worse = by_label[claim["better"]], by_label[claim["worse"]]
                result, gap, noise = verdict(_for_verdict(better), _for_verdict(worse), metric)
                out.append(
                    common
                    | dict(
                        row=f"claim: {claim['better']} > {claim['worse']}",
                        verdict=result,
                        gap=gap,
                        noise=noise,
                    )
                )
    return out


def _for_verdict(row: dict) -> dict:
    """A saved row for `verdict`: a blank std (one seed) reads as NaN."""
    return {k: float("nan") if v is None and k.endswith("_std") else v for k, v in row.items()}


def _number(value, digits=2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _ours(line: dict) -> str:
    if line["ours_mean"] is None:
        return ""
    std = line["ours_std"]
    spread = "" if std is None or std != std or line["seeds"] in (None, 1) else f" ± {std:.2f}"
    seeds = "" if str(line["row"]).startswith("floor: ") else f" ({line['seeds']})"
    return f"{line['ours_mean']:.2f}{spread}{seeds}"


def markdown(found: dict[str, dict]) -> str:
    """One Markdown table per experiment: paper | ours per scale (mean ± std, seeds) |
    ours - paper; then each claim's verdict per scale; then what produced ours."""
    flat, text = lines(found), []
    for name, by_scale in found.items():
        scales = list(by_scale)
        mine = [line for line in flat if line["experiment"] == name]
        first = mine[0]
        metric = "held-out PSNR" if first["metric"] == "heldout_psnr" else "PSNR"
        text += [f"### {name}", "", f"{first['paper']}, {first['table']}. {metric} in dB.", ""]
        header = ["row", "paper"] + [f"{s}" for s in scales] + [f"{s} − paper" for s in scales]
        text += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        labels = list(dict.fromkeys(l["row"] for l in mine if not l["row"].startswith("claim")))
        for label in labels:
            cells = {l["scale"]: l for l in mine if l["row"] == label}
            paper = next((l["paper_value"] for l in cells.values() if l["paper_value"]), None)
            ours = [_ours(cells[s]) if s in cells else "" for s in scales]
            diffs = [_number(cells[s]["difference"], 2) if s in cells else "" for s in scales]
            text.append("| " + " | ".join([label, _number(paper), *ours, *diffs]) + " |")
        text.append("")
        claims = list(dict.fromkeys(l["row"] for l in mine if l["row"].startswith("claim")))
        for claim in claims:
            judged = [l for l in mine if l["row"] == claim]
            parts = [
                f"{l['scale']}: {l['verdict']} (gap {l['gap']:+.2f}, noise {l['noise']:.2f})"
                for l in judged
            ]
            text.append(f"- paper: {claim.removeprefix('claim: ')} | ours: " + "; ".join(parts))
        for scale in scales:
            _, sidecar = by_scale[scale]
            text.append(f"- ours at {scale}: {produced_by(sidecar)}")
        text.append("")
    return "\n".join(text)


def produced_by(sidecar: dict) -> str:
    """One line on what produced a table: clip, epochs, device, torch, seeds, date, commit."""
    info = sidecar.get("provenance", {})
    scale, clip = info.get("scale", {}), info.get("clip") or [None] * 4
    seeds = info.get("seeds", [])
    return (
        f"{clip[0]} frames of {clip[2]}x{clip[3]}, {scale.get('epochs')} epochs, "
        f"{info.get('device_name') or info.get('device')}, torch {info.get('torch')}, "
        f"seeds {','.join(map(str, seeds))}, {info.get('date')}, commit {info.get('commit')}"
    )


def to_csv(found: dict[str, dict]) -> str:
    """The report's flat lines as CSV text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for line in lines(found):
        writer.writerow({k: _cell(line.get(k)) for k in FIELDS})
    return buffer.getvalue()


def _cell(value):
    if isinstance(value, float):
        return "" if value != value else f"{value:.6g}"
    return "" if value is None else value


def write_report(root, scales=None, out: str | Path | None = None) -> str:
    """The Markdown report of every experiment under ROOT; with `out`, also saved to OUT
    (Markdown) and OUT with a .csv suffix."""
    found = collect(root, scales)
    if not found:
        raise FileNotFoundError(f"no saved tables under {root}: run an experiment first")
    text = markdown(found)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        out.with_suffix(".csv").write_text(to_csv(found))
    return text
