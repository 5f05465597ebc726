import Tensors

// Element-wise operations with broadcasting; gradients are summed back to each input's shape.

public func + (a: Variable, b: Variable) -> Variable {
    Variable.record(a.value + b.value, [a, b]) { g in
        if a.requiresGrad { a.accumulate(g.sumToShape(a.shape)) }
        if b.requiresGrad { b.accumulate(g.sumToShape(b.shape)) }
    }
}

public func - (a: Variable, b: Variable) -> Variable {
    Variable.record(a.value - b.value, [a, b]) { g in
        if a.requiresGrad { a.accumulate(g.sumToShape(a.shape)) }
        if b.requiresGrad { b.accumulate((-g).sumToShape(b.shape)) }
    }
}

public func * (a: Variable, b: Variable) -> Variable {
    let av = a.value, bv = b.value
    return Variable.record(av * bv, [a, b]) { g in
        if a.requiresGrad { a.accumulate((g * bv).sumToShape(av.shape)) }
        if b.requiresGrad { b.accumulate((g * av).sumToShape(bv.shape)) }
    }
}

public func / (a: Variable, b: Variable) -> Variable {
    let av = a.value, bv = b.value
    return Variable.record(av / bv, [a, b]) { g in
        if a.requiresGrad { a.accumulate((g / bv).sumToShape(av.shape)) }
        if b.requiresGrad { b.accumulate((-(g * av) / (bv * bv)).sumToShape(bv.shape)) }
    }
}

public func + (a: Variable, s: Float) -> Variable { Variable.record(a.value + s, [a]) { g in a.accumulate(g) } }
public func + (s: Float, a: Variable) -> Variable { a + s }
public func - (a: Variable, s: Float) -> Variable { a + (-s) }
public func - (s: Float, a: Variable) -> Variable { Variable.record(s - a.value, [a]) { g in a.accumulate(-g) } }
public func * (a: Variable, s: Float) -> Variable { Variable.record(a.value * s, [a]) { g in a.accumulate(g * s) } }
public func * (s: Float, a: Variable) -> Variable { a * s }
public func / (a: Variable, s: Float) -> Variable { a * (1 / s) }
public prefix func - (a: Variable) -> Variable { a * -1 }

extension Variable {
    public func exp() -> Variable {
        let y = value.exp()
        return Variable.record(y, [self]) { g in self.accumulate(g * y) }
    }

    public func log() -> Variable {
        let x = value
        return Variable.record(x.log(), [self]) { g in self.accumulate(g / x) }
    }

    public func tanh() -> Variable {
        let y = value.tanh()
        return Variable.record(y, [self]) { g in
            self.accumulate(Tensor.broadcastBinary(g, y, { g, y in g * (1 - y * y) }, { g, y in g * (1 - y * y) }))
        }
    }

    public func sigmoid() -> Variable {
        let y = value.sigmoid()
        return Variable.record(y, [self]) { g in
            self.accumulate(Tensor.broadcastBinary(g, y, { g, y in g * y * (1 - y) }, { g, y in g * y * (1 - y) }))
        }
    }

    public func relu() -> Variable {
        let x = value
        return Variable.record(x.relu(), [self]) { g in
            self.accumulate(Tensor.broadcastBinary(g, x, { $0.replacing(with: 0, where: $1 .<= 0) }, { $1 > 0 ? $0 : 0 }))
        }
    }

    /// min(max(x, 0), 6); gradient 1 strictly inside (0, 6), as PyTorch's hardtanh backward.
    public func relu6() -> Variable {
        let x = value
        return Variable.record(x.relu6(), [self]) { g in
            self.accumulate(Tensor.broadcastBinary(g, x, { $0.replacing(with: 0, where: ($1 .<= 0) .| ($1 .>= 6)) },
                                                   { $1 > 0 && $1 < 6 ? $0 : 0 }))
        }
    }

    public func sqrt() -> Variable {
        let y = value.sqrt()
        return Variable.record(y, [self]) { g in self.accumulate(g / (y * 2)) }
    }

    public func squared() -> Variable {
        let x = value
        return Variable.record(x.squared(), [self]) { g in self.accumulate(g * x * 2) }
    }
}
