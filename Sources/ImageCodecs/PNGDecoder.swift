// PNG decoding (ISO/IEC 15948): every colour type and bit depth, Adam7, tRNS, eXIf orientation.
//
// Pixels equal Pillow 13's for every layout without transparency (`Image.open(f).convert("RGB")`), with two
// deliberate exceptions, and the checks are stricter than Pillow's where Pillow is lenient:
// - 16-bit grey: Pillow opens it as mode I;16 and `convert("RGB")` clips values above 255 (a white picture);
//   we keep the high byte, as Pillow itself does for 16-bit RGB, RGBA and grey + alpha.
// - A tRNS colour key on 1/2/4-bit grey or 16-bit grey/RGB never matches in Pillow (it compares the key with samples
//   already scaled to 8 bits); we compare raw samples as the PNG spec and libpng do.
// - Alpha (an alpha channel or tRNS) is composited on white by `decodePNG`; Pillow's `convert("RGB")` drops it.
// - CRCs: Pillow checks the CRC of chunks before the first IDAT and skips those of IDAT and later chunks; we check
//   every chunk up to the end of the image data, IDAT included. A bad CRC is an error in both.
// - The zlib stream must be complete (Adler-32 checked) and must inflate to exactly the scanline bytes IHDR implies.
//   Pillow stops once it has the rows and ignores what follows; we reject extra data, which is also what stops a
//   zlib bomb after at most the expected size (W x H at most `maximumImagePixels`).
// - IHDR must come first, PLTE must be a multiple of 3 (at most 256 entries), palette images need PLTE, compression
//   and filter methods must be 0: Pillow tolerates some of these violations, we reject them.
// - Like Pillow: IEND and anything after the last IDAT are not needed; unknown ancillary chunks are skipped;
//   palette indices beyond the palette give black; sub-byte grey is scaled x255, x85, x17; APNG gives the default
//   image.

/// The PNG file signature.
let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

/// A PNG's IHDR fields.
public struct PNGHeader: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1, 2, 4, 8 or 16.
    public var bitDepth: Int
    /// 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA.
    public var colorType: Int
    public var interlaced: Bool

    /// Samples per pixel as stored.
    var samples: Int { [1, 0, 3, 1, 2, 0, 4][colorType] }
    var bitsPerPixel: Int { samples * bitDepth }
    func rowBytes(_ w: Int) -> Int { (w * bitsPerPixel + 7) / 8 }
}

/// The chunks of a PNG that decoding needs.
struct PNGChunks {
    var header: PNGHeader
    var palette: [UInt8] = []
    var transparency: [UInt8]? = nil
    var data: [UInt8] = []
    /// From an eXIf chunk before the image data (1 if none or invalid).
    var orientation = 1
}

@inline(__always) func bigEndian32(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
    UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
}

