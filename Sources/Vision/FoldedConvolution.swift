import Synchronization
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

/// A convolution's weights packed for the GEMM micro-kernel in use (packed once per kernel family, on first use
/// of that family; the kernel can be switched at run time by `GEMMConfiguration.kernel`).
final class PackedConvWeights: @unchecked Sendable {
    private let weight: Tensor
    private let packs = Mutex<[PackedGEMMWeights]>([])
    private let panelPacks = Mutex<[PanelWeights]>([])

    init(_ weight: Tensor) { self.weight = weight; _ = current }

    /// The packing for `GEMMConfiguration.resolvedKernel`.
    var current: PackedGEMMWeights {
        let kernel = GEMMConfiguration.resolvedKernel, w = weight
        return packs.withLock { list in
            if let p = list.first(where: { $0.kernel == kernel }) { return p }
            let p = PackedGEMMWeights(w.readPointer, m: w.shape[0], k: w.shape[1], lda: w.shape[1], kernel: kernel)
            list.append(p)
            return p
        }
    }

    /// The weights as channel panels (32 wide on AVX-512, 16 on AVX2) for `ConvolutionGEMM.runPixelRows`
    /// (packed on first use).
    var panels: PanelWeights {
        let kernel = GEMMConfiguration.resolvedKernel, w = weight
        return panelPacks.withLock { list in
            if let p = list.first(where: { $0.kernel == kernel }) { return p }
            let p = PanelWeights(w.readPointer, n: w.shape[0], k: w.shape[1], kernel: kernel)
            list.append(p)
            return p
        }
    }
}

/// A convolution with batch norm folded in (`w' = w * gamma / sqrt(var + eps)`, `b' = beta - mean * scale`)
/// or with its own bias, optionally followed by a residual add and ReLU.
struct FoldedConv {
    var weight: Tensor  // [OC, IC * kh * kw]
    var bias: [Float]   // [OC]
    var inChannels, outChannels, kernel, stride, padding: Int
    let packed: PackedConvWeights

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
        packed = PackedConvWeights(weight)
    }

    /// A plain convolution `w [OC, IC, k, k]` with bias (nil: zero).
    init(weight w: Tensor, bias b: [Float]?, stride: Int, padding: Int) {
        inChannels = w.shape[1]; outChannels = w.shape[0]; kernel = w.shape[2]
        self.stride = stride; self.padding = padding
        weight = w.reshaped([w.shape[0], w.count / w.shape[0]])
        bias = b ?? [Float](repeating: 0, count: w.shape[0])
        packed = PackedConvWeights(weight)
    }

    func outSize(_ n: Int) -> Int { (n + 2 * padding - kernel) / stride + 1 }

    /// `relu(conv(x) + bias + residual)` (each part optional) on a CNHW batch: one pass of `ConvolutionGEMM`
    /// over the packed weights, reading 1x1 stride-1 inputs in place and lowering other inputs block by block.
    func apply(_ x: PlanarBatch, relu: Bool, residual: PlanarBatch? = nil) -> PlanarBatch {
        precondition(x.channels == inChannels, "convolution expects \(inChannels) channels, got \(x.channels)")
        let n = x.batch, h = x.height, w = x.width, oh = outSize(h), ow = outSize(w)
        let cols = n * oh * ow
        var out = Tensor(shape: [outChannels, n, oh, ow], unsafeUninitialized: { _ in })
        if let r = residual { precondition(r.data.shape == out.shape, "residual \(r.data.shape) for output \(out.shape)") }
        let xp = x.data.readPointer
        let geometry = ConvGeometry(batch: n, channels: inChannels, height: h, width: w, kernel: kernel, stride: stride,
                                    padding: padding, outHeight: oh, outWidth: ow)
        let source: ConvolutionGEMM.Source = kernel == 1 && stride == 1 && padding == 0
            ? .matrix(xp, ld: cols)
            : .lowered { k0, kc, col0, count, dst, ld in geometry.lower(xp, k0: k0, kc: kc, col0: col0, cols: count, into: dst, ld: ld) }
        out.withUnsafeMutableBufferPointer { ob in
            bias.withUnsafeBufferPointer { bp in
                if ConvolutionGEMM.prefersPixelRows(n: cols, k: k) {
                    ConvolutionGEMM.runPixelRows(packed.panels, n: cols, source: source, bias: bp.baseAddress,
                                                 residual: residual?.data.readPointer, ldr: cols, relu: relu, c: ob.baseAddress!, ldc: cols)
                } else {
                    ConvolutionGEMM.run(packed.current, n: cols, source: source, bias: bp.baseAddress, residual: residual?.data.readPointer,
                                        ldr: cols, relu: relu, c: ob.baseAddress!, ldc: cols)
                }
            }
        }
        return PlanarBatch(data: out)
    }
}

