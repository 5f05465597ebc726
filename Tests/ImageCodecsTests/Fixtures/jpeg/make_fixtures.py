"""Makes the tiny JPEG fixtures in this folder and expected.safetensors, their pixels as Pillow decodes them.

    python3 make_fixtures.py     (needs Pillow 13, numpy, safetensors, simplejpeg, and cjpeg from
                                  Debian's libjpeg-turbo-progs)

Images are synthetic (seeded gradients, noise and edges), so nothing here comes from a third party.
Pillow writes baseline/progressive/restart/grayscale/CMYK/EXIF files; simplejpeg (libjpeg-turbo's
TurboJPEG API) writes 4:4:0, 4:1:1 and YCCK, which Pillow cannot write; cjpeg writes custom scan
scripts (non-interleaved sequential scans), mixed sampling factors and arithmetic coding. The expected pixels are always
`Image.open(f).convert("RGB")`, and the EXIF orientation Pillow reports goes into the metadata.
"""
import io, json, os, subprocess, tempfile
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


def cjpeg(arr, *args, scans=None):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in.ppm" if arr.ndim == 3 else "in.pgm")
        Image.fromarray(arr).save(src)
        extra = []
        if scans is not None:
            with open(os.path.join(d, "scans.txt"), "w") as f:
                f.write(scans)
            extra = ["-scans", os.path.join(d, "scans.txt")]
        return subprocess.run(["cjpeg", *args, *extra, src], check=True, capture_output=True).stdout


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
    "rgb_adobe_keep_rgb_19x11": lambda: pillow(synthetic(19, 11, 23), "RGB", quality=90, keep_rgb=True),
    "rgb_cjpeg_19x11": lambda: cjpeg(synthetic(19, 11, 24), "-rgb", "-quality", "90"),
    "sof1_16bit_quant_27x13": lambda: pillow(synthetic(27, 13, 25), "RGB", qtables=[[300 + i for i in range(64)], [2 + i for i in range(64)]]),
    "sequential_noninterleaved_420_35x21": lambda: cjpeg(synthetic(35, 21, 26), "-quality", "85", "-sample", "2x2",
                                                         scans="0: 0-63, 0, 0;\n1: 0-63, 0, 0;\n2: 0-63, 0, 0;\n"),
    "sequential_y_then_cbcr_420_35x21": lambda: cjpeg(synthetic(35, 21, 27), "-quality", "85", "-sample", "2x2",
                                                      scans="0: 0-63, 0, 0;\n1 2: 0-63, 0, 0;\n"),
    "mixed_sampling_2x2_1x1_2x1_29x19": lambda: cjpeg(synthetic(29, 19, 28), "-quality", "85", "-sample", "2x2,1x1,2x1"),
    "mixed_sampling_1x1_2x2_1x2_29x19": lambda: cjpeg(synthetic(29, 19, 29), "-quality", "85", "-sample", "1x1,2x2,1x2"),
    "gray_sampled_2x2_23x13": lambda: cjpeg(synthetic(23, 13, 30)[..., 0], "-grayscale", "-quality", "85", "-sample", "2x2"),
    "restart_422_rows_45x21": lambda: cjpeg(synthetic(45, 21, 31), "-quality", "85", "-sample", "2x1", "-restart", "1"),
    "restart_progressive_blocks_45x21": lambda: cjpeg(synthetic(45, 21, 32), "-quality", "85", "-progressive", "-restart", "2B"),
    # Progressive scripts that never refine the low AC coefficients: libjpeg block-smooths these.
    "progressive_dc_only_420_45x37": lambda: cjpeg(synthetic(45, 37, 34), "-quality", "85", "-sample", "2x2",
                                                   scans="0 1 2: 0-0, 0, 0;\n"),
    "progressive_dc_only_approx_gray_33x41": lambda: cjpeg(synthetic(33, 41, 35)[..., 0], "-grayscale", "-quality", "85",
                                                           scans="0: 0-0, 0, 1;\n"),
    "progressive_unrefined_ac_420_45x37": lambda: cjpeg(synthetic(45, 37, 36), "-quality", "85", "-sample", "2x2",
                                                        scans="0 1 2: 0-0, 0, 0;\n0: 1-63, 0, 2;\n1: 1-63, 0, 1;\n2: 6-63, 0, 0;\n"),
    "progressive_partial_bands_444_27x29": lambda: cjpeg(synthetic(27, 29, 37), "-quality", "85", "-sample", "1x1",
                                                         scans="0 1 2: 0-0, 0, 1;\n0: 1-5, 0, 0;\n1: 3-63, 0, 0;\n2: 1-2, 0, 1;\n0 1 2: 0-0, 1, 0;\n"),
}

# Decodable by Pillow but deliberately unsupported here: the tests expect an error naming the reason.
unsupported = {
    "unsupported_arithmetic_16x16": lambda: cjpeg(synthetic(16, 16, 33), "-arithmetic"),
}
for name, make in unsupported.items():
    with open(os.path.join(HERE, name + ".jpg"), "wb") as f:
        f.write(make())

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
