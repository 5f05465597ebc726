import Tensors

/// Matrix product over the last two dimensions (see `Tensor.matmul`; `b` may be 2-D and shared).
public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) -> Variable {
    let av = a.value, bv = b.value
    return Variable.record(Tensor.matmul(av, bv, transposeA: transposeA, transposeB: transposeB), [a, b]) { g in
        if a.requiresGrad {
            if !transposeA {
                a.accumulate(Tensor.matmul(g, bv, transposeB: !transposeB))
            } else {
                a.accumulate(Tensor.matmul(g, bv, transposeB: !transposeB).transposed())
            }
        }
        if b.requiresGrad {
            if bv.rank == 2 && av.rank > 2 {
                if !transposeA {
                    let a2 = av.reshaped([-1, av.shape[av.rank - 1]])
                    let g2 = g.reshaped([-1, g.shape[g.rank - 1]])
                    b.accumulate(transposeB ? Tensor.matmul(g2, a2, transposeA: true) : Tensor.matmul(a2, g2, transposeA: true))
                } else {
                    let a3 = av.reshaped([-1, av.shape[av.rank - 2], av.shape[av.rank - 1]])
                    let g3 = g.reshaped([-1, g.shape[g.rank - 2], g.shape[g.rank - 1]])
                    let per = transposeB ? Tensor.matmul(g3, a3, transposeA: true, transposeB: true) : Tensor.matmul(a3, g3)
                    b.accumulate(per.sum(axis: 0))
                }
            } else if !transposeB {
                b.accumulate(Tensor.matmul(av, g, transposeA: !transposeA))
            } else {
                b.accumulate(Tensor.matmul(g, av, transposeA: true, transposeB: transposeA))
            }
        }
    }
}

/// `x @ weight^T + bias` over the last dimension of `x` (`weight` is `[out, in]`, as nn.Linear).
public func linear(_ x: Variable, _ weight: Variable, _ bias: Variable?) -> Variable {
    let xv = x.value, wv = weight.value
    let inF = wv.shape[1], outF = wv.shape[0]
    precondition(xv.shape.last == inF, "linear: input \(xv.shape) for weight \(wv.shape)")
    var y = Tensor.matmul(xv.rank == 1 ? xv.reshaped([1, inF]) : xv, wv, transposeB: true)
    if xv.rank == 1 { y = y.reshaped([outF]) }
    if let bias {
        let rows = y.count / max(outF, 1)
        let bp = bias.value.readPointer
        y.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows { VectorMath.axpy(outF, 1, bp, p.baseAddress! + r * outF) }
        }
    }
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return Variable.record(y, inputs) { g in
        let g2 = g.reshaped([-1, outF])
        if x.requiresGrad { x.accumulate(Tensor.matmul(g2, wv).reshaped(xv.shape)) }
        if weight.requiresGrad { weight.accumulate(Tensor.matmul(g2, xv.reshaped([-1, inF]), transposeA: true)) }
        if let bias, bias.requiresGrad { bias.accumulate(g2.sum(axis: 0)) }
    }
}
