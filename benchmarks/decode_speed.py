"""Decoding speed: our bitstream's decoder against ffmpeg's H.264/H.265 decoders (HNeRV
Tables 12-13), on the same machine.

Two measurements, both from real files:

- matched quality (default): an HNeRV trained at the quick scale (80x160, 16 Bunny frames),
  written with `bitstream.encode`; H.264 and H.265 files (yuv444p, preset medium) at the CRF
  whose PSNR is closest to the HNeRV file's. Decoder frames/s after loading the file (weights
  dequantized, network built) against ffmpeg's own decoding time (`-benchmark` rtime).
- `--table12`: the paper's frame size, 640x1280, with an HNeRV 1.5M (r = 1.5, as the paper's
  timing) whose speed does not depend on training, so it is not trained; the codecs at the
  CRFs closest to the paper's PSNR levels 32, 35 and 37 dB.

On the CPU (default) both sides use the same number of threads (torch.get_num_threads(),
ffmpeg -threads). `--device cuda` runs our decoder on the GPU (timed with
torch.cuda.synchronize() before and after), as the paper's Table 12 times HNeRV on a GPU;
ffmpeg still decodes on the CPU, as in the paper.

    python benchmarks/decode_speed.py --out benchmarks/results/decode_speed_cpu.txt
    python benchmarks/decode_speed.py --table12 --frames 16 --out ... (appends)
    python benchmarks/decode_speed.py --device cuda --out benchmarks/results/decode_speed_cuda.txt
"""

import argparse
import platform
import time

import torch
from train_speed import sync  # wait for queued GPU work before reading the clock

from nerv_lessons.bitstream import MODEL_KINDS, decode_model, encode, render
from nerv_lessons.codecs import codec_point, encode_video, ffmpeg_decode_seconds
from nerv_lessons.data import bunny_path, load_clip, load_video
from nerv_lessons.hnerv import HNeRV, embed_frames, frames_in, hnerv_budget, hnerv_size
from nerv_lessons.metrics import bits_per_pixel, psnr
from nerv_lessons.scales import SCALES, seed_everything
from nerv_lessons.train import TrainConfig, train

# HNeRV paper, Table 12 (Bunny 640x1280, 132 frames; HNeRV on one RTX 2080 Ti, forward only;
# H.264/H.265 on 4 CPU threads of a Xeon Silver 4216, preset medium), frames/s.
PAPER_TABLE_12 = {
    "H.264": (279.7, 240.9, 192.7),
    "H.265": (211.9, 163.2, 132.5),
    "HNeRV": (395.9, 332.7, 224.8),
}


def decoder_fps(
    data: bytes, repeats: int, device: torch.device
) -> tuple[float, float, torch.Tensor]:
    """(load seconds, best frames/s of rendering all frames, the frames on the CPU) for one
    file. Loading (parse, dequantize, build, move to the device) is timed apart; on a GPU
    one untimed render warms it up first."""
    start = time.perf_counter()
    name, network, embeddings, frames = decode_model(data, device)
    sync(device)
    load = time.perf_counter() - start
    kind, best = MODEL_KINDS[name], float("inf")
    if device.type == "cuda":
        render(kind, network, embeddings, frames)
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        out = render(kind, network, embeddings, frames)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return load, frames / best, out.cpu()


