extension Tensor {
    /// Normalises a possibly negative axis and returns `(outer, n, inner)` sizes around it.
    public func axisSplit(_ axis: Int) -> (axis: Int, outer: Int, n: Int, inner: Int) {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "axis \(axis) out of range for shape \(shape)")
        let outer = shape[0..<a].reduce(1, *)
        let inner = shape[(a + 1)...].reduce(1, *)
        return (a, outer, shape[a], inner)
    }

    func reducedShape(_ a: Int, keepDim: Bool) -> [Int] {
        var s = shape
        if keepDim { s[a] = 1 } else { s.remove(at: a) }
        return s
    }

    /// Sum of all elements (accumulated in float64 blocks for stability).
    public func sum() -> Float {
        var total = 0.0
        var i = 0
        let p = readPointer
        while i < count {
            let n = Swift.min(4096, count - i)
            total += Double(VectorMath.sum(n, p + i))
            i += n
        }
        return Float(total)
    }

    /// Mean of all elements.
    public func mean() -> Float { sum() / Float(Swift.max(count, 1)) }

    /// Largest element (NaN if any element is NaN).
    public func max() -> Float { VectorMath.max(count, readPointer) }

    /// Sum along `axis`.
    public func sum(axis: Int, keepDim: Bool = false) -> Tensor {
        let (a, outer, n, inner) = axisSplit(axis)
        let src = readPointer
        return Tensor(shape: reducedShape(a, keepDim: keepDim)) { o in
            if inner == 1 {
                for r in 0..<outer { o[r] = VectorMath.sum(n, src + r * n) }
                return
            }
            for r in 0..<outer {
                let dst = o + r * inner
                dst.initialize(repeating: 0, count: inner)
                for j in 0..<n { VectorMath.axpy(inner, 1, src + (r * n + j) * inner, dst) }
            }
        }
    }

    /// Mean along `axis`.
    public func mean(axis: Int, keepDim: Bool = false) -> Tensor {
        let n = shape[axis < 0 ? axis + rank : axis]
        return sum(axis: axis, keepDim: keepDim) * (1 / Float(n))
    }

    /// Maximum along `axis`.
    public func max(axis: Int, keepDim: Bool = false) -> Tensor {
        argmaxAndMax(axis: axis, keepDim: keepDim).max
    }

    /// Index of the maximum along `axis` (first one on ties) and the maximum itself.
    public func argmaxAndMax(axis: Int, keepDim: Bool = false) -> (indices: [Int], max: Tensor) {
        let (a, outer, n, inner) = axisSplit(axis)
        precondition(n > 0, "max over an empty axis")
        let src = readPointer
        var idx = [Int](repeating: 0, count: outer * inner)
        let m = Tensor(shape: reducedShape(a, keepDim: keepDim)) { o in
            for r in 0..<outer {
                for c in 0..<inner {
                    var best = src[r * n * inner + c], bi = 0
                    for j in 1..<Swift.max(n, 1) {
                        let v = src[(r * n + j) * inner + c]
                        if v > best || (v.isNaN && !best.isNaN) { best = v; bi = j }
                    }
                    o[r * inner + c] = best
                    idx[r * inner + c] = bi
                }
            }
        }
        return (idx, m)
    }

    /// Indices of the maxima along the last axis.
    public func argmax(axis: Int = -1) -> [Int] { argmaxAndMax(axis: axis).indices }

    /// Sum of squares of all elements (float64 accumulation).
    public func sumOfSquares() -> Double {
        var total = 0.0
        var i = 0
        let p = readPointer
        while i < count {
            let n = Swift.min(4096, count - i)
            total += Double(VectorMath.dot(n, p + i, p + i))
            i += n
        }
        return total
    }
}
