/// How two shapes broadcast (NumPy rules: align trailing dimensions, extents must match or be 1).
/// The innermost run of dimensions with the same broadcast pattern is merged into one loop of
/// length `inner`, in which each operand advances by 1 or stays (0); the remaining outer
/// dimensions are walked with an odometer.
public struct BroadcastPlan: Sendable {
    public let shape: [Int]
    public let outerExtents: [Int]
    public let aOuterStrides: [Int]
    public let bOuterStrides: [Int]
    public let inner: Int
    public let aInc: Int
    public let bInc: Int

    /// The broadcast shape of `a` and `b`, or nil when they are incompatible.
    public static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    public init(_ a: [Int], _ b: [Int]) {
        guard let out = BroadcastPlan.shape(a, b) else {
            preconditionFailure("shapes \(a) and \(b) do not broadcast")
        }
        let r = out.count
        let pa = [Int](repeating: 1, count: r - a.count) + a
        let pb = [Int](repeating: 1, count: r - b.count) + b
        var sa = Tensor.strides(of: pa), sb = Tensor.strides(of: pb)
        for i in 0..<r {
            if pa[i] == 1 { sa[i] = 0 }
            if pb[i] == 1 { sb[i] = 0 }
        }
        // Merge the innermost dimensions sharing one pattern.
        var k = r
        var inner = 1
        var aInc = 1, bInc = 1
        var patternSet = false
        while k > 0 {
            let d = k - 1
            if out[d] == 1 { k -= 1; continue }
            let ai = sa[d] == 0 ? 0 : 1, bi = sb[d] == 0 ? 0 : 1
            if !patternSet { aInc = ai; bInc = bi; patternSet = true }
            // Contiguity: the merged block must be contiguous for an operand that advances.
            guard ai == aInc, bi == bInc else { break }
            if ai == 1 && sa[d] != inner { break }
            if bi == 1 && sb[d] != inner { break }
            inner *= out[d]
            k -= 1
        }
        if !patternSet { aInc = 1; bInc = 1 }
        shape = out
        outerExtents = Array(out[0..<k])
        aOuterStrides = Array(sa[0..<k])
        bOuterStrides = Array(sb[0..<k])
        self.inner = inner
        self.aInc = aInc
        self.bInc = bInc
    }

    /// Calls `body(aOffset, bOffset, outOffset)` for each inner run, in row-major order.
    @inlinable @inline(__always)
    public func forEachRun(_ body: (Int, Int, Int) -> Void) {
        let total = Tensor.elementCount(shape)
        if total == 0 { return }
        let k = outerExtents.count
        var idx = [Int](repeating: 0, count: k)
        var ao = 0, bo = 0, oo = 0
        while true {
            body(ao, bo, oo)
            oo += inner
            var d = k - 1
            while d >= 0 {
                idx[d] += 1
                ao += aOuterStrides[d]; bo += bOuterStrides[d]
                if idx[d] < outerExtents[d] { break }
                ao -= aOuterStrides[d] * idx[d]; bo -= bOuterStrides[d] * idx[d]
                idx[d] = 0
                d -= 1
            }
            if d < 0 { return }
        }
    }
}

extension Tensor {
    /// Element-wise `f(a, b)` with broadcasting.
    @inlinable @inline(__always)
    public static func broadcastBinary(_ a: Tensor, _ b: Tensor,
                                       _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>,
                                       _ g: (Float, Float) -> Float) -> Tensor {
        if a.shape == b.shape {
            return Tensor(shape: a.shape) { o in VectorMath.zip(a.count, a.readPointer, b.readPointer, o, vector: f, scalar: g) }
        }
        let plan = BroadcastPlan(a.shape, b.shape)
        return Tensor(shape: plan.shape) { o in
            let pa = a.readPointer, pb = b.readPointer
            let n = plan.inner
            plan.forEachRun { ao, bo, oo in
                switch (plan.aInc, plan.bInc) {
                case (1, 1):
                    VectorMath.zip(n, pa + ao, pb + bo, o + oo, vector: f, scalar: g)
                case (1, _):
                    let s = pb[bo], sv = SIMD8<Float>(repeating: s)
                    VectorMath.map(n, pa + ao, o + oo, vector: { f($0, sv) }, scalar: { g($0, s) })
                case (_, 1):
                    let s = pa[ao], sv = SIMD8<Float>(repeating: s)
                    VectorMath.map(n, pb + bo, o + oo, vector: { f(sv, $0) }, scalar: { g(s, $0) })
                default:
                    let v = g(pa[ao], pb[bo])
                    (o + oo).initialize(repeating: v, count: n)
                }
            }
        }
    }

