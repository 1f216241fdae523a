# Generated from notebooks/03_nerv.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""The course's one training loop: a model, a clip on the device, a config -> a history.

    history = train(model, video, TrainConfig.nerv(scale), model_input=frame_times)

The clip lives on the device as one tensor and batches are index tensors; losses stay on the
device between log points; Adam with warm-up + cosine per step; channels-last memory while
training (then back to the default layout); on CUDA only: bf16/fp16 autocast and cuDNN
autotuning. `evaluate` gives per-frame PSNR and MS-SSIM;
`save_checkpoint` and `load_checkpoint` keep model, configs, optimizer and epoch.
`train(..., mask=known)` counts only the known pixels (1 = known, 0 = hole) in pixel losses,
for inpainting (lesson 09); a loss that turns non-finite stops the run with a RuntimeError.
Introduced in lesson 03 (notebooks/03_nerv.ipynb).
"""

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from nerv_lessons.data import check_frames
from nerv_lessons.metrics import ms_ssim, ms_ssim_window, psnr


def _known_mean(errors: torch.Tensor, known: torch.Tensor | None) -> torch.Tensor:
    """The mean of per-pixel errors (B, 3, H, W), over all pixels or only the known ones
    (`known` is (B, 1 or 3, H, W), 1 = known, 0 = hole): holes add nothing, not even zeros.

    Dividing by the known-pixel count is our choice: HNeRV's code takes loss(out * M, gt * M),
    a mean over all pixels with the holes as zeros, which is this mean times the batch's known
    fraction (about 0.99 for the five boxes): the same gradients, slightly smaller."""
    if known is None:
        return errors.mean()
    known = known.expand_as(errors)
    return (errors * known).sum() / known.sum()


def l1_loss(pred: torch.Tensor, target: torch.Tensor, known=None) -> torch.Tensor:
    return _known_mean((pred - target).abs(), known)


def l2_loss(pred: torch.Tensor, target: torch.Tensor, known=None) -> torch.Tensor:
    return _known_mean((pred - target).pow(2), known)


# The SSIM losses compute what pytorch-msssim's ssim and ms_ssim compute (a unit test holds
# values and gradients equal), and are cheaper to train with: the library blurs each of the
# five local statistics apart, 50 small convolutions per MS-SSIM; stacked into one map, they
# take 10, which halves the loss's time on a CPU (measured: 30 -> 15 ms a step at 80x160).
# Scores stay the library's (metrics.ms_ssim).
def gaussian_window(size: int, sigma: float = 1.5) -> torch.Tensor:
    """The 1-D Gaussian window of SSIM (sigma 1.5, summing to 1)."""
    offsets = torch.arange(size, dtype=torch.float) - size // 2
    window = torch.exp(-(offsets**2) / (2 * sigma**2))
    return window / window.sum()


def _ssim_and_contrast(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor):
    """SSIM and its contrast-structure term per image and channel (B, C), over the valid
    (unpadded) Gaussian windows, the five local statistics blurred in one pass."""
    channels = x.shape[1]
    stats = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    rows = window.to(x).view(1, 1, 1, -1).expand(5 * channels, 1, 1, -1)
    stats = F.conv2d(stats, rows.transpose(-1, -2), groups=5 * channels)  # down the rows
    stats = F.conv2d(stats, rows, groups=5 * channels)  # then along them
    mean_x, mean_y, xx, yy, xy = stats.split(channels, dim=1)
    c1, c2 = 0.01**2, 0.03**2  # (K1 L)^2 and (K2 L)^2 with the data range L = 1
    covariance = xy - mean_x * mean_y
    contrast = (2 * covariance + c2) / (xx - mean_x**2 + yy - mean_y**2 + c2)
    luminance = (2 * mean_x * mean_y + c1) / (mean_x**2 + mean_y**2 + c1)
    return (luminance * contrast).flatten(2).mean(-1), contrast.flatten(2).mean(-1)


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # five scales, fine to coarse


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (11x11 Gaussian window, as the reference code): 0 for identical frames."""
    return 1 - _ssim_and_contrast(pred, target, gaussian_window(11))[0].mean()


