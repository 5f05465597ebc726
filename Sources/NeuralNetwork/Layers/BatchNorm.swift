import Tensors

/// `nn.BatchNorm2d` on `[N, C, H, W]`: in training, normalises with the batch statistics (biased
/// variance) and updates `running_mean`/`running_var` with momentum 0.1, using the unbiased
/// variance for `running_var`; in evaluation, uses the running statistics. Parameters `weight`
/// (1) and `bias` (0); buffers `running_mean` (0) and `running_var` (1).
public final class BatchNorm2d: Module, UnaryLayer {
    public let weight: Variable, bias: Variable
    public let runningMean: Variable, runningVar: Variable
    public let eps: Float, momentum: Float
    public var isTraining = true

    public init(_ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        weight = parameter(Tensor.ones([channels]))
        bias = parameter(Tensor.zeros([channels]))
        runningMean = Variable(Tensor.zeros([channels]))
        runningVar = Variable(Tensor.ones([channels]))
        self.eps = eps
        self.momentum = momentum
    }

    public var namedParameters: [(String, Variable)] { [("weight", weight), ("bias", bias)] }
    public var namedBuffers: [(String, Variable)] { [("running_mean", runningMean), ("running_var", runningVar)] }
    public func setTraining(_ training: Bool) { isTraining = training }

    public func forward(_ x: Variable) -> Variable {
        let s = x.shape
        precondition(s.count == 4 && s[1] == weight.shape[0], "BatchNorm2d(\(weight.shape[0])) on input \(s)")
        let n = s[0], c = s[1], hw = s[2] * s[3], m = n * hw
        let xv = x.value, gamma = weight.value, beta = bias.value
        var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
        let training = isTraining
        let xp = xv.readPointer
        if training {
            precondition(m > 1, "BatchNorm2d in training needs more than one value per channel, got input \(s)")
            var rm = runningMean.value, rv = runningVar.value
            for ch in 0..<c {
                var sum = 0.0
                for b in 0..<n { sum += Double(VectorMath.sum(hw, xp + (b * c + ch) * hw)) }
                let mu = sum / Double(m)
                var sq = 0.0
                for b in 0..<n {
                    let row = xp + (b * c + ch) * hw
                    for i in 0..<hw { let d = Double(row[i]) - mu; sq += d * d }
                }
                let biased = sq / Double(m), unbiased = sq / Double(m - 1)
                mean[ch] = Float(mu)
                invStd[ch] = Float(1 / (biased + Double(eps)).squareRoot())
                rm[flat: ch] = (1 - momentum) * rm[flat: ch] + momentum * Float(mu)
                rv[flat: ch] = (1 - momentum) * rv[flat: ch] + momentum * Float(unbiased)
            }
            runningMean.value = rm
            runningVar.value = rv
        } else {
            for ch in 0..<c {
                mean[ch] = runningMean.value[flat: ch]
                invStd[ch] = 1 / (runningVar.value[flat: ch] + eps).squareRoot()
            }
        }
        // xhat = (x - mean) * invStd; y = xhat * gamma + beta.
        let xhat = Tensor(shape: s) { o in
            for b in 0..<n { for ch in 0..<c {
                let off = (b * c + ch) * hw, mu = mean[ch], k = invStd[ch]
                VectorMath.map(hw, xp + off, o + off, vector: { ($0 - mu) * k }, scalar: { ($0 - mu) * k })
            } }
        }
        let y = Tensor(shape: s) { o in
            let hp = xhat.readPointer
            for b in 0..<n { for ch in 0..<c {
                let off = (b * c + ch) * hw, gm = gamma[flat: ch], bt = beta[flat: ch]
                VectorMath.map(hw, hp + off, o + off, vector: { $0 * gm + bt }, scalar: { $0 * gm + bt })
            } }
        }
        let w = weight, bs = bias
        return Variable.record(y, [x, weight, bias]) { g in
            let gp = g.readPointer, hp = xhat.readPointer
            var dGamma = [Float](repeating: 0, count: c), dBeta = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                var sg = 0.0, sgh = 0.0
                for b in 0..<n {
                    let off = (b * c + ch) * hw
                    sg += Double(VectorMath.sum(hw, gp + off))
                    sgh += Double(VectorMath.dot(hw, gp + off, hp + off))
                }
                dBeta[ch] = Float(sg)
                dGamma[ch] = Float(sgh)
            }
            if x.requiresGrad {
                let dx = Tensor(shape: s) { o in
                    for b in 0..<n { for ch in 0..<c {
                        let off = (b * c + ch) * hw
                        let k = gamma[flat: ch] * invStd[ch]
                        if training {
                            let mb = dBeta[ch] / Float(m), mg = dGamma[ch] / Float(m)
                            for i in 0..<hw { o[off + i] = k * (gp[off + i] - mb - hp[off + i] * mg) }
                        } else {
                            for i in 0..<hw { o[off + i] = k * gp[off + i] }
                        }
                    } }
                }
                x.accumulate(dx)
            }
            if w.requiresGrad { w.accumulate(Tensor(dGamma)) }
            if bs.requiresGrad { bs.accumulate(Tensor(dBeta)) }
        }
    }
    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }
}
