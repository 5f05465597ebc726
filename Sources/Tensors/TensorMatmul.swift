extension Tensor {
    /// Matrix product over the last two dimensions, all through `sgemm`.
    ///
    /// `a` is `[..., m, k]` (or `[..., k, m]` with `transposeA`), `b` is `[..., k, n]` (or `[..., n, k]`
    /// with `transposeB`). Leading (batch) dimensions must be equal, or `b` may be 2-D and is then
    /// shared by every batch entry. The result is `[..., m, n]`.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank >= 2: \(a.shape) x \(b.shape)")
        let ar = a.rank, br = b.rank
        let m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2]
        let k = transposeA ? a.shape[ar - 2] : a.shape[ar - 1]
        let kb = transposeB ? b.shape[br - 1] : b.shape[br - 2]
        let n = transposeB ? b.shape[br - 2] : b.shape[br - 1]
        precondition(k == kb, "matmul: inner extents differ: \(a.shape)\(transposeA ? "ᵀ" : "") x \(b.shape)\(transposeB ? "ᵀ" : "")")
        let batchA = Array(a.shape[0..<(ar - 2)])
        let batchB = Array(b.shape[0..<(br - 2)])
        let ta: Transpose = transposeA ? .transpose : .noTranspose
        let tb: Transpose = transposeB ? .transpose : .noTranspose
        let lda = a.shape[ar - 1], ldb = b.shape[br - 1]
        if br == 2 {
            let batch = batchA.reduce(1, *)
            if !transposeA {
                // Fold the batch into the rows of one GEMM.
                return Tensor(shape: batchA + [m, n]) { c in
                    if batch * m * n == 0 { return }
                    if k == 0 { c.initialize(repeating: 0, count: batch * m * n); return }
                    sgemm(ta, tb, m: batch * m, n: n, k: k, alpha: 1, a: a.readPointer, lda: lda,
                          b: b.readPointer, ldb: ldb, beta: 0, c: c, ldc: n)
                }
            }
            return Tensor(shape: batchA + [m, n]) { c in
                for i in 0..<batch {
                    if m * n == 0 { continue }
                    if k == 0 { (c + i * m * n).initialize(repeating: 0, count: m * n); continue }
                    sgemm(ta, tb, m: m, n: n, k: k, alpha: 1, a: a.readPointer + i * m * k, lda: lda,
                          b: b.readPointer, ldb: ldb, beta: 0, c: c + i * m * n, ldc: n)
                }
            }
        }
        precondition(batchA == batchB, "matmul: batch dimensions differ: \(a.shape) x \(b.shape)")
        let batch = batchA.reduce(1, *)
        return Tensor(shape: batchA + [m, n]) { c in
            for i in 0..<batch {
                if m * n == 0 { continue }
                if k == 0 { (c + i * m * n).initialize(repeating: 0, count: m * n); continue }
                sgemm(ta, tb, m: m, n: n, k: k, alpha: 1, a: a.readPointer + i * m * k, lda: lda,
                      b: b.readPointer + i * k * n, ldb: ldb, beta: 0, c: c + i * m * n, ldc: n)
            }
        }
    }

    /// `self @ other` (see `matmul`).
    public func matmul(_ other: Tensor) -> Tensor { Tensor.matmul(self, other) }
}
