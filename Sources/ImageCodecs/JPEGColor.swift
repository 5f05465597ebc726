// Chroma upsampling ("fancy" triangle filters of libjpeg-turbo's jdsample.c: h2v1, h1v2, h2v2; box
// replication otherwise) and colour conversion (jdcolor.c fixed point YCbCr -> RGB, YCCK -> CMYK, and
// Pillow's CMYK -> RGB), producing interleaved RGB.

/// A component's samples after the IDCT (manually managed).
final class JPEGPlane: @unchecked Sendable {
    let p: UnsafeMutablePointer<UInt8>
    let stride: Int
    let rows: Int
    init(stride: Int, rows: Int) {
        self.stride = stride; self.rows = rows
        p = .allocate(capacity: max(stride * rows, 1))
    }
    deinit { p.deallocate() }
}

/// How the decoded components map to RGB.
enum JPEGColorSpace { case gray, ycbcr, rgb, cmyk, ycck }

enum JPEGColor {
    /// Upsampled samples of row `y` (full image resolution) of a component, `width` of them.
    /// Returns a pointer into the plane when no upsampling is needed, else into `tmp`.
    @inline(__always)
    static func upsampledRow(_ c: JPEGComponent, _ plane: JPEGPlane, fx: Int, fy: Int, y: Int, width: Int,
                             tmp: UnsafeMutablePointer<UInt8>) -> UnsafePointer<UInt8> {
        let n = c.width
        if fx == 1 && fy == 1 { return UnsafePointer(plane.p + y * plane.stride) }
        if fx == 2 && fy == 1 && n > 2 {
            let inp = plane.p + y * plane.stride
            h2v1Fancy(inp, n, tmp)
            return UnsafePointer(tmp)
        }
        if fx == 1 && fy == 2 {
            let inrow = y >> 1
            let upper = y & 1 == 0
            let far = min(max(upper ? inrow - 1 : inrow + 1, 0), c.height - 1)
            let near = plane.p + inrow * plane.stride, other = plane.p + far * plane.stride
            let bias: Int32 = upper ? 1 : 2
            for x in 0..<n {
                tmp[x] = UInt8(truncatingIfNeeded: (3 * Int32(near[x]) + Int32(other[x]) + bias) >> 2)
            }
            return UnsafePointer(tmp)
        }
        if fx == 2 && fy == 2 && n > 2 {
            let inrow = y >> 1
            let far = min(max(y & 1 == 0 ? inrow - 1 : inrow + 1, 0), c.height - 1)
            h2v2Fancy(plane.p + inrow * plane.stride, plane.p + far * plane.stride, n, tmp)
            return UnsafePointer(tmp)
        }
        // Box replication (libjpeg's h2v1/h2v2/int upsamplers).
        let src = plane.p + (y / fy) * plane.stride
        if fx == 1 { return UnsafePointer(src) }
        for x in 0..<width { tmp[x] = src[x / fx] }
        return UnsafePointer(tmp)
    }

    /// libjpeg-turbo h2v1_fancy_upsample: out 2n samples from n >= 3.
    @inline(__always)
    static func h2v1Fancy(_ inp: UnsafePointer<UInt8>, _ n: Int, _ out: UnsafeMutablePointer<UInt8>) {
        out[0] = inp[0]
        out[1] = UInt8(truncatingIfNeeded: (Int32(inp[0]) * 3 + Int32(inp[1]) + 2) >> 2)
        for i in 1..<(n - 1) {
            let v = Int32(inp[i]) * 3
            out[2 * i] = UInt8(truncatingIfNeeded: (v + Int32(inp[i - 1]) + 1) >> 2)
            out[2 * i + 1] = UInt8(truncatingIfNeeded: (v + Int32(inp[i + 1]) + 2) >> 2)
        }
        let v = Int32(inp[n - 1]) * 3
        out[2 * n - 2] = UInt8(truncatingIfNeeded: (v + Int32(inp[n - 2]) + 1) >> 2)
        out[2 * n - 1] = inp[n - 1]
    }

