import Tensors

extension Variable {
    /// Same elements with another shape (one extent may be -1).
    public func reshaped(_ shape: [Int]) -> Variable {
        let s = value.shape
        return Variable.record(value.reshaped(shape), [self]) { g in self.accumulate(g.reshaped(s)) }
    }

    /// Dimensions reordered (`perm[i]` = input dimension of output dimension `i`).
    public func permuted(_ perm: [Int]) -> Variable {
        var inverse = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return Variable.record(value.permuted(perm), [self]) { g in self.accumulate(g.permuted(inverse)) }
    }

    /// Swaps the last two dimensions.
    public func transposed() -> Variable {
        var p = Array(0..<value.rank)
        p.swapAt(p.count - 1, p.count - 2)
        return permuted(p)
    }

    /// `length` entries from `start` along `axis`.
    public func narrowed(axis: Int, start: Int, length: Int) -> Variable {
        let s = value.shape
        return Variable.record(value.narrowed(axis: axis, start: start, length: length), [self]) { g in
            var full = Tensor(shape: s)
            full.setNarrowed(axis: axis, start: start, g)
            self.accumulate(full)
        }
    }

    /// Splits `axis` into `parts` equal chunks.
    public func chunked(_ parts: Int, axis: Int) -> [Variable] {
        let a = axis < 0 ? axis + value.rank : axis
        let n = value.shape[a]
        precondition(n % parts == 0, "cannot split extent \(n) into \(parts)")
        return (0..<parts).map { narrowed(axis: a, start: $0 * n / parts, length: n / parts) }
    }

    /// Concatenation along `axis`.
    public static func concatenate(_ parts: [Variable], axis: Int) -> Variable {
        let a = axis < 0 ? axis + parts[0].value.rank : axis
        let sizes = parts.map { $0.value.shape[a] }
        return Variable.record(Tensor.concatenate(parts.map(\.value), axis: a), parts) { g in
            var start = 0
            for (p, n) in zip(parts, sizes) {
                if p.requiresGrad { p.accumulate(g.narrowed(axis: a, start: start, length: n)) }
                start += n
            }
        }
    }

    /// Stacks equal-shaped values along a new axis.
    public static func stack(_ parts: [Variable], axis: Int) -> Variable {
        var s = parts[0].value.shape
        let a = axis < 0 ? axis + s.count + 1 : axis
        s.insert(1, at: a)
        return concatenate(parts.map { $0.reshaped(s) }, axis: a)
    }

    /// Rows of this `[V, ...]` table picked by `indices` (embedding lookup); backward scatter-adds.
    public func gatherRows(_ indices: [Int]) -> Variable {
        let s = value.shape
        return Variable.record(value.gatherRows(indices), [self]) { g in
            var full = Tensor(shape: s)
            let row = s.dropFirst().reduce(1, *)
            let gp = g.readPointer
            full.withUnsafeMutableBufferPointer { f in
                for (r, i) in indices.enumerated() { VectorMath.axpy(row, 1, gp + r * row, f.baseAddress! + i * row) }
            }
            self.accumulate(full)
        }
    }
}
