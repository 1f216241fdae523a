# Generated from notebooks/08_compression.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""Real codecs for comparison: H.264 (libx264) and H.265 (libx265) through ffmpeg, and BD-rate.

    frames (T, 3, H, W) -> rgb24 -> ffmpeg -> raw .264/.265 bytes -> ffmpeg -> rgb24 -> frames

Sizes are the real files' lengths; quality uses the course's metrics on RGB frames.
`bd_rate` is the Bjontegaard delta rate between two rate-distortion curves.
Introduced in lesson 08 (notebooks/08_compression.ipynb).
"""

import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from nerv_lessons.data import check_frames
from nerv_lessons.metrics import bits_per_pixel, ms_ssim, psnr

# name -> (ffmpeg encoder, raw stream format, file suffix)
CODECS = {"h264": ("libx264", "h264", ".264"), "h265": ("libx265", "hevc", ".265")}
PRESET = "medium"  # pinned: presets trade encode time for size
# Scored by PSNR, so tuned for it: "-tune psnr" turns off the psycho-visual options (x264's
# psy-rd and adaptive quantization, x265's psy-rd/psy-rdoq) that spend bits on looks, not MSE.
TUNE = "psnr"
FRAME_RATE = 25  # pinned: rate control depends a little on the frame rate
PIXEL_FORMATS = ("yuv420p", "yuv444p")


def ffmpeg_candidates() -> list[str]:
    """The ffmpeg binaries to try, in order: imageio-ffmpeg's, then the system's (PATH)."""
    found = []
    try:
        import imageio_ffmpeg

        found.append(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    system = shutil.which("ffmpeg")
    if system is not None and system not in found:
        found.append(system)
    return found


def find_ffmpeg(path: str | os.PathLike | None = None) -> str:
    """The ffmpeg binary: `path` if given, else imageio-ffmpeg's, else the system's."""
    if path is not None:
        if not (Path(path).is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(f"no executable ffmpeg at {path}: check the path")
        return str(path)
    found = ffmpeg_candidates()
    if not found:
        raise FileNotFoundError(
            "no ffmpeg found: `pip install imageio-ffmpeg` (it ships ffmpeg with libx264 and "
            "libx265) or install ffmpeg on the system"
        )
    return found[0]


@functools.lru_cache(maxsize=16)
def _encoders(ffmpeg: str) -> str:
    try:
        result = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise RuntimeError(f"cannot run {ffmpeg} ({error}): is it an ffmpeg binary?") from error
    return result.stdout


def check_encoder(codec: str, ffmpeg: str | None = None) -> str:
    """The ffmpeg binary that has the encoder for `codec` ("h264" or "h265"): `ffmpeg` if
    given, else the first of imageio-ffmpeg's and the system's that has it."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}: choose one of {', '.join(CODECS)}")
    tried = [find_ffmpeg(ffmpeg)] if ffmpeg is not None else ffmpeg_candidates()
    if not tried:
        find_ffmpeg()  # raises the "no ffmpeg found" error
    encoder = CODECS[codec][0]
    for binary in tried:
        if re.search(rf"\s{encoder}\s", _encoders(binary)):
            return binary
    raise RuntimeError(
        f"{' and '.join(tried)} {'has' if len(tried) == 1 else 'have'} no {encoder} encoder "
        f"(needed for {codec}): install imageio-ffmpeg, whose ffmpeg has it, or an ffmpeg "
        "built with it, and pass its path as ffmpeg="
    )


def _run(command: list[str], stdin: bytes | None = None) -> bytes:
    result = subprocess.run(command, input=stdin, capture_output=True)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()[-500:]
        raise RuntimeError(f"ffmpeg failed ({' '.join(command[:6])} ...): {message}")
    return result.stdout


