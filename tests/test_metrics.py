import math

import pytest
import torch

from nerv_lessons.metrics import (
    bits_per_pixel,
    ms_ssim,
    ms_ssim_window,
    mse,
    params_per_pixel,
    psnr,
    psnr_from_mse,
)


def test_psnr_of_a_known_mse():
    x = torch.zeros(2, 3, 8, 8)
    y = torch.full_like(x, 0.1)  # every pixel off by 0.1: MSE 0.01 -> 20 dB
    assert torch.allclose(mse(x, y), torch.full((2,), 0.01))
    assert torch.allclose(psnr(x, y), torch.full((2,), 20.0))
    assert psnr_from_mse(0.001).item() == pytest.approx(30.0)


def test_psnr_is_per_frame():
    x = torch.zeros(3, 3, 4, 4)
    y = x.clone()
    y[1] += 0.1
    y[2] += 0.01
    assert psnr(x, y).tolist() == pytest.approx([math.inf, 20.0, 40.0], rel=1e-5)


def test_identical_frames_are_infinitely_close():
    x = torch.rand(2, 3, 8, 8)
    assert torch.isinf(psnr(x, x)).all()


def test_range_convention_peak_255_matches_peak_1():
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    assert torch.allclose(psnr(x * 255, y * 255, peak=255), psnr(x, y), atol=1e-4)


def test_0_255_frames_without_peak_are_refused():
    x = torch.rand(2, 3, 8, 8) * 255
    with pytest.raises(ValueError, match="divide by 255"):
        psnr(x, x)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="compare clips of one size"):
        psnr(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 16))


def test_integer_frames_are_refused():
    x = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(TypeError, match="float"):
        mse(x, x)


def test_ms_ssim_on_real_frames(bunny):
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(bunny.shape, generator=generator)
    light = (bunny + 0.02 * noise).clamp(0, 1)
    heavy = (bunny + 0.1 * noise).clamp(0, 1)
    assert torch.allclose(ms_ssim(bunny, bunny), torch.ones(len(bunny)), atol=1e-5)
    assert (ms_ssim(bunny, light) > ms_ssim(bunny, heavy)).all()
    assert (ms_ssim(bunny, heavy) < 0.99).all()


def test_ms_ssim_does_not_depend_on_the_chunk(bunny):
    noisy = (bunny + 0.05 * torch.randn(bunny.shape)).clamp(0, 1)
    assert torch.allclose(ms_ssim(bunny, noisy, chunk=3), ms_ssim(bunny, noisy), atol=1e-6)


def test_ms_ssim_window_shrinks_for_small_frames():
    assert ms_ssim_window(640, 1280) == 11
    assert ms_ssim_window(161, 320) == 11
    assert ms_ssim_window(160, 320) == 9  # 160 is not over (11 - 1) * 16
    assert ms_ssim_window(80, 160) == 5
    with pytest.raises(ValueError, match="too small for five-scale MS-SSIM"):
        ms_ssim_window(32, 64)


def test_bits_and_parameters_per_pixel():
    assert bits_per_pixel(1000, 10, 10, 10) == 8.0
    assert bits_per_pixel(132 * 640 * 1280 * 3, 132, 640, 1280) == 24.0  # raw 8-bit RGB
    assert params_per_pixel(0.35e6, 132, 640, 1280) == pytest.approx(0.00324, abs=1e-5)
