import Tensors
#if OpenBLAS
import COpenBLAS
#endif

/// `caption bench gemm`: SGEMM throughput (GFLOP/s = items/s, one item = 1 GFLOP) on the shapes,
/// and with the `OpenBLAS` trait the same shapes through `cblas_sgemm`, with the ratio.
enum GEMMBench {
    static var group: BenchGroup { BenchGroup(name: "gemm",
                                  summary: "SGEMM GFLOP/s: 1024^3, 2048^3, 64x2048x512, 32x5000x512, 3136x64x576 (+ OpenBLAS with the trait)",
                                  figures: figures, setThreads: setThreads) }

    /// (m, n, k) of `C[m,n] = A[m,k] B[k,n]`, row-major, no transposes.
    static let shapes: [(Int, Int, Int)] = [(1024, 1024, 1024), (2048, 2048, 2048), (64, 2048, 512), (32, 5000, 512), (3136, 64, 576)]

    static func figures() -> [BenchFigure] {
        var out: [BenchFigure] = []
        for (m, n, k) in shapes {
            #if OpenBLAS
            out.append(figure("openblas/gemm", m, n, k, reference: nil) { a, b, c in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n),
                            0, c, Int32(n))
            })
            #endif
            out.append(figure("gemm", m, n, k, reference: hasOpenBLAS ? "openblas/gemm/\(m)x\(n)x\(k)" : nil) { a, b, c in
                sgemm(.noTranspose, .noTranspose, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 0, c: c, ldc: n)
            })
            // The AVX2 kernel on an AVX-512 machine, for the dispatch's gain.
            if CPUFeatures.hasAVX512F && m == n && m == k {
                out.append(figure("gemm_avx2", m, n, k, reference: "gemm/\(m)x\(n)x\(k)") { a, b, c in
                    let saved = GEMMConfiguration.kernel
                    GEMMConfiguration.kernel = .avx2
                    sgemm(.noTranspose, .noTranspose, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n, beta: 0, c: c, ldc: n)
                    GEMMConfiguration.kernel = saved
                })
            }
        }
        return out
    }

    static var hasOpenBLAS: Bool {
        #if OpenBLAS
        return true
        #else
        return false
        #endif
    }

    static func setThreads(_ t: Int) {
        #if OpenBLAS
        openblas_set_num_threads(Int32(t))
        #endif
    }

    private static func figure(_ prefix: String, _ m: Int, _ n: Int, _ k: Int, reference: String?,
                               _ run: @escaping (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> BenchFigure {
        BenchFigure(name: "\(prefix)/\(m)x\(n)x\(k)", shape: "C[\(m),\(n)] = A[\(m),\(k)] B[\(k),\(n)] row-major float32, no transposes",
                    itemsPerCall: 2 * Double(m) * Double(n) * Double(k) / 1e9, item: "GFLOP", reference: reference) {
            let a = BenchBuffer(count: m * k, seed: 1), b = BenchBuffer(count: k * n, seed: 2), c = BenchBuffer(count: m * n, seed: 3)
            return { run(a.pointer, b.pointer, c.pointer) }
        }
    }
}

/// Heap floats filled with seeded uniform values in [-1, 1), freed with the closure that holds them.
final class BenchBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int, seed: UInt64) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        var rng = SeededRandom(seed: seed)
        for i in 0..<count { pointer[i] = rng.uniform(-1, 1) }
    }
    deinit { pointer.deallocate() }
}