/// Reads the chunk sequence: checks every CRC up to the end of the image data (Pillow checks those before the
/// first IDAT and skips the IDAT ones; we check IDAT too), validates IHDR and the pixel cap, and concatenates IDAT.
/// Chunks after the last IDAT (IEND, text) are not read, as Pillow does not need them either.
func readPNGChunks(_ bytes: UnsafeBufferPointer<UInt8>) throws(ImageError) -> PNGChunks {
    let n = bytes.count
    guard n >= 8 else { throw ImageError("truncated PNG data (file of \(n) bytes)") }
    for i in 0..<8 where bytes[i] != pngSignature[i] { throw ImageError("not a PNG file (bad signature)") }
    var pos = 8
    var chunks: PNGChunks? = nil
    var idatParts: [(Int, Int)] = []
    var idatTotal = 0
    var seenIDAT = false
    while true {
        guard pos + 8 <= n else {
            if seenIDAT { break }
            throw ImageError(chunks == nil ? "truncated PNG data (no IHDR chunk)" : "truncated PNG data (no IDAT chunk)")
        }
        let length = Int(bigEndian32(bytes, pos))
        let type = (bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7])
        let name = String(decoding: [type.0, type.1, type.2, type.3], as: UTF8.self)
        for b in [type.0, type.1, type.2, type.3] {
            let letter = (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
            guard letter else {
                if seenIDAT { return try finish(chunks, idatParts, idatTotal, bytes) }
                throw ImageError("corrupt PNG data (invalid chunk type at byte \(pos + 4))")
            }
        }
        guard length <= 0x7FFF_FFFF else {
            throw ImageError("corrupt PNG data (\(name) chunk length \(length) exceeds the PNG limit of 2^31-1)")
        }
        let isIDAT = name == "IDAT"
        if seenIDAT && !isIDAT { break }
        guard length <= n - pos - 12 else {
            throw ImageError("truncated PNG data (\(name) chunk of \(length) bytes at byte \(pos) runs past the end of the file)")
        }
        let stored = bigEndian32(bytes, pos + 8 + length)
        let crc = CRC32.update(0, UnsafeBufferPointer(rebasing: bytes[(pos + 4)..<(pos + 8 + length)]))
        guard crc == stored else { throw ImageError("corrupt PNG data (bad CRC in \(name) chunk)") }
        let body = pos + 8
        if chunks == nil {
            guard name == "IHDR" else { throw ImageError("corrupt PNG data (first chunk is \(name), not IHDR)") }
            chunks = PNGChunks(header: try parseIHDR(UnsafeBufferPointer(rebasing: bytes[body..<(body + length)])))
        } else if var c = chunks {
            switch name {
            case "IHDR":
                throw ImageError("corrupt PNG data (second IHDR chunk)")
            case "PLTE":
                guard length % 3 == 0, length >= 3, length <= 768 else {
                    throw ImageError("corrupt PNG data (PLTE chunk of \(length) bytes)")
                }
                c.palette = Array(bytes[body..<(body + length)])
                chunks = c
            case "tRNS":
                c.transparency = Array(bytes[body..<(body + length)])
                chunks = c
            case "eXIf":
                c.orientation = pngExifOrientation(bytes, body, length)
                chunks = c
            case "IDAT":
                seenIDAT = true
                idatParts.append((body, length))
                idatTotal += length
            default:
                break // ancillary and unknown chunks are skipped, as Pillow does
            }
        }
        if name == "IEND" {
            throw ImageError("corrupt PNG data (no IDAT chunk)")
        }
        pos += 12 + length
    }
    return try finish(chunks, idatParts, idatTotal, bytes)
}

private func finish(_ chunks: PNGChunks?, _ parts: [(Int, Int)], _ total: Int,
                    _ bytes: UnsafeBufferPointer<UInt8>) throws(ImageError) -> PNGChunks {
    guard var c = chunks else { throw ImageError("truncated PNG data (no IHDR chunk)") }
    if c.header.colorType == 3 && c.palette.isEmpty { throw ImageError("corrupt PNG data (palette image without PLTE chunk)") }
    var data = [UInt8]()
    data.reserveCapacity(total)
    for (start, length) in parts { data.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<(start + length)])) }
    c.data = data
    return c
}

func parseIHDR(_ b: UnsafeBufferPointer<UInt8>) throws(ImageError) -> PNGHeader {
    guard b.count == 13 else { throw ImageError("corrupt PNG data (IHDR chunk of \(b.count) bytes, expected 13)") }
    let width = Int(bigEndian32(b, 0)), height = Int(bigEndian32(b, 4))
    let depth = Int(b[8]), type = Int(b[9])
    guard width > 0, height > 0 else { throw ImageError("invalid PNG dimensions \(width)x\(height)") }
    guard width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
        throw ImageError("invalid PNG dimensions \(width)x\(height) (above the PNG limit of 2^31-1)")
    }
    let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
    guard let depths = allowed[type] else { throw ImageError("corrupt PNG data (unknown colour type \(type))") }
    guard depths.contains(depth) else {
        throw ImageError("corrupt PNG data (bit depth \(depth) is not allowed for colour type \(type))")
    }
    guard b[10] == 0 else { throw ImageError("corrupt PNG data (unknown compression method \(b[10]))") }
    guard b[11] == 0 else { throw ImageError("corrupt PNG data (unknown filter method \(b[11]))") }
    guard b[12] <= 1 else { throw ImageError("corrupt PNG data (unknown interlace method \(b[12]))") }
    try checkPixelCap(width: width, height: height)
    return PNGHeader(width: width, height: height, bitDepth: depth, colorType: type, interlaced: b[12] == 1)
}

