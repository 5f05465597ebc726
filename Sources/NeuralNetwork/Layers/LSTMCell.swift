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

    public func forward(_ x: Variable) -> Variable {
        let mu = x.mean(axis: -1, keepDim: true)
        let d = x - mu
        let variance = d.squared().mean(axis: -1, keepDim: true)
        return d / (variance + eps).sqrt() * weight + bias
    }
    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }
}
