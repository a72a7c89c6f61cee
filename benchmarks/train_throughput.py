"""Training throughput, side by side: the common tutorial pipeline vs the course pipeline.

Same model (a CIFAR-style ResNet-34: [3, 4, 6, 3] BasicBlocks, 64..512 channels, 3x3 stem, no
max-pool), same CIFAR-shaped data, same batch size:

  (a) dataloader: ``torch.utils.data.DataLoader`` over a Dataset whose ``__getitem__`` pads,
      randomly crops, flips and normalises one image at a time, ``num_workers`` processes, fp32.
  (b) course: ``course.data.CifarLoader`` (whole split on the device, batched crop/flip) and
      ``course.train.train_step`` (the step ``fit`` takes: bf16 autocast + channels_last on
      CUDA), eager (``course``) and ``torch.compile``'d (``course_compiled``, ``--compile``).

Warm-up steps are excluded; the device is synchronised before the clock starts and stops.

    python benchmarks/train_throughput.py                      # GPU: full size, fake data
    python benchmarks/train_throughput.py --data data --compile    # + course_compiled
    python benchmarks/train_throughput.py --quick              # CPU smoke run, < 1 min
    python benchmarks/train_throughput.py --quick --json out.json   # or --json - for stdout

``benchmarks/gpu_check.py`` runs it (all three pipelines) as part of one timed GPU check.

ResNet-34 lives here, not in ``course/``: building it is lesson 05's graded exercise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime

import torch
import torch.nn.functional as F
from torch import nn

from course import data, runtime, train

# Training FLOPs per image: forward ~ 2.32 GFLOP (1.16 G multiply-adds, COURSE_SPEC lesson 05;
# counted again below with torch.utils.flop_counter), backward ~ 2x forward -> 3 x 2.32 = 6.95.
SPEC_TRAIN_GFLOP_PER_IMAGE = 6.95

# Dense (no sparsity) BF16 tensor-core peaks, TFLOP/s. Sources: NVIDIA H100 datasheet (SXM 1,979
# / PCIe 1,513 TFLOPS "with sparsity", i.e. 989 / 756 dense), NVIDIA H200 datasheet (1,979 with
# sparsity -> 989 dense), NVIDIA A100 datasheet (312 dense, 624 with sparsity).
BF16_DENSE_PEAK_TFLOPS = [  # (substring of torch.cuda.get_device_name(), peak); first match wins
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # SXM5 ("NVIDIA H100 80GB HBM3")
    ("H200", 989.0),
    ("A100", 312.0),
]


# -- the model: CIFAR ResNet-34 (torchvision names) ---------------------------------------------


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet34(nn.Module):
    def __init__(self, num_classes: int = 10, width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)  # CIFAR stem: 3x3, no max-pool
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        layers, in_ch = [], width
        for i, blocks in enumerate([3, 4, 6, 3]):
            out_ch = width * 2**i
            stage = [BasicBlock(in_ch, out_ch, 1 if i == 0 else 2)]
            stage += [BasicBlock(out_ch, out_ch) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*stage))
            in_ch = out_ch
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def forward_gflop_per_image(width: int) -> float:
    """Forward FLOPs of one 32x32 image (2 x multiply-adds), counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    model = ResNet34(width=width).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    return counter.get_total_flops() / 1e9


# -- (a) the common tutorial pipeline ------------------------------------------------------------


