import Tensors

// Inference kernels of the CNN encoders. Activations are kept channel-major over the whole batch, `[C, N, H, W]`
// ("CNHW"): a batch is then one wide image, so every convolution is a single GEMM `[OC, K] x [K, N*H*W]`
// (1x1 stride-1 convolutions read the activations in place), and bias, residual and ReLU are applied in one
// pass over contiguous output rows.

/// An activation batch in `[C, N, H, W]` layout.
struct PlanarBatch {
    var data: Tensor  // shape [C, N, H, W]
    var channels: Int { data.shape[0] }
    var batch: Int { data.shape[1] }
    var height: Int { data.shape[2] }
    var width: Int { data.shape[3] }

    init(data: Tensor) { self.data = data }

    /// From `[N, C, H, W]`.
    init(nchw x: Tensor) {
        precondition(x.rank == 4, "expected an [N, C, H, W] batch, got \(x.shape)")
        let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
        if n == 1 { data = x.reshaped([c, 1, x.shape[2], x.shape[3]]); return }  // the same memory order
        data = Tensor(shape: [c, n, x.shape[2], x.shape[3]]) { o in
            let src = x.readPointer
            for b in 0..<n { for ch in 0..<c { (o + (ch * n + b) * hw).update(from: src + (b * c + ch) * hw, count: hw) } }
        }
    }

    /// As `[N, C, H, W]`.
    var nchw: Tensor {
        let n = batch, c = channels, hw = height * width
        if n == 1 { return data.reshaped([1, c, height, width]) }
        let src = data.readPointer
        return Tensor(shape: [n, c, height, width]) { o in
            for b in 0..<n { for ch in 0..<c { (o + (b * c + ch) * hw).update(from: src + (ch * n + b) * hw, count: hw) } }
        }
    }
}

/// A convolution with batch norm folded in (`w' = w * gamma / sqrt(var + eps)`, `b' = beta - mean * scale`)
/// or with its own bias, optionally followed by a residual add and ReLU.
struct FoldedConv {
    var weight: Tensor  // [OC, IC * kh * kw]
    var bias: [Float]   // [OC]
    var inChannels, outChannels, kernel, stride, padding: Int

    var k: Int { inChannels * kernel * kernel }

    /// Folds `bn` (eval statistics, computed in float64) into the bias-free convolution `w [OC, IC, k, k]`.
    init(weight w: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, eps: Float, stride: Int, padding: Int) {
        let oc = w.shape[0], kk = w.count / oc
        inChannels = w.shape[1]; outChannels = oc; kernel = w.shape[2]
        self.stride = stride; self.padding = padding
        var b = [Float](repeating: 0, count: oc)
        let src = w.readPointer
        weight = Tensor(shape: [oc, kk]) { o in
            for c in 0..<oc {
                let scale = Double(gamma[flat: c]) / (Double(variance[flat: c]) + Double(eps)).squareRoot()
                for i in 0..<kk { o[c * kk + i] = Float(Double(src[c * kk + i]) * scale) }
                b[c] = Float(Double(beta[flat: c]) - Double(mean[flat: c]) * scale)
            }
        }
        bias = b
    }

    /// A plain convolution `w [OC, IC, k, k]` with bias (nil: zero).
    init(weight w: Tensor, bias b: [Float]?, stride: Int, padding: Int) {
        inChannels = w.shape[1]; outChannels = w.shape[0]; kernel = w.shape[2]
        self.stride = stride; self.padding = padding
        weight = w.reshaped([w.shape[0], w.count / w.shape[0]])
        bias = b ?? [Float](repeating: 0, count: w.shape[0])
    }

    func outSize(_ n: Int) -> Int { (n + 2 * padding - kernel) / stride + 1 }

    /// `relu(conv(x) + bias + residual)` (each part optional) on a CNHW batch.
    func apply(_ x: PlanarBatch, relu: Bool, residual: PlanarBatch? = nil) -> PlanarBatch {
        precondition(x.channels == inChannels, "convolution expects \(inChannels) channels, got \(x.channels)")
        let n = x.batch, h = x.height, w = x.width, oh = outSize(h), ow = outSize(w), p = oh * ow
        let cols = n * p, kk = k
        var out = Tensor(shape: [outChannels, n, oh, ow], unsafeUninitialized: { _ in })
        if let r = residual { precondition(r.data.shape == out.shape, "residual \(r.data.shape) for output \(out.shape)") }
        out.withUnsafeMutableBufferPointer { ob in
            let o = ob.baseAddress!
            let xp = x.data.readPointer, wp = weight.readPointer
            if kernel == 1 && stride == 1 && padding == 0 {
                sgemm(.noTranspose, .noTranspose, m: outChannels, n: cols, k: kk, alpha: 1, a: wp, lda: kk,
                      b: xp, ldb: cols, beta: 0, c: o, ldc: cols)
            } else {
                // Lower whole images at a time, keeping the column buffer near 16 MB.
                let per = max(1, min(n, (4 << 20) / max(kk * p, 1)))
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: kk * p * per)
                defer { buffer.deallocate() }
                var n0 = 0
                while n0 < n {
                    let nb = min(per, n - n0)
                    im2col(xp, batch: n, first: n0, count: nb, h: h, w: w, oh: oh, ow: ow, into: buffer)
                    sgemm(.noTranspose, .noTranspose, m: outChannels, n: nb * p, k: kk, alpha: 1, a: wp, lda: kk,
                          b: buffer, ldb: nb * p, beta: 0, c: o + n0 * p, ldc: cols)
                    n0 += nb
                }
            }
            let rp = residual?.data.readPointer
            let oc = outChannels, bias = bias
            let chunks = min(oc, 16), per = (oc + chunks - 1) / chunks
            parallelFor(chunks) { t in
                for c in (t * per)..<min(oc, (t + 1) * per) {
                    epilogue(o + c * cols, cols, bias[c], rp.map { $0 + c * cols }, relu)
                }
            }
        }
        return PlanarBatch(data: out)
    }

    /// Columns `[IC * k * k, count * oh * ow]` of images `first ..< first + count`.
    private func im2col(_ x: UnsafePointer<Float>, batch n: Int, first: Int, count nb: Int, h: Int, w: Int, oh: Int, ow: Int,
                        into cols: UnsafeMutablePointer<Float>) {
        let p = oh * ow, width = nb * p, s = stride, pad = padding, kn = kernel
        // Each (channel, kernel row) fills its own rows of the buffer.
        parallelFor(inChannels * kn) { job in
            let c = job / kn, ki = job % kn
            for kj in 0..<kn {
            let row = cols + ((c * kn + ki) * kn + kj) * width
            // Output columns whose input column lies inside the image.
            let lo = max(0, ceilDiv(pad - kj, s)), hi = min(ow - 1, floorDiv(w - 1 + pad - kj, s))
            for b in 0..<nb {
                let plane = x + (c * n + first + b) * h * w
                let dstImage = row + b * p
                for oy in 0..<oh {
                    let iy = oy * s - pad + ki
                    let d = dstImage + oy * ow
                    if iy < 0 || iy >= h || hi < lo { d.initialize(repeating: 0, count: ow); continue }
                    if lo > 0 { d.initialize(repeating: 0, count: lo) }
                    if hi < ow - 1 { (d + hi + 1).initialize(repeating: 0, count: ow - 1 - hi) }
                    let srow = plane + iy * w - pad + kj
                    if s == 1 {
                        (d + lo).update(from: srow + lo, count: hi - lo + 1)
                    } else {
                        for ox in lo...hi { d[ox] = srow[ox * s] }
                    }
                }
            }
            }
        }
    }
}

