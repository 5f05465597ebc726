// JPEG marker segments: frame header, quantisation and Huffman tables, restart interval, scan header,
// Adobe APP14 and the EXIF orientation in APP1. Every length and index is checked against the data.

/// One image component as declared in the frame header, with its coefficient storage.
struct JPEGComponent {
    var id: Int
    var h: Int
    var v: Int
    var quantSelector: Int
    /// Blocks per line and per column in the coefficient buffer (padded to whole MCUs).
    var blocksPerLine = 0
    var blocksPerColumn = 0
    /// Blocks that hold image data (used by non-interleaved scans): ceil(downsampled size / 8).
    var dataBlocksPerLine = 0
    var dataBlocksPerColumn = 0
    /// Size of the component in samples (libjpeg's downsampled_width/height).
    var width = 0
    var height = 0
    /// Quantisation table latched when the component's first scan starts (natural order).
    var quant: [Int32]? = nil
    /// Coefficients, 64 per block, natural order, block (x, y) at (y * blocksPerLine + x) * 64.
    var coefficients: [Int16] = []
    /// Progressive bookkeeping: for each coefficient, the lowest bit received so far (-1: none).
    var coefBits = [Int](repeating: -1, count: 64)
}

/// The frame header (SOFn).
struct JPEGFrame {
    var progressive: Bool
    var width: Int
    var height: Int
    var components: [JPEGComponent]
    var maxH = 1
    var maxV = 1
    var mcusPerLine = 0
    var mcusPerColumn = 0
}

/// The scan header (SOS).
struct JPEGScan {
    var componentIndices: [Int]
    var dcTable: [Int]
    var acTable: [Int]
    var ss: Int
    var se: Int
    var ah: Int
    var al: Int
}

/// Big-endian 16-bit value at `i` (caller has checked bounds).
@inline(__always) func be16(_ d: [UInt8], _ i: Int) -> Int { Int(d[i]) << 8 | Int(d[i + 1]) }

enum JPEGMarkers {
    /// Parses SOF0/1/2 (the payload after the length field).
    static func parseFrame(_ s: ArraySlice<UInt8>, progressive: Bool) throws(ImageError) -> JPEGFrame {
        let p = Array(s)
        guard p.count >= 6 else { throw ImageError("corrupt JPEG frame header (too short)") }
        guard p[0] == 8 else { throw ImageError("unsupported JPEG sample precision \(p[0]) bits (only 8-bit is supported)") }
        let height = be16(p, 1), width = be16(p, 3), n = Int(p[5])
        guard width > 0, height > 0 else {
            throw ImageError("JPEG has zero dimensions (\(width)x\(height))")
        }
        guard width * height <= maximumImagePixels else {
            throw ImageError("JPEG is too large (\(width)x\(height) exceeds the limit of \(maximumImagePixels) pixels)")
        }
        guard n == 1 || n == 3 || n == 4 else { throw ImageError("unsupported JPEG with \(n) components") }
        guard p.count >= 6 + 3 * n else { throw ImageError("corrupt JPEG frame header (too short for \(n) components)") }
        var comps: [JPEGComponent] = []
        for c in 0..<n {
            let o = 6 + 3 * c
            let h = Int(p[o + 1] >> 4), v = Int(p[o + 1] & 15), q = Int(p[o + 2])
            guard (1...4).contains(h), (1...4).contains(v) else {
                throw ImageError("corrupt JPEG frame header (sampling factors \(h)x\(v))")
            }
            guard q < 4 else { throw ImageError("corrupt JPEG frame header (quantisation table \(q))") }
            comps.append(JPEGComponent(id: Int(p[o]), h: h, v: v, quantSelector: q))
        }
        var f = JPEGFrame(progressive: progressive, width: width, height: height, components: comps)
        f.maxH = comps.map(\.h).max() ?? 1
        f.maxV = comps.map(\.v).max() ?? 1
        for c in comps where f.maxH % c.h != 0 || f.maxV % c.v != 0 {
            throw ImageError("unsupported JPEG sampling factors (fractional ratio \(f.maxH)/\(c.h) or \(f.maxV)/\(c.v))")
        }
        f.mcusPerLine = (width + 8 * f.maxH - 1) / (8 * f.maxH)
        f.mcusPerColumn = (height + 8 * f.maxV - 1) / (8 * f.maxV)
        for i in f.components.indices {
            var c = f.components[i]
            c.width = (width * c.h + f.maxH - 1) / f.maxH
            c.height = (height * c.v + f.maxV - 1) / f.maxV
            c.dataBlocksPerLine = (c.width + 7) / 8
            c.dataBlocksPerColumn = (c.height + 7) / 8
            c.blocksPerLine = f.mcusPerLine * c.h
            c.blocksPerColumn = f.mcusPerColumn * c.v
            f.components[i] = c
        }
        return f
    }

    /// Parses a DQT segment into the four table slots (natural order).
    static func parseQuantTables(_ s: ArraySlice<UInt8>, into tables: inout [[Int32]?]) throws(ImageError) {
        let p = Array(s)
        var i = 0
        while i < p.count {
            let pq = Int(p[i] >> 4), tq = Int(p[i] & 15)
            i += 1
            guard tq < 4, pq <= 1 else { throw ImageError("corrupt JPEG quantisation table header") }
            let size = pq == 0 ? 64 : 128
            guard i + size <= p.count else { throw ImageError("corrupt JPEG quantisation table (too short)") }
            var t = [Int32](repeating: 0, count: 64)
            for k in 0..<64 {
                let v = pq == 0 ? Int32(p[i + k]) : Int32(p[i + 2 * k]) << 8 | Int32(p[i + 2 * k + 1])
                t[jpegNaturalOrder[k]] = v
            }
            tables[tq] = t
            i += size
        }
    }

