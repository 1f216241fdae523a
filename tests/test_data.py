import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerv_lessons.data import (
    PAPER_CROP,
    bunny_path,
    center_crop,
    check_frames,
    check_strides,
    load_clip,
    load_video,
    resize,
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
