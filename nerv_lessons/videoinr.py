# Generated from notebooks/13_videoinr.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""VideoINR (Chen et al., CVPR 2022) at laptop size: a video as a function of (x, y, t).

    two low-res frames -> CNN encoder -> a feature grid for each bounding frame
      -> spatial INR  F_s(x) = f_s(z*, x - v*, cell)    (LIIF: nearest feature + offset)
      -> temporal INR f_t(F_s(x), t) -> a flow into each bounding frame
      -> warp: read F_s again at x + flow               (grid_sample at the moved points)
      -> decoder MLP -> RGB at (x, y, t), any x, y, any t in [0, 1]

A concept replica: the same pipeline, small and plain. The paper's encoder is Zooming
Slow-Mo's (deformable alignment and a ConvLSTM); this one is a few plain 3x3 convolutions, and
the paper's multi-scale feature aggregation is left out. The model trains on one clip (the
triplets of `fit_videoinr`) and is scored on frames it never saw. Introduced in lesson 13
(notebooks/13_videoinr.ipynb).
"""

import hashlib
import json
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nerv_lessons.data import check_frames
from nerv_lessons.experiments import (
    Experiment,
    Row,
    cache_folder,
    clip_for,
    fit,
    register,
    seed_row,
    source_version,
)
from nerv_lessons.hnerv import embed_frames, interpolate_embeddings
from nerv_lessons.metrics import psnr
from nerv_lessons.train import frame_times, lr_factor, reconstruct


def _check_side(name: str, side) -> None:
    if isinstance(side, bool) or not isinstance(side, int) or side < 1:
        raise ValueError(f"{name}={side!r}: a frame is at least 1 pixel, pass an int >= 1")


def pixel_centres(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(height, width, 2) coordinates of the pixel centres in [-1, 1], in (x, y) order: the
    align_corners=False convention of grid_sample, pixel j of W at (2j + 1) / W - 1."""
    _check_side("height", height)
    _check_side("width", width)
    # (2j + 1 - W) / W in float64, rounded once: the centres land where grid_sample expects
    # them (in float32 a zero flow at 160 pixels would move the far edge by 3e-6).
    ys = (2 * torch.arange(height, device=device, dtype=torch.float64) + 1 - height) / height
    xs = (2 * torch.arange(width, device=device, dtype=torch.float64) + 1 - width) / width
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([x, y], dim=-1).to(dtype)


def cell_size(height: int, width: int) -> torch.Tensor:
    """One pixel of a height x width frame in [-1, 1] coordinates, in pixel_centres' (x, y)
    order: (2 / width, 2 / height). LIIF's "cell": how large a pixel the model answers for."""
    _check_side("height", height)
    _check_side("width", width)
    return torch.tensor([2.0 / width, 2.0 / height])


def sample_nearest(features: torch.Tensor, coords: torch.Tensor):
    """The feature vector nearest to each query point, and where the point lies in its cell.

    features: (B, C, h, w); coords: (B, N, 2) in [-1, 1], (x, y). Returns z* (B, N, C) and the
    offset (query - centre of z*'s cell) in feature cells, (B, N, 2): within [-1/2, 1/2] for
    points inside the frame (points outside are read from the edge cell, offset larger)."""
    if features.ndim != 4 or coords.ndim != 3 or coords.shape[-1] != 2:
        raise ValueError(
            f"features {tuple(features.shape)} and coords {tuple(coords.shape)}: expected "
            "(B, C, h, w) and (B, N, 2)"
        )
    h, w = features.shape[-2:]
    size = coords.new_tensor([w, h])
    # The cell each point falls in, then that cell's centre: grid_sample is asked at the
    # centre, never at a boundary (where "nearest" may round either way).
    index = torch.minimum(torch.floor((coords + 1) * size / 2).clamp(min=0), size - 1)
    centre = (2 * index + 1) / size - 1
    picked = F.grid_sample(
        features, centre[:, None].to(features.dtype), mode="nearest", align_corners=False
    )
    offset = (coords - centre) * size / 2  # one feature cell is 2 / size wide
    return picked[:, :, 0].transpose(1, 2), offset


