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

/// Lowering of convolution to GEMM through `sgemm`.
///
/// Columns (`im2col`) of several images go side by side into one `[K = Cg*kh*kw, nb*P]` matrix, so that
/// small feature maps (late ResNet stages, `P = 7*7`) still make one wide product instead of many thin
/// ones; maps with `P >= 1024` go one image at a time, straight into the output. A pointwise (1x1,
/// stride 1, no padding) convolution of one image uses the input itself as the GEMM operand. Column
/// building and scattering run in parallel over (image, channel) on `ThreadPool.shared`.
enum ConvolutionGEMM {
    /// Output pixels per GEMM worth aiming for when batching images together.
    static let targetColumns = 1024
    /// Upper bound of the column buffer (bytes) when batching.
    static let maxColumnBytes = 8 << 20

    /// Images per GEMM: 1 for large maps, else enough to reach `targetColumns` (bounded by memory).
    static func imagesPerGEMM(_ s: ConvShape, target: Int = targetColumns) -> Int {
        let p = max(s.p, 1)
        if p >= target { return 1 }
        let byMemory = max(1, maxColumnBytes / max(1, s.k * p * 4))
        return max(1, min(s.batch, (target + p - 1) / p, byMemory))
    }

    /// Valid output columns `lo..<hi` of kernel column `kj`: those reading inside the row.
    @inline(__always)
    static func validRange(_ s: ConvShape, _ kj: Int) -> (Int, Int) {
        let off = kj - s.padW
        // ix = ox * stride + off must lie in 0..<width.
        let lo = off >= 0 ? 0 : (-off + s.strideW - 1) / s.strideW
        let last = s.width - 1 - off
        let hi = last < 0 ? 0 : min(s.outW, last / s.strideW + 1)
        return (min(lo, s.outW), max(min(lo, s.outW), hi))
    }

    /// Columns of one channel plane `x [H, W]`: rows `c*kh*kw ..< (c+1)*kh*kw` of `cols` (row stride `ld`).
    static func im2colChannel(_ s: ConvShape, _ plane: UnsafePointer<Float>, c: Int,
                              _ cols: UnsafeMutablePointer<Float>, ld: Int) {
        let oh = s.outH, ow = s.outW
        for ki in 0..<s.kernelH { for kj in 0..<s.kernelW {
            let row = cols + ((c * s.kernelH + ki) * s.kernelW + kj) * ld
            let (lo, hi) = validRange(s, kj)
            let off = kj - s.padW
            for oy in 0..<oh {
                let iy = oy * s.strideH - s.padH + ki
                let dst = row + oy * ow
                if iy < 0 || iy >= s.height || lo >= hi { dst.update(repeating: 0, count: ow); continue }
                if lo > 0 { dst.update(repeating: 0, count: lo) }
                if hi < ow { (dst + hi).update(repeating: 0, count: ow - hi) }
                let src = plane + iy * s.width + off
                if s.strideW == 1 {
                    (dst + lo).update(from: src + lo, count: hi - lo)
                } else {
                    let st = s.strideW
                    for ox in lo..<hi { dst[ox] = src[ox * st] }
                }
            }
        } }
    }

    /// Adds columns back into one channel plane (adjoint of `im2colChannel`).
    static func col2imChannel(_ s: ConvShape, _ cols: UnsafePointer<Float>, ld: Int, c: Int,
                              _ plane: UnsafeMutablePointer<Float>) {
        let oh = s.outH, ow = s.outW
        for ki in 0..<s.kernelH { for kj in 0..<s.kernelW {
            let row = cols + ((c * s.kernelH + ki) * s.kernelW + kj) * ld
            let (lo, hi) = validRange(s, kj)
            if lo >= hi { continue }
            let off = kj - s.padW
            for oy in 0..<oh {
                let iy = oy * s.strideH - s.padH + ki
                if iy < 0 || iy >= s.height { continue }
                let dst = plane + iy * s.width + off
                let src = row + oy * ow
                if s.strideW == 1 {
                    VectorMath.axpy(hi - lo, 1, src + lo, dst + lo)
                } else {
                    let st = s.strideW
                    for ox in lo..<hi { dst[ox * st] += src[ox] }
                }
            }
        } }
    }

