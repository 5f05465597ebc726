#!/usr/bin/env python3
"""Makes the PNG fixtures and their expected pixels (run from anywhere; writes beside this script).

Pillow cannot write every PNG layout (no interlacing, no 2/4-bit grey, no 16-bit RGB), so the files are written
here with zlib (every filter type used in turn, several compression levels, split IDAT chunks), and the expected
pixels come from Pillow 13 decoding them:
  NAME.rgb    Image.open(NAME.png).convert("RGB")
  NAME.rgba   Image.open(NAME.png).convert("RGBA")
  NAME.white  RGB composited on white the usual Pillow way:
              bg = Image.new("RGB", size, "white"); bg.paste(im.convert("RGB"), mask=im.convert("RGBA").getchannel("A"))
One documented exception: 16-bit greyscale opens in Pillow as mode I;16, whose convert("RGB") clips every value
above 255 to white. Our decoder keeps the high byte, as Pillow does for every other 16-bit layout, so for g16*
the expected files hold the high byte (computed with numpy below), and the Pillow clip is asserted to differ.
Second exception: a tRNS colour key on 1/2/4-bit grey or 16-bit RGB/grey never matches in Pillow (it compares the
key with samples already scaled to 8 bits); we follow the PNG spec and libpng (raw samples are compared), so for
g4t, g2ti and rgb16t the alpha in .rgba/.white is computed here from the raw samples.
"""
import os, struct, zlib, json
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(1234)
W, H = 13, 11  # odd sizes exercise partial Adam7 passes and sub-byte row padding

SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """samples: 1-D array of ints for one scanline."""
    if depth == 16:
        return b"".join(struct.pack(">H", int(v)) for v in samples)
    if depth == 8:
        return bytes(int(v) for v in samples)
    bits = "".join(format(int(v), "0%db" % depth) for v in samples)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_row(ftype, row, prev, bpp):
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ftype]
        out.append((x - pred) & 0xFF)
    return bytes([ftype]) + bytes(out)


def write_png(path, arr, depth, ctype, interlace=False, plte=None, trns=None, level=6, split=0):
    """arr: H x W x samples integer array of raw sample values."""
    h, w = arr.shape[:2]
    ns = SAMPLES[ctype]
    bpp = max(1, ns * depth // 8)
    raw = bytearray()
    ftype = 0
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = arr[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        prev = None
        for r in sub:
            line = pack_row(r.reshape(-1), depth)
            if prev is None:
                prev = bytes(len(line))
            raw += filter_row(ftype, line, prev, bpp)
            ftype = (ftype + 1) % 5
            prev = line
    z = zlib.compress(bytes(raw), level)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, int(interlace)))
    if plte is not None:
        out += chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += chunk(b"tRNS", bytes(trns))
    out += chunk(b"tEXt", b"Comment\x00made by make_fixtures.py")
    if split:
        for i in range(0, len(z), split):
            out += chunk(b"IDAT", z[i:i + split])
    else:
        out += chunk(b"IDAT", z)
    out += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def expected(name, override_rgb=None, key_mask=None):
    path = os.path.join(HERE, name + ".png")
    im = Image.open(path)
    im.load()
    rgb = im.convert("RGB")
    rgba = im.convert("RGBA")
    white = Image.new("RGB", im.size, "white")
    white.paste(rgb, mask=rgba.getchannel("A"))
    if key_mask is not None:
        # Pillow compares the tRNS key with samples it has already scaled to 8 bits, so the key never matches;
        # the PNG spec (and libpng) compare raw samples: those pixels are transparent.
        alpha = Image.fromarray(np.where(key_mask, 0, 255).astype(np.uint8))
        assert rgba.getchannel("A").tobytes() != alpha.tobytes(), "Pillow expected to miss the key"
        rgba = rgb.copy(); rgba.putalpha(alpha)
        white = Image.new("RGB", im.size, "white")
        white.paste(rgb, mask=alpha)
    if override_rgb is not None:
        rgb_b = override_rgb.astype(np.uint8).tobytes()
        rgba_b = np.concatenate([override_rgb, np.full(override_rgb.shape[:2] + (1,), 255)], axis=2).astype(np.uint8).tobytes()
        white_b = rgb_b
        assert rgb.tobytes() != rgb_b, "Pillow's I;16 clip expected to differ"
    else:
        rgb_b, rgba_b, white_b = rgb.tobytes(), rgba.tobytes(), white.tobytes()
    for ext, b in (("rgb", rgb_b), ("rgba", rgba_b), ("white", white_b)):
        with open(os.path.join(HERE, "%s.%s" % (name, ext)), "wb") as f:
            f.write(b)
    return im.mode


