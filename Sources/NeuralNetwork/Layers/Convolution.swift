import Tensors

/// Geometry of a 2-D convolution on NCHW tensors (symmetric padding).
public struct ConvShape: Sendable, Equatable {
    public var batch, inChannels, height, width, outChannels, kernelH, kernelW: Int
    public var strideH, strideW, padH, padW, groups: Int
    public var outH: Int { (height + 2 * padH - kernelH) / strideH + 1 }
    public var outW: Int { (width + 2 * padW - kernelW) / strideW + 1 }
    var cg: Int { inChannels / groups }
    var ocg: Int { outChannels / groups }
    var k: Int { cg * kernelH * kernelW }
    var p: Int { outH * outW }
    var isPointwise: Bool { kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0 }
}

/// Lowering of convolution to GEMM through `sgemm` (im2col / col2im per image and group).
enum ConvolutionGEMM {
    /// Columns `[K = Cg*kh*kw, P = oh*ow]` of one image group (`x` points at its first channel).
    static func im2col(_ s: ConvShape, _ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>) {
        let oh = s.outH, ow = s.outW, hw = s.height * s.width
        for c in 0..<s.cg { for ki in 0..<s.kernelH { for kj in 0..<s.kernelW {
            let row = cols + ((c * s.kernelH + ki) * s.kernelW + kj) * oh * ow
            for oy in 0..<oh {
                let iy = oy * s.strideH - s.padH + ki
                let dst = row + oy * ow
                if iy < 0 || iy >= s.height { dst.initialize(repeating: 0, count: ow); continue }
                let src = x + c * hw + iy * s.width
                for ox in 0..<ow {
                    let ix = ox * s.strideW - s.padW + kj
                    dst[ox] = ix >= 0 && ix < s.width ? src[ix] : 0
                }
            }
        } } }
    }

    /// Adds columns back into an image group (adjoint of `im2col`).
    static func col2im(_ s: ConvShape, _ cols: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>) {
        let oh = s.outH, ow = s.outW, hw = s.height * s.width
        for c in 0..<s.cg { for ki in 0..<s.kernelH { for kj in 0..<s.kernelW {
            let row = cols + ((c * s.kernelH + ki) * s.kernelW + kj) * oh * ow
            for oy in 0..<oh {
                let iy = oy * s.strideH - s.padH + ki
                if iy < 0 || iy >= s.height { continue }
                let dst = x + c * hw + iy * s.width
                for ox in 0..<ow {
                    let ix = ox * s.strideW - s.padW + kj
                    if ix >= 0 && ix < s.width { dst[ix] += row[oy * ow + ox] }
                }
            }
        } } }
    }

    static func forward(_ s: ConvShape, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        out: UnsafeMutablePointer<Float>) {
        let chw = s.inChannels * s.height * s.width, hw = s.height * s.width, p = s.p
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: max(s.isPointwise ? 1 : s.k * p, 1))
        defer { cols.deallocate() }
        for n in 0..<s.batch { for g in 0..<s.groups {
            let xg = x + n * chw + g * s.cg * hw
            let b: UnsafePointer<Float>
            if s.isPointwise { b = xg } else { im2col(s, xg, cols); b = UnsafePointer(cols) }
            let o = out + (n * s.outChannels + g * s.ocg) * p
            sgemm(.noTranspose, .noTranspose, m: s.ocg, n: p, k: s.k, alpha: 1, a: w + g * s.ocg * s.k, lda: s.k,
                  b: b, ldb: p, beta: 0, c: o, ldc: p)
            if let bias { for oc in 0..<s.ocg { let v = bias[g * s.ocg + oc]; for i in 0..<p { o[oc * p + i] += v } } }
        } }
    }

    /// Accumulates the input gradient (`dx`, zero-initialised by the caller).
    static func backwardData(_ s: ConvShape, dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let chw = s.inChannels * s.height * s.width, hw = s.height * s.width, p = s.p
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: max(s.k * p, 1))
        defer { cols.deallocate() }
        for n in 0..<s.batch { for g in 0..<s.groups {
            let xg = dx + n * chw + g * s.cg * hw
            let d = dy + (n * s.outChannels + g * s.ocg) * p
            if s.isPointwise {
                sgemm(.transpose, .noTranspose, m: s.k, n: p, k: s.ocg, alpha: 1, a: w + g * s.ocg * s.k, lda: s.k,
                      b: d, ldb: p, beta: 1, c: xg, ldc: p)
            } else {
                sgemm(.transpose, .noTranspose, m: s.k, n: p, k: s.ocg, alpha: 1, a: w + g * s.ocg * s.k, lda: s.k,
                      b: d, ldb: p, beta: 0, c: cols, ldc: p)
                col2im(s, cols, xg)
            }
        } }
    }

    /// Accumulates weight (`dw`) and bias (`db`) gradients.
    static func backwardWeight(_ s: ConvShape, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>?) {
        let chw = s.inChannels * s.height * s.width, hw = s.height * s.width, p = s.p
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: max(s.isPointwise ? 1 : s.k * p, 1))
        defer { cols.deallocate() }
        for n in 0..<s.batch { for g in 0..<s.groups {
            let xg = x + n * chw + g * s.cg * hw
            let b: UnsafePointer<Float>
            if s.isPointwise { b = xg } else { im2col(s, xg, cols); b = UnsafePointer(cols) }
            let d = dy + (n * s.outChannels + g * s.ocg) * p
            sgemm(.noTranspose, .transpose, m: s.ocg, n: s.k, k: p, alpha: 1, a: d, lda: p, b: b, ldb: p,
                  beta: 1, c: dw + g * s.ocg * s.k, ldc: s.k)
            if let db { for oc in 0..<s.ocg { db[g * s.ocg + oc] += VectorMath.sum(p, d + oc * p) } }
        } }
    }
}