    /// Columns of images `n0 ..< n0 + nb`, group `g`: image `i` fills columns `i*P ..< (i+1)*P` (row stride `nb*P`).
    static func buildColumns(_ s: ConvShape, x: UnsafePointer<Float>, n0: Int, nb: Int, g: Int, _ cols: UnsafeMutablePointer<Float>) {
        let chw = s.inChannels * s.height * s.width, hw = s.height * s.width, p = s.p, ld = nb * p
        let out = SendablePointer(cols), src = SendableConstPointer(x)
        parallelFor(nb * s.cg) { item in
            let i = item / s.cg, c = item % s.cg
            let plane = src.p + (n0 + i) * chw + (g * s.cg + c) * hw
            if s.isPointwise {
                (out.p + c * ld + i * p).update(from: plane, count: p)
            } else {
                im2colChannel(s, plane, c: c, out.p + i * p, ld: ld)
            }
        }
    }

    /// `dst[r, i*P + q] = src[(n0 + i), rowOffset + r, q]` for `rows` rows of `[N, rowsTotal, P]` storage.
    static func gatherImages(_ src: UnsafePointer<Float>, rowsTotal: Int, rowOffset: Int, rows: Int, p: Int, n0: Int, nb: Int,
                             _ dst: UnsafeMutablePointer<Float>) {
        let d = SendablePointer(dst), sp = SendableConstPointer(src)
        parallelFor(nb) { i in
            for r in 0..<rows { (d.p + r * nb * p + i * p).update(from: sp.p + ((n0 + i) * rowsTotal + rowOffset + r) * p, count: p) }
        }
    }

    /// Inverse of `gatherImages`: `dst[(n0 + i), rowOffset + r, q] = src[r, i*P + q]`.
    static func scatterImages(_ src: UnsafePointer<Float>, rowsTotal: Int, rowOffset: Int, rows: Int, p: Int, n0: Int, nb: Int,
                              _ dst: UnsafeMutablePointer<Float>) {
        let d = SendablePointer(dst), sp = SendableConstPointer(src)
        parallelFor(nb) { i in
            for r in 0..<rows { (d.p + ((n0 + i) * rowsTotal + rowOffset + r) * p).update(from: sp.p + r * nb * p + i * p, count: p) }
        }
    }

    static func forward(_ s: ConvShape, x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        out: UnsafeMutablePointer<Float>) {
        let chw = s.inChannels * s.height * s.width, hw = s.height * s.width, p = s.p
        let per = imagesPerGEMM(s)
        let direct = per == 1 && s.isPointwise
        let colsCount = direct ? 1 : s.k * p * per
        let tmpCount = per == 1 ? 1 : s.ocg * p * per
        withScratchBuffer(count: colsCount + tmpCount + 16) { scratch in
            let cols = scratch, tmp = scratch + (colsCount + 15) / 16 * 16
            for g in 0..<s.groups {
                let wg = w + g * s.ocg * s.k
                var n0 = 0
                while n0 < s.batch {
                    let nb = min(per, s.batch - n0)
                    let b: UnsafePointer<Float>
                    if direct { b = x + n0 * chw + g * s.cg * hw } else { buildColumns(s, x: x, n0: n0, nb: nb, g: g, cols); b = UnsafePointer(cols) }
                    if nb == 1 {
                        sgemm(.noTranspose, .noTranspose, m: s.ocg, n: p, k: s.k, alpha: 1, a: wg, lda: s.k, b: b, ldb: p,
                              beta: 0, c: out + (n0 * s.outChannels + g * s.ocg) * p, ldc: p)
                    } else {
                        sgemm(.noTranspose, .noTranspose, m: s.ocg, n: nb * p, k: s.k, alpha: 1, a: wg, lda: s.k, b: b, ldb: nb * p,
                              beta: 0, c: tmp, ldc: nb * p)
                        scatterImages(tmp, rowsTotal: s.outChannels, rowOffset: g * s.ocg, rows: s.ocg, p: p, n0: n0, nb: nb, out)
                    }
                    n0 += nb
                }
            }
        }
        if let bias {
            let o = SendablePointer(out), bp = SendableConstPointer(bias)
            parallelFor(s.batch) { n in
                for oc in 0..<s.outChannels {
                    let v = bp.p[oc], row = o.p + (n * s.outChannels + oc) * p
                    VectorMath.map(p, row, row, vector: { $0 + v }, scalar: { $0 + v })
                }
            }
        }
    }