/// Throws when `width * height` is above `maximumImagePixels`; call before allocating pixels.
func checkPixelCap(width: Int, height: Int) throws(ImageError) {
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    guard !overflow, pixels <= maximumImagePixels else {
        throw ImageError("image of \(width)x\(height) pixels is above the limit of \(maximumImagePixels) pixels")
    }
}

/// Adam7 passes: x0, y0, dx, dy.
let adam7: [(Int, Int, Int, Int)] = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

/// Reads the header of a PNG without decoding pixels.
public func readPNGHeader(_ data: [UInt8]) throws(ImageError) -> PNGHeader {
    try data.withUnsafeBufferPointer { (b) throws(ImageError) in
        guard b.count >= 33 else { throw ImageError("truncated PNG data (file of \(b.count) bytes)") }
        for i in 0..<8 where b[i] != pngSignature[i] { throw ImageError("not a PNG file (bad signature)") }
        guard bigEndian32(b, 8) == 13, b[12] == 0x49, b[13] == 0x48, b[14] == 0x44, b[15] == 0x52 else {
            throw ImageError("corrupt PNG data (first chunk is not IHDR)")
        }
        return try parseIHDR(UnsafeBufferPointer(rebasing: b[16..<29]))
    }
}

/// Decodes a PNG of any colour type, bit depth and interlacing to 8-bit channels, as Pillow's
/// `convert("L" / "LA" / "RGB" / "RGBA")` would give them for its mode:
/// grey → 1 channel, grey + alpha → 2, RGB and palette → 3, RGBA → 4; a tRNS chunk adds an alpha channel
/// (grey → 2, RGB and palette → 4). 16-bit samples keep their high byte (Pillow's `;16B` raw modes), sub-byte grey is
/// scaled to 0...255 (x255, x85, x17) and palette indices outside the palette give black, as in Pillow.
///
/// One difference from Pillow: 16-bit greyscale opens in Pillow as mode `I;16`, whose `convert("L"/"RGB")` clips
/// values above 255 to white; we take the high byte as for the other 16-bit types, which keeps the picture.
public func decodePNGPixels(_ data: [UInt8]) throws(ImageError) -> PixelImage {
    let chunks = try data.withUnsafeBufferPointer { (b) throws(ImageError) in try readPNGChunks(b) }
    let h = chunks.header
    // Size of the filtered scanlines, which bounds inflate's output.
    var passes: [(x0: Int, y0: Int, dx: Int, dy: Int, w: Int, h: Int)] = []
    for (x0, y0, dx, dy) in h.interlaced ? adam7 : [(0, 0, 1, 1)] {
        let pw = h.width > x0 ? (h.width - x0 + dx - 1) / dx : 0
        let ph = h.height > y0 ? (h.height - y0 + dy - 1) / dy : 0
        if pw > 0 && ph > 0 { passes.append((x0, y0, dx, dy, pw, ph)) }
    }
    var rawSize = 0
    for p in passes { rawSize += p.h * (1 + h.rowBytes(p.w)) }

    let trns = chunks.transparency
    let hasTRNS: Bool
    switch h.colorType {
    case 0: hasTRNS = (trns?.count ?? 0) >= 2
    case 2: hasTRNS = (trns?.count ?? 0) >= 6
    case 3: hasTRNS = !(trns?.isEmpty ?? true)
    default: hasTRNS = false
    }
    let outChannels: Int
    switch h.colorType {
    case 0: outChannels = hasTRNS ? 2 : 1
    case 4: outChannels = 2
    case 6: outChannels = 4
    default: outChannels = hasTRNS ? 4 : 3
    }
    let raw = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: rawSize)
    defer { raw.deallocate() }
    do {
        try chunks.data.withUnsafeBufferPointer { (i) throws(InflateError) in try zlibInflate(i, into: raw) }
    } catch {
        switch error {
        case .truncated:
            throw ImageError("truncated PNG data (compressed image data ends early)")
        case .tooSmall(let got):
            throw ImageError("truncated PNG data (image data ends after \(got) of \(rawSize) bytes)")
        case .tooLarge:
            throw ImageError("corrupt PNG data (image data inflates to more than the \(rawSize) bytes a \(h.width)x\(h.height) image holds)")
        case .corrupt(let m):
            throw ImageError("corrupt PNG data (\(m))")
        }
    }

    var pixels = [UInt8](repeating: 0, count: h.width * h.height * outChannels)
    let alphas = trns ?? []
    var palette = [UInt8](repeating: 0, count: 256 * 4)
    for i in 0..<256 {
        if 3 * i + 2 < chunks.palette.count {
            for c in 0..<3 { palette[4 * i + c] = chunks.palette[3 * i + c] }
        }
        palette[4 * i + 3] = (h.colorType == 3 && i < alphas.count) ? alphas[i] : 255
    }
    var key: (Int, Int, Int) = (-1, -1, -1)
    if hasTRNS, let t = trns {
        if h.colorType == 0 { key = (Int(t[0]) << 8 | Int(t[1]), -1, -1) }
        if h.colorType == 2 { key = (Int(t[0]) << 8 | Int(t[1]), Int(t[2]) << 8 | Int(t[3]), Int(t[4]) << 8 | Int(t[5])) }
    }

    var offset = 0
    let bpp = max(1, h.bitsPerPixel / 8)
    let zero = [UInt8](repeating: 0, count: h.rowBytes(h.width))
    try pixels.withUnsafeMutableBufferPointer { (out) throws(ImageError) in
        try zero.withUnsafeBufferPointer { (zero) throws(ImageError) in
            try palette.withUnsafeBufferPointer { (pal) throws(ImageError) in
                for p in passes {
                    let rb = h.rowBytes(p.w)
                    var prev = zero.baseAddress!
                    for y in 0..<p.h {
                        let row = raw.baseAddress! + offset
                        let filter = row[0]
                        let cur = row + 1
                        try unfilter(filter, cur, prev, rb, bpp)
                        let dst = out.baseAddress! + ((p.y0 + y * p.dy) * h.width + p.x0) * outChannels
                        expandRow(h, cur, p.w, dst, p.dx * outChannels, outChannels, hasTRNS, key, pal.baseAddress!)
                        prev = UnsafePointer(cur)
                        offset += 1 + rb
                    }
                }
            }
        }
    }
    return PixelImage(width: h.width, height: h.height, channels: outChannels, pixels: pixels, orientation: chunks.orientation)
}

