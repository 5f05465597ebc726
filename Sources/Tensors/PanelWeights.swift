import TensorsAVX512

/// A Linear layer's weight `W [n, k]` (`y = x · Wᵀ`) stored for products with few rows (a decoder step over
/// a few beams): panels of `nr` output columns (32 for AVX-512, 16 for AVX2), each `k x nr` floats
/// step-major (`data[(q * k + p) * nr + j] = W[q * nr + j, p]`, zero past `n`). A product then streams the
/// weight once, sequentially, multiplying each step by broadcast elements of the few rows of `x`: about
/// twice the bandwidth of dot products over the rows of `W` in place (which read four rows at a time and
/// end in horizontal sums).
public final class PanelWeights: @unchecked Sendable {
    /// Output features (rows of `W`) and input features (columns).
    public let n: Int, k: Int
    /// The kernel family the layout was made for (`.avx2` or `.avx512`, never `.automatic`).
    public let kernel: GEMMKernel
    /// Columns per panel.
    let nr: Int
    let panels: Int
    let data: UnsafeMutablePointer<Float>

    /// Packs `w[i * ldw + p]` (`i < n`, `p < k`; `ldw` defaults to `k`) for `kernel` (default: the one `sgemm`
    /// uses now; `.avx512` on a CPU without it falls back to AVX2). Large weights are packed in parallel.
    public init(_ w: UnsafePointer<Float>, n: Int, k: Int, ldw: Int? = nil, kernel: GEMMKernel = GEMMConfiguration.resolvedKernel) {
        let resolved: GEMMKernel = kernel != .avx2 && CPUFeatures.hasAVX512F ? .avx512 : .avx2
        let nr = resolved == .avx512 ? 32 : 16
        let ld = ldw ?? k
        self.n = max(0, n); self.k = max(0, k); self.kernel = resolved; self.nr = nr
        panels = (self.n + nr - 1) / nr
        let count = max(1, panels * nr * self.k)
        data = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        let (panelCount, depth, out) = (panels, self.k, SendablePointer(p: data))
        let rows = self.n
        let threads = Double(count) < 1e6 ? 1 : ThreadPool.shared.threadCount
        ThreadPool.shared.parallelFor(panelCount, maxThreads: threads) { q, _ in
            let dst = out.p + q * depth * nr
            let valid = min(nr, rows - q * nr)
            // Blocks of 64 steps: the destination block (64 x nr floats) stays in L1 while the rows are read.
            var p0 = 0
            while p0 < depth {
                let p1 = min(depth, p0 + 64)
                for j in 0..<nr {
                    if j < valid {
                        let src = w + (q * nr + j) * ld
                        for p in p0..<p1 { dst[p * nr + j] = src[p] }
                    } else {
                        for p in p0..<p1 { dst[p * nr + j] = 0 }
                    }
                }
                p0 = p1
            }
        }
    }

    deinit { UnsafeMutableRawPointer(data).deallocate() }
}

/// One product `C = A · Wᵀ` (or `C += A · Wᵀ` with `accumulate`) of `panelGEMM`: `A` is `[m, weights.k]` (row
/// stride `lda`), `C` is `[m, weights.n]` (row stride `ldc`). Without `accumulate`, `C` is not read.
public struct PanelProduct {
    public var a: UnsafePointer<Float>, lda: Int
    public var weights: PanelWeights
    public var c: UnsafeMutablePointer<Float>, ldc: Int
    public var accumulate: Bool

    public init(a: UnsafePointer<Float>, lda: Int, weights: PanelWeights, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        (self.a, self.lda, self.weights, self.c, self.ldc, self.accumulate) = (a, lda, weights, c, ldc, accumulate)
    }
}

/// Several products with the same number of rows `m` against panel-stored weights, in one parallel pass:
/// the panels of all of them are cut into pieces of similar work shared by the threads (`threads` defaults
/// to the pool's size above `GEMMConfiguration.parallelThreshold` floating-point operations, else 1).
/// Each output element is one in-order sum over `k` whatever `m` and the threads: results do not depend on them.
public func panelGEMM(m: Int, _ products: [PanelProduct], threads requested: Int? = nil) {
    if m <= 0 || products.isEmpty { return }
    let flops = products.reduce(0.0) { $0 + 2 * Double(m) * Double($1.weights.n) * Double($1.weights.k) }
    let threads = max(1, requested ?? (flops < GEMMConfiguration.parallelThresholdFlops ? 1 : ThreadPool.shared.threadCount))
    // Pieces: runs of panels of one product, about a quarter of a thread's share each.
    var pieces: [(product: Int, q0: Int, q1: Int)] = []
    let totalWork = products.reduce(0) { $0 + $1.weights.panels * $1.weights.nr * max(1, $1.weights.k) }
    let target = threads == 1 ? Int.max : max(1, totalWork / (4 * threads))
    for (index, p) in products.enumerated() where p.weights.panels > 0 {
        let w = p.weights
        let perPiece = max(1, min(w.panels, target / max(1, w.nr * max(1, w.k))))
        var q = 0
        while q < w.panels {
            let q1 = min(w.panels, q + perPiece)
            pieces.append((index, q, q1))
            q = q1
        }
    }
    ThreadPool.shared.parallelFor(pieces.count, maxThreads: threads) { i, _ in
        let piece = pieces[i], p = products[piece.product], w = p.weights
        let nr = w.nr, k = w.k
        for q in piece.q0..<piece.q1 {
            let j = q * nr, cols = min(nr, w.n - j)
            let panel = UnsafePointer(w.data + q * k * nr)
            if k == 0 {
                if !p.accumulate { for r in 0..<m { (p.c + r * p.ldc + j).update(repeating: 0, count: cols) } }
                continue
            }
            var r = 0
            if w.kernel == .avx512 {
                while r < m {
                    let rows = min(8, m - r)
                    sgemmPanel32AVX512(rows, k, p.a + r * p.lda, p.lda, panel, p.c + r * p.ldc + j, p.ldc, cols, p.accumulate)
                    r += rows
                }
            } else {
                while r < m {
                    let rows = min(6, m - r)
                    sgemmPanel16AVX2(rows, k, p.a + r * p.lda, p.lda, panel, p.c + r * p.ldc + j, p.ldc, cols, p.accumulate)
                    r += rows
                }
            }
        }
    }
}
