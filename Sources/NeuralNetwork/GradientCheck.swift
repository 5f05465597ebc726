import Tensors

/// Finite-difference check of analytic gradients.
///
/// The function's output `y` (any shape) is reduced to `L = Σ y_i r_i` with fixed random weights
/// `r` (so every output element matters); `L` is accumulated in float64 from the float32 outputs.
/// Each input element is perturbed by ±`step` (central differences, default 1e-2; use ~1e-3
/// near kinks) and the numeric derivative `(L+ - L-) / 2h` is compared to the gradient from
/// `backward(r)`. An element passes when `|analytic - numeric| <= tolerance * max(|numeric|, scale)`,
/// `+ noise`, with `scale = 0.1 * max |numeric|` over that input plus 1e-3 (guards near-zero
/// entries) and `noise = 4 · 2^-24 · Σ|y_i r_i| / 2h`, the float32 rounding of the loss
/// divided by the step (true gradients that are exactly 0, e.g. of a bias before a softmax, show
/// only that noise); the default relative tolerance is 1e-2.
public enum GradientCheck {
    public struct Result: CustomStringConvertible, Sendable {
        /// Worst error ratio (error / allowed); the check passes when it is <= 1.
        public let worst: Double
        public let worstInput: Int, worstIndex: Int
        public let analytic: Float, numeric: Float
        public var passed: Bool { worst <= 1 }
        public var description: String {
            "worst ratio \(worst) at input \(worstInput) element \(worstIndex): analytic \(analytic), numeric \(numeric)"
        }
    }

    public static func check(_ inputs: [Variable], step: Float = 1e-2, tolerance: Float = 1e-2, seed: UInt64 = 99,
                             _ f: () -> Variable) -> Result {
        for x in inputs { x.requiresGrad = true; x.zeroGrad() }
        let y0 = f()
        var rng = SeededRandom(seed: seed)
        let r = Tensor.uniform(y0.shape, -1, 1, rng: &rng)
        y0.backward(r)
        let analytic = inputs.map { $0.grad ?? Tensor(shape: $0.shape) }
        var magnitude = 0.0
        for i in 0..<y0.value.count { magnitude += abs(Double(y0.value[flat: i]) * Double(r[flat: i])) }
        func loss() -> Double {
            let y = withNoGrad { f() }.value
            var s = 0.0
            for i in 0..<y.count { s += Double(y[flat: i]) * Double(r[flat: i]) }
            return s
        }
        var worst = Result(worst: 0, worstInput: -1, worstIndex: -1, analytic: 0, numeric: 0)
        for (k, x) in inputs.enumerated() {
            var numeric = [Float](repeating: 0, count: x.value.count)
            for i in 0..<x.value.count {
                let orig = x.value[flat: i]
                x.value[flat: i] = orig + step
                let lp = loss()
                x.value[flat: i] = orig - step
                let lm = loss()
                x.value[flat: i] = orig
                // The actual perturbation is the float difference, not exactly 2*step.
                let h = Double(orig + step) - Double(orig - step)
                numeric[i] = Float((lp - lm) / h)
            }
            let scale = 0.1 * Double(numeric.map { abs($0) }.max() ?? 0) + 1e-3
            for i in 0..<numeric.count {
                let a = analytic[k][flat: i], n = numeric[i]
                let noise = 4 * 0x1p-24 * magnitude / (2 * Double(step))
                let ratio = Double(abs(a - n)) / (Double(tolerance) * max(Double(abs(n)), scale) + noise)
                if ratio > worst.worst || ratio.isNaN {
                    worst = Result(worst: ratio.isNaN ? .infinity : ratio, worstInput: k, worstIndex: i, analytic: a, numeric: n)
                }
            }
            x.zeroGrad()
        }
        return worst
    }
}
