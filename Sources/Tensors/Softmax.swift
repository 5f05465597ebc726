extension Tensor {
    /// Softmax along `axis` (max-subtracted, so stable for inputs of any magnitude).
    public func softmax(axis: Int = -1) -> Tensor { softmaxImpl(axis: axis, log: false) }

    /// Log-softmax along `axis`: `x - max - log(sum(exp(x - max)))`.
    public func logSoftmax(axis: Int = -1) -> Tensor { softmaxImpl(axis: axis, log: true) }

    func softmaxImpl(axis: Int, log: Bool) -> Tensor {
        let (_, outer, n, inner) = axisSplit(axis)
        if inner == 1 {
            let src = readPointer
            return Tensor(shape: shape) { o in
                for r in 0..<outer { Tensor.softmaxRow(n, src + r * n, o + r * n, log: log) }
            }
        }
        // Move the axis last, apply, move back.
        var perm = Array(0..<rank)
        let a = axis < 0 ? axis + rank : axis
        perm.remove(at: a); perm.append(a)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return permuted(perm).softmaxImpl(axis: -1, log: log).permuted(inverse)
    }

    /// Softmax (or log-softmax) of one contiguous row of `n` values.
    @inlinable
    public static func softmaxRow(_ n: Int, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, log: Bool) {
        let m = VectorMath.max(n, src)
        let shift = m.isFinite ? m : 0
        VectorMath.map(n, src, dst, vector: { VectorMath.exp($0 - shift) }, scalar: { VectorMath.exp($0 - shift) })
        let s = VectorMath.sum(n, UnsafePointer(dst))
        if log {
            let ls = VectorMath.log(s) + shift
            VectorMath.map(n, src, dst, vector: { $0 - ls }, scalar: { $0 - ls })
        } else {
            let inv = 1 / s
            VectorMath.map(n, UnsafePointer(dst), dst, vector: { $0 * inv }, scalar: { $0 * inv })
        }
    }
}