def ms_ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - MS-SSIM, with the window metrics.ms_ssim_window picks for this frame size."""
    window = gaussian_window(ms_ssim_window(*pred.shape[-2:]))
    terms = []
    for scale in range(len(MS_SSIM_WEIGHTS)):
        ssim, contrast = _ssim_and_contrast(pred, target, window)
        if scale < len(MS_SSIM_WEIGHTS) - 1:  # coarser: halve, padding an odd side
            terms.append(torch.relu(contrast))
            padding = [side % 2 for side in pred.shape[-2:]]
            pred = F.avg_pool2d(pred, 2, padding=padding)
            target = F.avg_pool2d(target, 2, padding=padding)
    terms.append(torch.relu(ssim))  # the coarsest scale's whole SSIM
    weights = pred.new_tensor(MS_SSIM_WEIGHTS).view(-1, 1, 1)
    return 1 - torch.prod(torch.stack(terms) ** weights, dim=0).mean()


LOSSES = {"l1": l1_loss, "l2": l2_loss, "ssim": ssim_loss, "ms-ssim": ms_ssim_loss}
# Losses of single pixels, which a mask can restrict to the known pixels. SSIM compares 11x11
# windows, and a window that straddles a hole would still see the hole: not maskable here.
PIXEL_LOSSES = ("l1", "l2")
# NeRV's loss ("Fusion6" in its code): 0.7 L1 + 0.3 (1 - SSIM).
NAMED_LOSSES = {"fusion": "0.7*l1 + 0.3*ssim"}


def make_loss(name: str, masked: bool = False) -> Callable[..., torch.Tensor]:
    """The loss called `name`: one of l1, l2, ssim, ms-ssim, fusion, or a weighted sum of
    them such as "0.7*l1 + 0.3*ssim" (a bare name has weight 1). Computed in float32.

    The loss is called as loss(pred, target) or, when `masked`, loss(pred, target, known)
    with known (B, 1 or 3, H, W), 1 = known pixel: the paper's (1 - M) with M = 1 on holes."""
    terms = []
    for term in NAMED_LOSSES.get(name.strip().lower(), name).split("+"):
        weight, _, key = term.strip().lower().rpartition("*")
        if key.strip() not in LOSSES:
            choices = ", ".join([*LOSSES, *NAMED_LOSSES])
            raise ValueError(
                f"unknown loss {key.strip()!r} in {name!r}: choose from {choices}, "
                'or a weighted sum such as "0.7*l1 + 0.3*ssim"'
            )
        if masked and key.strip() not in PIXEL_LOSSES:
            raise ValueError(
                f"loss {name!r} has a {key.strip()!r} term, which a mask cannot restrict to "
                "the known pixels (its windows straddle the holes): use l1 or l2 or a "
                'weighted sum of them, e.g. loss="l2" as HNeRV\'s inpainting'
            )
        terms.append((float(weight) if weight else 1.0, LOSSES[key.strip()]))

    def loss(pred: torch.Tensor, target: torch.Tensor, *known) -> torch.Tensor:
        pred, target = pred.float(), target.float()
        return sum(weight * function(pred, target, *known) for weight, function in terms)

    return loss


def lr_factor(step: int, total_steps: int, warmup: float) -> float:
    """The learning rate of `step` as a fraction of the peak: a linear warm-up from 0.1 over
    the first `warmup` fraction of the steps, then a cosine from 1 down to 0."""
    progress = step / total_steps
    if progress < warmup:
        return 0.1 + 0.9 * progress / warmup
    return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))


AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# Each paper's recipe as its code runs it on Bunny (epochs come from the scale).
RECIPES = {
    "nerv": dict(lr=5e-4, batch_size=1, loss="fusion", warmup=0.2, betas=(0.5, 0.999)),
    "hnerv": dict(lr=1e-3, batch_size=2, loss="l2", warmup=0.1, betas=(0.9, 0.999)),
    # Paper 001's README: lr 2e-3, batch 1 (its code's default), L2 as its text says, and
    # HNeRV's schedule and Adam, which its code keeps.
    "two_stream": dict(lr=2e-3, batch_size=1, loss="l2", warmup=0.1, betas=(0.9, 0.999)),
    # HiNeRV's Bunny config (lesson 11): Adam lr 2e-3, 0.7 L1 + 0.3 MS-SSIM, 30 of 300 epochs
    # warming up, gradients clipped to norm 1; its batch of 144 80x80 patches is one 720p
    # frame's pixels: batch 1 here.
    "hinerv": dict(
        lr=2e-3,
        batch_size=1,
        loss="0.7*l1 + 0.3*ms-ssim",
        warmup=0.1,
        betas=(0.9, 0.999),
        max_norm=1.0,
    ),
}