/// The shapes of one convolution over a CNHW batch, and its implicit im2col matrix
/// `[C * k * k, N * oh * ow]` (row `(c, ky, kx)`, column `(n, oy, ox)`).
struct ConvGeometry {
    let batch, channels, height, width, kernel, stride, padding, outHeight, outWidth: Int

    /// Rows `k0 ..< k0 + kc`, columns `col0 ..< col0 + cols` of the im2col matrix into `dst[r * ld + j]`.
    /// `planeCopies: false` forces the general path (for tests of the fast one).
    func lower(_ x: UnsafePointer<Float>, k0: Int, kc: Int, col0: Int, cols: Int, into dst: UnsafeMutablePointer<Float>, ld: Int,
               planeCopies: Bool = true) {
        let kn = kernel, kk = kn * kn, s = stride, pad = padding, h = height, w = width, oh = outHeight, ow = outWidth
        let p = oh * ow
        let b0 = col0 / p, q0 = col0 % p, oy0 = q0 / ow, ox0 = q0 % ow
        if planeCopies && s == 1 && oh == h && ow == w && q0 == 0 && cols % p == 0 {
            return lowerSameSize(x, k0: k0, kc: kc, firstImage: b0, images: cols / p, into: dst, ld: ld)
        }
        for r in 0..<kc {
            let kIndex = k0 + r, c = kIndex / kk, ky = (kIndex % kk) / kn, kx = kIndex % kn
            let d = dst + r * ld
            // Output columns whose input column lies inside the image.
            let lo = max(0, ceilDiv(pad - kx, s)), hi = min(ow - 1, floorDiv(w - 1 + pad - kx, s))
            var j = 0, b = b0, oy = oy0, ox = ox0
            while j < cols {
                let len = min(ow - ox, cols - j)
                let seg = d + j - ox  // seg[ox'] for ox' in ox ..< ox + len
                let iy = oy * s - pad + ky
                let v0 = max(ox, lo), v1 = min(ox + len - 1, hi)
                if iy < 0 || iy >= h || v0 > v1 {
                    (seg + ox).update(repeating: 0, count: len)
                } else {
                    if v0 > ox { (seg + ox).update(repeating: 0, count: v0 - ox) }
                    if v1 < ox + len - 1 { (seg + v1 + 1).update(repeating: 0, count: ox + len - 1 - v1) }
                    let srow = x + ((c * batch + b) * h + iy) * w - pad + kx  // input of output column o: srow[o * s]
                    if s == 1 {
                        (seg + v0).update(from: srow + v0, count: v1 - v0 + 1)
                    } else if s == 2 {
                        var o = v0
                        // Eight outputs from sixteen inputs (the last read ends at input 2 * (o + 7) + 1 <= 2 * v1).
                        while o + 7 < v1 {
                            let v = UnsafeRawPointer(srow + 2 * o).loadUnaligned(as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(seg + o).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                            o += 8
                        }
                        while o <= v1 { seg[o] = srow[2 * o]; o += 1 }
                    } else {
                        for o in v0...v1 { seg[o] = srow[o * s] }
                    }
                }
                j += len; ox += len
                if ox == ow { ox = 0; oy += 1; if oy == oh { oy = 0; b += 1 } }
            }
        }
    }
}

extension ConvGeometry {
    /// `lower` for stride-1 convolutions that keep the size (3x3 with padding 1) over whole images: each im2col
    /// row of an image is the input plane shifted by `(ky - pad, kx - pad)`, so it is one contiguous copy of the
    /// valid rows (rather than one short copy per output row: 7 floats at ResNet's 7x7 stage), after which the
    /// columns that wrapped around from the neighbouring row are zeroed.
    func lowerSameSize(_ x: UnsafePointer<Float>, k0: Int, kc: Int, firstImage: Int, images: Int,
                       into dst: UnsafeMutablePointer<Float>, ld: Int) {
        let kn = kernel, kk = kn * kn, h = height, w = width, p = h * w
        for r in 0..<kc {
            let kIndex = k0 + r, c = kIndex / kk, dy = (kIndex % kk) / kn - padding, dx = kIndex % kn - padding
            let rowLo = max(0, -dy), rowHi = min(h, h - dy)
            for i in 0..<images {
                let d = dst + r * ld + i * p
                guard rowLo < rowHi, abs(dx) < w else { d.update(repeating: 0, count: p); continue }
                let plane = x + (c * batch + firstImage + i) * p
                if rowLo > 0 { d.update(repeating: 0, count: rowLo * w) }
                if rowHi < h { (d + rowHi * w).update(repeating: 0, count: (h - rowHi) * w) }
                // d[rowLo * w + t] = plane[start + t], for the t whose source lies inside the plane.
                let n = (rowHi - rowLo) * w, start = (rowLo + dy) * w + dx
                let t0 = max(0, -start), t1 = min(n, p - start)
                if t1 > t0 { (d + rowLo * w + t0).update(from: plane + start + t0, count: t1 - t0) }
                // Border columns (their copies came from the neighbouring row, or were not made).
                let zeroFrom = dx < 0 ? 0 : w - dx, zeroCount = abs(dx)
                if zeroCount > 0 {
                    for oy in rowLo..<rowHi { (d + oy * w + zeroFrom).update(repeating: 0, count: zeroCount) }
                }
            }
        }
    }
}

@inline(__always) private func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
@inline(__always) private func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

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
    if kernel == 3 && stride == 2 && padding == 1 && w >= 2 {
        return PlanarBatch(data: Tensor(shape: [x.channels, x.batch, oh, ow]) { o in
            parallelFor(planes) { pl in maxPool3x3Stride2(src + pl * h * w, h: h, w: w, into: o + pl * oh * ow, oh: oh, ow: ow) }
        })
    }
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

/// NaN-propagating maximum (as PyTorch's max pooling: a NaN anywhere in the window wins).
@inline(__always) private func nanMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    a.replacing(with: b, where: (b .> a) .| (b .!= b))
}
@inline(__always) private func nanMax(_ a: Float, _ b: Float) -> Float { b > a || b.isNaN ? b : a }