@inline(__always) private func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
@inline(__always) private func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

/// `row[i] = relu?(row[i] + bias + residual[i])`.
@inline(__always) private func epilogue(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ bias: Float,
                                        _ residual: UnsafePointer<Float>?, _ relu: Bool) {
    let b8 = SIMD8<Float>(repeating: bias), z8 = SIMD8<Float>()
    var i = 0
    let raw = UnsafeMutableRawPointer(row)
    if let r = residual {
        let rr = UnsafeRawPointer(r)
        while i + 8 <= n {
            var v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + b8
            v += rr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            if relu { v = v.replacing(with: z8, where: v .< z8) }
            raw.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { var v = row[i] + bias + r[i]; if relu && v < 0 { v = 0 }; row[i] = v; i += 1 }
    } else {
        while i + 8 <= n {
            var v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + b8
            if relu { v = v.replacing(with: z8, where: v .< z8) }
            raw.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { var v = row[i] + bias; if relu && v < 0 { v = 0 }; row[i] = v; i += 1 }
    }
}

/// `max(x, 0)` of a CNHW batch.
func reluPlanar(_ x: PlanarBatch) -> PlanarBatch {
    let n = x.data.count
    let src = x.data.readPointer
    return PlanarBatch(data: Tensor(shape: x.data.shape) { o in for i in 0..<n { o[i] = max(src[i], 0) } })
}

/// `MaxPool2d(kernel, stride, padding)` of a CNHW batch (padding never wins, as in PyTorch).
func maxPoolPlanar(_ x: PlanarBatch, kernel: Int, stride: Int, padding: Int) -> PlanarBatch {
    let h = x.height, w = x.width
    let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
    let planes = x.channels * x.batch
    let src = x.data.readPointer
    return PlanarBatch(data: Tensor(shape: [x.channels, x.batch, oh, ow]) { o in
        parallelFor(planes) { pl in
            let s = src + pl * h * w, d = o + pl * oh * ow
            for oy in 0..<oh {
                let y0 = max(oy * stride - padding, 0), y1 = min(oy * stride - padding + kernel, h)
                for ox in 0..<ow {
                    let x0 = max(ox * stride - padding, 0), x1 = min(ox * stride - padding + kernel, w)
                    var m = -Float.infinity
                    for iy in y0..<y1 { for ix in x0..<x1 { let v = s[iy * w + ix]; if v > m || v.isNaN { m = v } } }
                    d[oy * ow + ox] = m
                }
            }
        }
    })
}

/// Mean of every plane: CNHW `[C, N, H, W]` -> `[N, C]`.
func globalAveragePool(_ x: PlanarBatch) -> Tensor {
    let c = x.channels, n = x.batch, hw = x.height * x.width
    let src = x.data.readPointer
    return Tensor(shape: [n, c]) { o in
        for ch in 0..<c { for b in 0..<n {
            var s: Float = 0
            let p = src + (ch * n + b) * hw
            for i in 0..<hw { s += p[i] }
            o[b * c + ch] = s / Float(hw)
        } }
    }
}

/// `x [N, in] * W^T + b` with `W [out, in]`.
func linearForward(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let n = x.shape[0], k = x.shape[1], m = weight.shape[0]
    precondition(weight.shape[1] == k, "linear: input \(x.shape), weight \(weight.shape)")
    return Tensor(shape: [n, m]) { o in
        sgemm(.noTranspose, .transpose, m: n, n: m, k: k, alpha: 1, a: x.readPointer, lda: k,
              b: weight.readPointer, ldb: k, beta: 0, c: o, ldc: m)
        if let bias { let bp = bias.readPointer; for r in 0..<n { for j in 0..<m { o[r * m + j] += bp[j] } } }
    }
}
