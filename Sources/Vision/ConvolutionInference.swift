import Tensors

/// A batch of feature maps stored channel-major, `[C, N, H, W]`, so that a 1x1 convolution of the
/// whole batch is one `sgemm` (`[Cout, Cin] x [Cin, N*H*W]`). Inference only.
struct FeatureMap {
    var values: Tensor
    let channels: Int, batch: Int, height: Int, width: Int
    var columns: Int { batch * height * width }

    init(channels: Int, batch: Int, height: Int, width: Int) {
        self.channels = channels
        self.batch = batch
        self.height = height
        self.width = width
        values = Tensor(shape: [channels, batch, height, width], unsafeUninitialized: { _ in })
    }

    /// From NCHW.
    init(nchw x: Tensor) {
        precondition(x.rank == 4, "expected NCHW images, got \(x.shape)")
        self.init(channels: x.shape[1], batch: x.shape[0], height: x.shape[2], width: x.shape[3])
        let hw = height * width, src = x.readPointer, (c, n) = (channels, batch)
        values.withUnsafeMutableBufferPointer { d in
            for ch in 0..<c { for b in 0..<n {
                (d.baseAddress! + (ch * n + b) * hw).update(from: src + (b * c + ch) * hw, count: hw)
            } }
        }
    }

    /// To NCHW.
    var nchw: Tensor {
        let hw = height * width, src = values.readPointer, (c, n) = (channels, batch)
        return Tensor(shape: [n, c, height, width]) { d in
            for b in 0..<n { for ch in 0..<c {
                (d + (b * c + ch) * hw).update(from: src + (ch * n + b) * hw, count: hw)
            } }
        }
    }
}