    /// libjpeg-turbo h2v2_fancy_upsample for one output row: `near` is the nearer input row, `far` the
    /// other one (above for even output rows, below for odd ones).
    @inline(__always)
    static func h2v2Fancy(_ near: UnsafePointer<UInt8>, _ far: UnsafePointer<UInt8>, _ n: Int,
                          _ out: UnsafeMutablePointer<UInt8>) {
        @inline(__always) func cs(_ i: Int) -> Int32 { Int32(near[i]) * 3 + Int32(far[i]) }
        var this = cs(0), next = cs(1)
        out[0] = UInt8(truncatingIfNeeded: (this * 4 + 8) >> 4)
        out[1] = UInt8(truncatingIfNeeded: (this * 3 + next + 7) >> 4)
        var last = this
        this = next
        for i in 1..<(n - 1) {
            next = cs(i + 1)
            out[2 * i] = UInt8(truncatingIfNeeded: (this * 3 + last + 8) >> 4)
            out[2 * i + 1] = UInt8(truncatingIfNeeded: (this * 3 + next + 7) >> 4)
            last = this
            this = next
        }
        out[2 * n - 2] = UInt8(truncatingIfNeeded: (this * 3 + last + 8) >> 4)
        out[2 * n - 1] = UInt8(truncatingIfNeeded: (this * 4 + 7) >> 4)
    }

    /// jdcolor.c ycc_rgb_convert for one row (FIX(1.40200) = 91881, FIX(1.77200) = 116130,
    /// FIX(0.71414) = 46802, FIX(0.34414) = 22554, SCALEBITS 16).
    @inline(__always)
    static func yccToRGB(_ y: UnsafePointer<UInt8>, _ cb: UnsafePointer<UInt8>, _ cr: UnsafePointer<UInt8>,
                         _ n: Int, _ out: UnsafeMutablePointer<UInt8>) {
        typealias V = SIMD8<Int32>
        var x = 0
        let lo = V.zero, hi = V(repeating: 255)
        while x + 8 <= n {
            let yy = V(truncatingIfNeeded: UnsafeRawPointer(y + x).loadUnaligned(as: SIMD8<UInt8>.self))
            let b = V(truncatingIfNeeded: UnsafeRawPointer(cb + x).loadUnaligned(as: SIMD8<UInt8>.self)) &- 128
            let r = V(truncatingIfNeeded: UnsafeRawPointer(cr + x).loadUnaligned(as: SIMD8<UInt8>.self)) &- 128
            let rr = (yy &+ ((r &* 91881 &+ 32768) &>> 16)).clamped(lowerBound: lo, upperBound: hi)
            let gg = (yy &+ ((b &* -22554 &+ r &* -46802 &+ 32768) &>> 16)).clamped(lowerBound: lo, upperBound: hi)
            let bb = (yy &+ ((b &* 116130 &+ 32768) &>> 16)).clamped(lowerBound: lo, upperBound: hi)
            let o = out + 3 * x
            for i in 0..<8 {
                o[3 * i] = UInt8(truncatingIfNeeded: rr[i])
                o[3 * i + 1] = UInt8(truncatingIfNeeded: gg[i])
                o[3 * i + 2] = UInt8(truncatingIfNeeded: bb[i])
            }
            x += 8
        }
        while x < n {
            let yy = Int32(y[x]), b = Int32(cb[x]) - 128, r = Int32(cr[x]) - 128
            out[3 * x] = UInt8(clamping: yy + ((r * 91881 + 32768) >> 16))
            out[3 * x + 1] = UInt8(clamping: yy + ((b * -22554 + r * -46802 + 32768) >> 16))
            out[3 * x + 2] = UInt8(clamping: yy + ((b * 116130 + 32768) >> 16))
            x += 1
        }
    }