    /// Element-wise `f(x)`.
    @inlinable @inline(__always)
    public func map(_ f: (SIMD8<Float>) -> SIMD8<Float>, _ g: (Float) -> Float) -> Tensor {
        Tensor(shape: shape) { o in VectorMath.map(count, readPointer, o, vector: f, scalar: g) }
    }

    /// Sums a broadcast result back to `target` (the reverse of broadcasting `target` to `shape`).
    public func sumToShape(_ target: [Int]) -> Tensor {
        if target == shape { return self }
        let plan = BroadcastPlan(shape, target)
        precondition(plan.shape == shape, "cannot sum \(shape) down to \(target)")
        var result = Tensor(shape: target)
        let g = readPointer
        result.withUnsafeMutableBufferPointer { r in
            let rp = r.baseAddress!
            let n = plan.inner
            plan.forEachRun { ao, bo, _ in
                if plan.bInc == 1 {
                    VectorMath.axpy(n, 1, g + ao, rp + bo)
                } else if plan.aInc == 1 {
                    rp[bo] += VectorMath.sum(n, g + ao)
                } else {
                    rp[bo] += g[ao] * Float(n)
                }
            }
        }
        return result
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, { $0 + $1 }, { $0 + $1 }) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, { $0 - $1 }, { $0 - $1 }) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, { $0 * $1 }, { $0 * $1 }) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b, { $0 / $1 }, { $0 / $1 }) }
    /// Element-wise maximum (broadcasting).
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        broadcastBinary(a, b, { $0.replacing(with: $1, where: $1 .> $0) }, { Swift.max($0, $1) })
    }

    public static func + (a: Tensor, s: Float) -> Tensor { a.map({ $0 + s }, { $0 + s }) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.map({ $0 - s }, { $0 - s }) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map({ $0 * s }, { $0 * s }) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.map({ $0 / s }, { $0 / s }) }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func - (s: Float, a: Tensor) -> Tensor { a.map({ s - $0 }, { s - $0 }) }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static prefix func - (a: Tensor) -> Tensor { a.map({ -$0 }, { -$0 }) }

    /// `self += scale * other` in place (same shape).
    public mutating func add(_ other: Tensor, scale: Float = 1) {
        precondition(shape == other.shape, "add: shapes \(shape) and \(other.shape) differ")
        let n = count
        withUnsafeMutableBufferPointer { p in VectorMath.axpy(n, scale, other.readPointer, p.baseAddress!) }
    }

    /// Multiplies every element by `s` in place.
    public mutating func scale(by s: Float) {
        let n = count
        withUnsafeMutableBufferPointer { p in
            VectorMath.map(n, UnsafePointer(p.baseAddress!), p.baseAddress!, vector: { $0 * s }, scalar: { $0 * s })
        }
    }

    /// Sets every element to `value` in place.
    public mutating func fill(_ value: Float) {
        let n = count
        withUnsafeMutableBufferPointer { p in p.baseAddress!.update(repeating: value, count: n) }
    }

    public func exp() -> Tensor { map(VectorMath.exp, VectorMath.exp) }
    public func log() -> Tensor { map({ v in SIMD8((0..<8).map { VectorMath.log(v[$0]) }) }, VectorMath.log) }
    public func tanh() -> Tensor { map(VectorMath.tanh, VectorMath.tanh) }
    public func sigmoid() -> Tensor { map(VectorMath.sigmoid, VectorMath.sigmoid) }
    public func relu() -> Tensor { map({ $0.replacing(with: 0, where: $0 .< 0) }, { $0 < 0 ? 0 : $0 }) }
    public func relu6() -> Tensor {
        map({ $0.replacing(with: 0, where: $0 .< 0).replacing(with: 6, where: $0 .> 6) }, { Swift.min(Swift.max($0, 0), 6) })
    }
    public func sqrt() -> Tensor { map({ $0.squareRoot() }, { $0.squareRoot() }) }
    public func squared() -> Tensor { map({ $0 * $0 }, { $0 * $0 }) }
    public func abs() -> Tensor { map({ $0.replacing(with: -$0, where: $0 .< 0) }, { Swift.abs($0) }) }
    /// Clamps every element to `[lo, hi]`.
    public func clamped(_ lo: Float, _ hi: Float) -> Tensor {
        map({ $0.clamped(lowerBound: SIMD8(repeating: lo), upperBound: SIMD8(repeating: hi)) }, { Swift.min(Swift.max($0, lo), hi) })
    }
}