def warp(features: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: out(p) = features(p + flow(p)), bilinear, edges repeated. features
    (B, C, H, W); flow (B, 2, H, W) in pixels, (dx, dy): +1 in x reads the right neighbour."""
    if features.ndim != 4 or flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(
            f"features {tuple(features.shape)} and flow {tuple(flow.shape)}: expected "
            "(B, C, H, W) and (B, 2, H, W)"
        )
    if flow.shape[-2:] != features.shape[-2:] or flow.shape[0] != features.shape[0]:
        raise ValueError(
            f"flow {tuple(flow.shape)} does not match features {tuple(features.shape)}: one "
            "(dx, dy) per pixel of each frame"
        )
    h, w = features.shape[-2:]
    grid = pixel_centres(h, w, features.device, torch.float64)
    grid = grid + flow.double().permute(0, 2, 3, 1) * grid.new_tensor([2.0 / w, 2.0 / h])
    moved = F.grid_sample(
        features.double(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return moved.to(features.dtype)


def check_pair(frame0: torch.Tensor, frame1: torch.Tensor) -> None:
    """Raise unless the two bounding frames are float (B, 3, h, w) tensors of one shape. It
    runs at every step, so unlike data.check_frames it reads no values (no host sync)."""
    for name, frame in (("frame0", frame0), ("frame1", frame1)):
        if not isinstance(frame, torch.Tensor):
            raise ValueError(f"{name} is a {type(frame).__name__}; pass a torch.Tensor")
        if not frame.is_floating_point():
            raise ValueError(
                f"{name} has dtype {frame.dtype}; VideoINR reads floats in [0, 1]. For 8-bit "
                "pixels pass frame.float() / 255"
            )
        if frame.ndim != 4 or frame.shape[1] != 3:
            raise ValueError(
                f"{name} has shape {tuple(frame.shape)}; expected B x 3 x H x W (a single "
                "3 x H x W frame becomes a batch of one with frame[None])"
            )
    if frame0.shape != frame1.shape:
        raise ValueError(
            f"frame0 is {tuple(frame0.shape)} but frame1 is {tuple(frame1.shape)}: the two "
            "bounding frames must have one size (resize one of them first)"
        )


def check_time(t) -> None:
    """Raise unless t is in [0, 1]: a float, or a float tensor of one time per pair (B,) or
    per query point (B, N). A CUDA tensor's range is not read: that would wait for the GPU
    (a host sync) at every step, so there it is the caller's promise."""
    why = "t is the time between the bounding frames: 0 is frame0, 1 is frame1"
    if isinstance(t, torch.Tensor):
        if not t.is_floating_point() or t.ndim > 2:
            raise ValueError(
                f"t is a {t.dtype} tensor of shape {tuple(t.shape)}: {why}; pass a float, or a "
                "float tensor (B,) or (B, N)"
            )
        inside = (t >= 0) & (t <= 1)  # NaN is outside too
        if t.device.type == "cpu" and not inside.all():
            raise ValueError(f"t holds {t[~inside].flatten()[0]:.3g}, outside [0, 1]: {why}")
        return
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise ValueError(f"t={t!r}: {why}; pass a float in [0, 1]")
    if not 0 <= t <= 1:
        raise ValueError(
            f"t={t!r} is outside [0, 1]: {why}. To go past a bounding frame, pass the next "
            "pair of frames instead"
        )


def check_output_size(frame: torch.Tensor, height: int, width: int) -> None:
    """Raise unless the output is at least as large as the input on both sides (scale >= 1)."""
    _check_side("height", height)
    _check_side("width", width)
    h, w = frame.shape[-2:]
    if height < h or width < w:
        raise ValueError(
            f"an output of {height}x{width} from {h}x{w} frames is a scale below 1 "
            f"({height / h:.3g} x {width / w:.3g}): VideoINR upsamples. Ask for at least "
            f"{h}x{w}, or shrink the frames first (`shrink`)"
        )


def blend(frame0: torch.Tensor, frame1: torch.Tensor, t) -> torch.Tensor:
    """(1 - t) frame0 + t frame1, t a float or one time per frame pair (B,)."""
    t = torch.as_tensor(t, dtype=frame0.dtype, device=frame0.device).reshape(-1, 1, 1, 1)
    return torch.lerp(frame0, frame1, t)


def bicubic_blend(frame0, frame1, height: int, width: int, t) -> torch.Tensor:
    """The baseline: bicubic upsampling of both frames to height x width, then the linear
    blend (1 - t) a + t b, clamped to [0, 1] (bicubic overshoots at edges)."""
    check_pair(frame0, frame1)
    check_time(t)
    check_output_size(frame0, height, width)
    a, b = (
        F.interpolate(f, (height, width), mode="bicubic", align_corners=False)
        for f in (frame0, frame1)
    )
    return blend(a, b, t).clamp(0, 1)


def shrink(frames: torch.Tensor, factor: float) -> torch.Tensor:
    """Frames (..., 3, H, W) shrunk `factor` times by area averaging (the low-res inputs):
    round(H / factor) x round(W / factor)."""
    if factor < 1:
        raise ValueError(f"factor={factor}: shrink makes frames smaller, pass a factor >= 1")
    h, w = frames.shape[-2:]
    size = (max(1, round(h / factor)), max(1, round(w / factor)))
    small = F.interpolate(frames.reshape(-1, *frames.shape[-3:]), size=size, mode="area")
    return small.reshape(*frames.shape[:-2], *size)


@dataclass(frozen=True)
class VideoINRConfig:
    """Sizes of the replica (23,767 parameters)."""

    feature_channels: int = 24  # C of each bounding frame's feature grid
    encoder_width: int = 16  # channels inside the encoder (24: +0.05 dB, 1.7x the time)
    encoder_layers: int = 4  # 3x3 convolutions (each feature sees 9x9 input pixels)
    hidden: int = 48  # width of every MLP's hidden layers
    spatial_channels: int = 24  # size of the spatial INR's feature F_s(x)
    image_skip: bool = True  # add bicubic + blend at the query points (not in the paper)
    chunk: int = 32768  # query points per pass in forward (bounds memory at large outputs)


def mlp(inputs: int, hidden: int, outputs: int, layers: int = 2) -> nn.Sequential:
    """`layers` hidden layers of width `hidden` with ReLU, then a linear output."""
    sizes, blocks = [inputs] + [hidden] * layers, []
    for a, b in zip(sizes[:-1], sizes[1:]):
        blocks += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*blocks, nn.Linear(hidden, outputs))


