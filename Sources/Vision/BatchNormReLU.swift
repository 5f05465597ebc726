import NeuralNetwork
import Tensors

/// `bn(x).relu()` for `x [N, C, H, W]` in one fused, vectorised, channel-parallel operation with the
/// same semantics as `BatchNorm2d` (batch statistics with biased variance in training, running
/// statistics updated with momentum and the unbiased variance; running statistics in evaluation).
/// The backward pass recomputes the normalised input from `x` instead of storing it.
public func batchNormReLU(_ x: Variable, _ bn: BatchNorm2d) -> Variable {
    let s = x.shape
    precondition(s.count == 4 && s[1] == bn.weight.shape[0], "batchNormReLU: BatchNorm2d(\(bn.weight.shape[0])) on input \(s)")
    let n = s[0], c = s[1], hw = s[2] * s[3], m = n * hw
    let training = bn.isTraining
    let xv = x.value, gamma = bn.weight.value, beta = bn.bias.value
    var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
    if training {
        precondition(m > 1, "batchNormReLU in training needs more than one value per channel, got input \(s)")
        var unbiased = [Float](repeating: 0, count: c)
        let xp = xv.readPointer
        mean.withUnsafeMutableBufferPointer { mp in invStd.withUnsafeMutableBufferPointer { ip in
            unbiased.withUnsafeMutableBufferPointer { up in
                let box = UnsafeSendable((mp.baseAddress!, ip.baseAddress!, up.baseAddress!))
                parallelChannels(c) { ch in
                    var sum = 0.0
                    for b in 0..<n { sum += Double(VectorMath.sum(hw, xp + (b * c + ch) * hw)) }
                    let mu = sum / Double(m)
                    var sq = 0.0
                    for b in 0..<n { sq += Double(BatchNormKernels.centredSquares(hw, xp + (b * c + ch) * hw, Float(mu))) }
                    box.value.0[ch] = Float(mu)
                    box.value.1[ch] = Float(1 / (sq / Double(m) + Double(bn.eps)).squareRoot())
                    box.value.2[ch] = Float(sq / Double(m - 1))
                }
            }
        } }
        var rm = bn.runningMean.value, rv = bn.runningVar.value
        let mo = bn.momentum
        for ch in 0..<c {
            rm[flat: ch] = (1 - mo) * rm[flat: ch] + mo * mean[ch]
            rv[flat: ch] = (1 - mo) * rv[flat: ch] + mo * unbiased[ch]
        }
        bn.runningMean.value = rm
        bn.runningVar.value = rv
    } else {
        for ch in 0..<c {
            mean[ch] = bn.runningMean.value[flat: ch]
            invStd[ch] = 1 / (bn.runningVar.value[flat: ch] + bn.eps).squareRoot()
        }
    }
    // y = max(0, x * k + b) with k = gamma * invStd, b = beta - mean * k.
    var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
    for ch in 0..<c {
        scale[ch] = gamma[flat: ch] * invStd[ch]
        shift[ch] = beta[flat: ch] - mean[ch] * scale[ch]
    }
    let y = Tensor(shape: s) { o in
        let xp = xv.readPointer
        let box = UnsafeSendable(o)
        parallelChannels(c) { ch in
            for b in 0..<n {
                let off = (b * c + ch) * hw
                BatchNormKernels.affineReLU(hw, xp + off, box.value + off, scale[ch], shift[ch])
            }
        }
    }
    let w = bn.weight, bs = bn.bias
    return Variable.record(y, [x, w, bs]) { g in
        let gp = g.readPointer, xp = xv.readPointer, yp = y.readPointer
        // Per channel: sums of the gradient through the ReLU, and of it times xhat.
        var sumG = [Float](repeating: 0, count: c), sumGX = [Float](repeating: 0, count: c)
        sumG.withUnsafeMutableBufferPointer { sg in sumGX.withUnsafeMutableBufferPointer { sgx in
            let box = UnsafeSendable((sg.baseAddress!, sgx.baseAddress!))
            parallelChannels(c) { ch in
                var a = 0.0, bb = 0.0
                for b in 0..<n {
                    let off = (b * c + ch) * hw
                    let (s1, s2) = BatchNormKernels.maskedSums(hw, gp + off, yp + off, xp + off, mean[ch])
                    a += Double(s1); bb += Double(s2)
                }
                box.value.0[ch] = Float(a)
                box.value.1[ch] = Float(bb) * invStd[ch]
            }
        } }
        if x.requiresGrad {
            let dx = Tensor(shape: s) { o in
                let box = UnsafeSendable(o)
                parallelChannels(c) { ch in
                    let k = gamma[flat: ch] * invStd[ch]
                    // dx = k * (g' - mean(g') - xhat * mean(g' xhat)) in training; k * g' in evaluation.
                    let mg = training ? sumG[ch] / Float(m) : 0, mgx = training ? sumGX[ch] / Float(m) : 0
                    for b in 0..<n {
                        let off = (b * c + ch) * hw
                        BatchNormKernels.inputGradient(hw, gp + off, yp + off, xp + off, box.value + off, k: k, mean: mean[ch],
                                                       invStd: invStd[ch], meanG: mg, meanGX: mgx)
                    }
                }
            }
            x.accumulate(dx)
        }
        if w.requiresGrad { w.accumulate(Tensor(sumGX)) }
        if bs.requiresGrad { bs.accumulate(Tensor(sumG)) }
    }
}

