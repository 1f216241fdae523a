import ast
import re

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerv_lessons.data import (
    PAPER_CROP,
    bunny_path,
    center_crop,
    check_frames,
    check_size,
    check_strides,
    factor_strides,
    grid_of,
    load_clip,
    load_video,
    no_strides_error,
    resize,
    sizes_near,
    stride_options,
    strides_line,
    suggest_crop,
    write_yuv420,
)
from nerv_lessons.metrics import psnr
from nerv_lessons.scales import SCALES
from nerv_lessons.viz import to_image


def write_frames(folder, frames, suffix=".png"):
    folder.mkdir(exist_ok=True)
    for index, frame in enumerate(frames):
        iio.imwrite(folder / f"frame_{index}{suffix}", to_image(frame))
    return folder


# --- the real clip -------------------------------------------------------------------------


def test_bunny_loads_at_the_papers_crop():
    video = load_video(bunny_path(), frames=2)
    assert video.shape == (2, 3, *PAPER_CROP)
    assert video.dtype == torch.float32
    assert 0 <= video.min() and video.max() <= 1
    assert video.std() > 0.1  # real picture content, not a blank frame


def test_bunny_has_132_frames_of_720x1280():
    video = load_video(bunny_path(), crop=None, size=(72, 128))
    assert video.shape == (132, 3, 72, 128)
    assert load_video(bunny_path(), frames=1, crop=None).shape == (1, 3, 720, 1280)


def test_load_clip_follows_the_scale():
    quick = SCALES["quick"]
    clip = load_clip(quick)
    assert clip.shape == (quick.frames, 3, quick.height, quick.width)


def test_crop_takes_the_centre():
    frames = torch.arange(6 * 8, dtype=torch.float32).reshape(1, 1, 6, 8).expand(2, 3, 6, 8)
    crop = center_crop(frames, 2, 4)
    assert crop.shape == (2, 3, 2, 4)
    assert crop[0, 0, 0, 0] == frames[0, 0, 2, 2]


def test_resize_averages_areas_when_shrinking():
    frame = torch.rand(1, 3, 4, 8)
    small = resize(frame, 2, 4)
    assert torch.allclose(small[0, :, 0, 0], frame[0, :, :2, :2].mean((1, 2)))
    assert resize(frame, 4, 8) is frame


# --- round trips through files -------------------------------------------------------------


def test_png_folder_round_trip_is_exact(tmp_path, quantized):
    folder = write_frames(tmp_path / "png", quantized)
    assert torch.equal(load_video(folder, crop=None), quantized)


def test_jpeg_folder_reads_close_to_the_original(tmp_path, quantized):
    folder = write_frames(tmp_path / "jpg", quantized, ".jpg")
    assert psnr(load_video(folder, crop=None), quantized).mean() > 28


def test_folder_frames_are_read_in_natural_order(tmp_path):
    folder = tmp_path / "order"
    folder.mkdir()
    for index in (10, 2, 1):
        iio.imwrite(folder / f"f{index}.png", np.full((4, 4, 3), index, np.uint8))
    firsts = load_video(folder, crop=None)[:, 0, 0, 0] * 255
    assert firsts.round().tolist() == [1, 2, 10]


def test_mp4_round_trip_through_ffmpeg(tmp_path, quantized):
    path = tmp_path / "clip.mp4"
    images = np.stack([to_image(frame) for frame in quantized])
    iio.imwrite(
        path,
        images,
        plugin="FFMPEG",
        fps=25,
        codec="libx264",
        pixelformat="yuv444p",
        output_params=["-crf", "0"],
        macro_block_size=1,
    )
    video = load_video(path, crop=None)
    assert video.shape == quantized.shape
    assert psnr(video, quantized).mean() > 40


def test_yuv420_round_trip(tmp_path, quantized):
    path = write_yuv420(quantized, tmp_path / "clip.yuv")
    assert path.stat().st_size == 8 * 80 * 160 * 3 // 2
    video = load_video(path, crop=None, yuv_size=(80, 160))
    assert video.shape == quantized.shape
    assert psnr(video, quantized).mean() > 30  # chroma is shared by 2x2 blocks


def test_yuv420_grey_frames_are_exact_to_the_luma_step(tmp_path):
    grey = torch.linspace(0, 1, 16).reshape(1, 1, 4, 4).expand(2, 3, 4, 4).contiguous()
    path = write_yuv420(grey, tmp_path / "grey.yuv")
    back = load_video(path, crop=None, yuv_size=(4, 4))
    assert (back - grey).abs().max() <= 0.5 / 219 + 1e-6  # half a luma code value


