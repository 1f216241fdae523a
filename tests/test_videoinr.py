"""Lesson 13's videoinr: coordinates and cells, nearest reading, warping by known flows,
query shapes at any size, bad input (t outside [0, 1], a scale below 1, bad frames), the
baseline, training, and the experiment's rows on a tiny clip."""

import pytest
import torch
import torch.nn.functional as F

from nerv_lessons.videoinr import (
    VideoINR,
    VideoINRConfig,
    VideoINRRecipe,
    bicubic_blend,
    cell_size,
    fit_videoinr,
    floor_scores,
    held_out_pairs,
    pixel_centres,
    sample_nearest,
    shrink,
    triplet_split,
    videoinr_cached,
    warp,
)

TINY = VideoINRConfig(
    feature_channels=8, encoder_width=8, encoder_layers=2, hidden=16, spatial_channels=8
)


def frames(height=6, width=10, batch=1, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(batch, 3, height, width, generator=generator) for _ in range(2))


# --- coordinates ---------------------------------------------------------------------


def test_pixel_centres_corners_spacing_and_order():
    grid = pixel_centres(4, 8)
    assert grid.shape == (4, 8, 2)
    # first pixel's centre is half a pixel in from the corner (-1, -1); (x, y) order
    assert torch.allclose(grid[0, 0], torch.tensor([-1 + 1 / 8, -1 + 1 / 4]))
    assert torch.allclose(grid[-1, -1], torch.tensor([1 - 1 / 8, 1 - 1 / 4]))
    assert torch.allclose(grid[0, 1:, 0] - grid[0, :-1, 0], torch.full((7,), 2 / 8))
    assert torch.allclose(grid[1:, 0, 1] - grid[:-1, 0, 1], torch.full((3,), 2 / 4))
    assert torch.all(grid[:, 0, 0] == grid[0, 0, 0])  # x changes along a row only


def test_pixel_centres_match_grid_sample():
    """Reading an image at its own pixel centres gives the image back."""
    image = torch.rand(1, 2, 5, 7)
    grid = pixel_centres(5, 7)[None]
    back = F.grid_sample(image, grid, mode="bilinear", align_corners=False)
    assert torch.allclose(back, image, atol=1e-6)


def test_pixel_centres_one_pixel_and_bad_sizes():
    assert torch.equal(pixel_centres(1, 1), torch.zeros(1, 1, 2))
    for height, width in ((0, 4), (4, 0), (-1, 3)):
        with pytest.raises(ValueError, match="at least 1 pixel"):
            pixel_centres(height, width)


def test_cell_size():
    assert torch.allclose(cell_size(4, 8), torch.tensor([2 / 8, 2 / 4]))
    grid = pixel_centres(3, 5)
    assert torch.allclose(grid[0, 1] - grid[0, 0], torch.tensor([cell_size(3, 5)[0], 0.0]))
    with pytest.raises(ValueError):
        cell_size(0, 3)


# --- nearest sampling and warping ----------------------------------------------------


def test_sample_nearest_picks_the_right_feature():
    h, w = 3, 4
    features = torch.arange(h * w, dtype=torch.float32).reshape(1, 1, h, w)
    # points at the output pixels of a 2x upsampling: each falls in feature cell (i // 2, j // 2)
    coords = pixel_centres(2 * h, 2 * w).reshape(1, -1, 2)
    z, offset = sample_nearest(features, coords)
    rows = torch.arange(2 * h).repeat_interleave(2 * w) // 2
    cols = torch.arange(2 * w).repeat(2 * h) // 2
    assert torch.equal(z[0, :, 0], (rows * w + cols).float())
    assert torch.allclose(offset.abs(), torch.full_like(offset, 0.25))  # a quarter cell in


def test_sample_nearest_offsets_in_range():
    features = torch.rand(2, 5, 4, 6)
    coords = torch.rand(2, 300, 2) * 2 - 1
    z, offset = sample_nearest(features, coords)
    assert z.shape == (2, 300, 5) and offset.shape == (2, 300, 2)
    assert offset.abs().max() <= 0.5 + 1e-5
    # the offset points from the chosen cell's centre back to the query
    centre = coords - offset * torch.tensor([2 / 6, 2 / 4])
    back, again = sample_nearest(features, centre)
    assert torch.equal(back, z) and again.abs().max() < 1e-4


