#!/usr/bin/env python3
"""Checks that PNGs written by encodePNG open in Pillow and zlib with the expected pixels (run once by hand:
decode SOURCE with Pillow, compare with the Swift-written WRITTEN; checks every chunk CRC and the zlib stream).
Usage: python3 check_swift_png.py SOURCE.png WRITTEN.png"""
import struct, sys, zlib
from PIL import Image

src, written = sys.argv[1], sys.argv[2]
a, b = Image.open(src), Image.open(written)
b.load()
assert a.size == b.size and a.tobytes() == b.tobytes(), "pixels differ"
d = open(written, "rb").read()
pos, idat = 8, b""
while pos < len(d):
    n = struct.unpack(">I", d[pos:pos + 4])[0]
    assert struct.unpack(">I", d[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(d[pos + 4:pos + 8 + n]), "bad CRC"
    if d[pos + 4:pos + 8] == b"IDAT":
        idat += d[pos + 8:pos + 8 + n]
    pos += 12 + n
zlib.decompress(idat)  # checks the Adler-32 too
print("ok:", written, b.mode, b.size, len(d), "bytes")
