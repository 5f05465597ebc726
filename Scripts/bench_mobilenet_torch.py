#!/usr/bin/env python3
"""torchvision MobileNetV2 forward (the `features` part, as ../shared/bench/README.md measures it), timed like
`caption bench encoder --filter mobilenet_v2`: warm-up calls, then the median, min and max ms per call.

Not part of the package (needs torch + torchvision from PyPI); used to compare back to back:
    for i in 1 2 3; do
        PY=/work/venv-ref/bin/python; $PY Scripts/bench_mobilenet_torch.py --threads 2
        .build/release/caption bench encoder --threads 2 --filter mobilenet_v2
    done
"""
import argparse
import statistics
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2().features.eval()
    for batch in (1, 16):
        x = torch.randn(batch, 3, 224, 224)
        with torch.inference_mode():
            for _ in range(args.warmup):
                model(x)
            times = []
            for _ in range(args.reps if batch == 1 else max(5, args.reps // 4)):
                t = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - t) * 1000)
        print(f"torchvision mobilenet_v2.features batch{batch} threads{args.threads}: median {statistics.median(times):.2f} ms "
              f"min {min(times):.2f} max {max(times):.2f} ({len(times)} calls)")


if __name__ == "__main__":
    main()