def test_zero_flow_is_identity():
    features = torch.rand(2, 3, 80, 160)
    assert (warp(features, torch.zeros(2, 2, 80, 160)) - features).abs().max() <= 1e-6


def test_one_pixel_flow_shifts():
    features = torch.rand(1, 3, 5, 7)
    flow = torch.zeros(1, 2, 5, 7)
    flow[:, 0] = 1  # +1 pixel in x: each pixel shows its right-hand neighbour
    moved = warp(features, flow)
    assert torch.allclose(moved[..., :-1], features[..., 1:], atol=1e-6)
    assert torch.allclose(moved[..., -1], features[..., -1], atol=1e-6)  # border repeated
    flow = torch.zeros(1, 2, 5, 7)
    flow[:, 1] = -1  # -1 pixel in y: each pixel shows the one above
    assert torch.allclose(warp(features, flow)[..., 1:, :], features[..., :-1, :], atol=1e-6)


# --- the model -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(7, 11), (33, 50), (6, 10)])
def test_forward_shapes_at_any_size(size):
    model = VideoINR(TINY)
    a, b = frames(6, 10, batch=2)
    with torch.no_grad():
        out = model(a, b, *size, 0.3)
    assert out.shape == (2, 3, *size)
    assert out.min() >= 0 and out.max() <= 1


def test_query_shape_and_chunking_agree():
    torch.manual_seed(0)
    model = VideoINR(TINY)
    for p in model.parameters():  # make the zero-initialised layers non-trivial
        torch.nn.init.normal_(p, std=0.3)
    a, b = frames(6, 10)
    encoded = model.encode(a, b)
    coords = torch.rand(1, 17, 2) * 2 - 1
    assert model.query(encoded, coords, cell_size(12, 20), 0.5).shape == (1, 17, 3)
    with torch.no_grad():
        whole = model(a, b, 13, 21, 0.5)
        model.config = VideoINRConfig(**{**TINY.__dict__, "chunk": 10})
        chunked = model(a, b, 13, 21, 0.5)
    assert torch.allclose(whole, chunked, atol=1e-6)


def test_image_skip_starts_as_bicubic_blend():
    """With the skip, the model starts exactly at the (bicubic-read) blend; without, not."""
    a, b = frames(6, 10)
    base = bicubic_blend(a, b, 12, 20, 0.25)
    with torch.no_grad():
        skip = VideoINR(TINY)(a, b, 12, 20, 0.25)
        plain = VideoINR(VideoINRConfig(**{**TINY.__dict__, "image_skip": False}))(
            a, b, 12, 20, 0.25
        )
    assert (skip - base).abs().max() < 1e-5
    assert (plain - base).abs().max() > 0.1


def test_t_at_the_ends_and_as_tensor():
    model = VideoINR(TINY)
    a, b = frames(6, 10, batch=2)
    with torch.no_grad():
        for t in (0.0, 1.0, 0, 1, torch.tensor(0.5), torch.tensor([0.0, 1.0])):
            assert model(a, b, 8, 12, t).shape == (2, 3, 8, 12)


@pytest.mark.parametrize("t", [-0.1, 1.5, torch.tensor([0.2, 1.2]), float("nan")])
def test_t_outside_range_raises(t):
    a, b = frames()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        VideoINR(TINY)(a, b, 12, 20, t)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bicubic_blend(a, b, 12, 20, t)


def test_scale_below_one_raises():
    a, b = frames(6, 10)
    with pytest.raises(ValueError, match="scale below 1.*at least 6x10"):
        VideoINR(TINY)(a, b, 5, 20, 0.5)
    with pytest.raises(ValueError, match="scale below 1"):
        bicubic_blend(a, b, 12, 9, 0.5)


def test_bad_frames_raise():
    model = VideoINR(TINY)
    a, b = frames(6, 10)
    with pytest.raises(ValueError, match="must have one size"):
        model(a, b[..., :8], 12, 20, 0.5)
    with pytest.raises(ValueError, match="dtype torch.uint8.*float"):
        model((a * 255).to(torch.uint8), (b * 255).to(torch.uint8), 12, 20, 0.5)
    with pytest.raises(ValueError, match=r"B x 3 x H x W.*frame\[None\]"):
        model(a[0], b[0], 12, 20, 0.5)
    with pytest.raises(ValueError, match="dtype torch.int64"):
        bicubic_blend(a.long(), b.long(), 12, 20, 0.5)


