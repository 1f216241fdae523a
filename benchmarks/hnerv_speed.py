"""HNeRV-1.5M speed: training frames/s (the course's `train` against a plain reference loop,
with the PSNR each reaches after the same epochs) and decoding frames/s (the decoder alone on
a batch of embeddings, as HNeRV's Tables 12-13).

The model is the paper's Bunny HNeRV-1.5M, `hnerv_budget(1.5, 132)` (c2 = 68, r = 1.2), at
640x1280; at another frame size it keeps those widths and takes `hnerv_strides` for that size.
The paper's decoding speeds (Tables 12-13, 332.7 frames/s at 35 dB on an RTX 2080 Ti) were
measured with channel reduction r = 1.5, whose later blocks are narrower; ours uses r = 1.2,
the 1.5M model of Table 2, so expect it to decode somewhat slower than the paper's model.

- ours: `nerv_lessons.train.train` with HNeRV's recipe (Adam 0.9/0.999, lr 1e-3, L2, batch 2,
  warm-up 0.1 then cosine, per step): clip on the device, index batches, no per-step sync,
  bf16 autocast + channels-last on CUDA, fp32 on the CPU;
- reference: `train_speed.reference_loop`, the original code's way: frames from a DataLoader each
  step, copied to the device, fp32, `loss.item()` every step; the same recipe and schedule.
  Same initial weights; each run then scored on the clip with `nerv_lessons.train.evaluate`.
- decoding: decoder only, a batch of real embeddings, synchronised before the clock stops
  (HNeRV's tables time the forward pass only); fp32, and on CUDA also bf16.

    python benchmarks/hnerv_speed.py                           # CPU: a few steps at 640x1280
    python benchmarks/hnerv_speed.py --steps 132 --epochs 10 --quick-epochs 50 \\
        --decode-batch 132 --repeats 10                        # on a GPU
    python benchmarks/hnerv_speed.py --scale lesson            # 320x640 instead of 640x1280
    python benchmarks/hnerv_speed.py --out benchmarks/results/hnerv_speed_cpu.txt
"""

import argparse
import copy
import os
import platform
import time
from dataclasses import replace

import torch
from train_speed import ours, reference_loop, sync  # the same two loops as NeRV's benchmark

from nerv_lessons.data import bunny_path, load_video
from nerv_lessons.hnerv import (
    HNeRV,
    embed_frames,
    frames_in,
    hnerv_budget,
    hnerv_size,
    hnerv_strides,
)
from nerv_lessons.nerv import count_parameters
from nerv_lessons.scales import SCALES, pick_device
from nerv_lessons.train import RECIPES, evaluate

# HNeRV's training (its Bunny command: -b 2 --lr 0.001, L2, warm-up 0.1 then cosine).
RECIPE = RECIPES["hnerv"]  # lr 1e-3, Adam (0.9, 0.999), L2, batch 2, warm-up 0.1


def hnerv_at(height, width):
    """HNeRV-1.5M's widths (c2 68, r 1.2, K 1..5) at this frame size."""
    config = hnerv_budget(1.5, 132)
    if (height, width) != (config.height, config.width):
        strides = hnerv_strides(height, width)
        config = replace(config, height=height, width=width, strides=strides)
    return config


def course_loop(model, frames, epochs, device):
    """The course's `train` with HNeRV's recipe on the same work. Returns seconds."""
    recipe = {key: value for key, value in RECIPE.items() if key != "loss"}
    return ours(model, frames, epochs, RECIPE["loss"], device, frames_in, **recipe)


def clip_psnr(model, frames, device):
    """Mean PSNR of the trained model's copy of the clip (fp32, `evaluate`)."""
    return evaluate(model, frames.to(device), frames_in)["psnr"].mean().item()


@torch.no_grad()
def decode_rate(model, frames, batch, repeats, device, amp="off"):
    """Frames/s of the decoder alone on a batch of embeddings (one warm-up call first)."""
    model.to(device).eval()
    embeddings = embed_frames(model, frames[:batch].to(device))  # real embeddings, made once
    context = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if amp == "bf16" and device.type == "cuda"
        else torch.autocast("cpu", enabled=False)
    )
    with context:
        model.decode(embeddings)  # warm-up: kernels chosen, memory allocated
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            model.decode(embeddings)
        sync(device)
    return repeats * len(embeddings) / (time.perf_counter() - start)