/// Inference building blocks on `FeatureMap`s: convolutions through `sgemm`, the direct depthwise
/// kernel, and a fused bias / residual / activation pass.
enum ConvolutionInference {
    /// `y[c, i] = act(y[c, i] + bias[c] (+ residual[c, i]))` over rows of `columns` values.
    static func biasActivation(_ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>,
                               residual: UnsafePointer<Float>?, activation: FusedActivation) {
        let zero = SIMD8<Float>(repeating: 0), six = SIMD8<Float>(repeating: 6)
        for r in 0..<rows {
            let row = y + r * columns, b = bias[r], vb = SIMD8<Float>(repeating: b)
            let res = residual.map { $0 + r * columns }
            var i = 0
            while i + 8 <= columns {
                var v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) + vb
                if let res { v += UnsafeRawPointer(res + i).loadUnaligned(as: SIMD8<Float>.self) }
                switch activation {
                case .none: break
                case .relu: v = v.replacing(with: zero, where: v .< zero)
                case .relu6: v = v.replacing(with: zero, where: v .< zero).replacing(with: six, where: v .> six)
                }
                UnsafeMutableRawPointer(row + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
            while i < columns {
                var v = row[i] + b
                if let res { v += res[i] }
                switch activation {
                case .none: break
                case .relu: v = max(v, 0)
                case .relu6: v = min(max(v, 0), 6)
                }
                row[i] = v
                i += 1
            }
        }
    }

    /// 1x1 convolution, weight `[Cout, Cin]` row-major, then bias, optional residual, activation.
    static func pointwise(_ x: FeatureMap, weight: Tensor, bias: Tensor, activation: FusedActivation,
                          residual: FeatureMap? = nil) -> FeatureMap {
        let cout = weight.shape[0]
        precondition(weight.count == cout * x.channels, "pointwise weight \(weight.shape) for \(x.channels) channels")
        var y = FeatureMap(channels: cout, batch: x.batch, height: x.height, width: x.width)
        let n = x.columns
        y.values.withUnsafeMutableBufferPointer { yp in
            sgemm(.noTranspose, .noTranspose, m: cout, n: n, k: x.channels, alpha: 1, a: weight.readPointer, lda: x.channels,
                  b: x.values.readPointer, ldb: n, beta: 0, c: yp.baseAddress!, ldc: n)
            biasActivation(yp.baseAddress!, rows: cout, columns: n, bias: bias.readPointer,
                           residual: residual?.values.readPointer, activation: activation)
        }
        return y
    }

    /// Depthwise 3x3 with TensorFlow SAME padding (or symmetric `padding` when given), weight `[C, 1, 3, 3]`.
    static func depthwise(_ x: FeatureMap, weight: Tensor, bias: Tensor, stride: Int, padding: Int? = nil,
                          activation: FusedActivation) -> FeatureMap {
        let (top, bottom) = padding.map { ($0, $0) } ?? DepthwiseConvolution.samePadding(x.height, stride: stride)
        let (left, right) = padding.map { ($0, $0) } ?? DepthwiseConvolution.samePadding(x.width, stride: stride)
        let oh = DepthwiseConvolution.outputExtent(x.height, stride: stride, before: top, after: bottom)
        let ow = DepthwiseConvolution.outputExtent(x.width, stride: stride, before: left, after: right)
        var y = FeatureMap(channels: x.channels, batch: x.batch, height: oh, width: ow)
        y.values.withUnsafeMutableBufferPointer { yp in
            DepthwiseConvolution.forward3x3(input: x.values.readPointer, output: yp.baseAddress!, planes: x.channels * x.batch,
                                            channels: x.channels, height: x.height, width: x.width, outHeight: oh,
                                            outWidth: ow, stride: stride, padTop: top, padLeft: left,
                                            weights: weight.readPointer, bias: bias.readPointer, activation: activation,
                                            channelMajor: true)
        }
        return y
    }

    /// Full k x k convolution (im2col + `sgemm`), weight `[Cout, Cin, k, k]`, padding `top/left` before and
    /// the extent given by `bottom/right` after.
    static func convolution(_ x: FeatureMap, weight: Tensor, bias: Tensor, stride: Int,
                            padding: (top: Int, left: Int, bottom: Int, right: Int), activation: FusedActivation) -> FeatureMap {
        let cout = weight.shape[0], k = weight.shape[2], cin = x.channels
        precondition(weight.shape == [cout, cin, k, k], "convolution weight \(weight.shape) for \(cin) channels")
        let oh = (x.height + padding.top + padding.bottom - k) / stride + 1
        let ow = (x.width + padding.left + padding.right - k) / stride + 1
        var y = FeatureMap(channels: cout, batch: x.batch, height: oh, width: ow)
        let n = y.columns, rows = cin * k * k, (h, w, nb) = (x.height, x.width, x.batch)
        let cols = Tensor(shape: [rows, n]) { c in
            let src = x.values.readPointer
            for ci in 0..<cin { for ky in 0..<k { for kx in 0..<k {
                let row = c + ((ci * k + ky) * k + kx) * n
                for b in 0..<nb {
                    let plane = src + (ci * nb + b) * h * w
                    for oy in 0..<oh {
                        let iy = oy * stride - padding.top + ky
                        let dst = row + (b * oh + oy) * ow
                        if iy < 0 || iy >= h { dst.update(repeating: 0, count: ow); continue }
                        let line = plane + iy * w
                        for ox in 0..<ow {
                            let ix = ox * stride - padding.left + kx
                            dst[ox] = ix >= 0 && ix < w ? line[ix] : 0
                        }
                    }
                }
            } } }
        }
        y.values.withUnsafeMutableBufferPointer { yp in
            sgemm(.noTranspose, .noTranspose, m: cout, n: n, k: rows, alpha: 1, a: weight.readPointer, lda: rows,
                  b: cols.readPointer, ldb: n, beta: 0, c: yp.baseAddress!, ldc: n)
            biasActivation(yp.baseAddress!, rows: cout, columns: n, bias: bias.readPointer, residual: nil, activation: activation)
        }
        return y
    }

    /// Mean over the spatial positions: `[N, C]`.
    static func globalAverage(_ x: FeatureMap) -> Tensor {
        let hw = x.height * x.width, (c, n) = (x.channels, x.batch), src = x.values.readPointer
        return Tensor(shape: [n, c]) { d in
            for ch in 0..<c { for b in 0..<n {
                let p = src + (ch * n + b) * hw
                var s: Float = 0
                for i in 0..<hw { s += p[i] }
                d[b * c + ch] = s / Float(hw)
            } }
        }
    }

    /// `x [N, in] * weight[out, in]^T + bias`.
    static func linear(_ x: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
        let n = x.shape[0], k = x.shape[1], m = weight.shape[0]
        return Tensor(shape: [n, m]) { d in
            sgemm(.noTranspose, .transpose, m: n, n: m, k: k, alpha: 1, a: x.readPointer, lda: k, b: weight.readPointer,
                  ldb: k, beta: 0, c: d, ldc: m)
            let bp = bias.readPointer
            for r in 0..<n { for j in 0..<m { d[r * m + j] += bp[j] } }
        }
    }
}