/// 2-D convolution of `x [N, C, H, W]` with `weight [OC, C/groups, kh, kw]` and optional `bias [OC]`
/// (cross-correlation, as PyTorch), with stride, symmetric zero padding and groups.
public func conv2d(_ x: Variable, _ weight: Variable, _ bias: Variable?, stride: (Int, Int) = (1, 1),
                   padding: (Int, Int) = (0, 0), groups: Int = 1) -> Variable {
    let xs = x.shape, ws = weight.shape
    precondition(xs.count == 4 && ws.count == 4, "conv2d needs NCHW input and 4-D weight: \(xs), \(ws)")
    precondition(xs[1] % groups == 0 && ws[0] % groups == 0 && ws[1] == xs[1] / groups,
                 "conv2d: input \(xs), weight \(ws), groups \(groups) do not fit")
    let s = ConvShape(batch: xs[0], inChannels: xs[1], height: xs[2], width: xs[3], outChannels: ws[0], kernelH: ws[2],
                      kernelW: ws[3], strideH: stride.0, strideW: stride.1, padH: padding.0, padW: padding.1, groups: groups)
    precondition(s.outH > 0 && s.outW > 0, "conv2d: empty output for input \(xs) and kernel \(ws)")
    let xv = x.value, wv = weight.value
    let y = Tensor(shape: [s.batch, s.outChannels, s.outH, s.outW]) { o in
        ConvolutionGEMM.forward(s, x: xv.readPointer, w: wv.readPointer, bias: bias?.value.readPointer, out: o)
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return Variable.record(y, inputs) { g in
        if x.requiresGrad {
            var dx = Tensor(shape: xs)
            dx.withUnsafeMutableBufferPointer { ConvolutionGEMM.backwardData(s, dy: g.readPointer, w: wv.readPointer, dx: $0.baseAddress!) }
            x.accumulate(dx)
        }
        let wantW = weight.requiresGrad, wantB = bias?.requiresGrad ?? false
        if wantW || wantB {
            var dw = Tensor(shape: ws), db = Tensor(shape: [s.outChannels])
            dw.withUnsafeMutableBufferPointer { dwp in
                db.withUnsafeMutableBufferPointer { dbp in
                    ConvolutionGEMM.backwardWeight(s, x: xv.readPointer, dy: g.readPointer, dw: dwp.baseAddress!,
                                                   db: wantB ? dbp.baseAddress! : nil)
                }
            }
            if wantW { weight.accumulate(dw) }
            if wantB { bias!.accumulate(db) }
        }
    }
}

/// `nn.Conv2d`: weight `[out, in/groups, kh, kw]`, optional bias; PyTorch's default
/// initialisation (uniform ±1/sqrt(fan_in) for both).
public final class Conv2d: Module, UnaryLayer {
    public let weight: Variable
    public let bias: Variable?
    public let stride: (Int, Int), padding: (Int, Int), groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                groups: Int = 1, bias: Bool = true, rng: inout SeededRandom) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "channels not divisible by groups")
        weight = parameter(Tensor.kaimingUniform([outChannels, inChannels / groups, kernelSize, kernelSize], rng: &rng))
        let b = 1 / Float(inChannels / groups * kernelSize * kernelSize).squareRoot()
        self.bias = bias ? parameter(Tensor.uniform([outChannels], -b, b, rng: &rng)) : nil
        self.stride = (stride, stride)
        self.padding = (padding, padding)
        self.groups = groups
    }

    public var namedParameters: [(String, Variable)] { [("weight", weight)] + (bias.map { [("bias", $0)] } ?? []) }
    public func forward(_ x: Variable) -> Variable { conv2d(x, weight, bias, stride: stride, padding: padding, groups: groups) }
    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }
}