/// Decodes a PNG to RGB. Without transparency the pixels equal Pillow's `Image.open(f).convert("RGB")`;
/// with an alpha channel or tRNS the image is composited on white (see `PixelImage.compositedOnWhite()`), whereas
/// Pillow's `convert("RGB")` would drop the alpha.
public func decodePNG(_ data: [UInt8]) throws(ImageError) -> RGBImage {
    try decodePNGPixels(data).compositedOnWhite()
}

/// Undoes one scanline's filter in place; `prev` is the previous unfiltered line (zeros for the first).
@inline(__always)
func unfilter(_ filter: UInt8, _ cur: UnsafeMutablePointer<UInt8>, _ prev: UnsafePointer<UInt8>, _ n: Int, _ bpp: Int) throws(ImageError) {
    switch filter {
    case 0:
        break
    case 1:
        if n > bpp { for i in bpp..<n { cur[i] &+= cur[i - bpp] } }
    case 2:
        for i in 0..<n { cur[i] &+= prev[i] }
    case 3:
        for i in 0..<min(bpp, n) { cur[i] &+= prev[i] >> 1 }
        if n > bpp { for i in bpp..<n { cur[i] &+= UInt8(truncatingIfNeeded: (Int(cur[i - bpp]) + Int(prev[i])) >> 1) } }
    case 4:
        for i in 0..<min(bpp, n) { cur[i] &+= prev[i] }
        if n > bpp {
            for i in bpp..<n {
                let a = Int(cur[i - bpp]), b = Int(prev[i]), c = Int(prev[i - bpp])
                let pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c)
                let pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                cur[i] &+= UInt8(truncatingIfNeeded: pred)
            }
        }
    default:
        throw ImageError("corrupt PNG data (invalid filter type \(filter))")
    }
}