    /// Accumulates the input gradient (`dx`, zero-initialised by the caller).
    static func backwardData(_ s: ConvShape, dy: UnsafePointer<Float>, w: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        let chw = s.inChannels * s.height * s.width, hw = s.height * s.width, p = s.p
        let per = imagesPerGEMM(s)
        let direct = per == 1 && s.isPointwise
        let colsCount = direct ? 1 : s.k * p * per, dybCount = per == 1 ? 1 : s.ocg * p * per
        withScratchBuffer(count: colsCount + dybCount + 16) { scratch in
            let cols = scratch, dyb = scratch + (colsCount + 15) / 16 * 16
            for g in 0..<s.groups {
                let wg = w + g * s.ocg * s.k
                var n0 = 0
                while n0 < s.batch {
                    let nb = min(per, s.batch - n0)
                    let d: UnsafePointer<Float>
                    if nb == 1 { d = dy + (n0 * s.outChannels + g * s.ocg) * p } else {
                        gatherImages(dy, rowsTotal: s.outChannels, rowOffset: g * s.ocg, rows: s.ocg, p: p, n0: n0, nb: nb, dyb)
                        d = UnsafePointer(dyb)
                    }
                    if direct {
                        sgemm(.transpose, .noTranspose, m: s.k, n: p, k: s.ocg, alpha: 1, a: wg, lda: s.k,
                              b: d, ldb: p, beta: 1, c: dx + n0 * chw + g * s.cg * hw, ldc: p)
                    } else {
                        sgemm(.transpose, .noTranspose, m: s.k, n: nb * p, k: s.ocg, alpha: 1, a: wg, lda: s.k,
                              b: d, ldb: nb * p, beta: 0, c: cols, ldc: nb * p)
                        let src = SendableConstPointer(UnsafePointer(cols)), dst = SendablePointer(dx)
                        parallelFor(nb * s.cg) { item in
                            let i = item / s.cg, c = item % s.cg
                            let plane = dst.p + (n0 + i) * chw + (g * s.cg + c) * hw
                            if s.isPointwise {
                                VectorMath.axpy(p, 1, src.p + c * nb * p + i * p, plane)
                            } else {
                                col2imChannel(s, src.p + i * p, ld: nb * p, c: c, plane)
                            }
                        }
                    }
                    n0 += nb
                }
            }
        }
    }

    /// Accumulates weight (`dw`) and bias (`db`) gradients.
    static func backwardWeight(_ s: ConvShape, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                               dw: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>?) {
        let chw = s.inChannels * s.height * s.width, hw = s.height * s.width, p = s.p
        // The reduction runs over images too: batch as many as the column buffer allows.
        let per = imagesPerGEMM(s, target: 1 << 30)
        let direct = per == 1 && s.isPointwise
        let colsCount = direct ? 1 : s.k * p * per, dybCount = per == 1 ? 1 : s.ocg * p * per
        withScratchBuffer(count: colsCount + dybCount + 16) { scratch in
            let cols = scratch, dyb = scratch + (colsCount + 15) / 16 * 16
            for g in 0..<s.groups {
                var n0 = 0
                while n0 < s.batch {
                    let nb = min(per, s.batch - n0)
                    let b: UnsafePointer<Float>
                    if direct { b = x + n0 * chw + g * s.cg * hw } else { buildColumns(s, x: x, n0: n0, nb: nb, g: g, cols); b = UnsafePointer(cols) }
                    let d: UnsafePointer<Float>
                    if nb == 1 { d = dy + (n0 * s.outChannels + g * s.ocg) * p } else {
                        gatherImages(dy, rowsTotal: s.outChannels, rowOffset: g * s.ocg, rows: s.ocg, p: p, n0: n0, nb: nb, dyb)
                        d = UnsafePointer(dyb)
                    }
                    sgemm(.noTranspose, .transpose, m: s.ocg, n: s.k, k: nb * p, alpha: 1, a: d, lda: nb * p, b: b, ldb: nb * p,
                          beta: 1, c: dw + g * s.ocg * s.k, ldc: s.k)
                    n0 += nb
                }
            }
        }
        if let db {
            for n in 0..<s.batch { for oc in 0..<s.outChannels { db[oc] += VectorMath.sum(p, dy + (n * s.outChannels + oc) * p) } }
        }
    }
}

/// Pointers handed to `parallelFor` bodies, each of which touches a disjoint part.
struct SendablePointer: @unchecked Sendable { let p: UnsafeMutablePointer<Float>; init(_ p: UnsafeMutablePointer<Float>) { self.p = p } }
struct SendableConstPointer: @unchecked Sendable { let p: UnsafePointer<Float>; init(_ p: UnsafePointer<Float>) { self.p = p } }

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
