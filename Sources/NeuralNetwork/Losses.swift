import Tensors

/// Cross-entropy from logits `[..., C]` against class `targets` (one per row), as
/// `torch.nn.functional.cross_entropy(logits, targets, ignore_index=, label_smoothing=)` with mean
/// reduction: rows whose target is `ignoreIndex` contribute nothing and the mean is over the
/// others. With smoothing ε the per-row loss is `(1-ε)(-log p_y) + ε/C Σ_c (-log p_c)`.
/// Log-softmax is fused and max-shifted (stable for any logit magnitude). When every row is
/// ignored the loss is 0 with zero gradient (PyTorch returns NaN).
public func crossEntropy(_ logits: Variable, targets: [Int], ignoreIndex: Int? = nil, labelSmoothing: Float = 0) -> Variable {
    let c = logits.shape.last!
    let n = logits.value.count / max(c, 1)
    precondition(targets.count == n, "crossEntropy: \(targets.count) targets for \(n) rows of \(logits.shape)")
    precondition(labelSmoothing >= 0 && labelSmoothing <= 1, "label smoothing \(labelSmoothing) not in [0, 1]")
    let logp = logits.value.reshaped([n, c]).logSoftmax(axis: -1)
    let lp = logp.readPointer
    var total = 0.0
    var used = 0
    let eps = Double(labelSmoothing)
    for i in 0..<n {
        let t = targets[i]
        if t == ignoreIndex { continue }
        precondition(t >= 0 && t < c, "target \(t) out of range 0..<\(c)")
        var rowLoss = -(1 - eps) * Double(lp[i * c + t])
        if labelSmoothing > 0 {
            var s = 0.0
            for j in 0..<c { s += Double(lp[i * c + j]) }
            rowLoss -= eps / Double(c) * s
        }
        total += rowLoss
        used += 1
    }
    let loss = used > 0 ? Float(total / Double(used)) : 0
    let shape = logits.shape
    return Variable.record(Tensor(scalar: loss), [logits]) { g in
        let lp = logp.readPointer
        let scale = used > 0 ? g.item / Float(used) : 0
        let offTarget = labelSmoothing / Float(c)
        let grad = Tensor(shape: shape) { o in
            for i in 0..<n {
                let row = o + i * c
                let t = targets[i]
                if t == ignoreIndex || used == 0 { row.initialize(repeating: 0, count: c); continue }
                VectorMath.map(c, lp + i * c, row, vector: { (VectorMath.exp($0) - offTarget) * scale },
                               scalar: { (VectorMath.exp($0) - offTarget) * scale })
                row[t] -= (1 - labelSmoothing) * scale
            }
        }
        logits.accumulate(grad)
    }
}

/// Show, Attend and Tell's doubly stochastic regulariser `((1 - Σ_t alpha_t)^2).mean()` for
/// attention weights `alphas [B, T, R]` (T decoding steps, R regions).
public func doublyStochasticPenalty(_ alphas: Variable) -> Variable {
    (1 - alphas.sum(axis: 1)).squared().mean()
}

/// Mean squared error `mean((a - b)^2)`.
public func mseLoss(_ a: Variable, _ b: Variable) -> Variable { (a - b).squared().mean() }
