#if canImport(Glibc)
import Glibc
#endif

/// Adam / AdamW over a `ParameterStore`, with PyTorch's update rule (bias-corrected moments,
/// `eps` added after the square root; AdamW's decay decoupled and scaled by the learning rate).
/// The moments are part of a checkpoint, so training resumes exactly.
public struct AdamOptimizer: Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// Decoupled weight decay (AdamW); 0 = Adam.
    public var weightDecay: Float = 0
    public private(set) var step = 0
    public var firstMoment: [Float]
    public var secondMoment: [Float]

    public init(parameterCount: Int, learningRate: Float, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = [Float](repeating: 0, count: parameterCount)
    }

    /// Restores a saved state.
    public init(learningRate: Float, step: Int, firstMoment: [Float], secondMoment: [Float], weightDecay: Float = 0) {
        precondition(firstMoment.count == secondMoment.count)
        self.learningRate = learningRate
        self.step = step
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        self.weightDecay = weightDecay
    }

    /// One update of `values` from `gradients`; `frozen` ranges are left untouched (their moments too).
    public mutating func update(_ store: ParameterStore, frozen: [Range<Int>] = []) {
        precondition(store.count == firstMoment.count, "optimizer state does not match the parameters")
        step += 1
        let b1 = beta1, b2 = beta2, eps = epsilon, lr = learningRate, wd = weightDecay
        let c1 = 1 - powf(b1, Float(step)), c2 = 1 - powf(b2, Float(step))
        let stepSize = lr / c1
        let c2Root = c2.squareRoot()
        var mask = [Bool](repeating: true, count: store.count)
        for r in frozen { for i in r { mask[i] = false } }
        firstMoment.withUnsafeMutableBufferPointer { m in
        secondMoment.withUnsafeMutableBufferPointer { v in
        store.values.withUnsafeMutableBufferPointer { p in
        store.gradients.withUnsafeBufferPointer { g in
            for i in 0..<p.count where mask[i] {
                let gi = g[i]
                if wd != 0 { p[i] -= lr * wd * p[i] }
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                p[i] -= stepSize * m[i] / (v[i].squareRoot() / c2Root + eps)
            }
        }
        }
        }
        }
    }
}

extension ParameterStore {
    /// Clamps every gradient to [-limit, limit] (the tutorial's `clip_gradient`).
    public func clipGradients(value limit: Float) {
        gradients.withUnsafeMutableBufferPointer { g in
            for i in 0..<g.count { g[i] = min(max(g[i], -limit), limit) }
        }
    }

    /// Scales all gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping.
    @discardableResult
    public func clipGradients(globalNorm maxNorm: Float) -> Float {
        var s: Double = 0
        for v in gradients { s += Double(v) * Double(v) }
        let norm = Float(s.squareRoot())
        if norm > maxNorm, norm > 0 {
            let k = maxNorm / (norm + 1e-6)
            gradients.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] *= k } }
        }
        return norm
    }
}
