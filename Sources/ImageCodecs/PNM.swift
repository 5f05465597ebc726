/// PNM whitespace: space, tab, LF, VT, FF, CR (as Pillow's PpmImagePlugin).
@inline(__always) func isPNMSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

/// Netpbm header tokens with `#` comments (to the end of the line) anywhere whitespace may be.
struct PNMScanner {
    let bytes: [UInt8]
    var pos: Int
    let kind: String

    /// The next decimal token (at most 10 digits, as Pillow). Consumes the single whitespace byte that ends it.
    mutating func number(_ what: String) throws(ImageError) -> Int {
        while pos < bytes.count {
            if isPNMSpace(bytes[pos]) { pos += 1 }
            else if bytes[pos] == 0x23 { // '#'
                while pos < bytes.count && bytes[pos] != 0x0A && bytes[pos] != 0x0D { pos += 1 }
            } else { break }
        }
        guard pos < bytes.count else { throw ImageError("truncated \(kind) data (header ends before the \(what))") }
        var value = 0
        var digits = 0
        while pos < bytes.count && !isPNMSpace(bytes[pos]) && bytes[pos] != 0x23 {
            let d = Int(bytes[pos]) - 48
            guard (0...9).contains(d) else { throw ImageError("corrupt \(kind) data (invalid character in the \(what))") }
            digits += 1
            guard digits <= 10 else { throw ImageError("corrupt \(kind) data (\(what) is too long)") }
            value = value * 10 + d
            pos += 1
        }
        if pos < bytes.count && isPNMSpace(bytes[pos]) { pos += 1 }
        return value
    }
}

/// Decodes a binary (P4, P5, P6) or ASCII (P1, P2, P3) Netpbm file to 8-bit grey (1 channel) or RGB (3).
/// Samples are scaled as Pillow does: maxval 255 as is, any other maxval `round(v / maxval * 255)` (ties to even,
/// computed in double precision like Pillow's Python code) and clamped to 255; 16-bit samples (maxval > 255) are
/// big-endian. PBM: 1 is black. One difference: Pillow opens a PGM with maxval > 255 as mode I (0…65535), whose
/// `convert("RGB")` clips to 255; we scale it like every other maxval.
public func decodePNMPixels(_ bytes: [UInt8]) throws(ImageError) -> PixelImage {
    guard bytes.count >= 2, bytes[0] == 0x50, (0x31...0x36).contains(bytes[1]) else {
        throw ImageError("not a PPM/PGM/PBM file")
    }
    let type = Int(bytes[1]) - 48
    let channels = (type == 3 || type == 6) ? 3 : 1
    let kind = channels == 3 ? "PPM" : (type == 1 || type == 4) ? "PBM" : "PGM"
    guard bytes.count >= 3, isPNMSpace(bytes[2]) else { throw ImageError("corrupt \(kind) data (bad magic number)") }
    var scan = PNMScanner(bytes: bytes, pos: 2, kind: kind)
    let width = try scan.number("width")
    let height = try scan.number("height")
    guard width > 0, height > 0 else { throw ImageError("invalid \(kind) dimensions \(width)x\(height)") }
    try checkPixelCap(width: width, height: height)
    let bitmap = type == 1 || type == 4
    let maxval = bitmap ? 1 : try scan.number("maxval")
    guard (1...65535).contains(maxval) else {
        throw ImageError("corrupt \(kind) data (maxval \(maxval) is not in 1...65535)")
    }
    let count = width * height * channels
    var out = [UInt8](repeating: 0, count: count)
    // Pillow: min(255, round(v / maxval * 255)), Python's round (ties to even) on doubles.
    var lut: [UInt8] = []
    if maxval != 255 && !bitmap {
        let m = Double(maxval)
        let top = maxval < 256 ? 255 : 65535
        lut = (0...top).map { v in UInt8(min(255, (Double(v) / m * 255).rounded(.toNearestOrEven))) }
    }
    var p = scan.pos
    switch type {
    case 4:
        let rowBytes = (width + 7) / 8
        guard bytes.count - p >= rowBytes * height else { throw ImageError("truncated PBM data") }
        for y in 0..<height {
            for x in 0..<width {
                let bit = (bytes[p + y * rowBytes + x >> 3] >> UInt8(7 - (x & 7))) & 1
                out[y * width + x] = bit == 1 ? 0 : 255
            }
        }
    case 5, 6:
        let wide = maxval > 255
        guard bytes.count - p >= count * (wide ? 2 : 1) else { throw ImageError("truncated \(kind) data") }
        if wide {
            for i in 0..<count { out[i] = lut[Int(bytes[p + 2 * i]) << 8 | Int(bytes[p + 2 * i + 1])] }
        } else if maxval == 255 {
            out.withUnsafeMutableBufferPointer { o in
                bytes.withUnsafeBufferPointer { b in o.baseAddress!.update(from: b.baseAddress! + p, count: count) }
            }
        } else {
            for i in 0..<count { out[i] = lut[Int(bytes[p + i])] }
        }
    case 1:
        // Plain PBM: one character per pixel, whitespace and comments optional between them.
        var i = 0
        while i < count {
            guard p < bytes.count else { throw ImageError("truncated PBM data") }
            let b = bytes[p]
            p += 1
            if isPNMSpace(b) { continue }
            if b == 0x23 {
                while p < bytes.count && bytes[p] != 0x0A && bytes[p] != 0x0D { p += 1 }
                continue
            }
            guard b == 0x30 || b == 0x31 else { throw ImageError("corrupt PBM data (invalid character in the pixels)") }
            out[i] = b == 0x31 ? 0 : 255
            i += 1
        }
    default: // 2, 3: plain decimal samples
        for i in 0..<count {
            let v: Int
            do {
                v = try scan.number("pixel data")
            } catch {
                throw ImageError(scan.pos >= bytes.count ? "truncated \(kind) data" : error.description)
            }
            guard v <= maxval else { throw ImageError("corrupt \(kind) data (sample \(v) is above maxval \(maxval))") }
            out[i] = maxval == 255 ? UInt8(v) : lut[v]
        }
    }
    return PixelImage(width: width, height: height, channels: channels, pixels: out)
}

/// Decodes a PPM, PGM or PBM (binary or ASCII) to RGB; grey is replicated, as Pillow's `convert("RGB")`.
public func decodePNM(_ bytes: [UInt8]) throws(ImageError) -> RGBImage {
    try decodePNMPixels(bytes).compositedOnWhite()
}