@dataclass
class Encoded:
    """What `VideoINR.encode` gives: a feature grid per bounding frame, and the frames (the
    image skip reads them)."""

    grid0: torch.Tensor  # (B, C, h, w): frame0's features (knowing frame1)
    grid1: torch.Tensor  # (B, C, h, w): frame1's features (knowing frame0)
    frame0: torch.Tensor  # (B, 3, h, w)
    frame1: torch.Tensor


class Encoder(nn.Module):
    """(own frame, other frame) stacked -> own frame's feature grid, at its resolution. The
    paper's encoder aligns the frames with deformable convolutions and a ConvLSTM; here each
    feature only sees both frames, so that it can say where its content moves."""

    def __init__(self, config: VideoINRConfig):
        super().__init__()
        layers, channels = [], 6
        for _ in range(config.encoder_layers - 1):
            layers += [nn.Conv2d(channels, config.encoder_width, 3, padding=1), nn.ReLU()]
            channels = config.encoder_width
        layers.append(nn.Conv2d(channels, config.feature_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, own: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([own, other], dim=1) - 0.5)  # inputs centred on 0


class SpatialINR(nn.Module):
    """F_s(x) = f_s(z*, x - v*, cell): the nearest feature, the offset in its cell and the
    output pixel's size (in feature cells) through one MLP: a feature at every point."""

    def __init__(self, config: VideoINRConfig):
        super().__init__()
        self.net = mlp(config.feature_channels + 4, config.hidden, config.spatial_channels)

    def forward(self, grid: torch.Tensor, coords: torch.Tensor, cell: torch.Tensor):
        z, offset = sample_nearest(grid, coords)
        h, w = grid.shape[-2:]
        cells = (cell * cell.new_tensor([w, h]) / 2).expand(*offset.shape[:-1], 2)
        return self.net(torch.cat([z, offset, cells], dim=-1))


class TemporalINR(nn.Module):
    """f_t(F_s0(x), F_s1(x), t) -> two flows (in feature cells): the content at (x, t) was at
    x + flow0 in frame 0 and at x + flow1 in frame 1. Scaled by t and 1 - t (a prior)."""

    def __init__(self, config: VideoINRConfig):
        super().__init__()
        self.net = mlp(2 * config.spatial_channels + 1, config.hidden, 4)
        nn.init.zeros_(self.net[-1].weight)  # start from no motion: plain blending
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, t: torch.Tensor):
        flow0, flow1 = self.net(torch.cat([s0, s1, t], dim=-1)).split(2, dim=-1)
        return t * flow0, (1 - t) * flow1


