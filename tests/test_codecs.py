"""Codecs of lesson 08: ffmpeg H.264/H.265 on real frames, a missing encoder, and BD-rate."""

import numpy as np
import pytest
import torch

from nerv_lessons import codecs
from nerv_lessons.codecs import (
    bd_rate,
    check_encoder,
    codec_point,
    colour_ceiling,
    decode_video,
    encode_video,
    ffmpeg_candidates,
    ffmpeg_decode_seconds,
    find_ffmpeg,
    to_rgb24,
)
from nerv_lessons.metrics import psnr

# --- BD-rate --------------------------------------------------------------------------------

RATES = [0.05, 0.1, 0.2, 0.4, 0.8]
PSNRS = [28.0, 31.0, 33.5, 35.5, 37.0]


def test_bd_rate_of_a_curve_against_itself_is_zero():
    assert bd_rate(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-9)


def test_bd_rate_of_rates_scaled_by_0_9_is_minus_10_percent():
    scaled = [0.9 * r for r in RATES]
    assert bd_rate(RATES, PSNRS, scaled, PSNRS) == pytest.approx(-10.0, abs=1e-6)
    assert bd_rate(scaled, PSNRS, RATES, PSNRS) == pytest.approx(100 / 0.9 - 100, abs=1e-6)


def test_bd_rate_uses_only_the_shared_quality_range():
    # The test curve is the anchor shifted up 1 dB: same shape, more quality per bit.
    better = bd_rate(RATES, PSNRS, RATES, [p + 1 for p in PSNRS])
    assert better < 0
    # Points outside the overlap do not change a pure rate scaling.
    extended = bd_rate(RATES, PSNRS, [0.9 * r for r in RATES] + [2.0], PSNRS + [40.0])
    assert extended == pytest.approx(-10.0, abs=0.5)


def test_piecewise_bd_rate_ignores_points_outside_the_shared_range():
    # Lesson 08's known pair: rates 0.8 times the anchor's, plus a point below the anchor's
    # lowest PSNR, where nothing is compared.
    rates = [0.01] + [0.8 * r for r in RATES]
    assert bd_rate(RATES, PSNRS, rates, [20.0, *PSNRS], "piecewise") == pytest.approx(-20.0)


@pytest.mark.parametrize("method", ["cubic", "piecewise"])
def test_both_methods_measure_a_pure_rate_scaling_exactly(method):
    scaled = [0.5 * r for r in RATES]
    assert bd_rate(RATES, PSNRS, scaled, PSNRS, method) == pytest.approx(-50.0, abs=1e-6)


def test_piecewise_follows_the_points_where_a_cubic_swings():
    # A flat curve (quality barely rises with size, as a short training gives): the cubic
    # fit through it swings far from the points; straight lines between them do not.
    flat_rates, flat_psnrs = [1.7, 2.0, 3.0, 4.0], [24.07, 26.32, 26.46, 26.73]
    codec_rates, codec_psnrs = [0.035, 0.063, 0.118, 0.239], [21.5, 24.1, 26.6, 29.5]
    piecewise = bd_rate(codec_rates, codec_psnrs, flat_rates, flat_psnrs, "piecewise")
    # At every shared quality the flat curve needs 15x to 50x the codec's bits.
    assert 1400 < piecewise < 5000
    cubic = bd_rate(codec_rates, codec_psnrs, flat_rates, flat_psnrs, "cubic")
    assert abs(cubic - piecewise) > 500  # why the lesson prints both
    two_points = bd_rate([0.1, 0.2], [30.0, 32.0], [0.05, 0.1], [30.0, 32.0], "piecewise")
    assert two_points == pytest.approx(-50.0)


def test_bd_rate_rejects_bad_curves():
    with pytest.raises(ValueError, match="unknown method 'spline'"):
        bd_rate(RATES, PSNRS, RATES, PSNRS, "spline")
    with pytest.raises(ValueError, match="piecewise method needs at least 2"):
        bd_rate(RATES[:1], PSNRS[:1], RATES, PSNRS, "piecewise")
    with pytest.raises(ValueError, match="at least 4 points"):
        bd_rate(RATES[:3], PSNRS[:3], RATES, PSNRS)
    with pytest.raises(ValueError, match="share no quality"):
        bd_rate(RATES, PSNRS, RATES, [p + 20 for p in PSNRS])
    with pytest.raises(ValueError, match="equal-length"):
        bd_rate(RATES, PSNRS[:4], RATES, PSNRS)
    with pytest.raises(ValueError, match="rise with rate"):
        bd_rate(RATES, [28.0, 31.0, 30.0, 35.5, 37.0], RATES, PSNRS)
    with pytest.raises(ValueError, match="> 0"):
        bd_rate([0.0, *RATES[1:]], PSNRS, RATES, PSNRS)