/// `MaxPool2d(3, stride 2, padding 1)` of one `h x w` plane (`w >= 2`): the maximum of the (up to) three rows
/// of each window first, then of three neighbouring columns, eight outputs at a time.
private func maxPool3x3Stride2(_ s: UnsafePointer<Float>, h: Int, w: Int, into d: UnsafeMutablePointer<Float>, oh: Int, ow: Int) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: w + 32) { buffer in
        let v = buffer.baseAddress!
        (v + w).initialize(repeating: 0, count: 32)
        for oy in 0..<oh {
            let y0 = max(2 * oy - 1, 0), y1 = min(2 * oy + 2, h)
            var i = 0
            while i + 8 <= w {
                var m = UnsafeRawPointer(s + y0 * w + i).loadUnaligned(as: SIMD8<Float>.self)
                for y in (y0 + 1)..<y1 { m = nanMax(m, UnsafeRawPointer(s + y * w + i).loadUnaligned(as: SIMD8<Float>.self)) }
                UnsafeMutableRawPointer(v + i).storeBytes(of: m, as: SIMD8<Float>.self)
                i += 8
            }
            while i < w {
                var m = s[y0 * w + i]
                for y in (y0 + 1)..<y1 { m = nanMax(m, s[y * w + i]) }
                v[i] = m; i += 1
            }
            let row = d + oy * ow
            row[0] = nanMax(v[0], v[1])
            var ox = 1
            // Columns 2 ox - 1, 2 ox, 2 ox + 1 for eight outputs: lanes up to 2 ox + 15 <= w - 1 are used.
            while ox + 8 <= ow && 2 * ox + 15 <= w - 1 {
                let a = UnsafeRawPointer(v + 2 * ox - 1).loadUnaligned(as: SIMD16<Float>.self)
                let b = UnsafeRawPointer(v + 2 * ox + 1).loadUnaligned(as: SIMD16<Float>.self)
                let m = nanMax(nanMax(a.evenHalf, a.oddHalf), b.evenHalf)
                UnsafeMutableRawPointer(row + ox).storeBytes(of: m, as: SIMD8<Float>.self)
                ox += 8
            }
            while ox < ow {
                var m = nanMax(v[2 * ox - 1], v[2 * ox])
                if 2 * ox + 1 < w { m = nanMax(m, v[2 * ox + 1]) }
                row[ox] = m; ox += 1
            }
        }
    }
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
