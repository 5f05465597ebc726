extension Tensor {
    /// Dimensions reordered: result dimension `i` is input dimension `perm[i]` (a copy).
    public func permuted(_ perm: [Int]) -> Tensor {
        precondition(perm.count == rank && Set(perm) == Set(0..<rank), "bad permutation \(perm) for shape \(shape)")
        if perm == Array(0..<rank) { return self }
        let outShape = perm.map { shape[$0] }
        let inStrides = Tensor.strides(of: shape)
        // Keep trailing dimensions that stay in place and contiguous as one copied block.
        var k = rank
        var block = 1
        while k > 0 && perm[k - 1] == k - 1 && (k == rank || perm[k] == k) { block *= shape[k - 1]; k -= 1 }
        let st = perm[0..<k].map { inStrides[$0] }
        let ext = Array(outShape[0..<k])
        let src = readPointer
        return Tensor(shape: outShape) { o in
            if Tensor.elementCount(outShape) == 0 { return }
            var idx = [Int](repeating: 0, count: k)
            var off = 0, out = 0
            let lastStride = k > 0 ? st[k - 1] : 0
            let lastExt = k > 0 ? ext[k - 1] : 1
            while true {
                if block == 1 {
                    var s = off
                    for j in 0..<lastExt { o[out + j] = src[s]; s += lastStride }
                    out += lastExt
                } else {
                    var s = off
                    for _ in 0..<lastExt { (o + out).update(from: src + s, count: block); out += block; s += lastStride }
                }
                // Odometer over dims 0..<k-1.
                var d = k - 2
                while d >= 0 {
                    idx[d] += 1; off += st[d]
                    if idx[d] < ext[d] { break }
                    off -= st[d] * idx[d]; idx[d] = 0; d -= 1
                }
                if d < 0 { return }
            }
        }
    }

    /// Swaps the last two dimensions.
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed needs rank >= 2, got \(shape)")
        var p = Array(0..<rank)
        p.swapAt(rank - 1, rank - 2)
        return permuted(p)
    }

    /// `length` entries starting at `start` along `axis` (a copy).
    public func narrowed(axis: Int, start: Int, length: Int) -> Tensor {
        let (a, outer, n, inner) = axisSplit(axis)
        precondition(start >= 0 && length >= 0 && start + length <= n, "narrow \(start)..<\(start + length) of axis \(a) in \(shape)")
        var s = shape; s[a] = length
        let src = readPointer
        return Tensor(shape: s) { o in
            for r in 0..<outer { (o + r * length * inner).update(from: src + (r * n + start) * inner, count: length * inner) }
        }
    }

    /// Rows `range` of the first axis.
    public subscript(rows range: Range<Int>) -> Tensor { narrowed(axis: 0, start: range.lowerBound, length: range.count) }

    /// Entry `i` of the first axis, without that axis.
    public subscript(row i: Int) -> Tensor {
        var t = narrowed(axis: 0, start: i, length: 1)
        t.shape.removeFirst()
        return t
    }

    /// Writes `value` into `length` entries starting at `start` along `axis`.
    public mutating func setNarrowed(axis: Int, start: Int, _ value: Tensor) {
        let (a, outer, n, inner) = axisSplit(axis)
        let length = value.shape[a]
        var expect = shape; expect[a] = length
        precondition(value.shape == expect && start >= 0 && start + length <= n, "setNarrowed: \(value.shape) into \(shape) at \(start)")
        let v = value.readPointer
        withUnsafeMutableBufferPointer { p in
            for r in 0..<outer { (p.baseAddress! + (r * n + start) * inner).update(from: v + r * length * inner, count: length * inner) }
        }
    }

    /// Concatenation along `axis`; all other extents must match.
    public static func concatenate(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!parts.isEmpty, "concatenate of no tensors")
        let first = parts[0]
        let a = axis < 0 ? axis + first.rank : axis
        var s = first.shape
        s[a] = 0
        for p in parts {
            var q = p.shape
            precondition(q.count == first.rank, "concatenate: ranks differ")
            s[a] += q[a]; q[a] = s[a]
            var t = first.shape; t[a] = s[a]
            precondition(q == t, "concatenate: shapes \(first.shape) and \(p.shape) differ off axis \(a)")
        }
        var out = Tensor(shape: s)
        var start = 0
        for p in parts { out.setNarrowed(axis: a, start: start, p); start += p.shape[a] }
        return out
    }

    /// Stacks equal-shaped tensors along a new axis.
    public static func stack(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!parts.isEmpty, "stack of no tensors")
        var s = parts[0].shape
        let a = axis < 0 ? axis + s.count + 1 : axis
        s.insert(1, at: a)
        return concatenate(parts.map { $0.reshaped(s) }, axis: a)
    }

    /// Rows of a `[V, ...]` table picked by `indices` (embedding lookup): shape `[indices.count, ...]`.
    public func gatherRows(_ indices: [Int]) -> Tensor {
        precondition(rank >= 1, "gatherRows on a scalar")
        let rowSize = count / Swift.max(shape[0], 1)
        var s = shape; s[0] = indices.count
        let src = readPointer
        let v = shape[0]
        return Tensor(shape: s) { o in
            for (r, i) in indices.enumerated() {
                precondition(i >= 0 && i < v, "index \(i) out of range 0..<\(v)")
                (o + r * rowSize).update(from: src + i * rowSize, count: rowSize)
            }
        }
    }

    /// Removes dimensions of extent 1 (or only `axis`).
    public func squeezed(axis: Int? = nil) -> Tensor {
        if let axis {
            let a = axis < 0 ? axis + rank : axis
            precondition(shape[a] == 1, "squeeze of axis \(a) with extent \(shape[a])")
            var s = shape; s.remove(at: a)
            return reshaped(s)
        }
        return reshaped(shape.filter { $0 != 1 })
    }

    /// Inserts a dimension of extent 1 at `axis`.
    public func unsqueezed(axis: Int) -> Tensor {
        var s = shape
        s.insert(1, at: axis < 0 ? axis + rank + 1 : axis)
        return reshaped(s)
    }
}
