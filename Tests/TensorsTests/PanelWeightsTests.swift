import XCTest
import Tensors

/// `PanelWeights` + `panelGEMM` against a float64 naive loop: odd widths (ragged last panel), depths, strides and
/// row counts (one kernel call, several row groups), both kernel families, 1 and 2 threads.
final class PanelWeightsTests: XCTestCase {
    /// Several products in one call, each equal to the float64 loop; without `accumulate` NaN in C is ignored,
    /// with it C is added to; the padding of C is untouched.
    func testPanelProductsMatchNaiveLoops() throws {
        var rng = SeededRandom(seed: 71)
        let shapes: [(n: Int, k: Int, accumulate: Bool)] = [(37, 33, true), (1, 16, false), (130, 7, true), (64, 65, false), (33, 1, true)]
        let kernels: [GEMMKernel] = CPUFeatures.hasAVX512F ? [.avx2, .avx512] : [.avx2]
        for kernel in kernels {
            // The packing does not depend on the thread count; the products are run with 1 and 2.
            let ldw = shapes.map { $0.k + 2 }
            let ws = shapes.map { s in (0..<(s.n * (s.k + 2))).map { _ in rng.uniform(-1, 1) } }
            let packed = shapes.indices.map { i in
                ws[i].withUnsafeBufferPointer { PanelWeights($0.baseAddress!, n: shapes[i].n, k: shapes[i].k, ldw: ldw[i], kernel: kernel) }
            }
            for (i, p) in packed.enumerated() {
                XCTAssertEqual(p.kernel, kernel)
                XCTAssertEqual(p.n, shapes[i].n)
                XCTAssertEqual(p.k, shapes[i].k)
            }
            for threads in [1, 2] {
                for m in Array(1...9) + [13, 17] {
                    let lda = shapes.map(\.k).max()! + 3
                    let a = (0..<(m * lda)).map { _ in rng.uniform(-1, 1) }
                    let c0 = shapes.map { s in (0..<(m * (s.n + 2))).map { _ in s.accumulate ? rng.uniform(-1, 1) : Float.nan } }
                    let cAlloc = c0.map { c -> UnsafeMutablePointer<Float> in
                        let p = UnsafeMutablePointer<Float>.allocate(capacity: c.count); p.initialize(from: c, count: c.count); return p
                    }
                    defer { cAlloc.forEach { $0.deallocate() } }
                    a.withUnsafeBufferPointer { pa in
                        let products = shapes.indices.map { i in
                            PanelProduct(a: pa.baseAddress!, lda: lda, weights: packed[i], c: cAlloc[i], ldc: shapes[i].n + 2,
                                         accumulate: shapes[i].accumulate)
                        }
                        panelGEMM(m: m, products, threads: threads)
                    }
                    for (q, s) in shapes.enumerated() {
                        let ldc = s.n + 2
                        var failures = 0
                        for i in 0..<m {
                            for j in 0..<ldc {
                                let got = cAlloc[q][i * ldc + j], old = c0[q][i * ldc + j]
                                if j >= s.n {
                                    if !(got == old || (got.isNaN && old.isNaN)) { failures += 1 }
                                    continue
                                }
                                var sum = 0.0, mag = 0.0
                                for p in 0..<s.k {
                                    let t = Double(a[i * lda + p]) * Double(ws[q][j * ldw[q] + p])
                                    sum += t; mag += abs(t)
                                }
                                let prior = s.accumulate ? Double(old) : 0
                                if !(abs(Double(got) - (sum + prior)) <= 1e-5 * max(mag + abs(prior), 1e-30)) { failures += 1 }
                            }
                        }
                        XCTAssertEqual(failures, 0, "\(kernel) t\(threads) m\(m) product \(q) (n \(s.n), k \(s.k), accumulate \(s.accumulate))")
                    }
                }
            }
        }
    }

    /// A row's results do not depend on how many rows are multiplied with it, nor on the threads (so that batched
    /// beam search equals one image at a time bit for bit); `k == 0` gives zeros (or leaves C).
    func testResultsAreIndependentOfRowCountAndThreads() {
        var rng = SeededRandom(seed: 72)
        let (n, k) = (100, 75)
        let w = (0..<(n * k)).map { _ in rng.uniform(-1, 1) }
        let a = (0..<(11 * k)).map { _ in rng.uniform(-1, 1) }
        for kernel in CPUFeatures.hasAVX512F ? [GEMMKernel.avx2, .avx512] : [.avx2] {
            let packed = w.withUnsafeBufferPointer { PanelWeights($0.baseAddress!, n: n, k: k, kernel: kernel) }
            func run(_ m: Int, _ threads: Int) -> [Float] {
                var c = [Float](repeating: .nan, count: m * n)
                a.withUnsafeBufferPointer { pa in c.withUnsafeMutableBufferPointer { pc in
                    panelGEMM(m: m, [PanelProduct(a: pa.baseAddress!, lda: k, weights: packed, c: pc.baseAddress!, ldc: n, accumulate: false)],
                              threads: threads)
                } }
                return c
            }
            let all = run(11, 2)
            for m in [1, 5, 8, 11] {
                XCTAssertEqual(run(m, 1), Array(all[0..<(m * n)]), "\(kernel) m\(m)")
            }
        }
        let empty: [Float] = []
        let none = empty.withUnsafeBufferPointer { PanelWeights($0.baseAddress ?? UnsafePointer(bitPattern: 64)!, n: 3, k: 0) }
        var c: [Float] = [.nan, .nan, .nan, 7]
        let x: [Float] = [1]
        x.withUnsafeBufferPointer { px in c.withUnsafeMutableBufferPointer { pc in
            panelGEMM(m: 1, [PanelProduct(a: px.baseAddress!, lda: 1, weights: none, c: pc.baseAddress!, ldc: 3, accumulate: false)])
        } }
        XCTAssertEqual(c, [0, 0, 0, 7])
    }
}
