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