    /// Parses a DHT segment into the DC and AC table slots.
    static func parseHuffmanTables(_ s: ArraySlice<UInt8>, dc: inout [JPEGHuffmanTable?], ac: inout [JPEGHuffmanTable?]) throws(ImageError) {
        let p = Array(s)
        var i = 0
        while i < p.count {
            guard i + 17 <= p.count else { throw ImageError("corrupt JPEG Huffman table (too short)") }
            let tc = Int(p[i] >> 4), th = Int(p[i] & 15)
            guard tc <= 1, th < 4 else { throw ImageError("corrupt JPEG Huffman table header") }
            let counts = Array(p[(i + 1)..<(i + 17)]).map(Int.init)
            let total = counts.reduce(0, +)
            i += 17
            guard total <= 256, i + total <= p.count else { throw ImageError("corrupt JPEG Huffman table (bad symbol count)") }
            let values = Array(p[i..<(i + total)])
            i += total
            let table = JPEGHuffmanTable(counts: counts, values: values, isDC: tc == 0)
            if tc == 0 { dc[th] = table } else { ac[th] = table }
        }
    }

    /// Parses an SOS header against the frame's components.
    static func parseScan(_ s: ArraySlice<UInt8>, frame: JPEGFrame) throws(ImageError) -> JPEGScan {
        let p = Array(s)
        guard p.count >= 1 else { throw ImageError("corrupt JPEG scan header") }
        let n = Int(p[0])
        guard n >= 1, n <= 4, n <= frame.components.count, p.count >= 1 + 2 * n + 3 else {
            throw ImageError("corrupt JPEG scan header")
        }
        var idx: [Int] = [], dc: [Int] = [], ac: [Int] = []
        for k in 0..<n {
            let cid = Int(p[1 + 2 * k]), t = p[2 + 2 * k]
            guard let ci = frame.components.firstIndex(where: { $0.id == cid }), !idx.contains(ci) else {
                throw ImageError("corrupt JPEG scan header (unknown or repeated component \(cid))")
            }
            idx.append(ci)
            dc.append(Int(t >> 4)); ac.append(Int(t & 15))
            guard dc[k] < 4, ac[k] < 4 else { throw ImageError("corrupt JPEG scan header (Huffman table index)") }
        }
        let o = 1 + 2 * n
        return JPEGScan(componentIndices: idx, dcTable: dc, acTable: ac,
                        ss: Int(p[o]), se: Int(p[o + 1]), ah: Int(p[o + 2] >> 4), al: Int(p[o + 2] & 15))
    }

    /// The Adobe APP14 colour transform flag, if the segment is an Adobe marker.
    static func adobeTransform(_ s: ArraySlice<UInt8>) -> Int? {
        let p = Array(s)
        guard p.count >= 12, p[0] == 0x41, p[1] == 0x64, p[2] == 0x6F, p[3] == 0x62, p[4] == 0x65 else { return nil }
        return Int(p[11])
    }

    /// True if an APP0 segment is a JFIF marker.
    static func isJFIF(_ s: ArraySlice<UInt8>) -> Bool {
        let p = Array(s.prefix(5))
        return p == [0x4A, 0x46, 0x49, 0x46, 0]
    }

    /// The EXIF orientation (tag 0x0112 in IFD0) of an APP1 segment: nil if it is not an EXIF segment,
    /// 1 if it is one without a valid orientation (Pillow reads only the first EXIF segment).
    static func exifOrientation(_ s: ArraySlice<UInt8>) -> Int? {
        let p = Array(s)
        guard p.count >= 6, p[0] == 0x45, p[1] == 0x78, p[2] == 0x69, p[3] == 0x66, p[4] == 0, p[5] == 0 else { return nil }
        guard p.count >= 14 else { return 1 }
        let t = Array(p[6...])
        let little: Bool
        if t[0] == 0x49 && t[1] == 0x49 { little = true } else if t[0] == 0x4D && t[1] == 0x4D { little = false } else { return 1 }
        func u16(_ i: Int) -> Int? {
            guard i >= 0, i + 2 <= t.count else { return nil }
            return little ? Int(t[i]) | Int(t[i + 1]) << 8 : Int(t[i]) << 8 | Int(t[i + 1])
        }
        func u32(_ i: Int) -> Int? {
            guard let a = u16(i), let b = u16(i + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return 1 }
        for e in 0..<min(count, 1000) {
            let o = ifd + 2 + 12 * e
            guard let tag = u16(o) else { return 1 }
            if tag == 0x0112 {
                guard let type = u16(o + 2) else { return 1 }
                let value: Int?
                switch type {
                case 1, 6: value = o + 8 < t.count ? Int(t[o + 8]) : nil  // BYTE, SBYTE
                case 3, 8: value = u16(o + 8)  // SHORT, SSHORT
                case 4, 9: value = u32(o + 8)  // LONG, SLONG
                default: value = nil
                }
                guard let v = value else { return 1 }
                return (1...8).contains(v) ? v : 1
            }
        }
        return 1
    }
}

/// Zig-zag index to natural (row-major) index, padded with 63s so that a corrupt run length past the end
/// of the block stays inside it (as libjpeg's table does).
let jpegNaturalOrder: [Int] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]

/// `jpegNaturalOrder` as a pointer for hot loops (80 entries, never freed).
nonisolated(unsafe) let jpegNaturalOrderPointer: UnsafeMutablePointer<Int> = {
    let p = UnsafeMutablePointer<Int>.allocate(capacity: jpegNaturalOrder.count)
    p.initialize(from: jpegNaturalOrder, count: jpegNaturalOrder.count)
    return p
}()
