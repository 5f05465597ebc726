import Tensors

/// `nn.MaxPool2d(kernel, stride, padding)` on `[N, C, H, W]` (padding counts as -inf; output
/// extent `floor((H + 2p - k) / s) + 1`). The gradient goes to the first maximum of each window.
public final class MaxPool2d: Module, UnaryLayer {
    public let kernel: Int, stride: Int, padding: Int
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        kernel = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }
    public var namedParameters: [(String, Variable)] { [] }

    public func forward(_ x: Variable) -> Variable {
        let s = x.shape
        precondition(s.count == 4, "MaxPool2d needs NCHW input, got \(s)")
        let h = s[2], w = s[3]
        let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
        precondition(oh > 0 && ow > 0 && padding * 2 <= kernel, "MaxPool2d(\(kernel), \(stride), \(padding)) on \(s)")
        let planes = s[0] * s[1]
        // The arg-max is only kept when a backward pass can happen.
        let needArg = GradMode.isEnabled && x.requiresGrad
        var argmax = [Int](repeating: 0, count: needArg ? planes * oh * ow : 0)
        let xp = SendableConstPointer(x.value.readPointer)
        let (k, st, pd) = (kernel, stride, padding)
        let y = Tensor(shape: [s[0], s[1], oh, ow]) { o in
            let out = SendablePointer(o)
            argmax.withUnsafeMutableBufferPointer { am in
                let arg = SendableIntPointer(p: needArg ? am.baseAddress : nil)
                // Planes are independent: one per parallel iteration.
                parallelFor(planes) { pl in
                    let src = xp.p + pl * h * w
                    let o = out.p + pl * oh * ow, a = arg.p.map { $0 + pl * oh * ow }
                    // Fast pass over the clipped windows; a plane holding NaN is redone by the exact loop.
                    if MaxPool2d.planeFast(src, h, w, oh, ow, k, st, pd, o, a, base: pl * h * w) {
                        MaxPool2d.planeExact(src, h, w, oh, ow, k, st, pd, o, a, base: pl * h * w)
                    }
                }
            }
        }
        return Variable.record(y, [x]) { g in
            var dx = Tensor(shape: s)
            let gp = g.readPointer
            dx.withUnsafeMutableBufferPointer { d in for (i, a) in argmax.enumerated() { d[a] += gp[i] } }
            x.accumulate(dx)
        }
    }
    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }

    /// Max and first arg-max of each window, clipped to the plane (every window holds at least one
    /// element, as `2 * padding <= kernel`), without NaN handling; returns whether a NaN was seen.
    static func planeFast(_ src: UnsafePointer<Float>, _ h: Int, _ w: Int, _ oh: Int, _ ow: Int, _ k: Int, _ st: Int, _ pd: Int,
                          _ out: UnsafeMutablePointer<Float>, _ arg: UnsafeMutablePointer<Int>?, base: Int) -> Bool {
        var nan = false
        for oy in 0..<oh {
            let iy0 = oy * st - pd
            let ky0 = max(0, -iy0), ky1 = min(k, h - iy0)
            for ox in 0..<ow {
                let ix0 = ox * st - pd
                let kx0 = max(0, -ix0), kx1 = min(k, w - ix0)
                var bi = (iy0 + ky0) * w + ix0 + kx0
                var best = src[bi]
                for ky in ky0..<ky1 {
                    let row = (iy0 + ky) * w + ix0
                    for kx in kx0..<kx1 {
                        let v = src[row + kx]
                        if v.isNaN { nan = true }
                        if v > best { best = v; bi = row + kx }
                    }
                }
                out[oy * ow + ox] = best
                arg?[oy * ow + ox] = base + bi
            }
        }
        return nan
    }

    /// The reference loop: the first maximum, and NaN propagating.
    static func planeExact(_ src: UnsafePointer<Float>, _ h: Int, _ w: Int, _ oh: Int, _ ow: Int, _ k: Int, _ st: Int, _ pd: Int,
                           _ out: UnsafeMutablePointer<Float>, _ arg: UnsafeMutablePointer<Int>?, base: Int) {
        for oy in 0..<oh { for ox in 0..<ow {
            var best = -Float.infinity, bi = -1
            for ky in 0..<k {
                let iy = oy * st - pd + ky
                if iy < 0 || iy >= h { continue }
                for kx in 0..<k {
                    let ix = ox * st - pd + kx
                    if ix < 0 || ix >= w { continue }
                    let v = src[iy * w + ix]
                    if v > best || bi < 0 || v.isNaN { best = v; bi = iy * w + ix; if v.isNaN { break } }
                }
            }
            out[oy * ow + ox] = best
            arg?[oy * ow + ox] = base + bi
        }}
    }
}

/// `nn.AdaptiveAvgPool2d(1)`: the mean of each channel plane, `[N, C, H, W]` -> `[N, C, 1, 1]`.
public final class AdaptiveAvgPool2d: Module, UnaryLayer {
    public init() {}
    public var namedParameters: [(String, Variable)] { [] }
    public func forward(_ x: Variable) -> Variable {
        let s = x.shape
        precondition(s.count == 4, "AdaptiveAvgPool2d needs NCHW input, got \(s)")
        return x.reshaped([s[0], s[1], s[2] * s[3]]).mean(axis: 2).reshaped([s[0], s[1], 1, 1])
    }
    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }
}

struct SendableIntPointer: @unchecked Sendable { let p: UnsafeMutablePointer<Int>? }
