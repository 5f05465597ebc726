"""Reference values for Vision's Pillow-exact resize (PillowResizeFixtureTests in Tests/VisionTests/PreprocessTests.swift).

A seeded 37x23 RGB image (noise plus gradients, made here) resized with Pillow's antialiased BILINEAR
to downscaled, upscaled and one-axis sizes, and torchvision's Resize(256)+CenterCrop(224) recipe applied
at a small scale (Resize(32), CenterCrop(28), upscaling). Run: python make_pillow_resize.py  (Pillow, numpy, safetensors).
"""
import numpy as np
import PIL
from PIL import Image
from safetensors.numpy import save_file

rng = np.random.default_rng(20261201)
h, w = 23, 37
yy, xx = np.mgrid[0:h, 0:w]
base = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), (xx + yy) * 4 % 256], -1)
noise = rng.integers(0, 256, size=(h, w, 3))
src = np.where(rng.random((h, w, 1)) < 0.5, base, noise).astype(np.uint8)
src[0, :, :] = 255
src[:, 0, :] = 0
img = Image.fromarray(src, "RGB")
out = {"source": src}
# Pillow 13 runs the vertical pass first when inH - outH > 2 * (inW - outW) (python-pillow/Pillow#9549):
# 100x9, 38x22, 74x12 (width grows), 30x6 and 35x9 (both shrink, height much more); 36x22, 30x10, 20x30 horizontal first.
sizes = [(11, 7), (80, 50), (37, 60), (5, 23), (36, 22), (100, 9), (38, 22), (74, 12), (20, 30), (30, 10), (30, 6),
         (35, 9), (1, 1), (28, 28)]
# Portrait images resized to a short side of 32 at the rule's boundary: 40x80 -> 32x64 (16 = 2 * 8, horizontal
# first) and 40x85 -> 32x68 (17 > 16, vertical first).
tall = {}
for (w0, h0) in [(40, 80), (40, 85)]:
    t = Image.fromarray(rng.integers(0, 256, size=(h0, w0, 3)).astype(np.uint8), "RGB")
    tall[f"tall_{w0}x{h0}_source"] = np.asarray(t)
    tall[f"tall_{w0}x{h0}_resized"] = np.asarray(t.resize((32, int(32 * h0 / w0)), Image.BILINEAR))
for (ow, oh) in sizes:
    out[f"resize_{ow}x{oh}"] = np.asarray(img.resize((ow, oh), Image.BILINEAR))
# torchvision's recipe on a small image (upscaling to a short side of 32).
short, crop = 32, 28  # Resize(32) + CenterCrop(28): Vision's preprocess(size: 28)
nw, nh = int(short * w / h), short
r = img.resize((nw, nh), Image.BILINEAR)
top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
out["recipe_crop"] = np.asarray(r.crop((left, top, left + crop, top + crop)))
out.update(tall)
save_file(out, "pillow_resize.safetensors", metadata={"pillow": PIL.__version__, "recipe": "make_pillow_resize.py"})
print({k: v.shape for k, v in out.items()}, "resized", (nw, nh), "crop", (left, top))
