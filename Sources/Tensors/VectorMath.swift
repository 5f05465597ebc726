#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Vectorised transcendental functions on `SIMD8<Float>` and pointer-level element-wise loops.
///
/// `exp` uses a range reduction `x = n ln2 + r` (ln2 split in two parts) and a degree-6
/// polynomial for `e^r`; its relative error is below 2 ulp on [-87, 88]. Results below
/// e^-87.3 are flushed to 0 (no subnormal outputs), above e^88.72 they are +inf, NaN propagates.
public enum VectorMath {
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Written with comparisons/blends and the 1.5·2^23 rounding trick only: the generic `clamped`,
        // `rounded` and Int32 conversions of the standard library are not inlined and cost ~10x.
        let hi = SIMD8<Float>(repeating: 88.7228), lo = SIMD8<Float>(repeating: -87.33)
        var xc = x.replacing(with: hi, where: x .> hi)
        xc.replace(with: lo, where: xc .< lo)
        // n = round-to-nearest-even(xc · log2 e), exact for |n| < 2^22; its integer sits in t's low mantissa bits.
        let magic = SIMD8<Float>(repeating: 12582912)
        let t = xc * 1.44269504088896341 + magic
        let n = t - magic
        var r = xc - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * r * r + r + 1
        // 2^n by building the exponent; n in [-126, 128]: split to stay in range.
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let half = ni &>> 1
        let e1: SIMD8<Int32> = (half &+ 127) &<< 23
        let e2: SIMD8<Int32> = (ni &- half &+ 127) &<< 23
        let s1 = unsafeBitCast(e1, to: SIMD8<Float>.self)
        let s2 = unsafeBitCast(e2, to: SIMD8<Float>.self)
        var y = p * s1 * s2
        y.replace(with: SIMD8(repeating: .infinity), where: x .> hi)
        y.replace(with: SIMD8(repeating: 0), where: x .< lo)
        y.replace(with: x, where: x .!= x)
        return y
    }

    @inlinable @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        1 / (1 + exp(-x))
    }

    /// tanh via `1 - 2 / (e^{2x} + 1)`, with the odd Taylor series near 0 for relative accuracy.
    @inlinable @inline(__always)
    public static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let e = exp(2 * x)
        var y = 1 - 2 / (e + 1)
        let x2 = x * x
        var poly = x2 * Float(-17.0 / 315) + Float(2.0 / 15)
        poly = poly * x2 + Float(-1.0 / 3)
        poly = poly * x2 + 1
        let small = x * poly
        y.replace(with: small, where: x2 .< 0.0025)
        y.replace(with: x, where: x .!= x)
        return y
    }

    /// Applies `vector` to full blocks of 8 and `scalar` to the tail.
    @inlinable @inline(__always)
    public static func map(_ n: Int, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                           vector: (SIMD8<Float>) -> SIMD8<Float>, scalar: (Float) -> Float) {
        var i = 0
        let rawS = UnsafeRawPointer(src), rawD = UnsafeMutableRawPointer(dst)
        while i + 8 <= n {
            let v = rawS.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            rawD.storeBytes(of: vector(v), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { dst[i] = scalar(src[i]); i += 1 }
    }

    /// `dst[i] = f(a[i], b[i])` vectorised.
    @inlinable @inline(__always)
    public static func zip(_ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                           vector: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>, scalar: (Float, Float) -> Float) {
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b), rd = UnsafeMutableRawPointer(dst)
        while i + 8 <= n {
            let va = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let vb = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            rd.storeBytes(of: vector(va, vb), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { dst[i] = scalar(a[i], b[i]); i += 1 }
    }

    /// `y[i] += alpha * x[i]`.
    @inlinable
    public static func axpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        zip(n, x, UnsafePointer(y), y, vector: { a, b in b + alpha * a }, scalar: { a, b in b + alpha * a })
    }

    /// Sum of `n` floats, accumulated in 8 lanes of float then reduced (deterministic order).
    @inlinable
    public static func sum(_ n: Int, _ x: UnsafePointer<Float>) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        let r = UnsafeRawPointer(x)
        while i + 8 <= n { acc += r.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self); i += 8 }
        var s = acc.sum()
        while i < n { s += x[i]; i += 1 }
        return s
    }

    /// Dot product of two float arrays.
    @inlinable
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        while i + 8 <= n {
            acc += rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += x[i] * y[i]; i += 1 }
        return s
    }

    /// Maximum of `n >= 1` floats (NaN if any is NaN; -inf for none), in 8 lanes.
    @inlinable
    public static func max(_ n: Int, _ x: UnsafePointer<Float>) -> Float {
        var vm = SIMD8<Float>(repeating: -.infinity)
        var nan = SIMDMask<SIMD8<Int32>>(repeating: false)
        var i = 0
        let r = UnsafeRawPointer(x)
        while i + 8 <= n {
            let v = r.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            vm.replace(with: v, where: v .> vm)
            nan .|= v .!= v
            i += 8
        }
        var m = vm.max()
        var anyNaN = any(nan)
        while i < n { let v = x[i]; if v > m { m = v }; if v.isNaN { anyNaN = true }; i += 1 }
        return anyNaN ? .nan : m
    }

    /// Scalar exp matching the vector version's flush-to-zero behaviour closely.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float { Float(expf(x)) }
    @inlinable @inline(__always)
    public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable @inline(__always)
    public static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
}
