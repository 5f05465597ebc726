import Tensors

/// `nn.LSTMCell` with PyTorch's gate order (input, forget, cell, output):
/// `gates = x W_ih^T + b_ih + h W_hh^T + b_hh`, `c' = σ(f) c + σ(i) tanh(g)`, `h' = σ(o) tanh(c')`.
/// Parameters `weight_ih [4H, I]`, `weight_hh [4H, H]`, `bias_ih [4H]`, `bias_hh [4H]`, all
/// initialised uniform in ±1/sqrt(H) as in PyTorch.
public final class LSTMCell: Module {
    public let weightIH: Variable, weightHH: Variable
    public let biasIH: Variable, biasHH: Variable
    public let inputSize: Int, hiddenSize: Int

    public init(inputSize: Int, hiddenSize: Int, rng: inout SeededRandom) {
        let b = 1 / Float(hiddenSize).squareRoot()
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        weightIH = parameter(Tensor.uniform([4 * hiddenSize, inputSize], -b, b, rng: &rng))
        weightHH = parameter(Tensor.uniform([4 * hiddenSize, hiddenSize], -b, b, rng: &rng))
        biasIH = parameter(Tensor.uniform([4 * hiddenSize], -b, b, rng: &rng))
        biasHH = parameter(Tensor.uniform([4 * hiddenSize], -b, b, rng: &rng))
    }

    public var namedParameters: [(String, Variable)] {
        [("weight_ih", weightIH), ("weight_hh", weightHH), ("bias_ih", biasIH), ("bias_hh", biasHH)]
    }

    /// One step: `x [B, I]`, `state (h [B, H], c [B, H])` -> new `(h, c)`.
    public func callAsFunction(_ x: Variable, _ state: (h: Variable, c: Variable)) -> (h: Variable, c: Variable) {
        let gates = linear(x, weightIH, biasIH) + linear(state.h, weightHH, biasHH)
        let parts = gates.chunked(4, axis: -1)
        let i = parts[0].sigmoid(), f = parts[1].sigmoid(), g = parts[2].tanh(), o = parts[3].sigmoid()
        let c = f * state.c + i * g
        let h = o * c.tanh()
        return (h, c)
    }

    /// Zero state for a batch.
    public func zeroState(batch: Int) -> (h: Variable, c: Variable) {
        (Variable(Tensor(shape: [batch, hiddenSize])), Variable(Tensor(shape: [batch, hiddenSize])))
    }
}

/// `nn.LayerNorm` over the last dimension: `(x - mean) / sqrt(var + eps) * weight + bias`
/// (biased variance, as PyTorch). `weight` starts at 1, `bias` at 0.
public final class LayerNorm: Module, UnaryLayer {
    public let weight: Variable, bias: Variable
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = parameter(Tensor.ones([dim]))
        bias = parameter(Tensor.zeros([dim]))
        self.eps = eps
    }

    public var namedParameters: [(String, Variable)] { [("weight", weight), ("bias", bias)] }

    public func forward(_ x: Variable) -> Variable { layerNorm(x, weight: weight, bias: bias, eps: eps) }
    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }
}

/// Layer normalisation over the last dimension, fused (one pass per row forward and backward):
/// `y = xhat * weight + bias`, `xhat = (x - mean) / sqrt(var + eps)`; backward
/// `dx = invstd * (d - mean(d) - xhat * mean(d * xhat))` with `d = dy * weight`.
public func layerNorm(_ x: Variable, weight: Variable, bias: Variable, eps: Float = 1e-5) -> Variable {
    let s = x.shape
    let n = s.last!
    precondition(weight.shape == [n] && bias.shape == [n], "layerNorm: input \(s), weight \(weight.shape), bias \(bias.shape)")
    let rows = x.value.count / max(n, 1)
    var invStd = [Float](repeating: 0, count: rows)
    let xv = x.value, w = weight.value, b = bias.value
    let xhat = Tensor(shape: s) { o in
        let xp = xv.readPointer
        for r in 0..<rows {
            let row = xp + r * n
            let mu = VectorMath.sum(n, row) / Float(n)
            VectorMath.map(n, row, o + r * n, vector: { $0 - mu }, scalar: { $0 - mu })
            let variance = VectorMath.dot(n, o + r * n, o + r * n) / Float(n)
            let k = 1 / (variance + eps).squareRoot()
            invStd[r] = k
            VectorMath.map(n, o + r * n, o + r * n, vector: { $0 * k }, scalar: { $0 * k })
        }
    }
    let y = Tensor(shape: s) { o in
        let hp = xhat.readPointer, wp = w.readPointer, bp = b.readPointer
        for r in 0..<rows {
            VectorMath.zip(n, hp + r * n, wp, o + r * n, vector: { $0 * $1 }, scalar: { $0 * $1 })
            VectorMath.axpy(n, 1, bp, o + r * n)
        }
    }
    return Variable.record(y, [x, weight, bias]) { g in
        let gp = g.readPointer, hp = xhat.readPointer, wp = w.readPointer
        if weight.requiresGrad || bias.requiresGrad {
            var dw = Tensor(shape: [n]), db = Tensor(shape: [n])
            dw.withUnsafeMutableBufferPointer { dwp in
                db.withUnsafeMutableBufferPointer { dbp in
                    for r in 0..<rows {
                        for j in 0..<n { dwp[j] += gp[r * n + j] * hp[r * n + j] }
                        VectorMath.axpy(n, 1, gp + r * n, dbp.baseAddress!)
                    }
                }
            }
            if weight.requiresGrad { weight.accumulate(dw) }
            if bias.requiresGrad { bias.accumulate(db) }
        }
        if x.requiresGrad {
            let dx = Tensor(shape: s) { o in
                for r in 0..<rows {
                    let d = o + r * n
                    VectorMath.zip(n, gp + r * n, wp, d, vector: { $0 * $1 }, scalar: { $0 * $1 })
                    let md = VectorMath.sum(n, d) / Float(n)
                    let mdh = VectorMath.dot(n, d, hp + r * n) / Float(n)
                    let k = invStd[r]
                    VectorMath.zip(n, UnsafePointer(d), hp + r * n, d, vector: { k * ($0 - md - $1 * mdh) },
                                   scalar: { k * ($0 - md - $1 * mdh) })
                }
            }
            x.accumulate(dx)
        }
    }
}
