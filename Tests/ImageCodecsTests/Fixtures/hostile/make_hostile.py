#!/usr/bin/env python3
"""Writes the hostile-input corpus: every file here must make decodeImage throw one error, quickly, without
crashing or allocating more than the pixel cap allows (HostileImageTests runs them all). Files are small; the
zlib bomb declares a 16x16 image whose data would inflate to 64 MiB (the test also builds a 1 GiB one in memory)."""
import os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SIG = b"\x89PNG\r\n\x1a\n"


def chunk(t, data, crc=None):
    c = zlib.crc32(t + data) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", c)


def ihdr(w, h, depth=8, ctype=2, interlace=0, comp=0, filt=0):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, comp, filt, interlace))


def png(w=4, h=3, depth=8, ctype=2, raw=None, z=None, extra=b"", **kw):
    if raw is None:
        ns = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
        raw = b"".join(b"\0" + bytes((x * 7 + y) & 255 for x in range(w * ns * depth // 8)) for y in range(h))
    if z is None:
        z = zlib.compress(raw)
    return SIG + ihdr(w, h, depth, ctype, **kw) + extra + chunk(b"IDAT", z) + chunk(b"IEND", b"")


files = {}
good = png()
files["png_wrong_magic.png"] = b"\x88" + good[1:]
files["png_signature_only.png"] = SIG
files["png_truncated_in_ihdr.png"] = good[:20]
files["png_truncated_in_idat.png"] = good[: len(good) - 20]
files["png_bad_crc_ihdr.png"] = good[:29] + bytes([good[29] ^ 1]) + good[30:]
i = good.index(b"IDAT")
files["png_bad_crc_idat.png"] = good[: i + 4] + bytes([good[i + 4] ^ 0x40]) + good[i + 5:]
files["png_zero_width.png"] = png(w=0, raw=b"")
files["png_zero_height.png"] = png(h=0, raw=b"")
files["png_65535x65535.png"] = SIG + ihdr(65535, 65535) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
files["png_2gx1.png"] = SIG + ihdr(0x7FFFFFFF, 1, 16, 6) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
files["png_width_above_2_31.png"] = SIG + ihdr(0x80000000, 1) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")
files["png_huge_chunk_length.png"] = SIG + ihdr(4, 3) + struct.pack(">I", 0x7FFFFFF0) + b"IDAT" + b"\0" * 64
files["png_chunk_length_ffffffff.png"] = SIG + ihdr(4, 3) + struct.pack(">I", 0xFFFFFFFF) + b"IDAT" + b"\0" * 64
files["png_bad_depth.png"] = png(depth=3, raw=b"\0" * 100)
files["png_bad_colour_type.png"] = png(ctype=5, raw=b"\0" * 100)
files["png_bad_interlace.png"] = png(interlace=2)
files["png_bad_compression_method.png"] = png(comp=1)
files["png_palette_without_plte.png"] = png(ctype=3, raw=b"\0\0\0\0\0" * 3)
files["png_bad_plte_length.png"] = png(ctype=3, raw=b"\0\0\0\0\0" * 3, extra=chunk(b"PLTE", b"\1\2\3\4"))
files["png_no_idat.png"] = SIG + ihdr(4, 3) + chunk(b"IEND", b"")
files["png_ihdr_not_first.png"] = SIG + chunk(b"tEXt", b"a\0b") + ihdr(4, 3) + chunk(b"IDAT", zlib.compress(b"\0" * 39)) + chunk(b"IEND", b"")
files["png_bad_filter_type.png"] = png(raw=b"\x07" + b"\0" * 12 + (b"\0" * 13) * 2)
files["png_image_data_short.png"] = png(raw=b"\0" * 20)
files["png_image_data_long.png"] = png(raw=b"\0" * 60)
z = bytearray(zlib.compress(b"\0" * 39)); z[-1] ^= 0xFF
files["png_bad_adler.png"] = png(z=bytes(z))
files["png_bad_zlib_header.png"] = png(z=b"\x78\x9d" + zlib.compress(b"\0" * 39)[2:])
files["png_zlib_preset_dictionary.png"] = png(z=b"\x78\xbb" + b"\0\0\0\0" + zlib.compress(b"\0" * 39)[2:])
files["png_garbage_idat.png"] = png(z=b"\x78\x9c" + bytes((i * 37 + 11) & 255 for i in range(64)))
files["png_stored_block_bad_nlen.png"] = png(z=b"\x78\x01" + b"\x01\x27\x00\x00\x00" + b"\0" * 39)
# Deflate stream with a distance beyond the start of the output: fixed block, match at position 0.
# bits: BFINAL=1, BTYPE=01, then length code 257 (0000001, 7 bits), distance code 0 (00000, 5 bits), EOB.
files["png_distance_too_far.png"] = png(z=b"\x78\x01" + bytes([0x03, 0x02, 0x00, 0x00]) + b"\0\0\0\0")
# Bomb: 16x16 RGB (784 bytes of scanlines) whose IDAT inflates to 64 MiB of zeros.
files["png_zlib_bomb_64MiB.png"] = png(w=16, h=16, z=zlib.compress(b"\0" * (64 << 20), 9))

files["empty.png"] = b""
files["gif89a.gif"] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
files["webp.webp"] = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
files["heic.heic"] = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic"
files["avif.avif"] = struct.pack(">I", 24) + b"ftypavif" + b"\0\0\0\0" + b"avifmif1"
files["tiff.tif"] = b"II*\x00\x08\x00\x00\x00\x00\x00"
files["text.png"] = b"this is not an image at all\n"
files["jpeg_soi_only.jpg"] = b"\xff\xd8\xff"
files["ppm_truncated.ppm"] = b"P6 4 4 255\n" + b"\1" * 20
files["ppm_zero_size.ppm"] = b"P6 0 0 255\n"
files["ppm_huge.ppm"] = b"P6 65535 65535 255\n" + b"\0" * 16
files["ppm_maxval_zero.ppm"] = b"P6 1 1 0\n\0\0\0"
files["ppm_maxval_70000.ppm"] = b"P6 1 1 70000\n\0\0\0\0\0\0"
files["pgm_header_only.pgm"] = b"P5\n# just a comment"
files["pgm_long_token.pgm"] = b"P5 123456789012 1 255\n"
files["pbm_truncated.pbm"] = b"P4 100 100\n\0\0"
files["bmp_truncated.bmp"] = b"BM" + b"\0" * 30
bmp_info = struct.pack("<IiiHHIIiiII", 40, 100000, 100000, 1, 24, 0, 0, 0, 0, 0, 0)
files["bmp_huge.bmp"] = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + bmp_info
bmp_rle = struct.pack("<IiiHHIIiiII", 40, 4, 4, 1, 8, 1, 0, 0, 0, 0, 0)
files["bmp_rle8.bmp"] = b"BM" + struct.pack("<IHHI", 54 + 1024 + 4, 0, 0, 54 + 1024) + bmp_rle + b"\0" * 1024 + b"\0\1\0\0"
bmp_short = struct.pack("<IiiHHIIiiII", 40, 4, 4, 1, 24, 0, 0, 0, 0, 0, 0)
files["bmp_pixels_short.bmp"] = b"BM" + struct.pack("<IHHI", 64, 0, 0, 54) + bmp_short + b"\0" * 10

for name in os.listdir(HERE):
    if name != os.path.basename(__file__):
        os.remove(os.path.join(HERE, name))
for name, data in files.items():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
print(len(files), "files,", sum(map(len, files.values())), "bytes")
