# Generated from notebooks/03_nerv.py by `python -m nerv_lessons._export`.
# Edit the lesson, not this file: a test fails when the two differ.
"""The course's one training loop: a model, a clip on the device, a config -> a history.

    history = train(model, video, TrainConfig.for_scale(scale), model_input=frame_times)

The clip lives on the device as one tensor and batches are index tensors; losses stay on the
device between log points; Adam with warm-up + cosine per step; bf16/fp16 autocast and
channels-last on CUDA only. `evaluate` gives per-frame PSNR and MS-SSIM; `save_checkpoint` and
`load_checkpoint` keep model, configs, optimizer and epoch. Introduced in lesson 03
(notebooks/03_nerv.ipynb).
"""

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

import torch
from pytorch_msssim import ms_ssim as _pytorch_ms_ssim
from pytorch_msssim import ssim as _pytorch_ssim
from tqdm.auto import tqdm

from nerv_lessons.data import check_frames
from nerv_lessons.metrics import ms_ssim, ms_ssim_window, psnr


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).abs().mean()


def l2_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).pow(2).mean()


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - SSIM (11x11 Gaussian window, as the reference code): 0 for identical frames."""
    return 1 - _pytorch_ssim(pred, target, data_range=1.0, size_average=True)


def ms_ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - MS-SSIM, with the window metrics.ms_ssim_window picks for this frame size."""
    window = ms_ssim_window(*pred.shape[-2:])
    return 1 - _pytorch_ms_ssim(pred, target, data_range=1.0, size_average=True, win_size=window)


LOSSES = {"l1": l1_loss, "l2": l2_loss, "ssim": ssim_loss, "ms-ssim": ms_ssim_loss}
# NeRV's loss ("Fusion6" in its code): 0.7 L1 + 0.3 (1 - SSIM).
NAMED_LOSSES = {"fusion": "0.7*l1 + 0.3*ssim"}


def make_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss called `name`: one of l1, l2, ssim, ms-ssim, fusion, or a weighted sum of
    them such as "0.7*l1 + 0.3*ssim" (a bare name has weight 1). Computed in float32."""
    terms = []
    for term in NAMED_LOSSES.get(name.strip().lower(), name).split("+"):
        weight, _, key = term.strip().lower().rpartition("*")
        if key.strip() not in LOSSES:
            choices = ", ".join([*LOSSES, *NAMED_LOSSES])
            raise ValueError(
                f"unknown loss {key.strip()!r} in {name!r}: choose from {choices}, "
                'or a weighted sum such as "0.7*l1 + 0.3*ssim"'
            )
        terms.append((float(weight) if weight else 1.0, LOSSES[key.strip()]))

    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = pred.float(), target.float()
        return sum(weight * function(pred, target) for weight, function in terms)

    return loss


def lr_factor(step: int, total_steps: int, warmup: float) -> float:
    """The learning rate of `step` as a fraction of the peak: a linear warm-up from 0.1 over
    the first `warmup` fraction of the steps, then a cosine from 1 down to 0."""
    progress = step / total_steps
    if progress < warmup:
        return 0.1 + 0.9 * progress / warmup
    return 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))


AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainConfig:
    """How to train. The defaults are NeRV's Bunny set-up, except the epochs."""

    epochs: int = 300  # passes over the clip (NeRV on Bunny: 300; its ablations: 150 on UVG)
    lr: float = 5e-4  # peak learning rate (NeRV: 5e-4; HNeRV: 1e-3)
    batch_size: int = 1  # frames per step (NeRV: 1; HNeRV: 2)
    loss: str = "fusion"  # 0.7 L1 + 0.3 (1 - SSIM), NeRV's; see make_loss for the choices
    warmup: float = 0.2  # fraction of the steps spent warming up (NeRV: 0.2; HNeRV: 0.1)
    betas: tuple[float, float] = (0.5, 0.999)  # NeRV's Adam betas (beta1 0.5, not 0.9)
    seed: int = 0  # seeds the batch order, so a run repeats exactly (on the same device)
    amp: str = "bf16"  # autocast dtype on CUDA: "bf16", "fp16" or "off"; the CPU runs fp32
    channels_last: bool = True  # NHWC memory for convolutions on CUDA (ignored on the CPU)
    log_every: int = 50  # steps between progress-bar updates (each one syncs with the device)
    progress: bool = True  # show a tqdm progress bar

    def __post_init__(self):
        make_loss(self.loss)  # raises on an unknown loss, listing the choices
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
    def for_scale(cls, scale, **changes) -> "TrainConfig":
        """The scale's epochs and batch size; anything else as given."""
        return cls(**({"epochs": scale.epochs, "batch_size": scale.batch_size} | changes))


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
) -> dict[str, list[float]]:
    """Fit `model` to `video` (T x 3 x H x W in [0, 1], on the device to train on).

    model_input(video, indices) gives what model.forward takes for a batch of frame indices:
    `frame_times` for NeRV, the frames themselves for HNeRV. Returns the history:
    epoch, loss, psnr (training), lr and seconds (since the start), one entry per epoch.
    """
    check_frames(video, "video")
    device, frames = video.device, len(video)
    loss_function = make_loss(config.loss)
    cuda = device.type == "cuda"
    model.to(device).train()
    if cuda and config.channels_last:
        model.to(memory_format=torch.channels_last)
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
        # Lesson 09 (inpainting) weighs this loss with a mask: this is the one place to do so.
        loss = loss_function(pred, target)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        return loss.detach(), (pred.detach() - target).pow(2).mean()

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
            if config.progress and done % config.log_every == 0:
                bar.update(config.log_every)
                bar.set_postfix(epoch=epoch, loss=f"{loss.item():.4f}")  # a sync, every N steps
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
    for key in ("loss", "psnr"):
        history[key] = torch.stack(history[key]).tolist()  # one sync for the whole run
    model.eval()
    return history


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
