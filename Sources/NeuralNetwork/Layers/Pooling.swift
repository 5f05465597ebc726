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
        var argmax = [Int](repeating: 0, count: planes * oh * ow)
        let xp = SendableConstPointer(x.value.readPointer)
        let (k, st, pd) = (kernel, stride, padding)
        let y = Tensor(shape: [s[0], s[1], oh, ow]) { o in
            let out = SendablePointer(o)
            argmax.withUnsafeMutableBufferPointer { am in
                let arg = SendableIntPointer(p: am.baseAddress!)
                // Planes are independent: one per parallel iteration.
                parallelFor(planes) { pl in
                    let src = xp.p + pl * h * w
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
                        let oi = (pl * oh + oy) * ow + ox
                        out.p[oi] = best
                        arg.p[oi] = pl * h * w + bi
                    }}
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

struct SendableIntPointer: @unchecked Sendable { let p: UnsafeMutablePointer<Int> }
