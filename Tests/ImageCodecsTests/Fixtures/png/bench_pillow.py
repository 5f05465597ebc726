#!/usr/bin/env python3
"""Pillow's time to decode PNGs to RGB (Image.open(BytesIO(data)).convert("RGB")), min and median of 200, for
comparison with PNGBenchmarkTests (CAPTION_BENCH=1). Usage: python3 bench_pillow.py FILE.png…
Without arguments: the two photos in ../shared/weights/pretrained/photos."""
import io, os, sys, time
from PIL import Image

files = sys.argv[1:] or [os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../../../shared/weights/pretrained/photos", n)
                         for n in ("chelsea.png", "coffee.png")]
for f in files:
    data = open(f, "rb").read()
    ts = []
    for _ in range(200):
        t = time.perf_counter()
        Image.open(io.BytesIO(data)).convert("RGB")
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    print("%s: Pillow min %.2f ms, median %.2f ms" % (os.path.basename(f), ts[0], ts[len(ts) // 2]))