# --- bad input -----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no video at"):
        load_video(tmp_path / "nothing.mp4")


def test_file_that_is_not_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are not frames")
    with pytest.raises(ValueError, match="not a video ffmpeg can decode"):
        load_video(path)


def test_zero_frames(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no frames"):
        load_video(tmp_path / "empty", crop=None)


def test_more_frames_than_the_clip_has(tmp_path, quantized):
    folder = write_frames(tmp_path / "png", quantized[:3])
    with pytest.raises(ValueError, match="asked for 5 frames but .* has 3"):
        load_video(folder, frames=5, crop=None)
    with pytest.raises(ValueError, match="at least one frame"):
        load_video(folder, frames=0, crop=None)


def test_crop_larger_than_the_frame(tmp_path, quantized):
    folder = write_frames(tmp_path / "png", quantized[:1])
    with pytest.raises(ValueError, match="crop 640x1280 is larger than the frame 80x160"):
        load_video(folder)


def test_a_crop_too_large_names_one_to_pass_that_works(tmp_path, bunny):
    # A reader's 272x640 clip: the papers' crop does not fit, and the error says what does.
    folder = write_frames(tmp_path / "png", resize(center_crop(bunny[:2], 68, 160), 272, 640))
    with pytest.raises(ValueError, match="larger than the frame 272x640") as error:
        load_video(folder)
    assert "crop=None" in str(error.value)
    argument = re.search(r"crop=(\(\d+, \d+\))", str(error.value)).group(1)
    assert argument == "(270, 540)"
    clip = load_video(folder, crop=ast.literal_eval(argument))  # pasted as it stands
    assert clip.shape == (2, 3, 270, 540)


# --- which sizes the models take -----------------------------------------------------------


@pytest.mark.parametrize(
    "total, strides",
    [
        (320, (5, 4, 4, 2, 2)),  # HNeRV at 640x1280
        (240, (5, 4, 3, 2, 2)),  # HNeRV at 480x960
        (480, (5, 4, 4, 3, 2)),  # HNeRV at 960x1920
        (80, (5, 2, 2, 2, 2)),  # NeRV at 720x1280
        (40, (5, 2, 2, 2)),  # the quick scale
        (64, (4, 2, 2, 2, 2)),
        (3125, (5, 5, 5, 5, 5)),
        (2, (2,)),
        (6250, None),  # 2 x 5^5: six strides
        (35, None),  # 7 is no stride
        (1, None),
    ],
)
def test_factor_strides_takes_the_most_stages_then_the_largest(total, strides):
    assert factor_strides(total) == strides


def test_stride_options_are_every_total_stride_both_sides_share():
    grids = [grid_of(272, 640, s) for s in stride_options(272, 640)]
    assert grids == [(17, 40), (34, 80), (68, 160), (136, 320)]  # 16 = gcd(272, 640)
    assert stride_options(127, 254) == []
    assert strides_line("HNeRV", 128, 320, (4, 4, 2, 2), "why") == (
        "HNeRV: strides 4,4,2,2 -> grid 2x5 for 128x320 (why)"
    )


@pytest.mark.parametrize(
    "height, width, crop",
    [
        (272, 640, (270, 540)),  # 270 / 2 = 135 = 5 * 3 * 3 * 3
        (720, 1280, (640, 1280)),  # the papers' own crop of Bunny
        (640, 272, (128, 256)),  # portrait: the largest 1:2 crop lies across it
        (4, 8, (4, 8)),
        (3, 7, None),  # under 4x8
    ],
)
def test_suggest_crop_is_the_largest_1_to_2_crop_with_a_2x4_grid(height, width, crop):
    assert suggest_crop(height, width) == crop


def test_sizes_near_keep_the_shape_and_go_both_ways():
    def tens(h, w):
        return h % 10 == 0

    assert sizes_near(127, 254, tens) == [(120, 240), (130, 260)]
    assert sizes_near(5, 10, lambda h, w: False) == []


def test_the_no_strides_error_is_copy_pasteable():
    message = str(no_strides_error("NeRV", 127, 254, lambda h, w: h % 8 == 0))
    calls = re.findall(r"load_video\(path, ([^)]*\)?)\)", message)
    assert calls == ["crop=None, size=(120, 240)", "crop=None, size=(128, 256)", "crop=(120, 240)"]
    assert "none near it" in str(no_strides_error("NeRV", 1, 1, lambda h, w: False))


@pytest.mark.parametrize(
    "height, width, error, message",
    [
        (0, 8, ValueError, "height=0: a size is at least 1 pixel"),
        (8, -4, ValueError, "width=-4"),
        (8.0, 8, TypeError, "height=8.0: sizes are whole pixels"),
        (8, "8", TypeError, "width='8'"),
        (True, 8, TypeError, "height=True"),
    ],
)
def test_bad_sizes_are_refused(height, width, error, message):
    with pytest.raises(error, match=message):
        check_size(height, width)
    with pytest.raises(error, match=message):
        suggest_crop(height, width)
    with pytest.raises(error, match=message):
        check_strides(height, width, (2,))


def test_whole_numbers_of_any_integer_type_are_sizes():
    check_size(np.int64(80), 160)
    assert suggest_crop(np.int32(272), 640) == (270, 540)
    with pytest.raises(ValueError, match="each is a whole number, at least 1"):
        check_strides(80, 160, (5, 0))


def test_size_the_strides_do_not_divide():
    with pytest.raises(ValueError, match=r"not divisible by the strides \(5, 4, 4, 2, 2\)"):
        load_video(bunny_path(), frames=1, size=(100, 200), strides=(5, 4, 4, 2, 2))
    check_strides(640, 1280, (5, 4, 4, 2, 2))  # the paper's set-up is fine
    with pytest.raises(ValueError, match="e.g. 320x640"):
        check_strides(330, 660, (5, 4, 4, 2, 2))


def test_resize_that_would_stretch():
    with pytest.raises(ValueError, match="would stretch the picture"):
        resize(torch.rand(1, 3, 80, 160), 80, 80)


def test_raw_yuv_needs_its_size_and_whole_frames(tmp_path):
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(100))
    with pytest.raises(ValueError, match="pass yuv_size"):
        load_video(path)
    with pytest.raises(ValueError, match="not a whole number of 4x4 4:2:0 frames"):
        load_video(path, crop=None, yuv_size=(4, 4))
    with pytest.raises(ValueError, match="even sides"):
        load_video(path, crop=None, yuv_size=(5, 4))


