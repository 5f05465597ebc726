#!/usr/bin/env python3
"""BMP fixtures written by Pillow 13 (plus a hand-made top-down 32-bit BI_RGB file) and their expected pixels:
NAME.rgb = Image.open(NAME).convert("RGB") composited on white where the file has alpha
(bg = Image.new("RGB", size, "white"); bg.paste(im.convert("RGB"), mask=im.getchannel("A")))."""
import os, struct
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(3)
W, H = 5, 3  # odd width: rows are padded to 4 bytes


def expect(name):
    im = Image.open(os.path.join(HERE, name))
    rgb = im.convert("RGB")
    if "A" in im.getbands():
        bg = Image.new("RGB", im.size, "white")
        bg.paste(rgb, mask=im.getchannel("A"))
        rgb = bg
    with open(os.path.join(HERE, name + ".rgb"), "wb") as f:
        f.write(rgb.tobytes())
    print(name, im.mode, im.size, im.info.get("compression"))


rgb = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
Image.fromarray(rgb).save(os.path.join(HERE, "rgb24.bmp")); expect("rgb24.bmp")
Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=12).save(os.path.join(HERE, "p8.bmp")); expect("p8.bmp")
Image.fromarray(rgb[..., 0]).save(os.path.join(HERE, "l8.bmp")); expect("l8.bmp")
Image.fromarray(rgb[..., 0]).convert("1").save(os.path.join(HERE, "bw1.bmp")); expect("bw1.bmp")
rgba = rng.integers(0, 256, size=(H, W, 4), dtype=np.uint8)
Image.fromarray(rgba).save(os.path.join(HERE, "rgba32.bmp")); expect("rgba32.bmp")

# Top-down (negative height) 32-bit BI_RGB, BGRX with a junk 4th byte that must be ignored.
pix = b"".join(bytes([int(rgb[y, x, 2]), int(rgb[y, x, 1]), int(rgb[y, x, 0]), 0x5A]) for y in range(H) for x in range(W))
info = struct.pack("<IiiHHIIiiII", 40, W, -H, 1, 32, 0, len(pix), 2835, 2835, 0, 0)
data = b"BM" + struct.pack("<IHHI", 14 + 40 + len(pix), 0, 0, 54) + info + pix
open(os.path.join(HERE, "bgrx32_topdown.bmp"), "wb").write(data); expect("bgrx32_topdown.bmp")