@dataclass
class TrainConfig:
    """How to train. The defaults are NeRV's Bunny set-up; build a paper's recipe with
    TrainConfig.nerv(scale), .hnerv(scale) or .recipe(name, scale)."""

    epochs: int = 300  # passes over the clip (NeRV on Bunny: 300; its ablations: 150 on UVG)
    lr: float = 5e-4  # peak learning rate (NeRV: 5e-4; HNeRV: 1e-3)
    batch_size: int = 1  # frames per step (NeRV: 1; HNeRV: 2)
    loss: str = "fusion"  # 0.7 L1 + 0.3 (1 - SSIM), NeRV's; see make_loss for the choices
    warmup: float = 0.2  # fraction of the steps spent warming up (NeRV: 0.2; HNeRV: 0.1)
    betas: tuple[float, float] = (0.5, 0.999)  # NeRV's Adam betas (beta1 0.5, not 0.9)
    seed: int = 0  # seeds the batch order, so a run repeats exactly (on the same device)
    amp: str = "bf16"  # autocast dtype on CUDA: "bf16", "fp16" or "off"; the CPU runs fp32
    channels_last: bool = True  # NHWC memory for the convolutions while training (any device)
    log_every: int = 50  # steps between progress-bar updates (each one syncs with the device)
    progress: bool = True  # show a tqdm progress bar
    max_norm: float | None = None  # clip each step's gradient to this norm (HiNeRV: 1.0)

    def __post_init__(self):
        make_loss(self.loss)  # raises on an unknown loss, listing the choices
        if self.max_norm is not None and not self.max_norm > 0:
            raise ValueError(f"max_norm={self.max_norm}: clip to a norm > 0, or None for no clip")
        if self.amp not in (*AMP_DTYPES, "off"):
            raise ValueError(f"unknown amp {self.amp!r}: choose bf16, fp16 or off")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(
                f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}"
            )
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup is a fraction of the steps in [0, 1), got {self.warmup}")
        self.betas = tuple(self.betas)

    @classmethod
    def recipe(cls, paper: str, scale=None, **changes) -> "TrainConfig":
        """The training recipe of `paper` (a key of RECIPES); with a scale, its epochs, its
        lr factor and (when it sets one) its batch size; then `changes`, which win."""
        if paper not in RECIPES:
            raise ValueError(f"unknown recipe {paper!r}: choose one of {', '.join(RECIPES)}")
        values = dict(RECIPES[paper])
        if scale is not None:
            values["epochs"] = scale.epochs
            values["lr"] *= scale.lr_factor
            if scale.batch_size is not None:
                values["batch_size"] = scale.batch_size
        return cls(**(values | changes))

    @classmethod
    def nerv(cls, scale=None, **changes) -> "TrainConfig":
        """NeRV's recipe: Adam (0.5, 0.999), lr 5e-4, batch 1, fusion loss, 20 % warm-up."""
        return cls.recipe("nerv", scale, **changes)

    @classmethod
    def hnerv(cls, scale=None, **changes) -> "TrainConfig":
        """HNeRV's recipe: Adam (0.9, 0.999), lr 1e-3, batch 2, L2 loss, 10 % warm-up."""
        return cls.recipe("hnerv", scale, **changes)


def frame_times(video: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """The normalized time i / (T - 1) in [0, 1] of each frame index: the input of NeRV."""
    return indices.float() / max(len(video) - 1, 1)


def _check_indices(indices: torch.Tensor) -> None:
    if indices.numel() == 0:
        raise ValueError("empty batch of frame indices: pass at least one index")


def _device_context(device: torch.device, amp: str):
    """bf16/fp16 autocast on CUDA; plain fp32 anywhere else."""
    if device.type != "cuda" or amp == "off":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=AMP_DTYPES[amp])


def predict(
    model: torch.nn.Module,
    video: torch.Tensor,
    indices: torch.Tensor,
    model_input: Callable = frame_times,
    amp: str = "off",
) -> torch.Tensor:
    """The model's frames for these indices, (B, 3, H, W) in float32."""
    _check_indices(indices)
    with _device_context(video.device, amp):
        return model(model_input(video, indices)).float()


