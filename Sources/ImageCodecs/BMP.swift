/// Decodes an uncompressed Windows BMP to RGB: 1/4/8-bit palette, 24-bit BGR and 32-bit (BI_RGB as BGRX, the 4th
/// byte ignored as Pillow does; BI_BITFIELDS with byte-aligned masks, alpha composited on white), bottom-up or
/// top-down. RLE-compressed, 16-bit and JPEG/PNG-in-BMP files are rejected with a message naming the feature.
public func decodeBMP(_ b: [UInt8]) throws(ImageError) -> RGBImage {
    func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
    func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
    guard b.count >= 26, b[0] == 0x42, b[1] == 0x4D else {
        throw ImageError(b.count < 26 ? "truncated BMP data" : "not a BMP file")
    }
    let dataOffset = u32(10)
    let headerSize = u32(14)
    guard [12, 40, 52, 56, 64, 108, 124].contains(headerSize) else {
        throw ImageError("unsupported BMP header of \(headerSize) bytes")
    }
    guard b.count >= 14 + headerSize else { throw ImageError("truncated BMP data (header)") }
    var width: Int, height: Int, bits: Int, compression = 0, colorsUsed = 0
    if headerSize == 12 {
        width = u16(18); height = u16(20); bits = u16(24)
    } else {
        width = Int(Int32(truncatingIfNeeded: UInt32(u32(18))))
        height = Int(Int32(truncatingIfNeeded: UInt32(u32(22))))
        bits = u16(28)
        compression = u32(30)
        colorsUsed = u32(46)
    }
    let topDown = height < 0
    height = abs(height)
    guard width > 0, height > 0 else { throw ImageError("invalid BMP dimensions \(width)x\(height)") }
    try checkPixelCap(width: width, height: height)
    // Channel masks (BI_BITFIELDS = 3 or BI_ALPHABITFIELDS = 6): in the header for V2+ , else after a 40-byte one.
    var masks = [0xFF0000, 0xFF00, 0xFF, 0]
    switch (compression, bits) {
    case (0, 1), (0, 4), (0, 8), (0, 24), (0, 32):
        break
    case (3, 32), (6, 32):
        let at = 14 + 40
        guard b.count >= at + 16 else { throw ImageError("truncated BMP data (bit masks)") }
        masks = [u32(at), u32(at + 4), u32(at + 8), (compression == 6 || headerSize >= 56) ? u32(at + 12) : 0]
        for m in masks where ![0, 0xFF, 0xFF00, 0xFF0000, 0xFF00_0000].contains(m) {
            throw ImageError("unsupported BMP bit masks (not byte-aligned)")
        }
    case (1, _), (2, _):
        throw ImageError("RLE-compressed BMP images are not supported")
    case (4, _), (5, _):
        throw ImageError("BMP images holding JPEG or PNG data are not supported")
    default:
        throw ImageError("unsupported BMP layout (\(bits) bits per pixel, compression \(compression))")
    }
    var palette = [UInt8](repeating: 0, count: 256 * 3)
    if bits <= 8 {
        let entry = headerSize == 12 ? 3 : 4
        let n = min(1 << bits, colorsUsed > 0 ? colorsUsed : 1 << bits)
        let at = 14 + headerSize
        guard b.count >= at + n * entry else { throw ImageError("truncated BMP data (palette)") }
        for i in 0..<n {
            palette[3 * i] = b[at + i * entry + 2]
            palette[3 * i + 1] = b[at + i * entry + 1]
            palette[3 * i + 2] = b[at + i * entry]
        }
    }
    let stride = ((width * bits + 31) / 32) * 4
    guard dataOffset <= b.count, b.count - dataOffset >= stride * height else {
        throw ImageError("truncated BMP data (pixels)")
    }
    var out = [UInt8](repeating: 0, count: width * height * 3)
    let shifts = masks.map { m in m == 0 ? 0 : m.trailingZeroBitCount }
    let hasAlpha = masks[3] != 0
    for y in 0..<height {
        let row = dataOffset + (topDown ? y : height - 1 - y) * stride
        let o = y * width * 3
        switch bits {
        case 24:
            for x in 0..<width {
                out[o + 3 * x] = b[row + 3 * x + 2]; out[o + 3 * x + 1] = b[row + 3 * x + 1]; out[o + 3 * x + 2] = b[row + 3 * x]
            }
        case 32:
            for x in 0..<width {
                let v = u32(row + 4 * x)
                var c = [0, 1, 2].map { (v & masks[$0]) >> shifts[$0] }
                if hasAlpha {
                    let a = (v & masks[3]) >> shifts[3]
                    c = c.map { ch in let t = ch * a + 255 * (255 - a) + 128; return ((t >> 8) + t) >> 8 }
                }
                out[o + 3 * x] = UInt8(c[0]); out[o + 3 * x + 1] = UInt8(c[1]); out[o + 3 * x + 2] = UInt8(c[2])
            }
        default:
            for x in 0..<width {
                let bit = x * bits
                let index = Int(b[row + bit >> 3] >> UInt8(8 - bits - (bit & 7))) & ((1 << bits) - 1)
                for c in 0..<3 { out[o + 3 * x + c] = palette[3 * index + c] }
            }
        }
    }
    return RGBImage(width: width, height: height, pixels: out)
}