def ffmpeg_decode_seconds(
    data: bytes, codec: str, threads: int = 1, loops: int = 1, ffmpeg=None
) -> float:
    """ffmpeg's own time to decode a stream `loops` times over (`-benchmark` rtime, process
    start excluded), as the HNeRV paper's `ffmpeg -threads N -i video -f null -benchmark -`.
    A raw stream repeated is a longer valid stream: loop a short clip, since rtime has
    millisecond resolution."""
    ffmpeg = find_ffmpeg(ffmpeg)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"video{CODECS[codec][2]}"
        path.write_bytes(data * loops)
        command = [ffmpeg, "-hide_banner", "-benchmark", "-threads", str(threads)]
        command += ["-f", CODECS[codec][1], "-i", str(path)]
        command += ["-f", "null", "-"]
        result = subprocess.run(command, capture_output=True, text=True)
    found = re.search(r"rtime=([0-9.]+)s", result.stderr)
    if result.returncode != 0 or found is None:
        raise RuntimeError(f"ffmpeg decoding failed: {result.stderr.strip()[-300:]}")
    return float(found.group(1))


def to_rgb24(frames: torch.Tensor) -> bytes:
    """T x 3 x H x W floats in [0, 1] -> the bytes of T frames of H x W x RGB, 8 bits each."""
    check_frames(frames)
    pixels = (frames.detach().cpu().float() * 255).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).contiguous().numpy().tobytes()


def encode_video(
    frames: torch.Tensor,
    codec: str = "h264",
    crf: int | None = 28,
    pix_fmt: str = "yuv420p",
    preset: str = PRESET,
    ffmpeg: str | None = None,
) -> bytes:
    """The raw H.264/H.265 stream of the frames at this CRF (crf=None: lossless YUV)."""
    ffmpeg = check_encoder(codec, ffmpeg)
    if pix_fmt not in PIXEL_FORMATS:
        raise ValueError(f"unknown pixel format {pix_fmt!r}: choose one of {PIXEL_FORMATS}")
    height, width = frames.shape[-2:]
    if height % 2 or width % 2:
        raise ValueError(f"{height}x{width}: yuv420p needs even frame sizes; crop a row/column")
    encoder, muxer, suffix = CODECS[codec]
    if crf is None:  # lossless: only the RGB <-> YUV conversion changes the pixels
        quality = ["-qp", "0"] if codec == "h264" else []
        x265 = "lossless=1:log-level=error"
    else:
        quality, x265 = ["-crf", str(crf)], "log-level=error"
    # Both encoders write their options as text into the stream (an SEI message the decoder
    # ignores: ~0.7 kB for x264, ~2.3 kB for x265), a large share of a small clip's file.
    # We leave it out: x265's info=0, and a filter that drops x264's SEI units (type 6).
    if codec == "h265":
        quality += ["-x265-params", f"{x265}:info=0"]
    else:
        quality += ["-bsf:v", "filter_units=remove_types=6"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"video{suffix}"
        command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "rawvideo"]
        command += ["-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(FRAME_RATE)]
        command += ["-i", "-", "-c:v", encoder, "-preset", preset, "-tune", TUNE]
        command += ["-pix_fmt", pix_fmt]
        _run([*command, *quality, "-f", muxer, "-y", str(path)], stdin=to_rgb24(frames))
        return path.read_bytes()


def decode_video(
    data: bytes, codec: str, height: int, width: int, ffmpeg: str | None = None, threads: int = 0
) -> torch.Tensor:
    """A raw H.264/H.265 stream -> T x 3 x H x W float32 frames in [0, 1] (via rgb24)."""
    ffmpeg = find_ffmpeg(ffmpeg)
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}: choose one of {', '.join(CODECS)}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"video{CODECS[codec][2]}"
        path.write_bytes(data)
        command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-threads", str(threads)]
        command += [
            "-f",
            CODECS[codec][1],
            "-i",
            str(path),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ]
        raw = _run(command)
    frame_bytes = height * width * 3
    if len(raw) == 0 or len(raw) % frame_bytes:
        raise RuntimeError(f"ffmpeg gave {len(raw)} bytes, not whole {height}x{width} RGB frames")
    pixels = torch.from_numpy(np.frombuffer(raw, np.uint8).copy()).view(-1, height, width, 3)
    return pixels.permute(0, 3, 1, 2).float() / 255


