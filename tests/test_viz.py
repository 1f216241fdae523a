import imageio.v3 as iio
import numpy as np
import torch

from nerv_lessons.viz import frame_grid, player, png_bytes, to_image


def test_to_image_is_uint8_height_width_channels():
    frame = torch.zeros(3, 4, 6)
    frame[0] = 1.0
    image = to_image(frame)
    assert image.shape == (4, 6, 3) and image.dtype == np.uint8
    assert image[..., 0].min() == 255 and image[..., 1:].max() == 0


def test_png_bytes_decode_to_the_same_image(bunny):
    assert np.array_equal(iio.imread(png_bytes(bunny[0])), to_image(bunny[0]))


def test_frame_grid_draws_the_chosen_frames(bunny):
    figure = frame_grid(bunny, indices=[0, 2, 4], columns=2)
    drawn = [axis for axis in figure.axes if axis.images]
    assert len(drawn) == 3
    assert [axis.get_title() for axis in drawn] == ["frame 0", "frame 2", "frame 4"]


def test_player_slider_changes_the_picture(bunny):
    widget = player(bunny)
    (play, slider), image = widget.children[0].children, widget.children[1]
    assert slider.max == len(bunny) - 1 and play.max == len(bunny) - 1
    first = image.value
    slider.value = 3
    assert image.value == png_bytes(bunny[3]) != first
