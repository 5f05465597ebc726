/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case noTranspose
    case transpose
}

/// Single-precision general matrix multiply on row-major storage:
/// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape `m x k` and `op(B)` of shape `k x n`.
/// `lda`, `ldb`, `ldc` are the row strides (in elements) of the stored matrices.
/// When `beta == 0`, `C` is not read (NaNs in it do not propagate), as in BLAS.
public func sgemm(_ transA: Transpose, _ transB: Transpose,
                  m: Int, n: Int, k: Int,
                  alpha: Float,
                  a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float,
                  c: UnsafeMutablePointer<Float>, ldc: Int) {
    // Reference implementation; replaced by the packed, blocked kernel.
    for i in 0..<m {
        for j in 0..<n {
            var s: Float = 0
            for p in 0..<k {
                let av = transA == .noTranspose ? a[i * lda + p] : a[p * lda + i]
                let bv = transB == .noTranspose ? b[p * ldb + j] : b[j * ldb + p]
                s += av * bv
            }
            let old = beta == 0 ? 0 : beta * c[i * ldc + j]
            c[i * ldc + j] = alpha * s + old
        }
    }
}