def smooth(h, w, ns, maxv):
    """Gradients plus noise: realistic enough for the filters, covering the full range."""
    y, x = np.mgrid[0:h, 0:w]
    out = np.zeros((h, w, ns), dtype=np.int64)
    for c in range(ns):
        base = (x * (c + 1) * 37 + y * 53 + c * 11) % (maxv + 1)
        noise = rng.integers(0, maxv + 1, size=(h, w))
        out[..., c] = np.where(rng.random((h, w)) < 0.3, noise, base)
    out[0, 0] = 0
    out[-1, -1] = maxv
    return out


manifest = []


def make(name, depth, ctype, **kw):
    ns = SAMPLES[ctype]
    maxv = (1 << depth) - 1
    arr = kw.pop("arr", None)
    if arr is None:
        if ctype == 3:
            arr = rng.integers(0, kw["palette_size"], size=(kw.get("h", H), kw.get("w", W), 1))
        else:
            arr = smooth(kw.get("h", H), kw.get("w", W), ns, maxv)
    kw.pop("h", None); kw.pop("w", None)
    plte = trns = None
    if ctype == 3:
        n = kw.pop("palette_size")
        plte = rng.integers(0, 256, size=3 * n).tolist()
        if kw.pop("with_trns", False):
            trns = rng.integers(0, 256, size=max(1, n - 1)).tolist()  # shorter than the palette: the rest opaque
    if "trns_value" in kw:
        v = kw.pop("trns_value")
        trns = b"".join(struct.pack(">H", t) for t in v)
        # make sure some pixels match the key
        arr[1, 2] = v; arr[5, 7] = v
    override = key_mask = None
    if trns is not None and ctype in (0, 2) and depth != 8:
        key_mask = (arr == np.array(v)).all(axis=2)
    if ctype == 0 and depth == 16:
        override = np.repeat((arr >> 8), 3, axis=2)
    write_png(os.path.join(HERE, name + ".png"), arr, depth, ctype, plte=plte, trns=trns, **kw)
    mode = expected(name, override, key_mask)
    manifest.append({"name": name, "width": int(arr.shape[1]), "height": int(arr.shape[0]), "depth": depth,
                     "colorType": ctype, "interlaced": bool(kw.get("interlace", False)), "pillowMode": mode,
                     "alpha": ctype in (4, 6) or trns is not None})


for il in (False, True):
    s = "i" if il else ""
    for d in (1, 2, 4, 8, 16):
        make("g%d%s" % (d, s), d, 0, interlace=il)
    for d in (8, 16):
        make("rgb%d%s" % (d, s), d, 2, interlace=il)
        make("ga%d%s" % (d, s), d, 4, interlace=il)
        make("rgba%d%s" % (d, s), d, 6, interlace=il)
    for d in (1, 2, 4, 8):
        make("p%d%s" % (d, s), d, 3, interlace=il, palette_size=min(1 << d, 200))
        make("p%dt%s" % (d, s), d, 3, interlace=il, palette_size=min(1 << d, 200), with_trns=True)
make("g8t", 8, 0, trns_value=(77,))
make("rgb8t", 8, 2, trns_value=(10, 20, 30))
make("g4t", 4, 0, trns_value=(9,))
make("g2ti", 2, 0, trns_value=(2,), interlace=True)
make("rgb16t", 16, 2, trns_value=(1000, 20000, 65535))
make("rgb8_stored", 8, 2, level=0)
make("rgb8_split", 8, 2, level=9, split=7)
make("rgba8_1x1", 8, 6, w=1, h=1)
make("rgb8i_1x1", 8, 2, w=1, h=1, interlace=True)
make("rgb8i_3x2", 8, 2, w=3, h=2, interlace=True)
make("rgb8_wide", 8, 2, w=300, h=2, level=9)

# EXIF orientation in an eXIf chunk, written by Pillow itself (big- and little-endian TIFF data).
for name, orient, order in (("rgb8_exif6", 6, "<"), ("rgb8_exif3_mm", 3, ">")):
    exif = Image.Exif()
    exif[0x0112] = orient
    exif._endian = order  # byte order of the TIFF data
    im = Image.fromarray(smooth(H, W, 3, 255).astype(np.uint8))
    im.save(os.path.join(HERE, name + ".png"), exif=exif.tobytes())
    expected(name)
    got = Image.open(os.path.join(HERE, name + ".png")).getexif().get(0x0112)
    assert got == orient, got
    manifest.append({"name": name, "width": W, "height": H, "depth": 8, "colorType": 2, "interlaced": False,
                     "pillowMode": "RGB", "alpha": False, "orientation": orient})
for m in manifest:
    m.setdefault("orientation", 1)

with open(os.path.join(HERE, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=0)
print(len(manifest), "fixtures")
