"""Makes the tiny JPEG fixtures in this folder and expected.safetensors, their pixels as Pillow decodes them.

    python3 make_fixtures.py     (needs Pillow 13, numpy, safetensors, simplejpeg)

Images are synthetic (seeded gradients, noise and edges), so nothing here comes from a third party.
Pillow writes baseline/progressive/restart/grayscale/CMYK/EXIF files; simplejpeg (libjpeg-turbo's
TurboJPEG API) writes 4:4:0, 4:1:1 and YCCK, which Pillow cannot write. The expected pixels are always
`Image.open(f).convert("RGB")`, and the EXIF orientation Pillow reports goes into the metadata.
"""
import io, json, os
import numpy as np
from PIL import Image
import simplejpeg
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def synthetic(w, h, seed, channels=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([
        255 * x / max(w - 1, 1),
        255 * y / max(h - 1, 1),
        127.5 + 127.5 * np.sin((x + 2 * y) / 3.0),
        255 * ((x // 5 + y // 4) % 2),
    ], axis=-1)[..., :channels]
    img = base + rng.normal(0, 30, size=base.shape)
    img[h // 3:h // 2, :] = [250, 10, 30, 128][:channels]  # a saturated band: sharp chroma edges
    return np.clip(img, 0, 255).astype(np.uint8)


def pillow(arr, mode, **kw):
    im = Image.fromarray(arr if mode != "L" else arr[..., 0], mode={"RGB": None, "L": None, "CMYK": None}[mode] or None)
    if mode == "CMYK":
        im = Image.fromarray(arr, "CMYK")
    b = io.BytesIO()
    im.save(b, "JPEG", **kw)
    return b.getvalue()


def exif_bytes(orientation):
    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


fixtures = {
    "baseline_444_33x17": lambda: pillow(synthetic(33, 17, 1), "RGB", quality=90, subsampling=0),
    "baseline_422_33x17": lambda: pillow(synthetic(33, 17, 2), "RGB", quality=90, subsampling=1),
    "baseline_420_33x17": lambda: pillow(synthetic(33, 17, 3), "RGB", quality=85, subsampling=2),
    "baseline_440_33x17": lambda: simplejpeg.encode_jpeg(synthetic(33, 17, 4), 88, "RGB", "440"),
    "baseline_411_35x19": lambda: simplejpeg.encode_jpeg(synthetic(35, 19, 5), 88, "RGB", "411"),
    "optimized_420_41x27": lambda: pillow(synthetic(41, 27, 6), "RGB", quality=75, optimize=True),
    "quality100_420_17x9": lambda: pillow(synthetic(17, 9, 7), "RGB", quality=100),
    "progressive_420_37x29": lambda: pillow(synthetic(37, 29, 8), "RGB", quality=85, progressive=True),
    "progressive_444_19x23": lambda: pillow(synthetic(19, 23, 9), "RGB", quality=92, subsampling=0, progressive=True),
    "progressive_422_30x20": lambda: pillow(synthetic(30, 20, 10), "RGB", quality=80, subsampling=1, progressive=True),
    "restart_420_50x34": lambda: pillow(synthetic(50, 34, 11), "RGB", quality=85, restart_marker_blocks=3),
    "restart_progressive_40x24": lambda: pillow(synthetic(40, 24, 12), "RGB", quality=85, progressive=True, restart_marker_rows=1),
    "gray_31x15": lambda: pillow(synthetic(31, 15, 13), "L", quality=90),
    "gray_progressive_31x15": lambda: pillow(synthetic(31, 15, 14), "L", quality=90, progressive=True),
    "cmyk_adobe_21x13": lambda: pillow(synthetic(21, 13, 15, 4), "CMYK", quality=90),
    "ycck_21x13": lambda: simplejpeg.encode_jpeg(synthetic(21, 13, 16, 4), 90, "CMYK", "420"),
    "exif_orientation6_24x16": lambda: pillow(synthetic(24, 16, 17), "RGB", quality=85, exif=exif_bytes(6)),
    "exif_orientation3_progressive_16x8": lambda: pillow(synthetic(16, 8, 18), "RGB", quality=85, progressive=True, exif=exif_bytes(3)),
    "tiny_1x1": lambda: pillow(synthetic(1, 1, 19), "RGB", quality=85),
    "tiny_2x2_420": lambda: pillow(synthetic(2, 2, 20), "RGB", quality=85),
    "tiny_3x5_420": lambda: pillow(synthetic(3, 5, 21), "RGB", quality=85),
    "tiny_4x1_422": lambda: pillow(synthetic(4, 1, 22), "RGB", quality=85, subsampling=1),
}

tensors, meta = {}, {}
for name, make in fixtures.items():
    data = make()
    with open(os.path.join(HERE, name + ".jpg"), "wb") as f:
        f.write(data)
    im = Image.open(io.BytesIO(data))
    orientation = im.getexif().get(0x0112, 1)
    tensors[name] = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    meta[name] = json.dumps({"orientation": orientation, "mode": im.mode, "size": list(im.size)})
    print(f"{name}: {len(data)} bytes, {im.mode} {im.size}, orientation {orientation}")
save_file(tensors, os.path.join(HERE, "expected.safetensors"), metadata=meta)