class CifarDataset(torch.utils.data.Dataset):
    """Per-sample transforms, as in torchvision tutorials:
    ToTensor -> RandomCrop(32, padding=4) -> RandomHorizontalFlip -> Normalize, one image at a time."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels
        self.mean = torch.tensor(data.CIFAR10_MEAN).view(3, 1, 1)
        self.std = torch.tensor(data.CIFAR10_STD).view(3, 1, 1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        x = self.images[i].float() / 255  # ToTensor
        x = F.pad(x, (4, 4, 4, 4))  # RandomCrop(32, padding=4): zero padding ...
        dy, dx = torch.randint(0, 9, (2,)).tolist()
        x = x[:, dy : dy + 32, dx : dx + 32]  # ... then a random 32x32 window
        if torch.rand(()) < 0.5:  # RandomHorizontalFlip
            x = x.flip(-1)
        return (x - self.mean) / self.std, self.labels[i]  # Normalize


def dataloader_pipeline(images, labels, args, device):
    loader = torch.utils.data.DataLoader(
        CifarDataset(images, labels),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.num_workers > 0,
    )
    model = ResNet34(width=args.width).to(device)
    opt = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4
    )

    def batches():
        while True:
            for X, y in loader:
                yield X.to(device, non_blocking=True), y.to(device, non_blocking=True)

    def step(X, y):  # the usual tutorial step: fp32, no autocast
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return batches(), step


# -- (b) the course pipeline ---------------------------------------------------------------------


def course_pipeline(images, labels, args, device, compile_backend=None):
    loader = data.CifarLoader(images, labels, args.batch_size, train=True, device=device, seed=0)
    model = ResNet34(width=args.width).to(device, memory_format=runtime.memory_format(device))
    opt = train.make_optimizer(model, "sgd", lr=0.1, momentum=0.9, nesterov=True)  # as fit does
    net = torch.compile(model, backend=compile_backend) if compile_backend else model

    def batches():
        epoch = 0
        while True:
            loader.set_epoch(epoch)
            yield from loader
            epoch += 1

    def step(X, y):
        train.train_step(net, opt, X, y)

    return batches(), step


def compiled_pipeline(images, labels, args, device):
    return course_pipeline(images, labels, args, device, compile_backend=args.compile_backend)


PIPELINES = {  # name -> (builder, what it is)
    "dataloader": (dataloader_pipeline, "DataLoader, per-sample transforms, fp32"),
    "course": (course_pipeline, "CifarLoader on the device + train_step, eager"),
    "course_compiled": (compiled_pipeline, "the same, torch.compile'd"),
}


# -- timing --------------------------------------------------------------------------------------


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name, pipeline, images, labels, args, device) -> dict:
    """Warm-up steps (untimed: worker start-up, cudnn autotuning, compilation), then timed steps
    until ``args.steps`` or ``args.max_seconds``, whichever comes first."""
    torch.manual_seed(0)
    t_start = time.perf_counter()
    batches, step = pipeline(images, labels, args, device)
    for _ in range(args.warmup):
        step(*next(batches))
    sync(device)
    t0 = time.perf_counter()
    steps = 0
    while steps < args.steps:
        step(*next(batches))
        steps += 1
        if args.max_seconds and time.perf_counter() - t0 > args.max_seconds:
            sync(device)
            if time.perf_counter() - t0 > args.max_seconds:
                break
    sync(device)
    seconds = time.perf_counter() - t0
    result = {
        "images_per_s": steps * args.batch_size / seconds,
        "seconds": seconds,
        "steps": steps,
        "warmup_seconds": t0 - t_start,  # set-up + warm-up steps (+ compilation)
    }
    print(
        f"  {name:<16} {result['images_per_s']:>11,.0f} img/s   ({seconds:.2f} s timed, "
        f"{result['warmup_seconds']:.1f} s set-up + warm-up)",
        flush=True,
    )
    return result


def bf16_peak_tflops(device) -> tuple[str, float | None]:
    if device.type != "cuda":
        return platform.processor() or platform.machine() or "CPU", None
    name = torch.cuda.get_device_name(device)
    peak = next((p for key, p in BF16_DENSE_PEAK_TFLOPS if key in name), None)
    return name, peak


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="fake", help="'fake' (synthetic) or a CIFAR-10 root")
    parser.add_argument("--n-images", type=int, default=50_000, help="images to use (first N)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=50, help="timed steps per pipeline")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument(
        "--max-seconds", type=float, default=None, help="stop a pipeline's timed steps after this"
    )
    parser.add_argument("--num-workers", type=int, default=8, help="DataLoader workers (a)")
    parser.add_argument("--width", type=int, default=64, help="ResNet-34 base width (64 = real)")
    parser.add_argument(
        "--pipelines",
        default="dataloader,course",
        help=f"comma-separated, from {', '.join(PIPELINES)} (default: dataloader,course)",
    )
    parser.add_argument("--compile", action="store_true", help="also time course_compiled")
    parser.add_argument(
        "--compile-backend",
        default="inductor",
        help="torch.compile backend of course_compiled ('eager' for a CPU smoke run)",
    )
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CPU smoke run: width 8, batch 32, 2 + 6 steps, 1,024 images",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--json",
        default=None,
        metavar="PATH",
        help="write results ('-': stdout); a file is rewritten after every pipeline",
    )
    args = parser.parse_args(argv)
    args.pipelines = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    if args.compile and "course_compiled" not in args.pipelines:
        args.pipelines.append("course_compiled")
    unknown = sorted(set(args.pipelines) - set(PIPELINES))
    if unknown or not args.pipelines:
        parser.error(f"--pipelines: unknown {unknown}; choose from {', '.join(PIPELINES)}")
    if args.quick:
        args.width, args.batch_size, args.steps, args.warmup = 8, 32, 6, 2
        args.n_images, args.num_workers = min(args.n_images, 1024), min(args.num_workers, 2)
        # One intra-op thread: on a small, shared CPU more threads oversubscribe the cores
        # (measured here: ~14x slower with 2 threads while other jobs ran).
        args.threads = args.threads or 1
    return args


SYNTHETIC_GENERATED = 5_000  # images the stand-in generates; repeated up to --n-images


def load_train(root, n: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(images, labels, dataset name)``: the first ``n`` training images under ``root``.

    Real CIFAR-10 is never repeated. The synthetic stand-in (a few thousand generated images:
    generating all 50,000 takes minutes on a small CPU) is repeated up to ``n``: for timing,
    the content does not matter, the number of images per epoch does. The name says so.
    """
    images, labels = data.load_cifar10(root, "train")
    name = data.dataset_name(root)
    if len(images) < n and data.is_synthetic(root):
        reps = -(-n // len(images))
        images, labels = images.repeat(reps, 1, 1, 1), labels.repeat(reps)
        name = f"{name} ({len(labels) // reps:,} generated images, repeated)"
    return images[:n], labels[:n], name


def load_images(args):
    """``(images, labels, dataset name)`` for ``--data``: a CIFAR-10 root, or ``fake``."""
    if args.data == "fake":
        with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
            data.make_fake_cifar10(tmp, n_train=min(args.n_images, SYNTHETIC_GENERATED), n_test=10)
            return load_train(tmp, args.n_images)
    return load_train(args.data, args.n_images)


def write_report(report: dict, path: str | None) -> None:
    if path == "-":
        print(json.dumps(report, indent=2))
    elif path:  # atomically: a reader (gpu_check.py) never sees half a file
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = runtime.get_device(args.device)
    images, labels, dataset = load_images(args)
    device_name, peak = bf16_peak_tflops(device)
    fwd_gflop = forward_gflop_per_image(args.width)
    train_gflop = 3 * fwd_gflop
    if args.width == 64:  # the spec's figure, checked against torch's count
        assert abs(train_gflop - SPEC_TRAIN_GFLOP_PER_IMAGE) < 0.05, train_gflop

    print(
        f"ResNet-34 (CIFAR, width {args.width}, {train_gflop:.3g} GFLOP/train image), "
        f"{len(images):,} {dataset} images, batch {args.batch_size}, "
        f"{args.warmup} warm-up + {args.steps} timed steps\n"
        f"device: {device} ({device_name}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU thread(s), {args.num_workers} DataLoader workers",
        flush=True,
    )
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "device": str(device),
        "device_name": device_name,
        "bf16_dense_peak_tflops": peak,
        "torch": torch.__version__,
        "data": dataset,
        "n_images": len(images),
        "model": f"ResNet-34 CIFAR, width {args.width}",
        "train_gflop_per_image": train_gflop,
        "batch_size": args.batch_size,
        "cpu_threads": torch.get_num_threads(),
        "warmup_steps": args.warmup,
        "timed_steps": args.steps,
        "pipelines": args.pipelines,
        "results": {},
    }
    results = report["results"]
    for name in args.pipelines:
        builder, what = PIPELINES[name]
        r = measure(name, builder, images, labels, args, device)
        r["what"] = what
        if name == "dataloader":
            r.update(precision="fp32", num_workers=args.num_workers)
        else:
            r.update(
                precision=runtime.precision_label(device),
                compile=args.compile_backend if name == "course_compiled" else False,
            )
        r["tflops"] = r["images_per_s"] * train_gflop / 1e3
        r["fraction_of_bf16_peak"] = r["tflops"] / peak if peak else None
        results[name] = r
        base = results.get("dataloader")
        for key, other in (("speedup", "course"), ("speedup_compiled", "course_compiled")):
            if base and other in results:
                report[key] = results[other]["images_per_s"] / base["images_per_s"]
        write_report(report, None if args.json == "-" else args.json)  # partial, after each
    for key, label in (("speedup", "speed-up"), ("speedup_compiled", "speed-up compiled")):
        if key in report:
            print(f"  {label:<17} {report[key]:>10.2f}x")
    for name, r in results.items():
        if peak:
            print(f"  {name:<16} {r['tflops']:>8.1f} TFLOP/s = {r['fraction_of_bf16_peak']:.1%} of "
                  f"{peak:.0f} TFLOP/s bf16 dense peak")  # fmt: skip
    write_report(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
