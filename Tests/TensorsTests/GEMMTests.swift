import XCTest
import Tensors

/// `sgemm` against a float64 naive triple loop, on every kernel family and thread count.
final class GEMMTests: XCTestCase {
    func testSmallProductMatchesHandComputed() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]        // 2x3
        let b: [Float] = [7, 8, 9, 10, 11, 12]     // 3x2
        var c = [Float](repeating: .nan, count: 4)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            sgemm(.noTranspose, .noTranspose, m: 2, n: 2, k: 3, alpha: 1, a: pa.baseAddress!, lda: 3,
                  b: pb.baseAddress!, ldb: 2, beta: 0, c: pc.baseAddress!, ldc: 2)
        } } }
        XCTAssertEqual(c, [58, 64, 139, 154])
    }

    /// (m, n, k): degenerate, primes, vectors, tall/skinny, edges of every tile and block size.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (2, 2, 2), (7, 13, 29), (13, 7, 31), (1, 37, 53), (1, 300, 17), (41, 1, 67), (300, 1, 5),
        (5, 3, 1), (6, 16, 8), (12, 32, 9), (11, 31, 257), (257, 33, 19), (37, 300, 11), (3, 1000, 7),
        (1000, 3, 9), (145, 17, 260), (150, 70, 513), (64, 2048 / 8, 130), (97, 4099, 3),
    ]
    static let transposes: [(Transpose, Transpose)] = [
        (.noTranspose, .noTranspose), (.noTranspose, .transpose), (.transpose, .noTranspose), (.transpose, .transpose),
    ]

    func testShapesTransposesKernelsAndThreads() throws {
        var rng = SeededRandom(seed: 11)
        for kernel in try kernels() {
            for threads in [1, 2] {
                try withSettings(kernel: kernel, threads: threads, threshold: 0) {
                    for (si, (m, n, k)) in Self.shapes.enumerated() {
                        let (ta, tb) = Self.transposes[si % 4]
                        try check(m, n, k, ta, tb, alpha: 1, beta: 0, rng: &rng, label: "\(kernel) t\(threads)")
                        // Every transpose combination on a shape crossing tile edges.
                        if si % 5 == 2 {
                            for (ta2, tb2) in Self.transposes {
                                try check(m, n, k, ta2, tb2, alpha: -0.5, beta: 0.75, rng: &rng, label: "\(kernel) t\(threads)")
                            }
                        }
                    }
                }
            }
        }
    }

    func testAlphaBetaAndStridedOperands() throws {
        var rng = SeededRandom(seed: 5)
        for kernel in try kernels() {
            try withSettings(kernel: kernel, threads: 2, threshold: 0) {
                for (ta, tb) in Self.transposes {
                    for (alpha, beta) in [(Float(1), Float(1)), (2.5, -1), (-1, 0.5), (0.25, 0)] as [(Float, Float)] {
                        try check(53, 70, 301, ta, tb, alpha: alpha, beta: beta, rng: &rng, pad: (3, 5, 7),
                                  label: "\(kernel) a\(alpha) b\(beta)")
                    }
                }
            }
        }
    }

    /// The in-place dot-product path for few rows of A times B^T (Linear layers on small batches), every edge.
    func testFewRowsTimesTransposedB() throws {
        var rng = SeededRandom(seed: 21)
        for (kernel, threads) in try kernels().flatMap({ k in [(k, 1), (k, 2)] }) {
            try withSettings(kernel: kernel, threads: threads, threshold: 0) {
                for m in [2, 3, 4, 5, 7, 16, 17] {
                    for (n, k) in [(1, 9), (3, 1), (4, 8), (5, 7), (13, 64), (9, 33), (37, 513)] {
                        try check(m, n, k, .noTranspose, .transpose, alpha: 1, beta: 0, rng: &rng, pad: (1, 2, 3), label: "\(kernel) t\(threads)")
                        try check(m, n, k, .noTranspose, .transpose, alpha: -2, beta: 0.5, rng: &rng, label: "\(kernel) t\(threads)")
                    }
                }
            }
        }
    }

    /// Every row count of the few-row path (1...8 covers the 4x4 and 1x4 AVX-512 kernels and the 3x4/1x4 AVX2 ones)
    /// on odd depths (vector tails) and widths (column edges), against the float64 loop.
    func testFewRowsEveryRowCountAndOddSizes() throws {
        var rng = SeededRandom(seed: 33)
        for (kernel, threads) in try kernels().flatMap({ k in [(k, 1), (k, 2)] }) {
            try withSettings(kernel: kernel, threads: threads, threshold: 0) {
                for m in 1...8 {
                    for (n, k) in [(4, 16), (8, 1), (13, 17), (37, 15), (21, 47), (6, 130)] {
                        try check(m, n, k, .noTranspose, .transpose, alpha: 1, beta: 0, rng: &rng, pad: (3, 1, 2), label: "\(kernel) t\(threads)")
                        try check(m, n, k, .noTranspose, .transpose, alpha: 0.5, beta: 1, rng: &rng, label: "\(kernel) t\(threads)")
                    }
                }
            }
        }
    }

    /// `sgemmBatchTransposedB`: several products of different widths, depths and strides in one call, each equal to
    /// the float64 loop; `beta == 0` ignores NaN in C, `beta == 1` accumulates; padding of C is untouched.
    func testBatchOfTransposedBProductsMatchesNaiveLoops() throws {
        var rng = SeededRandom(seed: 34)
        let shapes: [(n: Int, k: Int, beta: Float)] = [(37, 33, 1), (4, 16, 0), (130, 7, 1), (9, 64, 0)]
        for (kernel, threads) in try kernels().flatMap({ k in [(k, 1), (k, 2)] }) {
            try withSettings(kernel: kernel, threads: threads, threshold: 0) {
                for m in Array(1...8) + [17] {
                    let lda = shapes.map(\.k).max()! + 3          // one A for all, read with each product's depth
                    let a = (0..<(m * lda)).map { _ in rng.uniform(-1, 1) }
                    let bs = shapes.map { s in (0..<(s.n * (s.k + 1))).map { _ in rng.uniform(-1, 1) } }
                    let c0 = shapes.map { s in (0..<(m * (s.n + 2))).map { _ in s.beta == 0 ? Float.nan : rng.uniform(-1, 1) } }
                    var cs = c0
                    a.withUnsafeBufferPointer { pa in
                        // Stable addresses for the call: copy operands into allocations.
                        let bAlloc = bs.map { b -> UnsafeMutablePointer<Float> in
                            let p = UnsafeMutablePointer<Float>.allocate(capacity: b.count); p.initialize(from: b, count: b.count); return p
                        }
                        let cAlloc = cs.map { c -> UnsafeMutablePointer<Float> in
                            let p = UnsafeMutablePointer<Float>.allocate(capacity: c.count); p.initialize(from: c, count: c.count); return p
                        }
                        defer { bAlloc.forEach { $0.deallocate() }; cAlloc.forEach { $0.deallocate() } }
                        let products = shapes.enumerated().map { i, s in
                            TransposedBProduct(a: pa.baseAddress!, lda: lda, b: bAlloc[i], ldb: s.k + 1, n: s.n, k: s.k, beta: s.beta,
                                               c: cAlloc[i], ldc: s.n + 2)
                        }
                        sgemmBatchTransposedB(m: m, products)
                        for i in shapes.indices { cs[i] = Array(UnsafeBufferPointer(start: cAlloc[i], count: cs[i].count)) }
                    }
                    for (q, s) in shapes.enumerated() {
                        let ldb = s.k + 1, ldc = s.n + 2
                        var failures = 0
                        for i in 0..<m {
                            for j in 0..<ldc {
                                let got = cs[q][i * ldc + j], old = c0[q][i * ldc + j]
                                if j >= s.n {
                                    if !(got == old || (got.isNaN && old.isNaN)) { failures += 1 }
                                    continue
                                }
                                var sum = 0.0, mag = 0.0
                                for p in 0..<s.k {
                                    let t = Double(a[i * lda + p]) * Double(bs[q][j * ldb + p])
                                    sum += t; mag += abs(t)
                                }
                                let prior = s.beta == 0 ? 0 : Double(old)
                                if !(abs(Double(got) - (sum + prior)) <= 1e-5 * max(mag + abs(prior), 1e-30)) { failures += 1 }
                            }
                        }
                        XCTAssertEqual(failures, 0, "\(kernel) t\(threads) m\(m) product \(q) (n \(s.n), k \(s.k), beta \(s.beta))")
                    }
                }
            }
        }
    }

    func testBetaZeroIgnoresNaNInC() throws {
        var rng = SeededRandom(seed: 9)
        for kernel in try kernels() {
            try withSettings(kernel: kernel, threads: 2, threshold: 0) {
                for (m, n, k) in [(1, 40, 9), (40, 1, 9), (29, 37, 300), (6, 16, 4), (5, 30, 20)] {
                    try check(m, n, k, .noTranspose, .transpose, alpha: 1, beta: 0, rng: &rng, fillC: .nan, label: "\(kernel)")
                }
            }
        }
        // alpha == 0 and k == 0 only scale C; beta == 0 then writes zeros even over NaN.
        var c: [Float] = [.nan, .nan, 2, 3]
        let one: [Float] = [1]
        one.withUnsafeBufferPointer { p in
            c.withUnsafeMutableBufferPointer { pc in
                sgemm(.noTranspose, .noTranspose, m: 1, n: 2, k: 0, alpha: 1, a: p.baseAddress!, lda: 1,
                      b: p.baseAddress!, ldb: 2, beta: 0, c: pc.baseAddress!, ldc: 2)
                sgemm(.noTranspose, .noTranspose, m: 1, n: 2, k: 1, alpha: 0, a: p.baseAddress!, lda: 1,
                      b: p.baseAddress!, ldb: 2, beta: 2, c: pc.baseAddress! + 2, ldc: 2)
            }
        }
        XCTAssertEqual(c, [0, 0, 4, 6])
    }

    /// 1024^3 once (the automatic kernel, both threads): checked on a sample of entries.
    func testLargeSquareProduct() throws {
        let n = 1024
        var rng = SeededRandom(seed: 3)
        let a = (0..<(n * n)).map { _ in rng.uniform(-1, 1) }
        let b = (0..<(n * n)).map { _ in rng.uniform(-1, 1) }
        var c = [Float](repeating: .nan, count: n * n)
        try withSettings(kernel: .automatic, threads: 2, threshold: GEMMConfiguration.parallelThreshold) {
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                sgemm(.noTranspose, .transpose, m: n, n: n, k: n, alpha: 1, a: pa.baseAddress!, lda: n,
                      b: pb.baseAddress!, ldb: n, beta: 0, c: pc.baseAddress!, ldc: n)
            } } }
        }
        var worst = 0.0
        for s in 0..<4000 {
            let i = (s * 7919) % n, j = (s * 104_729 + s / 3) % n
            var ref = 0.0, mag = 0.0
            for p in 0..<n {
                let t = Double(a[i * n + p]) * Double(b[j * n + p])
                ref += t
                mag += abs(t)
            }
            worst = max(worst, abs(Double(c[i * n + j]) - ref) / max(mag, 1e-30))
        }
        XCTAssertLessThanOrEqual(worst, 1e-5)
    }

    func testParallelForCoversEveryIndexOnce() {
        let pool = ThreadPool(threadCount: 2)
        var hits = [Int](repeating: 0, count: 1000)
        hits.withUnsafeMutableBufferPointer { h in
            let p = h.baseAddress!
            for _ in 0..<50 { pool.parallelFor(1000) { i in p[i] += 1 } }
            // Nested loops run serially on the caller and still cover everything.
            pool.parallelFor(10) { i in pool.parallelFor(100) { j in p[i * 100 + j] += 1 } }
        }
        XCTAssertEqual(hits, [Int](repeating: 51, count: 1000))
        XCTAssertTrue(CPUFeatures.hasAVX2FMA || CPUFeatures.flags.isEmpty)
    }

    // MARK: - helpers

    private func kernels() throws -> [GEMMKernel] {
        CPUFeatures.hasAVX512F ? [.avx2, .avx512] : [.avx2]
    }

    private func withSettings(kernel: GEMMKernel, threads: Int, threshold: Int, _ body: () throws -> Void) throws {
        let (k0, t0, th0) = (GEMMConfiguration.kernel, ThreadPool.shared.threadCount, GEMMConfiguration.parallelThreshold)
        GEMMConfiguration.kernel = kernel
        ThreadPool.shared.threadCount = threads
        GEMMConfiguration.parallelThreshold = threshold
        defer {
            GEMMConfiguration.kernel = k0
            ThreadPool.shared.threadCount = t0
            GEMMConfiguration.parallelThreshold = th0
        }
        XCTAssertEqual(GEMMConfiguration.resolvedKernel, kernel == .automatic ? GEMMConfiguration.resolvedKernel : kernel)
        try body()
    }

    /// Random operands (with `pad` extra elements per row of A, B, C), `sgemm`, then a float64 reference:
    /// |c - ref| <= 1e-5 * (|alpha| sum |a b| + |beta c|) for every entry, and padding untouched.
    private func check(_ m: Int, _ n: Int, _ k: Int, _ ta: Transpose, _ tb: Transpose, alpha: Float, beta: Float,
                       rng: inout SeededRandom, pad: (Int, Int, Int) = (0, 0, 0), fillC: Float? = nil,
                       label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (ar, ac) = ta == .noTranspose ? (m, k) : (k, m)
        let (br, bc) = tb == .noTranspose ? (k, n) : (n, k)
        let lda = ac + pad.0, ldb = bc + pad.1, ldc = n + pad.2
        let a = (0..<(ar * lda)).map { _ in rng.uniform(-1, 1) }
        let b = (0..<(br * ldb)).map { _ in rng.uniform(-1, 1) }
        let c0 = (0..<(m * ldc)).map { _ in fillC ?? rng.uniform(-1, 1) }
        var c = c0
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            sgemm(ta, tb, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                  beta: beta, c: pc.baseAddress!, ldc: ldc)
        } } }
        var failures = 0
        for i in 0..<m {
            for j in 0..<ldc {
                let got = c[i * ldc + j]
                if j >= n {
                    if !(got == c0[i * ldc + j] || (got.isNaN && c0[i * ldc + j].isNaN)) { failures += 1 }
                    continue
                }
                var s = 0.0, mag = 0.0
                for p in 0..<k {
                    let av = ta == .noTranspose ? a[i * lda + p] : a[p * lda + i]
                    let bv = tb == .noTranspose ? b[p * ldb + j] : b[j * ldb + p]
                    s += Double(av) * Double(bv)
                    mag += abs(Double(av) * Double(bv))
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j])
                let ref = Double(alpha) * s + old
                let scale = abs(Double(alpha)) * mag + abs(old)
                if !(abs(Double(got) - ref) <= 1e-5 * max(scale, 1e-30)) {
                    if failures < 3 {
                        XCTFail("\(label) \(m)x\(n)x\(k) \(ta)/\(tb) C[\(i),\(j)] = \(got), want \(ref)", file: file, line: line)
                    }
                    failures += 1
                }
            }
        }
        XCTAssertEqual(failures, 0, "\(label) \(m)x\(n)x\(k) \(ta)/\(tb): \(failures) wrong entries", file: file, line: line)
    }
}