def test_frames_that_are_not_rgb(tmp_path):
    folder = tmp_path / "grey"
    folder.mkdir()
    iio.imwrite(folder / "0.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="expected H x W x 3"):
        load_video(folder, crop=None)


@pytest.mark.parametrize(
    "frames, error, message",
    [
        (torch.zeros(2, 3, 4, 4, dtype=torch.uint8), TypeError, r"frames.float\(\) / 255"),
        (torch.full((2, 3, 4, 4), 200.0), ValueError, "divide by 255"),
        (torch.full((2, 3, 4, 4), -0.5), ValueError, r"\(x \+ 1\) / 2"),
        (torch.full((2, 3, 4, 4), float("nan")), ValueError, "NaN"),
        (torch.zeros(3, 4, 4), ValueError, "expected T x 3 x H x W"),
        (torch.zeros(0, 3, 4, 4), ValueError, "holds no frames"),
        (np.zeros((2, 3, 4, 4)), TypeError, "expected a torch.Tensor"),
    ],
)
def test_check_frames_names_the_problem(frames, error, message):
    with pytest.raises(error, match=message):
        check_frames(frames)


def test_check_frames_accepts_a_declared_peak():
    check_frames(torch.full((1, 3, 2, 2), 255.0), peak=255)


def test_select_frames_takes_every_step_th_frame_and_says_when_the_clip_is_short():
    from dataclasses import replace

    from nerv_lessons.data import select_frames
    from nerv_lessons.scales import SCALES

    clip = torch.arange(20.0).view(20, 1, 1, 1).expand(20, 3, 2, 2)
    scale = replace(SCALES["quick"], frames=3, frame_step=8)
    assert select_frames(clip, scale)[:, 0, 0, 0].tolist() == [0.0, 8.0, 16.0]
    with pytest.raises(ValueError, match="need 25"):
        select_frames(clip, replace(scale, frames=4))


def test_the_file_readers_are_still_data_names():
    # The file readers moved to the plumbing module _video_files; data re-imports what was public.
    from nerv_lessons import _video_files, data

    for name in ("FRAME_SUFFIXES", "image_to_frame"):
        assert getattr(data, name) is getattr(_video_files, name)
    grey = torch.full((3, 4, 4), 0.5)
    assert torch.allclose(data.yuv420_to_rgb(*data.rgb_to_yuv420(grey)), grey, atol=0.5 / 219)
    with pytest.raises(FileNotFoundError, match="no video at"):
        data.read_frames("nowhere.mp4")
    with pytest.raises(ValueError, match="expected H x W x 3"):
        data.image_to_frame(np.zeros((4, 4), np.uint8), "a grey image")
