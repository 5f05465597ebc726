import Tensors

extension Variable {
    /// Sum of all elements (a scalar).
    public func sum() -> Variable {
        let s = value.shape
        return Variable.record(Tensor(scalar: value.sum()), [self]) { g in self.accumulate(Tensor(shape: s, repeating: g.item)) }
    }

    /// Mean of all elements (a scalar).
    public func mean() -> Variable {
        let s = value.shape, n = Float(max(value.count, 1))
        return Variable.record(Tensor(scalar: value.mean()), [self]) { g in self.accumulate(Tensor(shape: s, repeating: g.item / n)) }
    }

    /// Sum along `axis`.
    public func sum(axis: Int, keepDim: Bool = false) -> Variable {
        let s = value.shape
        let a = axis < 0 ? axis + s.count : axis
        return Variable.record(value.sum(axis: a, keepDim: keepDim), [self]) { g in
            var ks = s; ks[a] = 1
            self.accumulate(g.reshaped(ks) + Tensor(shape: s))
        }
    }

    /// Mean along `axis`.
    public func mean(axis: Int, keepDim: Bool = false) -> Variable {
        let n = value.shape[axis < 0 ? axis + value.rank : axis]
        return sum(axis: axis, keepDim: keepDim) * (1 / Float(n))
    }

    /// Softmax along `axis`; backward `y * (g - sum(g * y))`.
    public func softmax(axis: Int = -1) -> Variable {
        let y = value.softmax(axis: axis)
        return Variable.record(y, [self]) { g in
            let gy = g * y
            self.accumulate(gy - y * gy.sum(axis: axis, keepDim: true))
        }
    }

    /// Log-softmax along `axis`; backward `g - softmax * sum(g)`.
    public func logSoftmax(axis: Int = -1) -> Variable {
        let y = value.logSoftmax(axis: axis)
        return Variable.record(y, [self]) { g in
            self.accumulate(g - y.exp() * g.sum(axis: axis, keepDim: true))
        }
    }
}