def measure(name, frames, epochs, device, decode_batch, repeats):
    height, width = frames.shape[-2:]
    config = hnerv_at(height, width)
    torch.manual_seed(0)
    model = HNeRV(config)
    steps = epochs * len(frames)
    # One untimed step first, so neither loop pays for the first call's set-up alone.
    course_loop(copy.deepcopy(model), frames[:2], 1, device)
    reference_model, our_model = copy.deepcopy(model), copy.deepcopy(model)
    seconds_ref = reference_loop(
        reference_model,
        frames,
        epochs,
        RECIPE["loss"],
        device,
        feed_frames=True,
        **{key: RECIPE[key] for key in ("batch_size", "lr", "betas", "warmup")},
    )
    seconds_ours = course_loop(our_model, frames, epochs, device)
    psnr_ref = clip_psnr(reference_model, frames, device)
    psnr_ours = clip_psnr(our_model, frames, device)
    rate_ref, rate_ours = steps / seconds_ref, steps / seconds_ours
    size = hnerv_size(config, 132) / 1e6
    lines = [
        f"{name:<28} size {size:.2f}M for 132 frames "
        f"(decoder {count_parameters(model.decoder) / 1e6:.2f}M, "
        f"encoder {count_parameters(model.encoder) / 1e6:.2f}M), strides {config.strides}",
        f"  training, {len(frames)} frames x {epochs} epochs, batch {RECIPE['batch_size']}: "
        f"reference {rate_ref:8.2f} frames/s | ours {rate_ours:8.2f} frames/s | "
        f"ours/reference {rate_ours / rate_ref:5.2f}x",
        f"  PSNR on the clip after {epochs} epochs: reference {psnr_ref:6.2f} dB | "
        f"ours {psnr_ours:6.2f} dB | ours - reference {psnr_ours - psnr_ref:+.2f} dB",
    ]
    batch = min(decode_batch, len(frames))
    amps = ["off", "bf16"] if device.type == "cuda" else ["off"]
    for amp in amps:
        rate = decode_rate(copy.deepcopy(model), frames, batch, repeats, device, amp)
        label = "fp32" if amp == "off" else "bf16"
        lines.append(
            f"  decoding ({label}, decoder only, batch {batch}, {repeats} repeats): "
            f"{rate:9.2f} frames/s ({132 / rate:.3f} s for Bunny's 132 frames)"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="frames at the large size")
    parser.add_argument("--epochs", type=int, default=1, help="epochs at the large size")
    parser.add_argument("--height", type=int, default=640, help="frame height (centre crop)")
    parser.add_argument("--width", type=int, default=1280, help="frame width")
    parser.add_argument("--scale", choices=list(SCALES), help="take height/width from a scale")
    parser.add_argument("--quick-epochs", type=int, default=10, help="epochs over 16 frames")
    parser.add_argument("--decode-batch", type=int, default=4, help="embeddings per decode")
    parser.add_argument("--repeats", type=int, default=2, help="timed decoder calls")
    parser.add_argument("--note", action="append", default=[], help="a line for the report")
    parser.add_argument("--out", help="also write the report to this file")
    args = parser.parse_args()
    if args.scale:
        args.height, args.width = SCALES[args.scale].height, SCALES[args.scale].width
    device = pick_device()
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    lines = [
        f"device: {device}{gpu} | torch {torch.__version__} | threads {torch.get_num_threads()} "
        f"| {platform.processor() or platform.machine()} | {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f} at the start",
        "HNeRV recipe: Adam (0.9, 0.999), lr 1e-3, L2, batch 2, warm-up 0.1 + cosine per step, "
        "both loops; on CUDA ours adds bf16 autocast + channels-last (cuDNN autotuner on for "
        "both); CPU: fp32 both.",
        "Paper decoding (Tables 12-13): 332.7 frames/s on an RTX 2080 Ti with r = 1.5; "
        "ours is the r = 1.2 model.",
        *args.note,
    ]
    print("\n".join(lines), flush=True)
    runs = [
        (
            f"HNeRV-1.5M {args.height}x{args.width}",
            args.height,
            args.width,
            args.steps,
            args.epochs,
        ),
        ("HNeRV-1.5M widths, 80x160", 80, 160, 16, args.quick_epochs),
    ]
    for name, height, width, frames, epochs in runs:
        clip = load_video(bunny_path(), frames=frames, crop=(640, 1280), size=(height, width))
        for line in measure(name, clip, epochs, device, args.decode_batch, args.repeats):
            print(line, flush=True)
            lines.append(line)
    lines.append(f"load average {os.getloadavg()[0]:.2f} at the end (other jobs share the CPUs)")
    print(lines[-1])
    if args.out:
        with open(args.out, "w") as file:
            file.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
