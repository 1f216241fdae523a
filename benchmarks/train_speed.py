"""Training throughput of the course's `train` against the reference code's way of training.

NeRV-S (3.2M) on Bunny, at 720x1280 (the paper's size) and at the quick scale's 80x160:

- ours: `nerv_lessons.train.train`: the clip on the device, index batches, no per-step sync,
  bf16 autocast and channels-last on CUDA (fp32 on the CPU);
- reference: a torch DataLoader over a Dataset of frames held on the host, each batch copied
  to the device, fp32, `loss.item()` every step (a host sync), as the original NeRV code does.

Both train the same model from the same initial weights with Adam, batch 1, the same loss.

    python benchmarks/train_speed.py                  # CPU: 3 steps at 720x1280
    python benchmarks/train_speed.py --steps 50       # on a GPU
    python benchmarks/train_speed.py --out benchmarks/results/train_speed_cpu.txt
"""

import argparse
import copy
import platform
import time

import torch
from torch.utils.data import DataLoader, Dataset

from nerv_lessons.data import bunny_path, load_video
from nerv_lessons.nerv import NeRV, count_parameters, nerv_bunny
from nerv_lessons.scales import pick_device
from nerv_lessons.train import TrainConfig, frame_times, lr_factor, make_loss, train


class FrameDataset(Dataset):
    """Frames on the host, one (time, frame) pair per item: how the reference code feeds NeRV."""

    def __init__(self, frames: torch.Tensor):
        self.frames = frames

    def __len__(self):
        return len(self.frames)

    def __getitem__(self, index):
        return torch.tensor(index / max(len(self.frames) - 1, 1)), self.frames[index]


def reference_loop(
    model,
    frames,
    epochs,
    loss_name,
    device,
    batch_size=1,
    lr=5e-4,
    betas=(0.5, 0.999),
    warmup=0.2,
    feed_frames=False,
):
    """A plain loop: DataLoader, copy to device, fp32, .item() each step. Returns seconds.

    The learning rate follows the same per-step warm-up + cosine as ours (`lr_factor`; NeRV's
    warm-up is 0.2, HNeRV's 0.1). The model takes the batch's times (NeRV), or with
    feed_frames=True the frames (HNeRV)."""
    generator = torch.Generator().manual_seed(0)
    loader = DataLoader(
        FrameDataset(frames), batch_size=batch_size, shuffle=True, generator=generator
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    total = epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(min(step, total - 1), total, warmup)
    )
    loss_function = make_loss(loss_name)
    model.to(device).train()
    torch.backends.cudnn.benchmark = True  # as the reference code (ours sets it on CUDA too)
    start = time.perf_counter()
    for _ in range(epochs):
        for times, target in loader:
            times, target = times.to(device), target.to(device)
            loss = loss_function(model(target if feed_frames else times), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            _ = loss.item()  # the reference logs every step: a host sync each time
    sync(device)
    return time.perf_counter() - start


def sync(device):
    """Wait for the GPU's queued work, so the clock stops when the work does."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ours(model, frames, epochs, loss_name, device, model_input=frame_times, **changes):
    """The course's loop on the same work (TrainConfig changes as given). Returns seconds."""
    video = frames.to(device)
    config = TrainConfig(
        epochs=epochs, loss=loss_name, progress=False, **({"batch_size": 1} | changes)
    )
    start = time.perf_counter()
    train(model, video, config, model_input=model_input)
    sync(device)
    return time.perf_counter() - start


def compare(name, config, frames, epochs, device, loss_name):
    torch.manual_seed(0)
    model = NeRV(config)
    steps = epochs * len(frames)
    seconds_ref = reference_loop(copy.deepcopy(model), frames, epochs, loss_name, device)
    seconds_ours = ours(copy.deepcopy(model), frames, epochs, loss_name, device)
    rate_ref, rate_ours = steps / seconds_ref, steps / seconds_ours
    return (
        f"{name:<26} {count_parameters(model) / 1e6:5.2f}M {steps:6d} steps | "
        f"reference {rate_ref:8.2f} frames/s ({seconds_ref / epochs:7.2f} s/epoch) | "
        f"ours {rate_ours:8.2f} frames/s ({seconds_ours / epochs:7.2f} s/epoch) | "
        f"ours/reference {rate_ours / rate_ref:5.2f}x"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="frames (= steps) at 720x1280")
    parser.add_argument("--quick-epochs", type=int, default=3, help="epochs over 16 frames")
    parser.add_argument("--loss", default="fusion", help="the loss both loops use")
    parser.add_argument("--out", help="also write the report to this file")
    args = parser.parse_args()
    device = pick_device()
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    lines = [
        f"device: {device}{gpu} | torch {torch.__version__} | threads {torch.get_num_threads()} "
        f"| {platform.processor() or platform.machine()}",
        f"loss {args.loss}, batch 1; on CUDA ours adds bf16 autocast + channels-last "
        "(cuDNN autotuner on for both); CPU: fp32 both",
    ]
    print("\n".join(lines), flush=True)
    full = load_video(bunny_path(), frames=args.steps, crop=None)  # 720x1280, as NeRV-S
    line = compare("NeRV-S 720x1280", nerv_bunny("S"), full, 1, device, args.loss)
    print(line, flush=True)
    lines.append(line)
    quick = load_video(bunny_path(), frames=16, size=(80, 160))
    config = nerv_bunny("S", height=80, width=160)  # NeRV-S widths; the grid shrinks to 1x2
    line = compare("NeRV-S widths, 80x160", config, quick, args.quick_epochs, device, args.loss)
    print(line, flush=True)
    lines.append(line)
    if args.out:
        with open(args.out, "w") as file:
            file.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