def test_bicubic_blend_ends_are_the_upsampled_frames():
    a, b = frames(6, 10)
    up = [F.interpolate(f, size=(12, 20), mode="bicubic", align_corners=False).clamp(0, 1)
          for f in (a, b)]  # fmt: skip
    assert torch.allclose(bicubic_blend(a, b, 12, 20, 0.0), up[0])
    assert torch.allclose(bicubic_blend(a, b, 12, 20, 1.0), up[1])
    middle = bicubic_blend(a, b, 12, 20, 0.5)
    assert not torch.allclose(middle, up[0])
    assert middle.min() >= 0 and middle.max() <= 1


# --- training --------------------------------------------------------------------------


def test_triplet_split_holds_out_middle_frames():
    train, held = triplet_split(16)
    assert train == [2, 6, 10] and held == [0, 4, 8, 12]
    seen = {i + k for i in train for k in range(3)}
    assert not seen & {i + 1 for i in held}  # no held-out middle frame is ever a target
    with pytest.raises(ValueError, match="at least 5 frames"):
        triplet_split(4)


def test_shrink():
    clip = torch.rand(3, 3, 8, 12)
    assert shrink(clip, 2).shape == (3, 3, 4, 6)
    assert torch.allclose(shrink(clip, 2)[..., 0, 0], clip[..., :2, :2].mean((-1, -2)))
    assert shrink(clip, 3).shape == (3, 3, 3, 4)


def tiny_clip():
    # smooth moving blobs: something a model can learn in a few steps
    t = torch.arange(5).float()[:, None, None, None]
    y, x = torch.meshgrid(torch.linspace(0, 1, 12), torch.linspace(0, 1, 16), indexing="ij")
    red = torch.exp(-((x - 0.3 - 0.08 * t) ** 2 + (y - 0.5) ** 2) / 0.05)
    return torch.cat([red, 0.5 * (1 - red), 0.5 + 0.4 * (x - y).expand_as(red)], dim=1)


def test_fit_is_deterministic_per_seed():
    clip = tiny_clip()
    recipe = VideoINRRecipe(steps=10, lr=5e-3, points=32)
    model, history = fit_videoinr(clip, TINY, recipe, seed=1, log_every=5)
    again, history_again = fit_videoinr(clip, TINY, recipe, seed=1, log_every=5)
    other, history_other = fit_videoinr(clip, TINY, recipe, seed=2, log_every=5)
    assert history == history_again
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    assert history != history_other
    assert [step for step, _ in history] == [5, 10]


def test_fit_reduces_the_loss():
    clip = tiny_clip()
    config = VideoINRConfig(**{**TINY.__dict__, "image_skip": False})
    recipe = VideoINRRecipe(steps=60, lr=1e-2, points=64)
    _, history = fit_videoinr(clip, config, recipe, seed=0, log_every=10)
    first, last = history[0][1], history[-1][1]
    assert last < 0.5 * first, history


def test_fit_rejects_a_bad_clip():
    with pytest.raises(ValueError, match="T x 3 x H x W"):
        fit_videoinr(torch.rand(5, 12, 16), TINY, VideoINRRecipe(steps=1))


