#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A seedable pseudo-random generator that yields the same numbers on every machine.
///
/// Bits: SplitMix64 (Steele, Lea, Flood 2014): state += 0x9E3779B97F4A7C15, then two xor-shift-multiply
/// rounds. Uniform floats take the top 24 bits: `u = (bits >> 40) * 2^-24`, in [0, 1).
/// Normals: Marsaglia's polar method on float64 uniforms in (-1, 1) (53-bit), rejecting points
/// outside the unit disc; it uses only `log` and `sqrt` in float64, and both values of each
/// accepted pair are used (second one cached). Results are rounded to float32.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64
    private var spareNormal: Double?

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func uniformFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniformFloat() }

    /// Uniform float64 in [0, 1) with 53 random bits.
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (mean 0, standard deviation 1), polar method.
    public mutating func normal() -> Double {
        if let s = spareNormal { spareNormal = nil; return s }
        while true {
            let u = 2 * uniformDouble() - 1, v = 2 * uniformDouble() - 1
            let s = u * u + v * v
            if s >= 1 || s == 0 { continue }
            let f = (-2 * Glibc.log(s) / s).squareRoot()
            spareNormal = v * f
            return u * f
        }
    }

    /// Uniform integer in 0..<n.
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "int(below:) needs n > 0")
        return Int(next() % UInt64(n))
    }

    /// Fisher–Yates shuffle, reproducible under the seed.
    public mutating func shuffle<T>(_ a: inout [T]) {
        if a.count < 2 { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, int(below: i + 1)) }
    }
}

/// Fan-in and fan-out as PyTorch computes them: `[out, in, k...]` -> `(in * prod(k), out * prod(k))`.
public func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
    precondition(shape.count >= 2, "fans need rank >= 2, got \(shape)")
    let receptive = shape[2...].reduce(1, *)
    return (shape[1] * receptive, shape[0] * receptive)
}

extension Tensor {
    /// Uniform in [lo, hi).
    public static func uniform(_ shape: [Int], _ lo: Float, _ hi: Float, rng: inout SeededRandom) -> Tensor {
        Tensor(shape: shape) { p in for i in 0..<Tensor.elementCount(shape) { p[i] = rng.uniform(lo, hi) } }
    }

    /// Normal with `mean` and `std`.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout SeededRandom) -> Tensor {
        Tensor(shape: shape) { p in for i in 0..<Tensor.elementCount(shape) { p[i] = mean + std * Float(rng.normal()) } }
    }

    /// `torch.nn.init.kaiming_uniform_(w, a)` with fan_in: bound = gain * sqrt(3 / fan_in),
    /// gain = sqrt(2 / (1 + a^2)). With `a = sqrt(5)` (nn.Linear / nn.Conv2d default) bound = 1 / sqrt(fan_in).
    public static func kaimingUniform(_ shape: [Int], a: Float = 2.23606797749979, rng: inout SeededRandom) -> Tensor {
        let gain = (2 / (1 + a * a)).squareRoot()
        let bound = gain * (3 / Float(fans(shape).fanIn)).squareRoot()
        return uniform(shape, -bound, bound, rng: &rng)
    }

    /// `torch.nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")` (torchvision ResNet convs):
    /// std = sqrt(2 / fan), fan = fan_out or fan_in.
    public static func kaimingNormal(_ shape: [Int], fanOut: Bool = true, rng: inout SeededRandom) -> Tensor {
        let f = fans(shape)
        return normal(shape, std: (2 / Float(fanOut ? f.fanOut : f.fanIn)).squareRoot(), rng: &rng)
    }

    /// `torch.nn.init.xavier_uniform_`: bound = gain * sqrt(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ shape: [Int], gain: Float = 1, rng: inout SeededRandom) -> Tensor {
        let f = fans(shape)
        let bound = gain * (6 / Float(f.fanIn + f.fanOut)).squareRoot()
        return uniform(shape, -bound, bound, rng: &rng)
    }

    /// `torch.nn.init.xavier_normal_`: std = gain * sqrt(2 / (fan_in + fan_out)).
    public static func xavierNormal(_ shape: [Int], gain: Float = 1, rng: inout SeededRandom) -> Tensor {
        let f = fans(shape)
        return normal(shape, std: gain * (2 / Float(f.fanIn + f.fanOut)).squareRoot(), rng: &rng)
    }
}