/// Converts one unfiltered scanline of `count` pixels to 8-bit output channels, writing pixel k at `dst + k * step`.
@inline(__always)
func expandRow(_ h: PNGHeader, _ src: UnsafePointer<UInt8>, _ count: Int, _ dst: UnsafeMutablePointer<UInt8>,
               _ step: Int, _ channels: Int, _ hasTRNS: Bool, _ key: (Int, Int, Int), _ palette: UnsafePointer<UInt8>) {
    let depth = h.bitDepth
    let plain = !hasTRNS || h.colorType == 4 || h.colorType == 6
    switch (h.colorType, depth) {
    case (0, 8) where plain, (2, 8) where plain, (4, 8) where plain, (6, 8) where plain:
        if step == channels {
            dst.update(from: src, count: count * channels)
        } else {
            for k in 0..<count { for c in 0..<channels { dst[k * step + c] = src[k * channels + c] } }
        }
    case (0, 16) where plain, (2, 16) where plain, (4, 16) where plain, (6, 16) where plain:
        for k in 0..<count { for c in 0..<channels { dst[k * step + c] = src[2 * (k * channels + c)] } }
    case (0, _):
        let scale = depth >= 8 ? 1 : 255 / ((1 << depth) - 1)
        for k in 0..<count {
            let v: Int, g: UInt8
            if depth == 16 {
                v = Int(src[2 * k]) << 8 | Int(src[2 * k + 1]); g = src[2 * k]
            } else if depth == 8 {
                v = Int(src[k]); g = src[k]
            } else {
                let bit = k * depth
                v = Int(src[bit >> 3] >> UInt8(8 - depth - (bit & 7))) & ((1 << depth) - 1)
                g = UInt8(v * scale)
            }
            dst[k * step] = g
            if hasTRNS { dst[k * step + 1] = v == key.0 ? 0 : 255 }
        }
    case (2, _):
        for k in 0..<count {
            if depth == 16 {
                let r = Int(src[6 * k]) << 8 | Int(src[6 * k + 1])
                let g = Int(src[6 * k + 2]) << 8 | Int(src[6 * k + 3])
                let b = Int(src[6 * k + 4]) << 8 | Int(src[6 * k + 5])
                dst[k * step] = src[6 * k]; dst[k * step + 1] = src[6 * k + 2]; dst[k * step + 2] = src[6 * k + 4]
                dst[k * step + 3] = (r == key.0 && g == key.1 && b == key.2) ? 0 : 255
            } else {
                let r = src[3 * k], g = src[3 * k + 1], b = src[3 * k + 2]
                dst[k * step] = r; dst[k * step + 1] = g; dst[k * step + 2] = b
                dst[k * step + 3] = (Int(r) == key.0 && Int(g) == key.1 && Int(b) == key.2) ? 0 : 255
            }
        }
    default: // palette
        for k in 0..<count {
            let index: Int
            if depth == 8 {
                index = Int(src[k])
            } else {
                let bit = k * depth
                index = Int(src[bit >> 3] >> UInt8(8 - depth - (bit & 7))) & ((1 << depth) - 1)
            }
            let e = palette + 4 * index
            dst[k * step] = e[0]; dst[k * step + 1] = e[1]; dst[k * step + 2] = e[2]
            if channels == 4 { dst[k * step + 3] = e[3] }
        }
    }
}

/// The orientation tag (0x0112) of IFD0 in the TIFF-structured data of an eXIf chunk; 1 when absent or invalid.
private func pngExifOrientation(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int {
    guard count >= 8 else { return 1 }
    let little: Bool
    switch (b[start], b[start + 1]) {
    case (0x49, 0x49): little = true
    case (0x4D, 0x4D): little = false
    default: return 1
    }
    func u16(_ o: Int) -> Int {
        little ? Int(b[start + o]) | Int(b[start + o + 1]) << 8 : Int(b[start + o]) << 8 | Int(b[start + o + 1])
    }
    func u32(_ o: Int) -> Int { little ? u16(o) | u16(o + 2) << 16 : u16(o) << 16 | u16(o + 2) }
    guard u16(2) == 42 else { return 1 }
    let ifd = u32(4)
    guard ifd >= 8, ifd <= count - 2 else { return 1 }
    let entries = u16(ifd)
    for e in 0..<entries {
        let o = ifd + 2 + 12 * e
        guard o + 12 <= count else { return 1 }
        if u16(o) == 0x0112 {
            guard u16(o + 2) == 3 else { return 1 }
            let v = u16(o + 8)
            return (1...8).contains(v) ? v : 1
        }
    }
    return 1
}
