import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Parameters sharing hyper-parameters. `baseLearningRate` is what schedules scale; parameters
/// with `requiresGrad == false` (frozen) or without a gradient are skipped by `step()`.
public final class ParameterGroup {
    public var parameters: [Variable]
    public var baseLearningRate: Float
    public var learningRate: Float
    public var weightDecay: Float

    public init(_ parameters: [Variable], learningRate: Float, weightDecay: Float = 0) {
        self.parameters = parameters
        baseLearningRate = learningRate
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }
}

/// Common optimiser interface.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get }
    /// Updates every trainable parameter from its gradient.
    func step()
}

extension Optimizer {
    /// Clears the gradients of every parameter in every group.
    public func zeroGrad() { for g in groups { for p in g.parameters { p.zeroGrad() } } }
    /// Sets each group's learning rate to `factor * baseLearningRate` (for schedules).
    public func scaleLearningRates(_ factor: Float) { for g in groups { g.learningRate = g.baseLearningRate * factor } }
}

/// `torch.optim.SGD`: `d = g + wd p`; with momentum μ: `buf = d` on the first step, then
/// `buf = μ buf + (1 - dampening) d`; `d = nesterov ? d + μ buf : buf`; `p -= lr d`.
public final class SGD: Optimizer {
    public let groups: [ParameterGroup]
    public var momentum: Float, dampening: Float, nesterov: Bool
    var buffers: [ObjectIdentifier: Tensor] = [:]

    public init(_ groups: [ParameterGroup], momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false) {
        self.groups = groups
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
    }

    public convenience init(_ parameters: [Variable], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.init([ParameterGroup(parameters, learningRate: learningRate, weightDecay: weightDecay)], momentum: momentum)
    }

    public func step() {
        for group in groups {
            for p in group.parameters where p.requiresGrad {
                guard var d = p.grad else { continue }
                if group.weightDecay != 0 { d.add(p.value, scale: group.weightDecay) }
                if momentum != 0 {
                    let id = ObjectIdentifier(p)
                    if var buf = buffers[id] {
                        buffers[id] = nil
                        buf.scale(by: momentum)
                        buf.add(d, scale: 1 - dampening)
                        buffers[id] = buf
                    } else {
                        buffers[id] = d
                    }
                    if nesterov { d.add(buffers[id]!, scale: momentum) } else { d = buffers[id]! }
                }
                p.value.add(d, scale: -group.learningRate)
            }
        }
    }
}

/// `torch.optim.Adam` (L2 `weightDecay` added to the gradient) or, with `decoupled`,
/// `torch.optim.AdamW` (`p *= 1 - lr wd` before the update). Update:
/// `m = β1 m + (1-β1) g`, `v = β2 v + (1-β2) g²`, `p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)`.
public final class Adam: Optimizer {
    public let groups: [ParameterGroup]
    public var beta1: Float, beta2: Float, eps: Float
    public let decoupled: Bool
    struct State { var m: Tensor; var v: Tensor; var step: Int }
    var states: [ObjectIdentifier: State] = [:]

    public init(_ groups: [ParameterGroup], beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, decoupled: Bool = false) {
        self.groups = groups
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.decoupled = decoupled
    }

    public convenience init(_ parameters: [Variable], learningRate: Float = 1e-3, weightDecay: Float = 0, decoupled: Bool = false) {
        self.init([ParameterGroup(parameters, learningRate: learningRate, weightDecay: weightDecay)], decoupled: decoupled)
    }

    /// `torch.optim.AdamW` (default weight decay 0.01).
    public static func adamW(_ parameters: [Variable], learningRate: Float = 1e-3, weightDecay: Float = 0.01) -> Adam {
        Adam(parameters, learningRate: learningRate, weightDecay: weightDecay, decoupled: true)
    }

    public func step() {
        for group in groups {
            let lr = group.learningRate, wd = group.weightDecay
            for p in group.parameters where p.requiresGrad {
                guard var g = p.grad else { continue }
                let id = ObjectIdentifier(p)
                var s = states.removeValue(forKey: id) ?? State(m: Tensor(shape: p.shape), v: Tensor(shape: p.shape), step: 0)
                s.step += 1
                if wd != 0 {
                    if decoupled { p.value.scale(by: 1 - lr * wd) } else { g.add(p.value, scale: wd) }
                }
                let b1 = beta1, b2 = beta2, e = eps
                let bc1 = 1 - Float(Double(b1).pow(s.step)), bc2 = 1 - Float(Double(b2).pow(s.step))
                let stepSize = lr / bc1, bc2Sqrt = bc2.squareRoot()
                let n = g.count
                g.withUnsafeBufferPointer { gp in
                    s.m.withUnsafeMutableBufferPointer { mp in
                        s.v.withUnsafeMutableBufferPointer { vp in
                            p.value.withUnsafeMutableBufferPointer { pp in
                                for i in 0..<n {
                                    let gi = gp[i]
                                    mp[i] = b1 * mp[i] + (1 - b1) * gi
                                    vp[i] = b2 * vp[i] + (1 - b2) * gi * gi
                                    pp[i] -= stepSize * mp[i] / (vp[i].squareRoot() / bc2Sqrt + e)
                                }
                            }
                        }
                    }
                }
                states[id] = s
            }
        }
    }
}

extension Double {
    func pow(_ n: Int) -> Double { Glibc.pow(self, Double(n)) }
}

/// Clamps every gradient element to `[-maxValue, maxValue]` (`clip_grad_value_`).
public func clipGradients(_ parameters: [Variable], maxValue: Float) {
    for p in parameters { if let g = p.grad { p.grad = g.clamped(-maxValue, maxValue) } }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm` (`clip_grad_norm_`:
/// factor `maxNorm / (norm + 1e-6)` when below 1). Returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Variable], maxNorm: Float) -> Float {
    var total = 0.0
    for p in parameters { if let g = p.grad { total += g.sumOfSquares() } }
    let norm = Float(total.squareRoot())
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 { for p in parameters where p.grad != nil { p.grad!.scale(by: factor) } }
    return norm
}