/// SIMD8 loops of `batchNormReLU`.
enum BatchNormKernels {
    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// `sum((x - mu)^2)`.
    static func centredSquares(_ n: Int, _ x: UnsafePointer<Float>, _ mu: Float) -> Float {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        let vm = SIMD8<Float>(repeating: mu)
        var i = 0
        while i + 16 <= n {
            let d0 = load(x + i) - vm, d1 = load(x + i + 8) - vm
            a0 = a0.addingProduct(d0, d0); a1 = a1.addingProduct(d1, d1)
            i += 16
        }
        var s = (a0 + a1).sum()
        while i < n { let d = x[i] - mu; s += d * d; i += 1 }
        return s
    }

    /// `y = max(0, x * k + b)`.
    static func affineReLU(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ k: Float, _ b: Float) {
        let vk = SIMD8<Float>(repeating: k), vb = SIMD8<Float>(repeating: b), zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            var v = vb.addingProduct(load(x + i), vk)
            v = v.replacing(with: zero, where: v .< zero)
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { y[i] = max(0, x[i] * k + b); i += 1 }
    }

    /// `(sum g', sum g' (x - mu))` with `g' = g` where `y > 0`, else 0.
    static func maskedSums(_ n: Int, _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                           _ mu: Float) -> (Float, Float) {
        var s1 = SIMD8<Float>(), s2 = SIMD8<Float>()
        let zero = SIMD8<Float>(), vm = SIMD8<Float>(repeating: mu)
        var i = 0
        while i + 8 <= n {
            let gv = load(g + i).replacing(with: zero, where: load(y + i) .<= zero)
            s1 += gv
            s2 = s2.addingProduct(gv, load(x + i) - vm)
            i += 8
        }
        var a = s1.sum(), b = s2.sum()
        while i < n {
            if y[i] > 0 { a += g[i]; b += g[i] * (x[i] - mu) }
            i += 1
        }
        return (a, b)
    }

    /// `dx = k * (g' - meanG - xhat * meanGX)`, `xhat = (x - mean) * invStd`.
    static func inputGradient(_ n: Int, _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                              _ dx: UnsafeMutablePointer<Float>, k: Float, mean: Float, invStd: Float, meanG: Float, meanGX: Float) {
        let zero = SIMD8<Float>(), vk = SIMD8<Float>(repeating: k), vm = SIMD8<Float>(repeating: mean)
        let vi = SIMD8<Float>(repeating: invStd), vg = SIMD8<Float>(repeating: meanG), vgx = SIMD8<Float>(repeating: meanGX)
        var i = 0
        while i + 8 <= n {
            let gv = load(g + i).replacing(with: zero, where: load(y + i) .<= zero)
            let xhat = (load(x + i) - vm) * vi
            let v = vk * (gv - vg - xhat * vgx)
            UnsafeMutableRawPointer(dx + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            let gv = y[i] > 0 ? g[i] : 0
            dx[i] = k * (gv - meanG - (x[i] - mean) * invStd * meanGX)
            i += 1
        }
    }
}