def _times(t, coords: torch.Tensor) -> torch.Tensor:
    """t as (B, N, 1) for the query points coords (B, N, 2): from a float, one time per pair
    (B,) or one per point (B, N)."""
    t = torch.as_tensor(t, dtype=coords.dtype, device=coords.device)
    t = t[..., None] if t.ndim == 2 else t.reshape(-1, 1, 1)
    return t.expand(*coords.shape[:-1], 1)


def _read_bicubic(frames: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """frames (B, 3, h, w) read bicubically at coords (B, N, 2): (B, N, 3)."""
    picked = F.grid_sample(
        frames, coords[:, None], mode="bicubic", padding_mode="border", align_corners=False
    )
    return picked[:, :, 0].transpose(1, 2)


class VideoINR(nn.Module):
    """Two bounding frames -> RGB at any (x, y) and any t in [0, 1]: encode once, then query
    any points, or forward for a whole frame of any size (chunked over pixels)."""

    def __init__(self, config: VideoINRConfig | None = None):
        super().__init__()
        self.config = config = config or VideoINRConfig()
        self.encoder = Encoder(config)
        self.spatial = SpatialINR(config)
        self.temporal = TemporalINR(config)
        self.decoder = mlp(2 * config.spatial_channels + 1, config.hidden, 3)
        if config.image_skip:  # start as exactly bicubic + blend, then learn what it misses
            nn.init.zeros_(self.decoder[-1].weight)
            nn.init.zeros_(self.decoder[-1].bias)

    def encode(self, frame0: torch.Tensor, frame1: torch.Tensor) -> Encoded:
        """Feature grids of both bounding frames, (B, C, h, w) each, from one shared encoder."""
        check_pair(frame0, frame1)
        return Encoded(self.encoder(frame0, frame1), self.encoder(frame1, frame0), frame0, frame1)

    def query(self, encoded: Encoded, coords: torch.Tensor, cell: torch.Tensor, t):
        """RGB (B, N, 3) at points coords (B, N, 2) in [-1, 1] (x, y), for output pixels of
        size `cell` (cell_size), at time t: a float, (B,) or (B, N) in [0, 1]."""
        check_time(t)
        grid0, grid1 = encoded.grid0, encoded.grid1
        t = _times(t, coords)
        cell = cell.to(coords.device, coords.dtype).reshape(-1, 1, 2)
        # 1. both frames' features at x; 2. the motion at (x, t)
        flow0, flow1 = self.temporal(
            self.spatial(grid0, coords, cell), self.spatial(grid1, coords, cell), t
        )
        # 3. warp: read each field where the content was, kept inside the frame
        per_cell = coords.new_tensor([2.0 / grid0.shape[-1], 2.0 / grid0.shape[-2]])
        f0 = self.spatial(grid0, (coords + flow0 * per_cell).clamp(-1, 1), cell)
        f1 = self.spatial(grid1, (coords + flow1 * per_cell).clamp(-1, 1), cell)
        # 4. decode the warped features (and t, to weigh the two frames) into RGB
        rgb = self.decoder(torch.cat([f0, f1, t], dim=-1))
        if self.config.image_skip:  # bicubic + blend at the points (not in the paper)
            a, b = (_read_bicubic(f, coords) for f in (encoded.frame0, encoded.frame1))
            rgb = rgb + torch.lerp(a, b, t)
        return rgb

    def forward(self, frame0, frame1, height: int, width: int, t) -> torch.Tensor:
        """The frame at time t (a float or (B,)), drawn at height x width: (B, 3, height,
        width) in [0, 1]. Wrap it in torch.no_grad() unless training."""
        check_time(t)
        check_output_size(frame0, height, width)
        encoded = self.encode(frame0, frame1)
        coords = pixel_centres(height, width, frame0.device, frame0.dtype).reshape(1, -1, 2)
        coords = coords.expand(len(frame0), -1, -1)
        cell = cell_size(height, width)
        parts = [self.query(encoded, part, cell, t) for part in coords.split(self.config.chunk, 1)]
        rgb = torch.cat(parts, dim=1).clamp(0, 1)
        return rgb.transpose(1, 2).reshape(len(frame0), 3, height, width)


def triplet_split(frames: int) -> tuple[list[int], list[int]]:
    """The first frames i of the triplets (i, i + 1, i + 2), i even, as (train, held out):
    held out i = 0, 4, 8, ... (their middle frames 1, 5, 9, ... are never seen), trained
    i = 2, 6, 10, ... Needs 5 frames (one of each)."""
    if frames < 5:
        raise ValueError(
            f"a clip of {frames} frames is too short: one training and one held-out triplet "
            "need at least 5 frames"
        )
    starts = list(range(0, frames - 2, 2))
    return starts[1::2], starts[0::2]


@dataclass(frozen=True)
class VideoINRRecipe:
    """How VideoINR trains on one clip: `steps` Adam steps at `lr` (warm-up, then cosine),
    `batch` random triplets and `points` random target pixels per frame and step, inputs
    shrunk `factor` times."""

    steps: int = 400
    lr: float = 2e-3
    warmup: float = 0.1
    points: int = 512
    batch: int = 4  # triplets per step (all of them when the clip has fewer: quick has 3)
    factor: int = 2

    @classmethod
    def at(cls, scale, **changes) -> "VideoINRRecipe":
        """The recipe at a scale: 5 steps for each of its epochs (quick: 400)."""
        return cls(**({"steps": 5 * scale.epochs} | changes))


DEFAULT_RECIPE = VideoINRRecipe()  # frozen: one shared default is safe


def fit_videoinr(video, config=None, recipe=DEFAULT_RECIPE, seed=0, log_every=40):
    """Train VideoINR on a clip (T, 3, H, W) in [0, 1], on its device, by the triplets of
    `triplet_split`; returns (the model in eval mode, [(step, loss), ...]). One seed, one
    model: the initial weights and the pixels drawn both follow it."""
    check_frames(video, "video")  # once a fit: it reads the values (a host sync)
    train, _ = triplet_split(len(video))
    with torch.random.fork_rng(devices=[]):  # the seed decides the model, nothing outside
        torch.manual_seed(seed)
        model = VideoINR(config or VideoINRConfig()).to(video.device)
    generator = torch.Generator(video.device).manual_seed(seed)
    starts = torch.tensor(train, device=video.device)
    small = shrink(video, recipe.factor)
    frame0, frame1 = small[starts], small[starts + 2]
    # The three targets of each triplet side by side: (B, 3, 3 H W), with their times.
    targets = torch.cat([video[starts + k].flatten(2) for k in range(3)], dim=2)
    height, width = video.shape[-2:]
    centres = pixel_centres(height, width, video.device).reshape(-1, 2).repeat(3, 1)
    times = torch.arange(3, device=video.device).repeat_interleave(height * width) / 2
    cell = cell_size(height, width)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    # The course's warm-up and cosine (train.lr_factor). Without the warm-up, Adam's first
    # full-size steps on the zero-initialised last layers kill their ReLUs (measured: the
    # model then stays at bicubic + blend).
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, recipe.steps, recipe.warmup)
    )
    history, losses = [], []
    batch = min(recipe.batch, len(train))
    for step in range(1, recipe.steps + 1):
        chosen = slice(None)  # every triplet, unless the clip has more than a batch
        if batch < len(train):
            chosen = torch.randperm(len(train), generator=generator, device=video.device)[:batch]
        # points per target frame: one draw over the three frames' pixels, all queried at once
        pick = torch.randint(
            len(times), (batch, 3 * recipe.points), generator=generator, device=video.device
        )
        truth = targets[chosen].gather(2, pick[:, None].expand(-1, 3, -1)).transpose(1, 2)
        encoded = model.encode(frame0[chosen], frame1[chosen])
        drawn = model.query(encoded, centres[pick], cell, times[pick])
        loss = F.l1_loss(drawn, truth)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.detach())
        if step % log_every == 0 or step == recipe.steps:
            history.append((step, torch.stack(losses).mean()))  # no host sync per step
            losses = []
    return model.eval(), [(step, loss.item()) for step, loss in history]


