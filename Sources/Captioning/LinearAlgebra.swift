import Tensors

/// Fully-connected helpers on row-major buffers, in PyTorch's `Linear` convention (weight `[out, in]`).
/// Every matrix product goes through `sgemm`.
enum Dense {
    /// `y[rows, out] = x[rows, in] · Wᵀ (+ b)`, overwriting `y` (or adding to it when `accumulate`).
    static func forward(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, ldx: Int? = nil,
                        weight: UnsafePointer<Float>, ldw: Int? = nil, bias: UnsafePointer<Float>?, outFeatures: Int,
                        into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, accumulate: Bool = false) {
        guard rows > 0 else { return }
        let ly = ldy ?? outFeatures
        if let bias, !accumulate {
            for r in 0..<rows { (y + r * ly).update(from: bias, count: outFeatures) }
        } else if let bias {
            for r in 0..<rows { for j in 0..<outFeatures { y[r * ly + j] += bias[j] } }
        }
        sgemm(.noTranspose, .transpose, m: rows, n: outFeatures, k: inFeatures, alpha: 1,
              a: x, lda: ldx ?? inFeatures, b: weight, ldb: ldw ?? inFeatures,
              beta: (bias != nil || accumulate) ? 1 : 0, c: y, ldc: ly)
    }

    /// `y[rows, out] (+)= x[rows, in] · Wt (+ b)` with the weight given transposed, `Wt[in, out]` (row stride `ldwt`):
    /// the small per-step products read it in place instead of repacking `W` on every call.
    static func forwardTransposed(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int, weightT: UnsafePointer<Float>, ldwt: Int? = nil,
                                  bias: UnsafePointer<Float>?, outFeatures: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        guard rows > 0 else { return }
        if let bias, !accumulate {
            for r in 0..<rows { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        } else if let bias {
            for r in 0..<rows { VectorMath.axpy(outFeatures, 1, bias, y + r * outFeatures) }
        }
        sgemm(.noTranspose, .noTranspose, m: rows, n: outFeatures, k: inFeatures, alpha: 1, a: x, lda: inFeatures,
              b: weightT, ldb: ldwt ?? outFeatures, beta: (bias != nil || accumulate) ? 1 : 0, c: y, ldc: outFeatures)
    }

    /// `out[cols, rows] = mᵀ` for `m[rows, cols]` with row stride `ld`, in cache blocks.
    static func transpose(_ m: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int, into out: UnsafeMutablePointer<Float>) {
        let bs = 32
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + bs)
            var c0 = 0
            while c0 < cols {
                let c1 = min(cols, c0 + bs)
                for r in r0..<r1 { for c in c0..<c1 { out[c * rows + r] = m[r * ld + c] } }
                c0 = c1
            }
            r0 = r1
        }
    }

    /// `dx[rows, in] (+)= dy[rows, out] · W` only (no weight gradient).
    static func inputGradient(_ dy: UnsafePointer<Float>, rows: Int, outFeatures: Int, weight: UnsafePointer<Float>, ldw: Int? = nil,
                              inFeatures: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        guard rows > 0 else { return }
        sgemm(.noTranspose, .noTranspose, m: rows, n: inFeatures, k: outFeatures, alpha: 1,
              a: dy, lda: outFeatures, b: weight, ldb: ldw ?? inFeatures, beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
    }

    /// Accumulates `dW += dyᵀ · x`, `db += Σ_rows dy`, and (if `dx` is given) `dx (+)= dy · W`.
    static func backward(_ dy: UnsafePointer<Float>, rows: Int, outFeatures: Int, ldDy: Int? = nil,
                         x: UnsafePointer<Float>, inFeatures: Int, ldx: Int? = nil,
                         weight: UnsafePointer<Float>, ldw: Int? = nil,
                         gradWeight: UnsafeMutablePointer<Float>, gradBias: UnsafeMutablePointer<Float>?,
                         gradInput dx: UnsafeMutablePointer<Float>?, ldDx: Int? = nil, accumulateInput: Bool = true) {
        guard rows > 0 else { return }
        let lDy = ldDy ?? outFeatures
        sgemm(.transpose, .noTranspose, m: outFeatures, n: inFeatures, k: rows, alpha: 1,
              a: dy, lda: lDy, b: x, ldb: ldx ?? inFeatures, beta: 1, c: gradWeight, ldc: ldw ?? inFeatures)
        if let gradBias {
            for r in 0..<rows { for j in 0..<outFeatures { gradBias[j] += dy[r * lDy + j] } }
        }
        if let dx {
            sgemm(.noTranspose, .noTranspose, m: rows, n: inFeatures, k: outFeatures, alpha: 1,
                  a: dy, lda: lDy, b: weight, ldb: ldw ?? inFeatures, beta: accumulateInput ? 1 : 0, c: dx, ldc: ldDx ?? inFeatures)
        }
    }
}

@inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

#if canImport(Glibc)
import Glibc
#endif
