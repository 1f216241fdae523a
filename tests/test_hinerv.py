"""HiNeRV (lesson 11): grids and their interpolation in time, the hierarchical encoding, the
variants of Table 4, the budget, the file, and the errors on bad input."""

import pytest
import torch

from nerv_lessons.bitstream import (
    MODEL_KINDS,
    BitstreamError,
    decode,
    encode,
    kind_of,
    quantized_frames,
    read_header,
    register_kind,
)
from nerv_lessons.experiments import EXPERIMENTS, MODELS
from nerv_lessons.hinerv import (
    ABLATIONS,
    HINERV_ROW,
    LEFT_OUT,
    FourierEncoding,
    GridEncoding,
    HiNeRV,
    HiNeRVConfig,
    grid_numbers,
    hinerv_budget,
    hinerv_size,
    hinerv_strides,
    is_grid,
    level_frames,
    make_upsampler,
    sample_time,
    tile_local,
)
from nerv_lessons.nerv import count_parameters

SMALL = dict(height=40, width=80, strides=(2, 2, 2), frames=8, width0=16)


def test_grid_levels_halve_time_and_double_channels():
    encoding = GridEncoding(steps=8, channels=4, levels=3, grid=(5, 10))
    shapes = [tuple(grid.shape) for grid in encoding.grids]
    assert shapes == [(8, 4, 5, 10), (4, 8, 5, 10), (2, 16, 5, 10)]
    assert encoding(torch.tensor([0.0, 0.5])).shape == (2, 28, 5, 10)
    assert level_frames(3, 5) == 2  # never below two steps


def test_sample_time_at_integer_and_fractional_times():
    grid = torch.arange(5.0)[:, None] * torch.ones(5, 3)  # grid[k] == k everywhere
    t = torch.tensor([0.0, 0.25, 0.5, 1.0, 0.125, 0.9])
    values = sample_time(grid, t)[:, 0]  # t = k / 4 is step k
    torch.testing.assert_close(values, torch.tensor([0.0, 1.0, 2.0, 4.0, 0.5, 3.6]))
    two = torch.stack([torch.zeros(2, 2), torch.ones(2, 2)])
    torch.testing.assert_close(sample_time(two, torch.tensor([0.3])), torch.full((1, 2, 2), 0.3))


def test_a_frame_on_a_grid_step_reads_that_step_exactly():
    encoding = GridEncoding(steps=5, channels=2, levels=1, grid=(2, 3))
    steps = encoding.grids[0]
    for k in range(5):
        assert torch.equal(encoding(torch.tensor([k / 4]))[0], steps[k].detach())


def test_sample_time_refuses_bad_times():
    grid = torch.zeros(4, 2)
    for bad in ([-0.1], [1.5]):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            sample_time(grid, torch.tensor(bad))
    with pytest.raises(TypeError, match="float tensor"):
        sample_time(grid, torch.tensor([1]))  # a frame index, not a time
    with pytest.raises(TypeError, match="float tensor"):
        sample_time(grid, torch.tensor(0.5))  # not a (B,) tensor
    with pytest.raises(ValueError, match="at least 2 time steps"):
        sample_time(torch.zeros(1, 2), torch.tensor([0.5]))


def test_local_features_tile_by_position_modulo_the_stride():
    local = torch.arange(4.0).reshape(1, 1, 2, 2)
    tiled = tile_local(local, 4, 6)
    assert tiled.shape == (1, 1, 4, 6)
    for y in range(4):
        for x in range(6):
            assert tiled[0, 0, y, x] == local[0, 0, y % 2, x % 2]
    with pytest.raises(ValueError, match="whole 2x2 kernels"):
        tile_local(local, 5, 6)


def test_upsamplers_enlarge_and_only_sub_pixel_convs_learn():
    x = torch.randn(1, 8, 3, 5)
    for kind, parameters in [("bilinear", 0), ("nearest", 0), ("subconv1", 8 * 32 + 32)]:
        upsampler = make_upsampler(kind, 8, 2)
        assert upsampler(x).shape == (1, 8, 6, 10)
        assert count_parameters(upsampler) == parameters
    assert count_parameters(make_upsampler("subconv3", 8, 2)) == 8 * 32 * 9 + 32
    with pytest.raises(ValueError, match="upsample="):
        make_upsampler("bicubic", 8, 2)


def test_model_shapes_and_every_variant():
    t = torch.tensor([0.0, 0.5, 1.0])
    for changes, _ in [({}, None), *ABLATIONS.values(), *LEFT_OUT.values()]:
        frames = HiNeRV(HiNeRVConfig(**SMALL, **changes))(t)
        assert frames.shape == (3, 3, 40, 80) and 0 <= frames.min() <= frames.max() <= 1