def videoinr_cached(video, config=None, recipe=DEFAULT_RECIPE, seed=0):
    """`fit_videoinr`, from the cache (the experiments' cache folder, under videoinr/) when
    this clip, configuration, recipe and seed were trained before with this source."""
    config = config or VideoINRConfig()
    digest = hashlib.sha256(video.detach().cpu().contiguous().numpy().tobytes())
    what = [asdict(config), asdict(recipe), seed, video.device.type, torch.__version__]
    digest.update(json.dumps(what + [source_version("videoinr")], sort_keys=True).encode())
    path = cache_folder() / "videoinr" / f"{digest.hexdigest()}.pt"
    if path.is_file():
        stored = torch.load(path, map_location=video.device, weights_only=True)
        model = VideoINR(config).to(video.device)
        model.load_state_dict(stored["state"])
        return model.eval(), [tuple(pair) for pair in stored["history"]]
    model, history = fit_videoinr(video, config, recipe, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": model.state_dict(), "history": history}, path)
    return model, history


# Lesson 05's held-out protocol (HNeRV's Table 6): NeRV and HNeRV trained on the even frames.
# The same rows and recipe as lesson 05's experiment, so `fit` reads the models it trained.
SPACE_TIME = register(
    Experiment(
        "videoinr-space-time",
        "VideoINR (CVPR 2022), lecture notes; HNeRV (CVPR 2023) Table 6's split",
        "held-out frames for lesson 13 (the notes give no numbers); "
        "`nerv-lessons space-time` adds VideoINR's rows",
        "hnerv",
        rows=(Row("NeRV", "baseline_nerv", epochs=2), Row("HNeRV", "hnerv", epochs=2)),
        claims=(("HNeRV", "NeRV"),),
        split="even",
    )
)
TESTS = ((2, 2), (3, 3))  # (space factor, frame gap): x2 at t = 1/2, and x3 at t = 1/3
VIDEOINR_ROWS = {"VideoINR": True, "VideoINR, the paper's way": False}  # label -> image_skip


def held_out_pairs(video: torch.Tensor, factor: int, gap: int):
    """The test: (inputs i and i + gap shrunk `factor` times, the true frames i + 1, the
    middle frames' indices) for the held-out triplet starts i that have frame i + gap."""
    _, held = triplet_split(len(video))
    starts = torch.tensor([i for i in held if i + gap < len(video)], device=video.device)
    small = shrink(video, factor)
    return small[starts], small[starts + gap], video[starts + 1], starts + 1


def floor_scores(video: torch.Tensor, factor: int, gap: int) -> dict:
    """PSNR of the two rows that learn nothing: bicubic + blend, and the mean of the frames
    VideoINR trains on."""
    frame0, frame1, truth, _ = held_out_pairs(video, factor, gap)
    train, _ = triplet_split(len(video))
    seen = sorted({i + k for i in train for k in range(3)})
    mean = video[seen].mean(0, keepdim=True).expand_as(truth)
    guesses = {
        "floor: bicubic + blend": bicubic_blend(frame0, frame1, *truth.shape[-2:], 1 / gap),
        "floor: mean frame": mean,
    }
    return {name: psnr(guess, truth).mean().item() for name, guess in guesses.items()}


@torch.no_grad()
def videoinr_score(model: VideoINR, video: torch.Tensor, factor: int, gap: int) -> float:
    frame0, frame1, truth, _ = held_out_pairs(video, factor, gap)
    return psnr(model(frame0, frame1, *truth.shape[-2:], 1 / gap), truth).mean().item()


def index_model_scores(scale, seed: int, device, video: torch.Tensor) -> dict:
    """Lesson 05's NeRV at the held-out frames' times and HNeRV† (the midpoint of the two
    neighbours' embeddings, decoded) on the x2 test's frames (trained by `fit` if need be)."""
    _, _, truth, middles = held_out_pairs(video, *TESTS[0])
    nerv = fit(SPACE_TIME, "NeRV", scale, seed, device, video)[0].model
    hnerv = fit(SPACE_TIME, "HNeRV", scale, seed, device, video)[0].model
    with torch.no_grad():
        drawn = reconstruct(nerv, video, frame_times)[middles]
        neighbours = [embed_frames(hnerv, video[middles + side]) for side in (-1, 1)]
        between = hnerv.decode(interpolate_embeddings(*neighbours, 0.5)).clamp(0, 1)
    return {
        "NeRV (time between)": psnr(drawn, truth).mean().item(),
        "HNeRV† (embedding between)": psnr(between, truth).mean().item(),
    }


def seed_scores(scale, seed: int, device="cpu", video=None, recipe=None) -> list[dict]:
    """One seed's rows: each VideoINR row trained (or read from the cache) and scored at
    every test, NeRV and HNeRV† (from the experiments cache) at the first."""
    video = clip_for(scale, device, video)
    recipe = recipe or VideoINRRecipe.at(scale)
    lines = []
    for label, skip in VIDEOINR_ROWS.items():
        model, _ = videoinr_cached(video, VideoINRConfig(image_skip=skip), recipe, seed)
        for factor, gap in TESTS:
            lines.append(_line(label, seed, factor, gap, videoinr_score(model, video, factor, gap)))
    for label, score in index_model_scores(scale, seed, device, video).items():
        lines.append(_line(label, seed, *TESTS[0], score))
    return lines


def _line(row: str, seed: int, factor: int, gap: int, score: float) -> dict:
    return dict(row=row, seed=seed, factor=factor, gap=gap, psnr=score)


def space_time_scores(scale, seeds=3, device="cpu", video=None, recipe=None) -> list[dict]:
    """Every row's PSNR per seed and test (the floors too, the same for every seed): what
    lesson 13's table and `nerv-lessons space-time` print."""
    video = clip_for(scale, device, video)
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    floors = {test: floor_scores(video, *test) for test in TESTS}
    lines = []
    for seed in seeds:  # the floors learn nothing: the same line for every seed
        lines += [_line(name, seed, *test, x) for test in TESTS for name, x in floors[test].items()]
        lines += seed_scores(scale, seed, device, video, recipe)
    return lines


# (better, worse) pairs the lesson judges: none is a number of the paper's (it gives none)
CLAIMS = (
    ("VideoINR", "floor: bicubic + blend"),
    ("VideoINR, the paper's way", "floor: bicubic + blend"),
    ("VideoINR", "VideoINR, the paper's way"),
    ("VideoINR", "HNeRV† (embedding between)"),
    ("VideoINR", "NeRV (time between)"),
)


def space_time_tables(lines: list[dict]) -> dict:
    """{(factor, gap): {row: its seed_row (mean, std, seeds)}}, from `space_time_scores`'s
    lines or the CSV they were saved to (rate_distortion.load_points)."""
    tables = {}
    for line in lines:
        test = (int(line["factor"]), int(line["gap"]))
        tables.setdefault(test, {}).setdefault(line["row"], []).append(line["psnr"])
    return {test: {k: seed_row(v) for k, v in rows.items()} for test, rows in tables.items()}
