import Dispatch
import NeuralNetwork
import Tensors

/// Differentiable depthwise 3x3 convolution (groups = channels, no bias) of `x [N, C, H, W]` with
/// `weight [C, 1, 3, 3]`, stride 1 or 2, symmetric zero `padding`. The forward pass and the stride-1
/// input gradient use the direct `DepthwiseConvolution` kernel; the rest are direct loops, parallel
/// over channels. Equal to `conv2d(x, weight, nil, groups: C)`, much faster than its im2col lowering.
public func depthwiseConv3x3(_ x: Variable, _ weight: Variable, stride: Int, padding: Int) -> Variable {
    depthwiseConv3x3(x, weight, stride: stride, padding: (padding, padding))
}

/// `depthwiseConv3x3` with `padding.before` zero rows/columns at the top/left and `padding.after` at the
/// bottom/right (TensorFlow's SAME padding of a stride-2 convolution on an even size is `(0, 1)`).
public func depthwiseConv3x3(_ x: Variable, _ weight: Variable, stride: Int, padding pads: (before: Int, after: Int)) -> Variable {
    let padding = pads.before
    let s = x.shape
    precondition(s.count == 4 && weight.shape == [s[1], 1, 3, 3], "depthwiseConv3x3: input \(s), weight \(weight.shape)")
    precondition(stride == 1 || stride == 2, "depthwiseConv3x3: stride \(stride)")
    let (n, c, h, w) = (s[0], s[1], s[2], s[3])
    precondition(pads.before >= 0 && pads.after >= 0 && pads.before <= 2, "depthwiseConv3x3: padding \(pads)")
    let oh = DepthwiseConvolution.outputExtent(h, stride: stride, before: pads.before, after: pads.after)
    let ow = DepthwiseConvolution.outputExtent(w, stride: stride, before: pads.before, after: pads.after)
    precondition(oh > 0 && ow > 0, "depthwiseConv3x3: empty output for input \(s)")
    let xv = x.value, wv = weight.value
    let y = Tensor(shape: [n, c, oh, ow]) { o in
        DepthwiseConvolution.forward3x3(input: xv.readPointer, output: o, planes: n * c, channels: c, height: h, width: w,
                                        outHeight: oh, outWidth: ow, stride: stride, padTop: padding, padLeft: padding,
                                        weights: wv.readPointer, bias: nil)
    }
    return Variable.record(y, [x, weight]) { g in
        let gp = g.readPointer
        if x.requiresGrad {
            let dx: Tensor
            if stride == 1 && padding <= 2 {
                // The adjoint of a stride-1 correlation is a correlation with the flipped filter.
                let flipped = Tensor(shape: [c, 9]) { f in
                    let wp = wv.readPointer
                    for ch in 0..<c { for k in 0..<9 { f[ch * 9 + k] = wp[ch * 9 + 8 - k] } }
                }
                dx = Tensor(shape: s) { o in
                    DepthwiseConvolution.forward3x3(input: gp, output: o, planes: n * c, channels: c, height: oh, width: ow,
                                                    outHeight: h, outWidth: w, stride: 1, padTop: 2 - padding,
                                                    padLeft: 2 - padding, weights: flipped.readPointer, bias: nil)
                }
            } else {
                dx = Tensor(shape: s) { o in
                    o.initialize(repeating: 0, count: n * c * h * w)
                    let wp = wv.readPointer
                    parallelChannels(n * c) { p in
                        let kw = wp + (p % c) * 9, src = gp + p * oh * ow, dst = o + p * h * w
                        for oy in 0..<oh { for ky in 0..<3 {
                            let iy = oy * stride - padding + ky
                            if iy < 0 || iy >= h { continue }
                            for ox in 0..<ow {
                                let gv = src[oy * ow + ox]
                                for kx in 0..<3 {
                                    let ix = ox * stride - padding + kx
                                    if ix >= 0 && ix < w { dst[iy * w + ix] += gv * kw[ky * 3 + kx] }
                                }
                            }
                        } }
                    }
                }
            }
            x.accumulate(dx)
        }
        if weight.requiresGrad {
            let dw = Tensor(shape: [c, 1, 3, 3]) { d in
                let xp = xv.readPointer
                parallelChannels(c) { ch in
                    for ky in 0..<3 { for kx in 0..<3 {
                        // Output columns whose tap kx lands inside the row.
                        let lo = max(0, (padding - kx + stride - 1) / stride)
                        let last = w - 1 + padding - kx
                        let hi = last < 0 ? 0 : min(ow, last / stride + 1)
                        var total: Float = 0
                        for b in 0..<n {
                            let src = xp + (b * c + ch) * h * w, gr = gp + (b * c + ch) * oh * ow
                            var acc: Float = 0
                            for oy in 0..<oh {
                                let iy = oy * stride - padding + ky
                                if iy < 0 || iy >= h || lo >= hi { continue }
                                let xr = src + iy * w - padding + kx, grow = gr + oy * ow
                                if stride == 1 {
                                    acc += VectorMath.dot(hi - lo, xr + lo, grow + lo)
                                } else {
                                    acc += stride2Dot(hi - lo, xr + 2 * lo, grow + lo)
                                }
                            }
                            total += acc
                        }
                        d[ch * 9 + ky * 3 + kx] = total
                    } }
                }
            }
            weight.accumulate(dw)
        }
    }
}

/// `sum x[2i] * y[i]` for `i < n`, reading `x` only up to `x[2(n-1)]`.
func stride2Dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 9 <= n {
        let xe = UnsafeRawPointer(x + 2 * i).loadUnaligned(as: SIMD16<Float>.self).evenHalf
        acc = acc.addingProduct(xe, UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self))
        i += 8
    }
    var s = acc.sum()
    while i < n { s += x[2 * i] * y[i]; i += 1 }
    return s
}

/// Runs `body(i)` for `i` in `0..<count`, split into contiguous chunks over the processors.
func parallelChannels(_ count: Int, _ body: (Int) -> Void) {
    let chunks = min(count, 16)
    if chunks <= 1 { for i in 0..<count { body(i) }; return }
    withoutActuallyEscaping(body) { f in
        let box = UnsafeSendable(f)
        DispatchQueue.concurrentPerform(iterations: chunks) { k in
            for i in (k * count / chunks)..<((k + 1) * count / chunks) { box.value(i) }
        }
    }
}

/// A value asserted to be safe to share across the threads of one parallel loop.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
