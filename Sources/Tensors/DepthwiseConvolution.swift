#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Activation fused into a convolution's output.
public enum FusedActivation: Sendable, Equatable {
    case none
    case relu
    /// `min(max(x, 0), 6)`.
    case relu6
}

/// Direct depthwise 3x3 convolution (one filter per channel, groups = channels) on planes of
/// float32, with stride 1 or 2, arbitrary (possibly asymmetric) zero padding, fused bias and
/// activation. Rows are vectorised with `SIMD8<Float>` over the output width; planes run in parallel.
public enum DepthwiseConvolution {
    /// Output extent of a 3x3 window with `stride` over `input` values padded by `before` and `after`.
    @inlinable public static func outputExtent(_ input: Int, stride: Int, before: Int, after: Int) -> Int {
        (input + before + after - 3) / stride + 1
    }

    /// TensorFlow `SAME` padding of a 3x3 window: `(before, after)` with `out = ceil(in / stride)`.
    @inlinable public static func samePadding(_ input: Int, stride: Int) -> (before: Int, after: Int) {
        let out = (input + stride - 1) / stride
        let total = max((out - 1) * stride + 3 - input, 0)
        return (total / 2, total - total / 2)
    }

    /// Convolves `planes` input planes of `height x width` (plane `p` uses filter `p % channels`,
    /// so NCHW with `planes = N*C` and CNHW with `channelMajor` both work) into planes of
    /// `outHeight x outWidth`.
    ///
    /// - `weights`: `[channels, 3, 3]`; `bias`: `[channels]` or nil.
    /// - `padTop`, `padLeft`: zeros before the first row/column; the padding after is whatever
    ///   `outHeight`/`outWidth` imply (rows/columns past the input read as zero).
    /// - `channelMajor`: planes are ordered `[C, N]` (plane `p` uses filter `p / imagesPerChannel`).
    public static func forward3x3(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                  planes: Int, channels: Int, height: Int, width: Int,
                                  outHeight: Int, outWidth: Int, stride: Int, padTop: Int, padLeft: Int,
                                  weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                  activation: FusedActivation = .none, channelMajor: Bool = false) {
        precondition(stride == 1 || stride == 2, "depthwise 3x3: stride \(stride) not supported")
        precondition(channels > 0 && planes % channels == 0, "depthwise 3x3: \(planes) planes, \(channels) channels")
        precondition(padTop >= 0 && padLeft >= 0 && padTop <= 2 && padLeft <= 2, "depthwise 3x3: padding \(padTop), \(padLeft)")
        if planes == 0 || outHeight <= 0 || outWidth <= 0 { return }
        let perChannel = planes / channels
        let inPlane = height * width, outPlane = outHeight * outWidth
        let work = planes * outPlane * 9
        let chunks = work < 1 << 15 ? 1 : min(planes, 8 * activeProcessors)
        let inAddr = Int(bitPattern: input), outAddr = Int(bitPattern: output)
        let wAddr = Int(bitPattern: weights), bAddr = Int(bitPattern: bias)
        // Narrow planes (borders would dominate) are copied into a zero-padded scratch plane and run
        // entirely in SIMD; wide planes read the input in place with scalar borders.
        let narrow = outWidth < 32
        let blocks = (outWidth + 7) / 8
        let paddedWidth = max(width + padLeft + 2, stride * 8 * blocks + 2)
        let paddedRows = (outHeight - 1) * stride + 3
        let body: @Sendable (Int) -> Void = { chunk in
            let src = UnsafePointer<Float>(bitPattern: inAddr)!, dst = UnsafeMutablePointer<Float>(bitPattern: outAddr)!
            let w = UnsafePointer<Float>(bitPattern: wAddr)!, b = UnsafePointer<Float>(bitPattern: bAddr)
            let scratch = narrow ? paddedRows * paddedWidth + 16 : width + 32
            let zero = UnsafeMutablePointer<Float>.allocate(capacity: scratch)
            zero.initialize(repeating: 0, count: scratch)
            defer { zero.deallocate() }
            let lo = chunk * planes / chunks, hi = (chunk + 1) * planes / chunks
            for p in lo..<hi {
                let c = channelMajor ? p / perChannel : p % channels
                if narrow {
                    paddedPlane(src + p * inPlane, dst + p * outPlane, height: height, width: width, outHeight: outHeight,
                                outWidth: outWidth, stride: stride, padTop: padTop, padLeft: padLeft, w: w + 9 * c,
                                bias: b?[c] ?? 0, activation: activation, padded: zero, paddedWidth: paddedWidth,
                                paddedRows: paddedRows)
                } else {
                    plane(src + p * inPlane, dst + p * outPlane, height: height, width: width, outHeight: outHeight,
                          outWidth: outWidth, stride: stride, padTop: padTop, padLeft: padLeft, w: w + 9 * c,
                          bias: b?[c] ?? 0, activation: activation, zero: UnsafePointer(zero))
                }
            }
        }
        if chunks == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: body) }
    }

    /// Processors used for parallel loops.
    static let activeProcessors: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    @inline(__always)
    static func clamp(_ v: Float, _ a: FusedActivation) -> Float {
        switch a {
        case .none: return v
        case .relu: return max(v, 0)
        case .relu6: return min(max(v, 0), 6)
        }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// One narrow plane through a zero-padded copy: `padded` is `paddedRows x paddedWidth`, zero outside the
    /// data region (which is rewritten for every plane, so the zeros persist between planes).
    @inline(__always)
    static func paddedPlane(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, height: Int, width: Int,
                            outHeight: Int, outWidth: Int, stride: Int, padTop: Int, padLeft: Int,
                            w: UnsafePointer<Float>, bias: Float, activation: FusedActivation,
                            padded: UnsafeMutablePointer<Float>, paddedWidth: Int, paddedRows: Int) {
        for iy in 0..<height where iy + padTop < paddedRows {
            (padded + (iy + padTop) * paddedWidth + padLeft).update(from: x + iy * width, count: width)
        }
        let v00 = SIMD8(repeating: w[0]), v01 = SIMD8(repeating: w[1]), v02 = SIMD8(repeating: w[2])
        let v10 = SIMD8(repeating: w[3]), v11 = SIMD8(repeating: w[4]), v12 = SIMD8(repeating: w[5])
        let v20 = SIMD8(repeating: w[6]), v21 = SIMD8(repeating: w[7]), v22 = SIMD8(repeating: w[8])
        let vb = SIMD8<Float>(repeating: bias)
        let lower = SIMD8<Float>(repeating: 0), upper = SIMD8<Float>(repeating: 6)
        let src = UnsafePointer(padded)
        for oy in 0..<outHeight {
            let r0 = src + oy * stride * paddedWidth, r1 = r0 + paddedWidth, r2 = r1 + paddedWidth
            let out = y + oy * outWidth
            var ox = 0
            while ox < outWidth {
                var a = vb
                if stride == 1 {
                    a = a.addingProduct(load8(r0 + ox), v00); a = a.addingProduct(load8(r0 + ox + 1), v01)
                    a = a.addingProduct(load8(r0 + ox + 2), v02)
                    a = a.addingProduct(load8(r1 + ox), v10); a = a.addingProduct(load8(r1 + ox + 1), v11)
                    a = a.addingProduct(load8(r1 + ox + 2), v12)
                    a = a.addingProduct(load8(r2 + ox), v20); a = a.addingProduct(load8(r2 + ox + 1), v21)
                    a = a.addingProduct(load8(r2 + ox + 2), v22)
                } else {
                    let j = 2 * ox
                    let a0 = load16(r0 + j), b0 = load16(r0 + j + 2)
                    let a1 = load16(r1 + j), b1 = load16(r1 + j + 2)
                    let a2 = load16(r2 + j), b2 = load16(r2 + j + 2)
                    a = a.addingProduct(a0.evenHalf, v00); a = a.addingProduct(a0.oddHalf, v01); a = a.addingProduct(b0.evenHalf, v02)
                    a = a.addingProduct(a1.evenHalf, v10); a = a.addingProduct(a1.oddHalf, v11); a = a.addingProduct(b1.evenHalf, v12)
                    a = a.addingProduct(a2.evenHalf, v20); a = a.addingProduct(a2.oddHalf, v21); a = a.addingProduct(b2.evenHalf, v22)
                }
                switch activation {
                case .none: break
                case .relu: a = a.replacing(with: lower, where: a .< lower)
                case .relu6: a = a.replacing(with: lower, where: a .< lower).replacing(with: upper, where: a .> upper)
                }
                if ox + 8 <= outWidth {
                    UnsafeMutableRawPointer(out + ox).storeBytes(of: a, as: SIMD8<Float>.self)
                } else {
                    for i in 0..<(outWidth - ox) { out[ox + i] = a[i] }
                }
                ox += 8
            }
        }
    }

    /// One plane. Out-of-range rows point at `zero`; columns that touch the padding are done in scalar code.
    @inline(__always)
    static func plane(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, height: Int, width: Int,
                      outHeight: Int, outWidth: Int, stride: Int, padTop: Int, padLeft: Int,
                      w: UnsafePointer<Float>, bias: Float, activation: FusedActivation, zero: UnsafePointer<Float>) {
        let w00 = w[0], w01 = w[1], w02 = w[2], w10 = w[3], w11 = w[4], w12 = w[5], w20 = w[6], w21 = w[7], w22 = w[8]
        let v00 = SIMD8(repeating: w00), v01 = SIMD8(repeating: w01), v02 = SIMD8(repeating: w02)
        let v10 = SIMD8(repeating: w10), v11 = SIMD8(repeating: w11), v12 = SIMD8(repeating: w12)
        let v20 = SIMD8(repeating: w20), v21 = SIMD8(repeating: w21), v22 = SIMD8(repeating: w22)
        let vb = SIMD8<Float>(repeating: bias)
        let lower = SIMD8<Float>(repeating: 0), upper = SIMD8<Float>(repeating: 6)
        // Output columns whose three taps are all inside [0, width).
        let first = (padLeft + stride - 1) / stride
        let lastPlusOne = max(first, min(outWidth, (width - 3 + padLeft) / stride + 1))
        for oy in 0..<outHeight {
            let iy = oy * stride - padTop
            let r0 = iy >= 0 && iy < height ? x + iy * width : zero
            let r1 = iy + 1 >= 0 && iy + 1 < height ? x + (iy + 1) * width : zero
            let r2 = iy + 2 >= 0 && iy + 2 < height ? x + (iy + 2) * width : zero
            let out = y + oy * outWidth
            @inline(__always) func scalar(_ ox: Int) {
                let ix = ox * stride - padLeft
                var s = bias
                for kx in 0..<3 {
                    let j = ix + kx
                    if j < 0 || j >= width { continue }
                    s += r0[j] * w[kx] + r1[j] * w[3 + kx] + r2[j] * w[6 + kx]
                }
                out[ox] = clamp(s, activation)
            }
            for ox in 0..<min(first, outWidth) { scalar(ox) }
            var ox = first
            if stride == 1 {
                while ox + 8 <= lastPlusOne {
                    let j = ox - padLeft
                    var a = vb
                    a = a.addingProduct(load8(r0 + j), v00); a = a.addingProduct(load8(r0 + j + 1), v01); a = a.addingProduct(load8(r0 + j + 2), v02)
                    a = a.addingProduct(load8(r1 + j), v10); a = a.addingProduct(load8(r1 + j + 1), v11); a = a.addingProduct(load8(r1 + j + 2), v12)
                    a = a.addingProduct(load8(r2 + j), v20); a = a.addingProduct(load8(r2 + j + 1), v21); a = a.addingProduct(load8(r2 + j + 2), v22)
                    switch activation {
                    case .none: break
                    case .relu: a = a.replacing(with: lower, where: a .< lower)
                    case .relu6: a = a.replacing(with: lower, where: a .< lower).replacing(with: upper, where: a .> upper)
                    }
                    UnsafeMutableRawPointer(out + ox).storeBytes(of: a, as: SIMD8<Float>.self)
                    ox += 8
                }
            } else {
                // 8 outputs read 17 inputs: taps 0/1 are the even/odd halves of 16 loads, tap 2 the even half at +2.
                // The load at j + 2 reads up to j + 17, which must stay inside the row.
                while ox + 8 <= lastPlusOne && 2 * ox - padLeft + 18 <= width {
                    let j = 2 * ox - padLeft
                    let a0 = load16(r0 + j), b0 = load16(r0 + j + 2)
                    let a1 = load16(r1 + j), b1 = load16(r1 + j + 2)
                    let a2 = load16(r2 + j), b2 = load16(r2 + j + 2)
                    var a = vb
                    a = a.addingProduct(a0.evenHalf, v00); a = a.addingProduct(a0.oddHalf, v01); a = a.addingProduct(b0.evenHalf, v02)
                    a = a.addingProduct(a1.evenHalf, v10); a = a.addingProduct(a1.oddHalf, v11); a = a.addingProduct(b1.evenHalf, v12)
                    a = a.addingProduct(a2.evenHalf, v20); a = a.addingProduct(a2.oddHalf, v21); a = a.addingProduct(b2.evenHalf, v22)
                    switch activation {
                    case .none: break
                    case .relu: a = a.replacing(with: lower, where: a .< lower)
                    case .relu6: a = a.replacing(with: lower, where: a .< lower).replacing(with: upper, where: a .> upper)
                    }
                    UnsafeMutableRawPointer(out + ox).storeBytes(of: a, as: SIMD8<Float>.self)
                    ox += 8
                }
            }
            while ox < lastPlusOne {
                let j = ox * stride - padLeft
                var s = bias
                s += r0[j] * w00 + r0[j + 1] * w01 + r0[j + 2] * w02
                s += r1[j] * w10 + r1[j + 1] * w11 + r1[j + 2] * w12
                s += r2[j] * w20 + r2[j + 1] * w21 + r2[j + 2] * w22
                out[ox] = clamp(s, activation)
                ox += 1
            }
            for ox in max(lastPlusOne, min(first, outWidth))..<outWidth { scalar(ox) }
        }
    }
}