def train(
    model: torch.nn.Module,
    video: torch.Tensor,
    config: TrainConfig,
    model_input: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = frame_times,
    mask: torch.Tensor | None = None,
) -> dict[str, list[float]]:
    """Fit `model` to `video` (T x 3 x H x W in [0, 1], on the device to train on).

    model_input(video, indices) gives what model.forward takes for a batch of frame indices:
    `frame_times` for NeRV, the frames themselves for HNeRV. Returns the history:
    epoch, loss, psnr (training), lr and seconds (since the start), one entry per epoch.

    mask: None (every pixel counts) or (T, 1 or 3, H, W) on the video's device with
    1 = known pixel and 0 = hole; the loss and the training PSNR then count known pixels
    only. The model's input is still model_input's, so for inpainting pass the masked
    frames there (lesson 09). A loss that turns NaN or infinite raises a RuntimeError,
    checked every `log_every` steps and at the end (no extra sync per step).
    """
    check_frames(video, "video")
    device, frames = video.device, len(video)
    if mask is not None:
        check_mask(mask, video)
    loss_function = make_loss(config.loss, masked=mask is not None)
    cuda = device.type == "cuda"
    model.to(device).train()
    if config.channels_last:  # faster on CUDA and, measured, on the CPU for NeRV
        model.to(memory_format=torch.channels_last)
    if cuda:
        # Every step has the same shapes, so timing cuDNN's algorithms once pays off (the
        # reference code sets this too).
        torch.backends.cudnn.benchmark = True
    # Not fused=True: the fused kernel refuses a gradient whose strides differ from its
    # weight's, as they can in size-1 dimensions such as a 1x1 conv's (pytorch#106951).
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    steps_per_epoch = math.ceil(frames / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(min(step, total_steps - 1), total_steps, config.warmup)
    )
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and config.amp == "fp16")
    generator = torch.Generator(device).manual_seed(config.seed)

    def step(indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        target = video[indices]  # (B, 3, H, W), already on the device
        pred = predict(model, video, indices, model_input, config.amp if cuda else "off")
        if pred.shape != target.shape:
            raise ValueError(
                f"the model outputs {tuple(pred.shape)} for frames of {tuple(target.shape)}: "
                "build the model for the video's frame size"
            )
        # With a mask (lesson 09), only the known pixels count, in the loss and in the PSNR.
        known = () if mask is None else (mask[indices],)
        loss = loss_function(pred, target, *known)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if config.max_norm is not None:  # on the device: no sync with the host
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_norm)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        return loss.detach(), l2_loss(pred.detach(), target, *known)

    history = {"epoch": [], "loss": [], "psnr": [], "lr": [], "seconds": []}
    bar = tqdm(total=total_steps, disable=not config.progress, unit="step", leave=False)
    start, done = time.perf_counter(), 0
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(frames, device=device, generator=generator)
        losses, errors = [], []
        for indices in order.split(config.batch_size):
            loss, error = step(indices)
            losses.append(loss)
            errors.append(error)
            done += 1
            if done % config.log_every == 0:
                # A sync every N steps: is the loss still finite? NaN weights stay NaN, so
                # the latest loss tells; the progress bar reads the same number.
                if not math.isfinite(value := loss.item()):
                    _stop_diverged(
                        history["loss"] + [torch.stack(losses).mean()], config, mask is not None
                    )
                if config.progress:
                    bar.update(config.log_every)
                    bar.set_postfix(epoch=epoch, loss=f"{value:.4f}")
        epoch_loss, epoch_mse = torch.stack(losses).mean(), torch.stack(errors).mean()
        history["epoch"].append(epoch)
        history["loss"].append(epoch_loss)  # tensors until the end: no sync per epoch either
        history["psnr"].append(-10 * torch.log10(epoch_mse))
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["seconds"].append(time.perf_counter() - start)  # on CUDA: when queued
    bar.update(done - bar.n)
    bar.close()
    if cuda:
        torch.cuda.synchronize()
        history["seconds"][-1] = time.perf_counter() - start  # the true end of the last epoch
    if not torch.isfinite(torch.stack(history["loss"])).all():  # since the last check
        _stop_diverged(history["loss"], config, mask is not None)
    for key in ("loss", "psnr"):
        history[key] = torch.stack(history[key]).tolist()  # one sync for the whole run
    # Back to the default layout: a trained model and the same weights loaded from a file
    # then compute (and round) alike.
    model.to(memory_format=torch.contiguous_format).eval()
    return history


