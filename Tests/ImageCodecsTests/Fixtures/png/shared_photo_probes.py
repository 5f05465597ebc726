#!/usr/bin/env python3
"""Prints the Pillow-derived probe pixels and byte sums for the photos in ../shared used by PNGTests.testSharedPhotos
(the photos themselves are never committed). Usage: python3 shared_photo_probes.py /work/shared/weights/pretrained/photos"""
import sys, os
from PIL import Image
d = sys.argv[1]
probes, sums = [], []
for name in ("chelsea.png", "coffee.png"):
    im = Image.open(os.path.join(d, name))
    print(name, im.mode, im.size, im.info.get("interlace"), file=sys.stderr)
    rgb = im.convert("RGB")
    w, h = rgb.size
    pts = [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (w // 2, h // 2), (17, 123), (w // 3, 2 * h // 3)]
    probes.append('("%s", %d, %d, [%s])' % (name, w, h, ", ".join("(%d, %d, %d, %d, %d)" % ((x, y) + rgb.getpixel((x, y))) for x, y in pts)))
    sums.append('"%s": %d' % (name, sum(rgb.tobytes())))
print("[" + ", ".join(probes) + "]")
print("[" + ", ".join(sums) + "]")
