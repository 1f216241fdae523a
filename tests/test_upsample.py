"""nerv_lessons.upsample: the three upsampling blocks, their shapes and their costs."""

import pytest
import torch
from torch import nn

from nerv_lessons.upsample import UPSAMPLE_KINDS, Upsample, upsample_cost


def test_kinds():
    assert UPSAMPLE_KINDS == ("pixelshuffle", "bilinear", "deconv")


def test_pixelshuffle_moves_channels_into_space():
    tiny = torch.arange(16.0).reshape(1, 4, 2, 2)
    expected = torch.tensor(
        [[0, 4, 1, 5], [8, 12, 9, 13], [2, 6, 3, 7], [10, 14, 11, 15]], dtype=torch.float32
    )
    assert torch.equal(nn.PixelShuffle(2)(tiny)[0, 0], expected)


def test_pixelshuffle_block_is_conv_then_shuffle():
    block = Upsample(3, 2, 2, "pixelshuffle")
    conv, shuffle = block.layers
    assert isinstance(conv, nn.Conv2d) and conv.out_channels == 2 * 4 and conv.padding == (1, 1)
    x = torch.randn(2, 3, 5, 6)
    assert torch.equal(block(x), shuffle(conv(x)))


@pytest.mark.parametrize("scale", [2, 3, 5])
def test_deconv_is_a_1x1_conv_then_pixelshuffle(scale):
    """Lesson 02's exercise: with kernel = stride, weight[k, c, i, j] becomes the 1x1 conv's
    channel c s^2 + i s + j, and each output channel's bias is shared by its s^2 sub-pixels."""
    torch.manual_seed(0)
    deconv = Upsample(4, 3, scale, "deconv").layers
    conv = nn.Conv2d(4, 3 * scale**2, kernel_size=1)
    with torch.no_grad():
        conv.weight.copy_(deconv.weight.permute(1, 2, 3, 0).reshape(3 * scale**2, 4, 1, 1))
        conv.bias.copy_(deconv.bias.repeat_interleave(scale**2))
    x = torch.randn(2, 4, 3, 5)
    torch.testing.assert_close(nn.PixelShuffle(scale)(conv(x)), deconv(x))


@pytest.mark.parametrize("kind", UPSAMPLE_KINDS)
@pytest.mark.parametrize("scale", [2, 3, 5])
def test_output_shape(kind, scale):
    block = Upsample(8, 6, scale, kind)
    assert block(torch.randn(2, 8, 3, 4)).shape == (2, 6, 3 * scale, 4 * scale)


@pytest.mark.parametrize(
    "kind, params",
    [
        ("pixelshuffle", 8 * 6 * 4 * 9 + 6 * 4),  # conv 8 -> 6 * 2^2 channels, 3x3
        ("bilinear", 8 * 6 * 25 + 6),  # conv 8 -> 6 channels, 5x5 (2s + 1, NeRV's code)
        ("deconv", 8 * 6 * 4 + 6),  # transposed conv 8 -> 6 channels, 2x2 kernel
    ],
)
def test_parameter_counts(kind, params):
    block = Upsample(8, 6, 2, kind)
    assert sum(p.numel() for p in block.parameters()) == params
    assert upsample_cost(block, 10, 12)["params"] == params


def test_macs():
    h, w = 10, 12
    assert upsample_cost(Upsample(8, 6, 2, "pixelshuffle"), h, w)["macs"] == 8 * 6 * 4 * 9 * h * w
    assert upsample_cost(Upsample(8, 6, 2, "bilinear"), h, w)["macs"] == 8 * 6 * 25 * 4 * h * w
    assert upsample_cost(Upsample(8, 6, 2, "deconv"), h, w)["macs"] == 8 * 6 * 4 * h * w
    assert upsample_cost(Upsample(8, 6, 3, "pixelshuffle", kernel_size=5), 2, 2)["macs"] == (
        8 * 6 * 9 * 25 * 4
    )


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(ValueError, match="pixelshuffle, bilinear, deconv"):
        Upsample(4, 4, 2, "nearest")


@pytest.mark.parametrize(
    "args, words",
    [
        ((0, 4, 2), "channels_in"),
        ((4, 0, 2), "channels_out"),
        ((4, 4, 0), "scale"),
        ((4, 4, 2.5), "scale"),
        ((4, 4, 2, "pixelshuffle", 4), "odd kernel"),
        ((4, 4, 2, "bilinear", 0), "kernel_size"),
    ],
)
def test_bad_sizes(args, words):
    with pytest.raises(ValueError, match=words):
        Upsample(*args)


def test_wrong_input_channels_and_bad_cost_sizes():
    block = Upsample(4, 4, 2)
    with pytest.raises(ValueError, match=r"expected \(B, 4, H, W\)"):
        block(torch.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"expected \(B, 4, H, W\)"):
        block(torch.randn(4, 5, 5))
    with pytest.raises(ValueError, match="height"):
        upsample_cost(block, 0, 5)


@pytest.mark.parametrize("scale", [2, 3, 5])
def test_bilinear_is_nerv_codes_block(scale):
    """NeRV's code: Upsample(s, bilinear, align_corners=True), then a (2s + 1) conv, padding s."""
    block = Upsample(4, 3, scale, "bilinear", kernel_size=3)  # kernel_size is not used
    upsample, conv = block.layers
    assert upsample.align_corners is True and upsample.mode == "bilinear"
    assert conv.kernel_size == (2 * scale + 1,) * 2 and conv.padding == (scale, scale)
    assert block.kernel_size == 2 * scale + 1
    x = torch.randn(1, 4, 3, 5)
    expected = conv(
        torch.nn.functional.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=True)
    )
    assert torch.allclose(block(x), expected)