# --- ffmpeg ---------------------------------------------------------------------------------


def test_a_missing_or_fake_ffmpeg_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no executable ffmpeg"):
        find_ffmpeg(tmp_path / "no-such-ffmpeg")
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'Encoders:'\necho ' V..... mpeg4 MPEG-4 part 2'\n")
    fake.chmod(0o755)
    with pytest.raises(RuntimeError, match="no libx264 encoder"):
        check_encoder("h264", str(fake))
    with pytest.raises(RuntimeError, match="no libx265 encoder"):
        encode_video(torch.zeros(2, 3, 16, 16), "h265", ffmpeg=str(fake))
    with pytest.raises(ValueError, match="unknown codec"):
        check_encoder("vp9")


def _fake_ffmpeg(path, encoders):
    lines = "".join(f"echo ' V..... {name} fake'\n" for name in encoders)
    path.write_text(f"#!/bin/sh\necho 'Encoders:'\n{lines}")
    path.chmod(0o755)
    return str(path)


def test_the_system_ffmpeg_is_tried_when_imageio_s_lacks_the_encoder(tmp_path, monkeypatch):
    import imageio_ffmpeg

    bundled = _fake_ffmpeg(tmp_path / "bundled", ["mpeg4"])
    system = _fake_ffmpeg(tmp_path / "system", ["libx264", "libx265"])
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: bundled)
    monkeypatch.setattr(codecs.shutil, "which", lambda name: system)
    assert ffmpeg_candidates() == [bundled, system]
    assert find_ffmpeg() == bundled
    assert check_encoder("h265") == system
    monkeypatch.setattr(codecs.shutil, "which", lambda name: bundled)  # the same one twice
    assert ffmpeg_candidates() == [bundled]
    with pytest.raises(RuntimeError, match="has no libx265 encoder"):
        check_encoder("h265")


def test_no_ffmpeg_at_all_gives_a_clear_error(monkeypatch):
    import imageio_ffmpeg

    def missing():
        raise RuntimeError("no ffmpeg exe could be found")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", missing)
    monkeypatch.setattr(codecs.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="no ffmpeg found.*imageio-ffmpeg"):
        check_encoder("h264")
    with pytest.raises(FileNotFoundError, match="no ffmpeg found"):
        encode_video(torch.zeros(2, 3, 16, 16), "h264")


def test_to_rgb24_layout():
    frames = torch.zeros(2, 3, 4, 6)
    frames[1, 0] = 1.0  # second frame pure red
    raw = np.frombuffer(to_rgb24(frames), np.uint8).reshape(2, 4, 6, 3)
    assert (raw[0] == 0).all() and (raw[1, ..., 0] == 255).all() and (raw[1, ..., 1:] == 0).all()
    with pytest.raises(ValueError):
        to_rgb24(torch.full((1, 3, 4, 4), 2.0))


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_codec_on_real_frames(bunny, codec):
    point = codec_point(bunny, codec, crf=28, pix_fmt="yuv444p")
    assert 0.01 < point["bpp"] < 2.0
    assert 25 < point["psnr"] < 50
    assert 0.8 < point["ms_ssim"] <= 1.0
    worse = codec_point(bunny, codec, crf=45, pix_fmt="yuv444p")
    assert worse["bpp"] < point["bpp"] and worse["psnr"] < point["psnr"]


def test_round_trip_keeps_frame_count_and_size(bunny):
    data = encode_video(bunny, "h264", crf=20)
    decoded = decode_video(data, "h264", 80, 160)
    assert decoded.shape == bunny.shape and decoded.dtype == torch.float32
    assert psnr(decoded, bunny).mean() > 28
    assert ffmpeg_decode_seconds(data, "h264") > 0
    assert ffmpeg_decode_seconds(data, "h264", loops=20) > 0  # a repeated stream decodes


def test_chroma_subsampling_caps_psnr(bunny):
    # Lossless coding: only the RGB <-> YUV conversion (and 4:2:0's halved chroma) is lost.
    full, subsampled = colour_ceiling(bunny, "yuv444p"), colour_ceiling(bunny, "yuv420p")
    assert full > 45 and subsampled < full - 5


def test_encode_rejects_bad_input(bunny):
    with pytest.raises(ValueError, match="pixel format"):
        encode_video(bunny, "h264", pix_fmt="rgb48")
    with pytest.raises(ValueError, match="even"):
        encode_video(bunny[:, :, :79], "h264")