def test_the_variants_change_what_they_say():
    base = HiNeRV(HiNeRVConfig(**SMALL))
    names = dict(base.named_parameters())
    assert any(name.endswith(".local") for name in names)
    no_local = HiNeRV(HiNeRVConfig(**SMALL, local=False))
    assert not any(name.endswith(".local") for name, _ in no_local.named_parameters())
    fourier = HiNeRV(HiNeRVConfig(**SMALL, encoding="fourier"))
    assert count_parameters(fourier.encoding) == 0 and fourier.encoding.channels == 48
    expansions = [block.body[2].out_channels // block.body[4].out_channels for block in base.blocks]
    assert expansions == [4, 4, 1]  # the last (full-resolution) block's MLP is 1x


def test_budget_fits_and_counts_the_grids():
    config = hinerv_budget(0.05, 16, 80, 160)
    wider = HiNeRVConfig(**{**config.__dict__, "width0": config.width0 + 1})
    assert hinerv_size(config) <= 50_000 < hinerv_size(wider)  # the widest that fits
    assert config.strides == hinerv_strides(80, 160) == (2, 2, 2, 2)
    assert config.grid == (5, 10)
    steps, local_steps = 16 // 4, 2  # a quarter of the frames; an eighth, at least 2
    base = sum(level_frames(steps, l) * (2 << l) for l in range(3)) * 5 * 10
    inputs = [config.width0, *config.widths()[:-1]]
    local = sum(local_steps * width * 2 * 2 for width in inputs)  # stride 2 per stage
    assert grid_numbers(config) == base + local
    model = HiNeRV(config)
    grids = sum(p.numel() for name, p in model.named_parameters() if is_grid(name))
    assert grids == grid_numbers(config) and count_parameters(model) == hinerv_size(config)
    with pytest.raises(ValueError, match="too small"):
        hinerv_budget(0.001, 16, 80, 160)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="strides"):
        HiNeRVConfig(height=81, width=160, strides=(2, 2, 2, 2))  # 81 is not a multiple of 16
    with pytest.raises(ValueError, match="upsample="):
        HiNeRVConfig(height=80, width=160, strides=(2, 2), upsample="bicubic")
    with pytest.raises(ValueError, match="block="):
        HiNeRVConfig(height=80, width=160, strides=(2, 2), block="mlp")
    with pytest.raises(ValueError, match="kernel"):
        HiNeRVConfig(height=80, width=160, strides=(2, 2), kernel=4)
    with pytest.raises(ValueError, match="steps"):
        HiNeRVConfig(height=80, width=160, strides=(2, 2), grid_steps=1)
    with pytest.raises(ValueError, match="base grid"):
        hinerv_strides(7, 9)
    model = HiNeRV(HiNeRVConfig(**SMALL))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model(torch.tensor([1.2]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        FourierEncoding((2, 3))(torch.tensor([-0.5]))


def test_the_family_and_the_tables_are_registered():
    video = torch.rand(8, 3, 40, 80)
    setup = MODELS["hinerv"](video, 0.02)
    assert isinstance(setup.model, HiNeRV) and setup.params == count_parameters(setup.model)
    assert setup.params <= 20_000
    table = EXPERIMENTS["hinerv-ablations"]
    labels = [row.label for row in table.rows]
    assert HINERV_ROW in labels and all(label in labels for label in ABLATIONS)
    assert (HINERV_ROW, "HNeRV") in table.claims and table.recipe == "hinerv"


def test_file_round_trip_is_bit_exact_and_stores_grids_as_embeddings():
    torch.manual_seed(0)
    model = HiNeRV(HiNeRVConfig(**SMALL)).eval()
    with torch.no_grad():  # make the local grids non-zero, as after training
        for block in model.blocks:
            block.local.normal_(0, 0.1)
    assert kind_of(model) == "hinerv"
    data = encode(model, frames=8)
    header, _ = read_header(data)
    bits = {entry["name"]: entry["bits"] for entry in header["tensors"]}
    assert bits["encoding.grids.0"] == 6 and bits["blocks.0.local"] == 6
    assert bits["stem.weight"] == 8
    decoded = decode(data)
    assert decoded.shape == (8, 3, 40, 80)
    assert torch.equal(decoded, quantized_frames(model, frames=8))
    with pytest.raises(BitstreamError):
        decode(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError, match="frames=T"):
        encode(model)  # a HiNeRV stores no embeddings: the file needs the frame count


def test_registering_the_kind_again_replaces_it_only_for_the_same_class():
    kind = MODEL_KINDS["hinerv"]
    register_kind("hinerv", kind)  # a lesson's cell run twice
    assert MODEL_KINDS["hinerv"] is kind
    with pytest.raises(ValueError, match="already registered"):
        register_kind("hinerv", MODEL_KINDS["nerv"])
