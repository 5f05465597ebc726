import XCTest
import Tensors

/// `ConvolutionGEMM.runPixelRows` (pixels as the rows of 7- and 8-row tiles against 32-channel weight panels on
/// AVX-512, 6-row tiles against 16-channel panels on AVX2) against float64 loops: every tile height (1-9
/// pixels, 13, 49), depths across the 256-step blocks, ragged channel panels, stored and lowered right
/// operands, bias / residual / ReLU, both kernel families, 1 and 2 threads.
final class ConvolutionPixelRowsTests: XCTestCase {
    func testPixelRowProductsMatchNaiveLoops() throws {
        var rng = SeededRandom(seed: 91)
        let threshold = GEMMConfiguration.parallelThreshold
        GEMMConfiguration.parallelThreshold = 0
        defer { GEMMConfiguration.parallelThreshold = threshold }
        let kernels: [GEMMKernel] = CPUFeatures.hasAVX512F ? [.avx2, .avx512] : [.avx2]
        for kernel in kernels { for (m, k) in [(5, 1), (33, 300), (64, 513), (70, 256)] {
            let w = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }
            let panels = w.withUnsafeBufferPointer { PanelWeights($0.baseAddress!, n: m, k: k, kernel: kernel) }
            XCTAssertEqual(panels.kernel, kernel)
            let bias = (0..<m).map { _ in rng.uniform(-1, 1) }
            for n in Array(1...9) + [13, 49] {
                let ldb = n + 3, ldc = n + 2, ldr = n + 1
                let b = (0..<(k * ldb)).map { _ in rng.uniform(-1, 1) }
                let residual = (0..<(m * ldr)).map { _ in rng.uniform(-1, 1) }
                for threads in [1, 2] { for lowered in [false, true] { for (relu, withResidual) in [(false, false), (true, true)] {
                    var c = [Float](repeating: .nan, count: m * ldc)
                    b.withUnsafeBufferPointer { bp in
                        let base = bp.baseAddress!
                        let source: ConvolutionGEMM.Source = lowered
                            ? .lowered { k0, kc, col0, cols, dst, ld in
                                for r in 0..<kc { (dst + r * ld).update(from: base + (k0 + r) * ldb + col0, count: cols) }
                            }
                            : .matrix(base, ld: ldb)
                        residual.withUnsafeBufferPointer { rp in
                            c.withUnsafeMutableBufferPointer { cp in
                                ConvolutionGEMM.runPixelRows(panels, n: n, source: source, bias: bias,
                                                             residual: withResidual ? rp.baseAddress : nil, ldr: ldr, relu: relu,
                                                             c: cp.baseAddress!, ldc: ldc, threads: threads)
                            }
                        }
                    }
                    var failures = 0
                    for i in 0..<m { for j in 0..<ldc {
                        let got = c[i * ldc + j]
                        if j >= n { if !got.isNaN { failures += 1 }; continue }   // C's padding is not written
                        var sum = Double(bias[i]), mag = abs(Double(bias[i]))
                        for p in 0..<k { let t = Double(w[i * k + p]) * Double(b[p * ldb + j]); sum += t; mag += abs(t) }
                        if withResidual { sum += Double(residual[i * ldr + j]); mag += abs(Double(residual[i * ldr + j])) }
                        if relu { sum = max(sum, 0) }
                        if !(abs(Double(got) - sum) <= 1e-5 * max(mag, 1e-30)) { failures += 1 }
                    } }
                    XCTAssertEqual(failures, 0, "\(kernel) m\(m) k\(k) n\(n) t\(threads) lowered \(lowered) relu \(relu) residual \(withResidual)")
                } } }
            }
        } }
    }

    /// The tiling never changes a pixel's sums with the thread count (each is one in-order sum per block).
    func testResultsAreIndependentOfThreads() throws {
        var rng = SeededRandom(seed: 92)
        let (m, k, n) = (96, 700, 49)
        let w = (0..<(m * k)).map { _ in rng.uniform(-1, 1) }, b = (0..<(k * n)).map { _ in rng.uniform(-1, 1) }
        let panels = w.withUnsafeBufferPointer { PanelWeights($0.baseAddress!, n: m, k: k) }
        let results = [1, 2].map { threads -> [Float] in
            var c = [Float](repeating: 0, count: m * n)
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    ConvolutionGEMM.runPixelRows(panels, n: n, source: .matrix(bp.baseAddress!, ld: n), bias: nil, residual: nil,
                                                 ldr: n, relu: false, c: cp.baseAddress!, ldc: n, threads: threads)
                }
            }
            return c
        }
        XCTAssertEqual(results[0], results[1])
    }
}