def test_query_takes_one_time_per_point():
    """Training asks each point at its own t: the same answer as asking the points by time."""
    torch.manual_seed(0)
    model = VideoINR(TINY)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.3)
    a, b = frames(6, 10)
    encoded = model.encode(a, b)
    coords = torch.rand(1, 8, 2) * 2 - 1
    times = torch.tensor([[0.0, 0.5, 1.0, 0.25, 0.0, 0.5, 1.0, 0.75]])
    together = model.query(encoded, coords, cell_size(12, 20), times)
    for i, t in enumerate(times[0].tolist()):
        alone = model.query(encoded, coords[:, i : i + 1], cell_size(12, 20), t)
        assert torch.allclose(together[:, i : i + 1], alone, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.query(encoded, coords, cell_size(12, 20), times + 0.5)


def test_shrink_refuses_a_factor_below_one():
    with pytest.raises(ValueError, match="factor >= 1"):
        shrink(torch.rand(2, 3, 8, 8), 0.5)


def test_warp_refuses_a_flow_of_another_size():
    with pytest.raises(ValueError, match="does not match"):
        warp(torch.rand(1, 3, 6, 8), torch.zeros(1, 2, 6, 7))
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        warp(torch.rand(1, 3, 6, 8), torch.zeros(1, 3, 6, 8))


def test_recipe_follows_the_scale():
    from nerv_lessons.scales import SCALES

    assert VideoINRRecipe.at(SCALES["quick"]).steps == 5 * SCALES["quick"].epochs == 400
    assert VideoINRRecipe.at(SCALES["paper"], lr=1e-3).lr == 1e-3


def test_held_out_pairs_never_use_a_trained_middle_frame():
    clip = torch.rand(16, 3, 8, 12)
    frame0, frame1, truth, middles = held_out_pairs(clip, 2, 2)
    assert middles.tolist() == [1, 5, 9, 13]
    assert frame0.shape == (4, 3, 4, 6) and torch.equal(truth, clip[middles])
    assert torch.allclose(frame1, shrink(clip[middles + 1], 2))
    _, _, _, far = held_out_pairs(clip, 3, 3)
    assert far.tolist() == [1, 5, 9, 13]  # i + 3 <= 15 for every held-out start


def test_floors_of_a_still_clip():
    """A clip that never moves: bicubic + blend of a flat frame is exact, the mean too."""
    clip = torch.full((8, 3, 8, 12), 0.4)
    scores = floor_scores(clip, 2, 2)
    assert set(scores) == {"floor: bicubic + blend", "floor: mean frame"}
    assert all(score == float("inf") for score in scores.values())


def test_the_command_line_refuses_other_experiments(capsys):
    from nerv_lessons import cli

    assert cli.main(["space-time", "hnerv-vs-nerv", "--scale", "quick"]) == 2
    assert "videoinr-space-time" in capsys.readouterr().err


@pytest.mark.slow  # NeRV and HNeRV on 3 of 5 frames, two 20-step VideoINRs: about 15 s
def test_the_command_line_writes_the_scores(tmp_path, monkeypatch, capsys):
    from nerv_lessons import cli, videoinr
    from nerv_lessons.rate_distortion import load_points

    monkeypatch.setenv("NERV_LESSONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(videoinr.VideoINRRecipe, "at", classmethod(lambda cls, s: cls(steps=20)))
    argv = ["space-time", "videoinr-space-time", "--scale", "quick", "--frames", "5"]
    argv += ["--frame-step", "1", "--seeds", "1", "--device", "cpu", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    lines = load_points(tmp_path / "videoinr-space-time-scores.csv")
    rows = {line["row"] for line in lines}
    assert set(videoinr.VIDEOINR_ROWS) <= rows
    assert {"NeRV (time between)", "HNeRV† (embedding between)", "floor: mean frame"} <= rows
    assert all(5 < line["psnr"] < 100 for line in lines)  # scored images, not noise or copies
    assert "saved" in capsys.readouterr().out
    cached = list((tmp_path / "cache" / "videoinr").glob("*.pt"))
    assert len(cached) == len(videoinr.VIDEOINR_ROWS)  # each trained model: a rerun reads it


def test_the_cache_gives_back_the_trained_model(tmp_path, monkeypatch):
    monkeypatch.setenv("NERV_LESSONS_CACHE", str(tmp_path))
    clip, recipe = tiny_clip(), VideoINRRecipe(steps=5, points=16)
    model, history = videoinr_cached(clip, TINY, recipe, seed=3)
    again, history_again = videoinr_cached(clip, TINY, recipe, seed=3)
    assert history == history_again and len(list(tmp_path.rglob("*.pt"))) == 1
    for p, q in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(p, q)
    videoinr_cached(clip, TINY, recipe, seed=4)  # another seed: another model
    assert len(list(tmp_path.rglob("*.pt"))) == 2


def test_a_long_clip_trains_on_a_batch_of_triplets():
    """Nine frames give two training triplets; a batch of one draws one per step."""
    clip = torch.rand(9, 3, 8, 12, generator=torch.Generator().manual_seed(0))
    assert triplet_split(9)[0] == [2, 6]
    one = VideoINRRecipe(steps=6, points=8, batch=1)
    model, history = fit_videoinr(clip, TINY, one, seed=0, log_every=3)
    again, _ = fit_videoinr(clip, TINY, one, seed=0, log_every=3)
    assert len(history) == 2 and all(
        torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters())
    )