def codec_point(
    frames: torch.Tensor, codec: str, crf: int | None, pix_fmt: str = "yuv420p", ffmpeg=None
) -> dict:
    """Encode, decode and measure: {codec, crf, pix_fmt, bytes, bpp, psnr, ms_ssim}."""
    data = encode_video(frames, codec, crf, pix_fmt, ffmpeg=ffmpeg)
    height, width = frames.shape[-2:]
    decoded = decode_video(data, codec, height, width, ffmpeg)
    if len(decoded) != len(frames):
        raise RuntimeError(f"{codec} decoded {len(decoded)} frames of {len(frames)}")
    reference = frames.detach().cpu().float()
    return {
        "codec": codec,
        "crf": crf,
        "pix_fmt": pix_fmt,
        "bytes": len(data),
        "bpp": bits_per_pixel(len(data), len(frames), height, width),
        "psnr": psnr(decoded, reference).mean().item(),
        "ms_ssim": ms_ssim(decoded, reference).mean().item(),
    }


def colour_ceiling(frames: torch.Tensor, pix_fmt: str = "yuv420p", ffmpeg=None) -> float:
    """PSNR of RGB -> pix_fmt -> RGB with lossless coding: the best any CRF can reach."""
    return codec_point(frames, "h264", None, pix_fmt, ffmpeg)["psnr"]


BD_METHODS = {"cubic": 4, "piecewise": 2}  # method -> the fewest points a curve needs


def bd_rate(anchor_rates, anchor_quality, test_rates, test_quality, method="cubic") -> float:
    """Bjontegaard delta rate of the test curve against the anchor, in percent: the mean
    difference of log(rate) over the quality range both cover (PSNR in dB, or MS-SSIM).
    method "cubic": each curve a cubic fit of log(rate) against quality (Bjontegaard's, the
    papers'; 4 or more points); "piecewise": straight lines between the measured points
    (no fit, so it cannot swing between them; 2 or more points)."""
    if method not in BD_METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(BD_METHODS)}")
    curves, lows, highs = [], [], []
    for name, rates, quality in (
        ("anchor", anchor_rates, anchor_quality),
        ("test", test_rates, test_quality),
    ):
        rates, quality = np.asarray(rates, float), np.asarray(quality, float)
        if rates.ndim != 1 or rates.shape != quality.shape:
            raise ValueError(f"{name}: rates and quality must be two equal-length lists")
        if len(rates) < BD_METHODS[method]:
            raise ValueError(
                f"{name}: the {method} method needs at least {BD_METHODS[method]} points, "
                f"got {len(rates)}"
            )
        if (rates <= 0).any() or len(np.unique(quality)) < len(quality):
            raise ValueError(f"{name}: rates must be > 0 and quality values distinct")
        order = np.argsort(quality)
        if (np.diff(rates[order]) <= 0).any():
            # A curve that dips has no single rate for a quality: no meaningful BD-rate.
            raise ValueError(f"{name}: quality must rise with rate along the curve")
        curves.append((quality[order], np.log(rates[order])))
        lows.append(quality.min())
        highs.append(quality.max())
    low, high = max(lows), min(highs)
    if low >= high:
        raise ValueError(
            f"the curves share no quality range (anchor {lows[0]:.3f}-{highs[0]:.3f}, "
            f"test {lows[1]:.3f}-{highs[1]:.3f}): BD-rate is undefined"
        )
    area = [_log_rate_area(quality, logs, low, high, method) for quality, logs in curves]
    return float((np.exp((area[1] - area[0]) / (high - low)) - 1) * 100)


def _log_rate_area(quality, log_rates, low, high, method) -> float:
    """The integral of log(rate) over quality from low to high, for one sorted curve."""
    if method == "cubic":
        fit = np.polyint(np.polyfit(quality, log_rates, 3))
        return np.polyval(fit, high) - np.polyval(fit, low)
    inside = quality[(quality > low) & (quality < high)]
    knots = np.concatenate([[low], inside, [high]])
    values = np.interp(knots, quality, log_rates)  # exact: the function is linear in between
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(knots)))
