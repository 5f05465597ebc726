// NeuralNetwork: reverse-mode automatic differentiation, layers, losses, optimisers, state dicts.
//
// Autodiff design: a dynamic ("define-by-run") graph without a global tape. Every operation on
// `Variable`s that needs a gradient returns a new `Variable` holding its parents and a backward
// closure; the closure captures exactly the tensors it needs (inputs or outputs). `backward()`
// orders the graph reachable from the loss topologically, runs the closures once each in reverse
// order, and *accumulates* (+=) into each parent's `grad`, so a value used twice receives the sum
// of both contributions. After running a node its closure, parent links and gradient are dropped,
// so the activations are freed as soon as backward has passed them and memory does not grow
// across training steps (leaf gradients stay until `zeroGrad`).
// Under `withNoGrad { }` (or when no input requires a gradient) operations create plain
// values with no closure and no parent links: inference records nothing.
// Hot paths are fused ops with hand-written backward (llm.c style): `linear`, LSTM cell
// pointwise, layer norm, softmax / log-softmax, cross-entropy, attention pieces, conv and pooling.
import Tensors

/// Whether operations record the graph for `backward()` (task-local; default on).
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording any graph (inference).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false) { try body() }
}

/// A tensor in the autodiff graph: a value, an optional accumulated gradient and, for results
/// of recorded operations, the closure that propagates the gradient to its parents.
public final class Variable {
    /// The current value. Optimisers update parameters' values in place.
    public var value: Tensor
    /// Accumulated gradient (same shape as `value`), nil until something flows into it.
    public var grad: Tensor?
    /// Whether gradients are wanted for this value. Setting it to false on a parameter freezes it.
    public var requiresGrad: Bool
    var parents: [Variable] = []
    var backwardFn: ((Tensor) -> Void)?

    /// A leaf value (a parameter if `requiresGrad`, a constant input otherwise).
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
    }

    public var shape: [Int] { value.shape }
    /// True for values not produced by a recorded operation.
    public var isLeaf: Bool { backwardFn == nil && parents.isEmpty }

    /// A constant with the same value, cut from the graph.
    public func detached() -> Variable { Variable(value) }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }

    /// Adds `g` into `grad`.
    public func accumulate(_ g: Tensor) {
        precondition(g.shape == value.shape, "gradient shape \(g.shape) for value \(value.shape)")
        if grad == nil { grad = g } else { grad!.add(g) }
    }

    /// Records an operation result. When grad mode is off or no input needs a gradient, the
    /// closure is dropped and a constant is returned.
    @inline(__always)
    public static func record(_ value: Tensor, _ inputs: [Variable], _ backward: @escaping (Tensor) -> Void) -> Variable {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return Variable(value) }
        let v = Variable(value, requiresGrad: true)
        v.parents = inputs
        v.backwardFn = backward
        return v
    }

    /// Back-propagates from this value (a scalar unless `seed` is given) into every leaf that
    /// requires a gradient, then frees the graph behind it.
    public func backward(_ seed: Tensor? = nil) {
        precondition(seed != nil || value.count == 1, "backward() without a seed needs a one-element value, got \(value.shape)")
        guard requiresGrad else { return }
        // Iterative depth-first post-order.
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (node, i) = stack.popLast() {
            if i < node.parents.count {
                stack.append((node, i + 1))
                let p = node.parents[i]
                if p.requiresGrad && visited.insert(ObjectIdentifier(p)).inserted { stack.append((p, 0)) }
            } else {
                order.append(node)
            }
        }
        accumulate(seed ?? Tensor(shape: value.shape, repeating: 1))
        for node in order.reversed() {
            guard let fn = node.backwardFn else { continue }
            if let g = node.grad { fn(g) }
            node.backwardFn = nil
            node.parents = []
            node.grad = nil
        }
    }
}

extension Variable: CustomStringConvertible {
    public var description: String { "Variable(\(value)\(requiresGrad ? ", requiresGrad" : ""))" }
}