def check_mask(mask: torch.Tensor, video: torch.Tensor) -> None:
    """A training mask: (T, 1 or 3, H, W) of 0s and 1s on the video's device, no empty frame."""
    frames, _, height, width = video.shape
    if mask.dim() != 4 or mask.shape[1] not in (1, 3) or mask.shape[0] != frames:
        raise ValueError(
            f"mask is {tuple(mask.shape)}, the video {tuple(video.shape)}: pass a mask of "
            f"({frames}, 1, {height}, {width}) or ({frames}, 3, {height}, {width}), "
            "1 = known pixel, 0 = hole"
        )
    if mask.shape[2:] != video.shape[2:]:
        raise ValueError(
            f"mask frames are {tuple(mask.shape[2:])}, video frames {(height, width)}: "
            "make the mask at the video's frame size"
        )
    if mask.device != video.device:
        raise ValueError(f"mask is on {mask.device}, the video on {video.device}: move it")
    if ((mask != 0) & (mask != 1)).any():
        raise ValueError("mask holds values other than 0 and 1: 1 = known pixel, 0 = hole")
    empty = (mask.flatten(1).sum(1) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"frames {empty[:5]} of the mask have no known pixel, so their loss is 0/0: "
            "every frame needs some known pixels (shrink the holes or drop those frames)"
        )


def _stop_diverged(
    epoch_losses: list[torch.Tensor], config: TrainConfig, masked: bool = False
) -> None:
    """Raise the error that says where training diverged and what to try."""
    finite = torch.isfinite(torch.stack(epoch_losses)).tolist()
    epoch = finite.index(False) + 1 if False in finite else len(finite)
    hint = "; masked (inpainting) runs of HNeRV are reported to diverge at lr 1e-3"
    raise RuntimeError(
        f"training diverged: the loss became NaN or infinite in epoch {epoch} of "
        f"{config.epochs} at peak lr {config.lr:g}. Lower the learning rate (try "
        f"lr={config.lr / 5:g}) or lengthen the warm-up" + (hint if masked else "")
    )


@torch.no_grad()
def reconstruct(
    model: torch.nn.Module, video: torch.Tensor, model_input: Callable = frame_times, chunk=8
) -> torch.Tensor:
    """The model's copy of the whole clip, T x 3 x H x W float32 on the clip's device."""
    model.eval()
    indices = torch.arange(len(video), device=video.device)
    parts = [predict(model, video, part, model_input) for part in indices.split(chunk)]
    # NeRV's head is already in [0, 1]; the clamp only guards other models' heads.
    return torch.cat(parts).clamp(0, 1)


def evaluate(
    model: torch.nn.Module, video: torch.Tensor, model_input: Callable = frame_times, chunk=8
) -> dict[str, torch.Tensor]:
    """Per-frame quality of the model's copy of `video`: {"psnr": (T,), "ms_ssim": (T,)}."""
    check_frames(video, "video")
    copy = reconstruct(model, video, model_input, chunk)
    return {"psnr": psnr(copy, video).cpu(), "ms_ssim": ms_ssim(copy, video).cpu()}


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    configs: dict | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    epoch: int | None = None,
) -> Path:
    """Save model weights, configs (dataclasses become dicts), optimizer state and epoch."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    configs = {k: asdict(v) if is_dataclass(v) else v for k, v in (configs or {}).items()}
    checkpoint = {
        "model": model.state_dict(),
        "configs": configs,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "epoch": epoch,
    }
    torch.save(checkpoint, path)
    return path


def load_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict:
    """Load a checkpoint into `model` (and `optimizer`); returns {"configs": ..., "epoch": ...}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}: check the path (save_checkpoint wrote it?)"
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a checkpoint torch can read ({error})") from error
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise ValueError(f"{path} is not a checkpoint from save_checkpoint (no 'model' entry)")
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as error:
        raise ValueError(
            f"{path} does not fit this model; it was saved with configs "
            f"{checkpoint.get('configs')}. Build the model from those. ({error})"
        ) from error
    if optimizer is not None:
        if checkpoint.get("optimizer") is None:
            raise ValueError(f"{path} holds no optimizer state: save it with optimizer=...")
        optimizer.load_state_dict(checkpoint["optimizer"])
    return {"configs": checkpoint.get("configs", {}), "epoch": checkpoint.get("epoch")}
