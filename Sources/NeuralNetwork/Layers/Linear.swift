import Tensors

/// `nn.Linear`: `y = x weight^T + bias`, weight `[out, in]`. PyTorch's default initialisation:
/// weight and bias uniform in ±1/sqrt(in).
public final class Linear: Module, UnaryLayer {
    public let weight: Variable
    public let bias: Variable?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout SeededRandom) {
        weight = parameter(Tensor.kaimingUniform([outFeatures, inFeatures], rng: &rng))
        let b = 1 / Float(inFeatures).squareRoot()
        self.bias = bias ? parameter(Tensor.uniform([outFeatures], -b, b, rng: &rng)) : nil
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public var namedParameters: [(String, Variable)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ x: Variable) -> Variable { linear(x, weight, bias) }
    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }
}

/// `nn.Embedding`: rows of `weight [count, dim]` (initialised N(0, 1); the `paddingIndex` row is
/// zero and receives no gradient).
public final class Embedding: Module {
    public let weight: Variable
    public let paddingIndex: Int?

    public init(_ count: Int, _ dim: Int, paddingIndex: Int? = nil, rng: inout SeededRandom) {
        var w = Tensor.normal([count, dim], rng: &rng)
        if let p = paddingIndex { w.setNarrowed(axis: 0, start: p, Tensor(shape: [1, dim])) }
        weight = parameter(w)
        self.paddingIndex = paddingIndex
    }

    public var namedParameters: [(String, Variable)] { [("weight", weight)] }

    /// Looks up `indices` and returns `shape + [dim]` (default shape `[indices.count]`).
    public func callAsFunction(_ indices: [Int], shape: [Int]? = nil) -> Variable {
        let dim = weight.shape[1]
        let w = weight
        let v = w.value
        let pad = paddingIndex
        let out = Variable.record(v.gatherRows(indices), [w]) { g in
            var full = Tensor(shape: v.shape)
            let gp = g.readPointer
            full.withUnsafeMutableBufferPointer { f in
                for (r, i) in indices.enumerated() where i != pad { VectorMath.axpy(dim, 1, gp + r * dim, f.baseAddress! + i * dim) }
            }
            w.accumulate(full)
        }
        return out.reshaped((shape ?? [indices.count]) + [dim])
    }
}

/// `nn.Dropout`: in training, zeroes each element with probability `p` and scales the rest by
/// 1/(1-p); identity in evaluation. The mask comes from the layer's own seeded generator.
public final class Dropout: Module, UnaryLayer {
    public let p: Float
    public var isTraining = true
    public var rng: SeededRandom

    public init(_ p: Float, seed: UInt64 = 0) {
        precondition(p >= 0 && p < 1, "dropout probability \(p) not in [0, 1)")
        self.p = p
        rng = SeededRandom(seed: seed)
    }

    public var namedParameters: [(String, Variable)] { [] }
    public func setTraining(_ training: Bool) { isTraining = training }

    public func forward(_ x: Variable) -> Variable {
        guard isTraining && p > 0 else { return x }
        let scale = 1 / (1 - p)
        let mask = Tensor(shape: x.shape) { m in
            for i in 0..<x.value.count { m[i] = rng.uniformFloat() < p ? 0 : scale }
        }
        return x * Variable(mask)
    }
    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }
}

/// Parameter-free activations as modules.
public final class Activation: Module, UnaryLayer {
    public enum Kind: Sendable { case relu, relu6, sigmoid, tanh }
    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
    public var namedParameters: [(String, Variable)] { [] }
    public func forward(_ x: Variable) -> Variable {
        switch kind {
        case .relu: x.relu()
        case .relu6: x.relu6()
        case .sigmoid: x.sigmoid()
        case .tanh: x.tanh()
        }
    }
    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }
}
