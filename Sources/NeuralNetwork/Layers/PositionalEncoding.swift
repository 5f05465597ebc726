import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Fixed sinusoidal positions (Vaswani et al.): `pe[p, 2i] = sin(p / 10000^(2i/D))`,
/// `pe[p, 2i+1] = cos(p / 10000^(2i/D))`, computed in float64.
public final class SinusoidalPositionalEncoding: Module {
    public let table: Tensor

    public init(maxLength: Int, dim: Int) {
        table = Tensor(shape: [maxLength, dim]) { p in
            for pos in 0..<maxLength {
                for i in stride(from: 0, to: dim, by: 2) {
                    let angle = Double(pos) * Glibc.exp(Double(i) * -Glibc.log(10000.0) / Double(dim))
                    p[pos * dim + i] = Float(Glibc.sin(angle))
                    if i + 1 < dim { p[pos * dim + i + 1] = Float(Glibc.cos(angle)) }
                }
            }
        }
    }

    public var namedParameters: [(String, Variable)] { [] }

    /// `x [B, T, D]` plus the encodings of positions `offset..<offset+T`.
    public func callAsFunction(_ x: Variable, offset: Int = 0) -> Variable {
        let t = x.shape[1]
        precondition(offset + t <= table.shape[0], "position \(offset + t) beyond the table's \(table.shape[0])")
        return x + Variable(table.narrowed(axis: 0, start: offset, length: t))
    }
}

/// Learned positions: an embedding table `weight [maxLength, D]` added to the input.
public final class LearnedPositionalEmbedding: Module {
    public let weight: Variable

    public init(maxLength: Int, dim: Int, rng: inout SeededRandom) {
        weight = parameter(Tensor.normal([maxLength, dim], rng: &rng))
    }

    public var namedParameters: [(String, Variable)] { [("weight", weight)] }

    public func callAsFunction(_ x: Variable, offset: Int = 0) -> Variable {
        let t = x.shape[1]
        precondition(offset + t <= weight.shape[0], "position \(offset + t) beyond the table's \(weight.shape[0])")
        return x + weight.narrowed(axis: 0, start: offset, length: t)
    }
}
