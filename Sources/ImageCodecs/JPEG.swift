// JPEG decoding entry point: the marker loop, then IDCT, upsampling and colour conversion.

/// Decodes a JPEG file (baseline, extended sequential or progressive) to RGB exactly as Pillow
/// (libjpeg-turbo, ISLOW IDCT, fancy upsampling) does: `Image.open(f).convert("RGB")`.
/// Grayscale becomes R = G = B; Adobe CMYK/YCCK is converted as Pillow converts CMYK to RGB.
/// The EXIF orientation is reported in `orientation`, not applied. Truncated or corrupt data, images
/// above `maximumImagePixels` and unsupported variants (arithmetic coding, lossless, 12-bit) throw.
public func decodeJPEG(_ data: [UInt8]) throws(ImageError) -> RGBImage {
    try JPEGDecoder().decode(data)
}

/// Progressive files with more scans than this are rejected (each scan visits every block of its
/// components, so an unbounded number of tiny scans would be a denial of service).
let jpegMaximumScans = 500

/// Decoder state across marker segments.
final class JPEGDecoder {
    var frame: JPEGFrame?
    var quant: [[Int32]?] = [nil, nil, nil, nil]
    var dc: [JPEGHuffmanTable?] = [nil, nil, nil, nil]
    var ac: [JPEGHuffmanTable?] = [nil, nil, nil, nil]
    var restartInterval = 0
    var coefficients: [JPEGCoefficients] = []
    var sawJFIF = false
    var adobeTransform: Int?
    var orientation: Int?
    var colorSpace = JPEGColorSpace.ycbcr
    var scanCount = 0

    func decode(_ data: [UInt8]) throws(ImageError) -> RGBImage {
        guard data.count >= 2, data[0] == 0xFF, data[1] == 0xD8 else { throw ImageError("not a JPEG file (no SOI marker)") }
        try data.withUnsafeBufferPointer { (buf) throws(ImageError) in
            try readMarkers(buf.baseAddress!, buf.count)
        }
        guard let frame, scanCount > 0 else { throw ImageError("JPEG contains no image") }
        let coefs = coefficients
        coefficients = []
        let planes = Self.inverseTransform(frame: frame, coefficients: coefs)
        let pixels = JPEGColor.convert(frame: frame, planes: planes, space: colorSpace)
        return RGBImage(width: frame.width, height: frame.height, pixels: pixels, orientation: orientation ?? 1)
    }

    /// The next marker code at or after `pos` (skipping garbage and 0xFF fill bytes); nil at the end of data.
    static func nextMarker(_ p: UnsafePointer<UInt8>, _ n: Int, _ pos: inout Int) -> UInt8? {
        while pos < n {
            if p[pos] == 0xFF {
                var q = pos + 1
                while q < n && p[q] == 0xFF { q += 1 }
                guard q < n else { pos = n; return nil }
                pos = q + 1
                if p[q] != 0 { return p[q] }
            } else {
                pos += 1
            }
        }
        return nil
    }

