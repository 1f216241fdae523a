"""Fuzz the bitstream decoder: malformed files, every one of which must raise BitstreamError.

Each case starts from a valid file of one of the course's model kinds (tiny and untrained:
the checks do not depend on training) and breaks it one way:

- damage, the CRC left as it is: a truncation, one flipped bit, one changed byte;
- a lie, the CRC recomputed (`bitstream.pack`): one header value replaced by one that no valid
  file holds there, a field deleted or added, a list entry dropped, or a number that the rest
  of the file fixes (frames, frame size, stats_bytes, a shape, a code length) moved by one.

Lies that another valid file could tell (an activation renamed to another known one, a
symbol to another in range) are not malformed files, so none is made. A case fails if
decode returns frames or raises anything but BitstreamError. Prints the counts of each kind
of break and of each error, and exits 1 if any case failed.

    python benchmarks/fuzz_bitstream.py                # 1,000 cases, seed 0
    python benchmarks/fuzz_bitstream.py --cases 200 --seed 1
"""

import argparse
import copy
import random
import sys
import time
from collections import Counter

import torch

from nerv_lessons.bitstream import (
    MODEL_KINDS,
    BitstreamError,
    HeaderError,
    decode,
    encode,
    pack,
    read_header,
)
from nerv_lessons.hnerv import BaselineNeRV, HNeRV, HNeRVConfig, baseline_nerv_budget, embed_frames
from nerv_lessons.nerv import NeRV, NeRVConfig
from nerv_lessons.residual import RCHNeRV, res_hnerv
from nerv_lessons.two_stream import TwoStream, two_stream_budget

TINY_HNERV = dict(
    height=80, width=160, strides=(5, 2, 2, 2), encoder_width=8, embed_dim=4, fc_dim=12, min_width=4
)
TINY_NERV = dict(
    height=80, width=160, strides=(5, 2, 2, 2), fc_dim=8, lower_width=8, stem_hidden=16, pe_levels=4
)
# Values that no field of a valid header holds, wherever they are put: every field holds an
# object, a list, a string, an int, a float or null, and each of these is of a type the
# field does not take or out of its range (true is no number; no config takes a bool).
NEVER = [{}, -5, 10**12, True, "\u2603"]


def sample_files() -> dict[str, bytes]:
    """A valid file of each model kind of the course, from tiny untrained models."""
    torch.manual_seed(0)
    clip = torch.rand(3, 3, 80, 160)
    config = HNeRVConfig(**TINY_HNERV)
    with torch.no_grad():
        hnerv, residual, rc = HNeRV(config), res_hnerv(config), RCHNeRV(config)
        two_stream = TwoStream(two_stream_budget(0.05, 3, 80, 160))
        return {
            "hnerv": encode(hnerv, embed_frames(hnerv, clip)),
            "res_hnerv": encode(residual, embed_frames(residual, clip)),
            "rc_hnerv": encode(rc, rc.encode(clip)),
            "two_stream": encode(two_stream, two_stream.encode(clip)),
            "nerv": encode(NeRV(NeRVConfig(**TINY_NERV)), frames=3),
            "baseline_nerv": encode(BaselineNeRV(baseline_nerv_budget(0.02, 80, 160)), frames=3),
        }


def damage(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """The file cut short, or with one bit flipped or one byte changed; the CRC as it was."""
    how = rng.choice(["truncate", "flip", "edit"])
    if how == "truncate":
        return how, data[: rng.randrange(len(data))]
    where, bad = rng.randrange(len(data)), bytearray(data)
    if how == "flip":
        bad[where] ^= 1 << rng.randrange(8)
    else:
        bad[where] = (bad[where] + rng.randrange(1, 256)) % 256  # never the same byte
    return f"{how} byte {where}", bytes(bad)


def positions(value, path=()):
    """Every path (keys and list indices) into a JSON tree, the root excluded."""
    if isinstance(value, dict):
        children = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        children = ()
    for key, child in children:
        yield (*path, key)
        yield from positions(child, (*path, key))


def is_exact(path: tuple, draws_any_count: bool) -> bool:
    """Does the rest of the file fix this number, so that one more or one less is a lie?"""
    if path in (("height",), ("width",), ("stats_bytes",)):
        return True
    if path == ("frames",):
        return not draws_any_count  # a NeRV draws any number of frames: its count is free
    if len(path) == 4 and path[0] == "tensors" and path[2] == "shape":
        return True
    return len(path) == 3 and path[0] == "huffman_lengths" and path[2] == 1  # a code length


def lie(header: dict, rng: random.Random) -> str:
    """Change the header in place in one way no valid file could hold; say what was done."""
    draws_any_count = not MODEL_KINDS[header["kind"]].per_frame
    top = rng.choice(sorted(header))  # each field as likely, however large it is
    path = rng.choice([path for path in positions(header) if path[0] == top])
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    key, old = path[-1], parent[path[-1]]
    moves = ["replace", "delete", "add"] + ["nudge"] * is_exact(path, draws_any_count)
    move = rng.choice(moves)
    where = ".".join(map(str, path))
    if move == "replace":
        pool = NEVER + [0.5] * (type(old) is int) + [[]] * (old != [])
        pool += [None] * (key != "axis" and old is not None)  # null is a valid axis
        parent[key] = new = rng.choice(pool)
        return f"replace {where} = {new!r}"
    if move == "delete":
        del parent[key]
        return f"delete {where}"
    if move == "nudge":
        parent[key] = old + rng.choice([-1, 1])
        return f"nudge {where} to {parent[key]}"
    objects = [header] + [v for p in positions(header) if isinstance(v := _at(header, p), dict)]
    rng.choice(objects)["unknown_field"] = 1
    return "add a field"


def _at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def fuzz(files: dict[str, bytes], cases: int, seed: int) -> tuple[Counter, list[str]]:
    """`cases` malformed files, half damaged and half lying: (counts of the breaks and of
    the errors raised, the cases that failed: frames returned or another exception)."""
    rng = random.Random(seed)
    headers = {name: read_header(data) for name, data in files.items()}
    counts, failures = Counter(), []
    for case in range(cases):
        name = rng.choice(sorted(files))
        if rng.random() < 0.5:
            what, bad = damage(files[name], rng)
        else:
            header, payload = copy.deepcopy(headers[name][0]), headers[name][1]
            what = lie(header, rng)
            bad = pack(header, payload)
        counts["break: " + what.split()[0]] += 1
        try:
            frames = decode(bad)
        except HeaderError as error:
            counts[f"HeaderError {error.field.split('.')[0].split('[')[0]}"] += 1
            continue
        except BitstreamError:
            counts["BitstreamError"] += 1
            continue
        except Exception as error:  # what must never happen: another exception escapes
            failures.append(f"case {case} ({name}, {what}): {type(error).__name__}: {error}")
            continue
        failures.append(f"case {case} ({name}, {what}): decoded to frames {tuple(frames.shape)}")
    return counts, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = sample_files()
    for name, data in files.items():  # the control: every file decodes before it is broken
        frames = decode(data)
        print(f"{name}: {len(data)} bytes, decodes to {tuple(frames.shape)}")
    start = time.perf_counter()
    counts, failures = fuzz(files, args.cases, args.seed)
    seconds = time.perf_counter() - start
    print(f"{args.cases} malformed files (seed {args.seed}) in {seconds:.1f} s")
    for label in sorted(counts, key=lambda label: (label.split()[0], -counts[label])):
        print(f"  {label}: {counts[label]}")
    print(f"failures (frames returned, or an error other than BitstreamError): {len(failures)}")
    for failure in failures[:20]:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