def ffmpeg_fps(data: bytes, codec: str, frames: int, threads: int, repeats: int) -> float:
    loops = max(1, 400 // frames)  # the stream repeated to about 400 frames: rtime is in ms
    best = min(ffmpeg_decode_seconds(data, codec, threads, loops) for _ in range(repeats))
    return frames * loops / best


def closest_crf(clip, codec, target, crfs=range(12, 52, 3), points=None):
    points = points or [codec_point(clip, codec, crf, "yuv444p") for crf in crfs]
    return min(points, key=lambda p: abs(p["psnr"] - target))


def matched_quality(args, lines):
    scale = SCALES["quick"]
    clip = load_clip(scale)
    config = hnerv_budget(scale.model_params, len(clip), scale.height, scale.width)
    model = HNeRV(config)
    recipe = TrainConfig.hnerv(scale, progress=False)
    train(model, clip, recipe, model_input=frames_in)
    with torch.no_grad():
        data = encode(model, embed_frames(model, clip), weight_bits=8, embed_bits=6)
    load, fps, out = decoder_fps(data, args.repeats, args.device)
    quality = psnr(out, clip).mean().item()
    bpp = bits_per_pixel(len(data), *clip.shape[:1], *clip.shape[2:])
    lines.append(
        f"matched quality: Bunny {scale.height}x{scale.width}, {len(clip)} frames; HNeRV "
        f"{hnerv_size(config, len(clip)) / 1e6:.3f}M trained {scale.epochs} epochs"
    )
    lines.append(
        f"  HNeRV file   {bpp:.3f} bpp {quality:5.2f} dB | decode {fps:8.1f} frames/s "
        f"(load {load * 1000:.0f} ms, not counted)"
    )
    for codec in ("h264", "h265"):
        point = closest_crf(clip, codec, quality)
        stream = encode_video(clip, codec, point["crf"], "yuv444p")
        speed = ffmpeg_fps(stream, codec, len(clip), args.threads, args.repeats)
        lines.append(
            f"  {codec} CRF {point['crf']:2d} {point['bpp']:.3f} bpp {point['psnr']:5.2f} dB | "
            f"decode {speed:8.1f} frames/s (ffmpeg -threads {args.threads})"
        )


def table12(args, lines):
    clip = load_video(bunny_path(), frames=args.frames, size=(640, 1280))
    config = hnerv_budget(1.5, 132, 640, 1280, reduction=1.5)
    data = encode(HNeRV(config), torch.randn(len(clip), 16, 2, 4), weight_bits=8, embed_bits=6)
    load, fps, _ = decoder_fps(data, args.repeats, args.device)
    lines.append(
        f"table 12 set-up: Bunny 640x1280, {len(clip)} frames; HNeRV 1.5M r=1.5 "
        f"(c2 {config.fc_dim}, untrained: speed only)"
    )
    lines.append(
        f"  HNeRV decoder  {fps:8.2f} frames/s on {args.device.type} "
        f"(load {load * 1000:.0f} ms, not counted)"
    )
    for codec, label in (("h264", "H.264"), ("h265", "H.265")):
        points = [codec_point(clip, codec, crf, "yuv444p") for crf in range(14, 45, 6)]
        for target, paper in zip((32, 35, 37), PAPER_TABLE_12[label]):
            point = closest_crf(clip, codec, target, points=points)
            stream = encode_video(clip, codec, point["crf"], "yuv444p")
            speed = ffmpeg_fps(stream, codec, len(clip), args.threads, args.repeats)
            lines.append(
                f"  {codec} target {target} dB: CRF {point['crf']:2d} {point['psnr']:5.2f} dB | "
                f"decode {speed:8.1f} frames/s (paper, 4 Xeon threads: {paper})"
            )
    lines.append(f"  paper HNeRV on an RTX 2080 Ti: {PAPER_TABLE_12['HNeRV']} frames/s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table12", action="store_true", help="640x1280, untrained 1.5M")
    parser.add_argument("--frames", type=int, default=16, help="frames for --table12")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--device", default="cpu", choices=("cpu", "cuda"), help="where our decoder runs"
    )
    parser.add_argument("--out", help="append the results to this file")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA GPU here; run without it (cpu)")
    args.device = torch.device(args.device)
    seed_everything(0)
    torch.set_num_threads(args.threads)
    where = torch.cuda.get_device_name(args.device) if args.device.type == "cuda" else "cpu"
    lines = [
        f"device: {where} | torch {torch.__version__} | threads {args.threads} | "
        f"{platform.machine()} | {platform.processor() or platform.platform()}"
    ]
    (table12 if args.table12 else matched_quality)(args, lines)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as file:
            file.write(text + "\n\n")


if __name__ == "__main__":
    main()