    private func readMarkers(_ p: UnsafePointer<UInt8>, _ n: Int) throws(ImageError) {
        var pos = 2
        while true {
            guard let m = Self.nextMarker(p, n, &pos) else { throw ImageError("truncated JPEG data (no EOI marker)") }
            switch m {
            case 0xD9:
                return
            case 0xD8:
                throw ImageError("corrupt JPEG (second SOI marker)")
            case 0xD0...0xD7, 0x01:
                continue  // parameterless; libjpeg ignores stray ones
            default:
                break
            }
            guard pos + 2 <= n else { throw ImageError("truncated JPEG data") }
            let len = Int(p[pos]) << 8 | Int(p[pos + 1])
            guard len >= 2 else { throw ImageError("corrupt JPEG marker segment length \(len)") }
            guard pos + len <= n else { throw ImageError("truncated JPEG data") }
            let payload = UnsafeBufferPointer(start: p + pos + 2, count: len - 2)
            let seg = ArraySlice(payload)
            pos += len
            switch m {
            case 0xC0, 0xC1, 0xC2:
                guard frame == nil else { throw ImageError("corrupt JPEG (more than one frame header)") }
                frame = try JPEGMarkers.parseFrame(seg, progressive: m == 0xC2)
            case 0xC3, 0xC5, 0xC6, 0xC7, 0xCB, 0xCD, 0xCE, 0xCF:
                throw ImageError("unsupported JPEG variant (lossless or hierarchical, SOF\(m - 0xC0))")
            case 0xC9, 0xCA:
                throw ImageError("unsupported JPEG variant (arithmetic coding)")
            case 0xC4:
                try JPEGMarkers.parseHuffmanTables(seg, dc: &dc, ac: &ac)
            case 0xDB:
                try JPEGMarkers.parseQuantTables(seg, into: &quant)
            case 0xDD:
                guard seg.count >= 2 else { throw ImageError("corrupt JPEG restart interval segment") }
                restartInterval = Int(seg[seg.startIndex]) << 8 | Int(seg[seg.startIndex + 1])
            case 0xDA:
                guard frame != nil else { throw ImageError("corrupt JPEG (scan before frame header)") }
                let scan = try JPEGMarkers.parseScan(seg, frame: frame!)
                if scanCount == 0 { startImage() }
                scanCount += 1
                guard scanCount <= jpegMaximumScans else { throw ImageError("JPEG has more than \(jpegMaximumScans) scans") }
                let reader = try decodeScan(scan, base: p, end: n, pos: pos)
                pos = reader.pos
            case 0xE0:
                if JPEGMarkers.isJFIF(seg) { sawJFIF = true }
            case 0xE1:
                if orientation == nil, let o = JPEGMarkers.exifOrientation(seg) { orientation = o }
            case 0xEE:
                if adobeTransform == nil, let t = JPEGMarkers.adobeTransform(seg) { adobeTransform = t }
            case 0xE2...0xED, 0xEF, 0xFE, 0xCC, 0xDC:
                continue  // other APPn, COM, DAC, DNL
            default:
                throw ImageError("corrupt JPEG (unknown marker 0xFF\(String(m, radix: 16, uppercase: true)))")
            }
        }
    }

    /// At the first scan (libjpeg's jpeg_start_decompress): default Huffman tables, colour space, buffers.
    private func startImage() {
        for (i, chroma) in [(0, false), (1, true)] {
            if dc[i] == nil { dc[i] = JPEGHuffmanTable.standard(dc: true, chroma: chroma) }
            if ac[i] == nil { ac[i] = JPEGHuffmanTable.standard(dc: false, chroma: chroma) }
        }
        guard let frame else { return }
        let ids = frame.components.map(\.id)
        switch frame.components.count {
        case 1:
            colorSpace = .gray
        case 3:
            if sawJFIF { colorSpace = .ycbcr }
            else if let t = adobeTransform { colorSpace = t == 0 ? .rgb : .ycbcr }
            else if ids == [82, 71, 66] { colorSpace = .rgb }
            else { colorSpace = .ycbcr }
        default:
            if let t = adobeTransform { colorSpace = t == 0 ? .cmyk : .ycck } else { colorSpace = .cmyk }
        }
        coefficients = frame.components.map { JPEGCoefficients(count: $0.blocksPerLine * $0.blocksPerColumn * 64) }
    }

    /// IDCT of every block holding image data, per component (with libjpeg's block smoothing when a
    /// progressive file leaves low-frequency coefficients imprecise).
    static func inverseTransform(frame: JPEGFrame, coefficients consumed: __owned [JPEGCoefficients]) -> [JPEGPlane] {
        var coefficients = consumed
        var planes: [JPEGPlane] = []
        let smooth = smoothingApplies(frame)
        for (ci, c) in frame.components.enumerated() {
            let plane = JPEGPlane(stride: c.dataBlocksPerLine * 8, rows: c.dataBlocksPerColumn * 8)
            let q = c.quant ?? [Int32](repeating: 0, count: 64)
            let coef = coefficients[ci].p
            let ws = UnsafeMutablePointer<Int16>.allocate(capacity: 64)
            defer { ws.deallocate() }
            q.withUnsafeBufferPointer { qp in
                let qb = qp.baseAddress!
                for by in 0..<c.dataBlocksPerColumn {
                    for bx in 0..<c.dataBlocksPerLine {
                        var block = UnsafePointer(coef + (by * c.blocksPerLine + bx) * 64)
                        if smooth {
                            smoothBlock(c, coef, totalIMCURows: frame.mcusPerColumn, bx: bx, by: by, q: q, ws: ws)
                            block = UnsafePointer(ws)
                        }
                        jpegIDCTBlock(block, qb, plane.p + by * 8 * plane.stride + bx * 8, plane.stride)
                    }
                }
            }
            planes.append(plane)
            if !smooth { coefficients[ci] = JPEGCoefficients(count: 0) }  // release as soon as done
        }
        return planes
    }
}