    /// One scalar YCbCr -> RGB conversion (for YCCK).
    @inline(__always)
    static func ycc(_ y: UInt8, _ cb: UInt8, _ cr: UInt8) -> (Int32, Int32, Int32) {
        let yy = Int32(y), b = Int32(cb) - 128, r = Int32(cr) - 128
        return (Int32(UInt8(clamping: yy + ((r * 91881 + 32768) >> 16))),
                Int32(UInt8(clamping: yy + ((b * -22554 + r * -46802 + 32768) >> 16))),
                Int32(UInt8(clamping: yy + ((b * 116130 + 32768) >> 16))))
    }

    /// Pillow's cmyk2rgb on the inverted ("CMYK;I", Adobe) samples: `c, m, y, k` are as stored in the file.
    @inline(__always)
    static func adobeCMYKToRGB(_ c: Int32, _ m: Int32, _ y: Int32, _ k: Int32) -> (UInt8, UInt8, UInt8) {
        // Pillow unpacks "CMYK;I" as 255 - stored, then out = nk - nk * v / 255 with nk = 255 - K.
        let nk = k
        @inline(__always) func ch(_ v: Int32) -> UInt8 {
            let inv = 255 - v
            let t = inv * nk + 128
            return UInt8(clamping: nk - (((t >> 8) + t) >> 8))
        }
        return (ch(c), ch(m), ch(y))
    }

    /// Converts the component planes to interleaved RGB.
    static func convert(frame: JPEGFrame, planes: [JPEGPlane], space: JPEGColorSpace) -> [UInt8] {
        let w = frame.width, h = frame.height
        let nc = frame.components.count
        let tmpWidth = 2 * (frame.components.map(\.width).max() ?? 0) + w + 16
        let tmp = UnsafeMutablePointer<UInt8>.allocate(capacity: tmpWidth * nc)
        defer { tmp.deallocate() }
        let fx = frame.components.map { frame.maxH / $0.h }
        let fy = frame.components.map { frame.maxV / $0.v }
        return [UInt8](unsafeUninitializedCapacity: w * h * 3) { buf, done in
            let out = buf.baseAddress!
            var rows = [UnsafePointer<UInt8>](repeating: UnsafePointer(tmp), count: nc)
            for y in 0..<h {
                for i in 0..<nc {
                    rows[i] = upsampledRow(frame.components[i], planes[i], fx: fx[i], fy: fy[i], y: y, width: w,
                                           tmp: tmp + i * tmpWidth)
                }
                let o = out + y * w * 3
                switch space {
                case .gray:
                    let g = rows[0]
                    for x in 0..<w { o[3 * x] = g[x]; o[3 * x + 1] = g[x]; o[3 * x + 2] = g[x] }
                case .ycbcr:
                    yccToRGB(rows[0], rows[1], rows[2], w, o)
                case .rgb:
                    for x in 0..<w { o[3 * x] = rows[0][x]; o[3 * x + 1] = rows[1][x]; o[3 * x + 2] = rows[2][x] }
                case .cmyk:
                    for x in 0..<w {
                        let p = adobeCMYKToRGB(Int32(rows[0][x]), Int32(rows[1][x]), Int32(rows[2][x]), Int32(rows[3][x]))
                        o[3 * x] = p.0; o[3 * x + 1] = p.1; o[3 * x + 2] = p.2
                    }
                case .ycck:
                    for x in 0..<w {
                        // libjpeg: C = 255 - R, M = 255 - G, Y = 255 - B, K unchanged.
                        let (r, g, b) = ycc(rows[0][x], rows[1][x], rows[2][x])
                        let p = adobeCMYKToRGB(255 - r, 255 - g, 255 - b, Int32(rows[3][x]))
                        o[3 * x] = p.0; o[3 * x + 1] = p.1; o[3 * x + 2] = p.2
                    }
                }
            }
            done = w * h * 3
        }
    }
}
