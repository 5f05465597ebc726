/// AVX-512 dot-product kernels for `C = alpha * A * B^T + beta * C` with both operands read in place
/// (contiguous rows of length `k`). Call only when the CPU has AVX-512F: this module is compiled for it.

@inline(__always)
private func load16(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
private func put(_ o: UnsafeMutablePointer<Float>, _ d: Float, _ alpha: Float, _ beta: Float) {
    o.pointee = alpha * d + (beta == 0 ? 0 : beta * o.pointee)
}

/// Four rows of A (stride `lda`) against four rows of B (stride `ldb`): sixteen `SIMD16` accumulators.
@inline(never)
public func sgemmDot4x4AVX512(_ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                              _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
    let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
    let b0 = b, b1 = b + ldb, b2 = b + 2 * ldb, b3 = b + 3 * ldb
    var s00 = SIMD16<Float>(), s01 = SIMD16<Float>(), s02 = SIMD16<Float>(), s03 = SIMD16<Float>()
    var s10 = SIMD16<Float>(), s11 = SIMD16<Float>(), s12 = SIMD16<Float>(), s13 = SIMD16<Float>()
    var s20 = SIMD16<Float>(), s21 = SIMD16<Float>(), s22 = SIMD16<Float>(), s23 = SIMD16<Float>()
    var s30 = SIMD16<Float>(), s31 = SIMD16<Float>(), s32 = SIMD16<Float>(), s33 = SIMD16<Float>()
    let full = k / 16
    for step in 0..<full {
        let p = step &* 16
        let x0 = load16(a0, p), x1 = load16(a1, p), x2 = load16(a2, p), x3 = load16(a3, p)
        var y = load16(b0, p)
        s00 = s00.addingProduct(x0, y); s10 = s10.addingProduct(x1, y); s20 = s20.addingProduct(x2, y); s30 = s30.addingProduct(x3, y)
        y = load16(b1, p)
        s01 = s01.addingProduct(x0, y); s11 = s11.addingProduct(x1, y); s21 = s21.addingProduct(x2, y); s31 = s31.addingProduct(x3, y)
        y = load16(b2, p)
        s02 = s02.addingProduct(x0, y); s12 = s12.addingProduct(x1, y); s22 = s22.addingProduct(x2, y); s32 = s32.addingProduct(x3, y)
        y = load16(b3, p)
        s03 = s03.addingProduct(x0, y); s13 = s13.addingProduct(x1, y); s23 = s23.addingProduct(x2, y); s33 = s33.addingProduct(x3, y)
    }
    let sums = (s00.sum(), s01.sum(), s02.sum(), s03.sum(), s10.sum(), s11.sum(), s12.sum(), s13.sum(),
                s20.sum(), s21.sum(), s22.sum(), s23.sum(), s30.sum(), s31.sum(), s32.sum(), s33.sum())
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { d in
        d[0] = sums.0; d[1] = sums.1; d[2] = sums.2; d[3] = sums.3; d[4] = sums.4; d[5] = sums.5; d[6] = sums.6; d[7] = sums.7
        d[8] = sums.8; d[9] = sums.9; d[10] = sums.10; d[11] = sums.11; d[12] = sums.12; d[13] = sums.13; d[14] = sums.14
        d[15] = sums.15
        if full * 16 < k {
            for r in 0..<4 {
                let row = a + r * lda
                for q in 0..<4 {
                    let col = b + q * ldb
                    var t: Float = 0
                    for p in (full * 16)..<k { t += row[p] * col[p] }
                    d[r * 4 + q] += t
                }
            }
        }
        for r in 0..<4 { for q in 0..<4 { put(c + r * ldc + q, d[r * 4 + q], alpha, beta) } }
    }
}

/// One row of A against four rows of B.
@inline(never)
public func sgemmDot1x4AVX512(_ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                              _ c: UnsafeMutablePointer<Float>, _ alpha: Float, _ beta: Float) {
    let b0 = b, b1 = b + ldb, b2 = b + 2 * ldb, b3 = b + 3 * ldb
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
    let full = k / 16
    for step in 0..<full {
        let p = step &* 16
        let x = load16(a, p)
        s0 = s0.addingProduct(x, load16(b0, p)); s1 = s1.addingProduct(x, load16(b1, p))
        s2 = s2.addingProduct(x, load16(b2, p)); s3 = s3.addingProduct(x, load16(b3, p))
    }
    var d0 = s0.sum(), d1 = s1.sum(), d2 = s2.sum(), d3 = s3.sum()
    for p in (full * 16)..<k {
        let x = a[p]
        d0 += x * b0[p]; d1 += x * b1[p]; d2 += x * b2[p]; d3 += x * b3[p]
    }
    put(c, d0, alpha, beta); put(c + 1, d1, alpha, beta); put(c + 2, d2, alpha, beta); put(c + 3, d3, alpha, beta)
}
