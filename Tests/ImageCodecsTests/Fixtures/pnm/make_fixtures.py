#!/usr/bin/env python3
"""Makes the PPM/PGM/PBM fixtures (written by hand here: Pillow only writes maxval 255/65535) and their expected
pixels, NAME.rgb = Image.open(NAME).convert("RGB").tobytes() with Pillow 13.

Exception, documented in decodePNMPixels: Pillow opens a PGM with maxval > 255 as mode I (0...65535) and its
convert("RGB") clips to 255; for those (g16*, gascii16) the expected bytes use Pillow's own scaling formula for
every other maxval, min(255, round(v / maxval * 255)), and the clip is asserted to differ.
"""
import os
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
W, H = 7, 5


def header(magic, w, h, maxval, comments=False):
    if comments:
        s = "%s\n# a comment\n%d # width\n%d\n#another\n" % (magic, w, h)
    else:
        s = "%s %d %d\n" % (magic, w, h)
    if maxval is not None:
        s += "%d\n" % maxval
    return s.encode()


def write(name, data, expected_override=None):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(data)
    im = Image.open(path)
    rgb = im.convert("RGB").tobytes()
    if expected_override is not None:
        assert rgb != expected_override, name
        rgb = expected_override
    with open(path + ".rgb", "wb") as f:
        f.write(rgb)
    print(name, im.mode, im.size)


def scaled(arr, maxval):
    return np.array([min(255, round(int(v) / maxval * 255)) for v in arr.reshape(-1)], dtype=np.uint8).reshape(arr.shape)


for maxval in (255, 1, 100, 1000, 65535):
    for magic, ch, kind in (("P6", 3, "rgb"), ("P5", 1, "g")):
        arr = rng.integers(0, maxval + 1, size=(H, W, ch))
        arr[0, 0] = maxval
        if maxval > 255:
            raw = arr.astype(">u2").tobytes()
        else:
            raw = arr.astype(np.uint8).tobytes()
        override = None
        if ch == 1 and maxval > 255:
            override = np.repeat(scaled(arr, maxval), 3, axis=2).tobytes()
        suffix = "%s_%d" % (kind, maxval)
        write(suffix + (".ppm" if ch == 3 else ".pgm"), header(magic, W, H, maxval, comments=(maxval == 100)) + raw, override)

# ASCII variants, with comments between samples
for magic, ch, ext, maxval in (("P3", 3, "ppm", 255), ("P2", 1, "pgm", 255), ("P3", 3, "ppm", 31), ("P2", 1, "pgm", 4000)):
    arr = rng.integers(0, maxval + 1, size=(H, W, ch))
    body = ""
    for y in range(H):
        body += " ".join(str(int(v)) for v in arr[y].reshape(-1)) + ("  # row %d\n" % y)
    override = None
    if ch == 1 and maxval > 255:
        override = np.repeat(scaled(arr, maxval), 3, axis=2).tobytes()
    write("ascii_%s_%d.%s" % (magic, maxval, ext), header(magic, W, H, maxval, comments=True) + body.encode(), override)

# Bitmaps: P4 (rows padded to bytes), P1
bits = rng.integers(0, 2, size=(H, 10))
rows = b""
for y in range(H):
    s = "".join(str(int(b)) for b in bits[y]) + "000000"
    rows += bytes([int(s[0:8], 2), int(s[8:16], 2)])
write("bitmap.pbm", header("P4", 10, H, None) + rows)
write("ascii_bitmap.pbm", header("P1", 10, H, None, comments=True) + "\n".join("".join(str(int(b)) for b in bits[y]) for y in range(H)).encode() + b"\n")
