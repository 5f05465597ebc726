import XCTest
import Tensors
@testable import Vision

/// The inference convolution (`FoldedConv.apply`: packed weights, implicit im2col, fused bias / residual / ReLU)
/// and the 3x3 stride-2 max pooling against naive float64 loops, on both micro-kernel families, both tilings
/// (pixels as columns or as rows, `ConvolutionTiling`) and 1 or 2 threads.
final class FoldedConvolutionTests: XCTestCase {
    /// (batch, in channels, height, width, out channels, kernel, stride, padding)
    private let cases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
        (1, 3, 13, 11, 5, 3, 1, 1),     // odd sizes, fewer rows than one panel
        (2, 4, 9, 10, 13, 3, 2, 1),     // stride 2, batch 2, columns spanning images
        (3, 5, 7, 7, 17, 1, 2, 0),      // strided 1x1 (a downsample)
        (2, 6, 8, 9, 27, 1, 1, 0),      // 1x1 stride 1: B read in place, ragged last panel
        (1, 3, 23, 19, 9, 7, 2, 3),     // the stem's 7x7 stride 2
        (2, 40, 6, 5, 70, 3, 1, 1),     // several row panels, K deeper than one block on AVX2 (360 > 256)
        (1, 64, 7, 7, 30, 3, 1, 1),     // K = 576 > 512: two K blocks on AVX-512 too
        (2, 3, 40, 37, 4, 3, 2, 1),     // wide rows: stride-2 gathers of eight
        (1, 8, 56, 56, 20, 3, 1, 1),    // 98 (AVX2: 196) column panels: 9 chunks, evened out to 10 for two threads
        (1, 16, 7, 7, 40, 3, 2, 1),     // one column panel, row groups: the im2col matrix lowered once, shared
        (3, 7, 2, 9, 11, 5, 1, 2),      // same-size 5x5 on a plane shorter than the kernel: whole-plane copies
        (1, 32, 14, 14, 70, 3, 1, 1),   // 196 pixels: 28 tiles of 7 rows as pixel rows, a ragged channel panel
        (1, 60, 5, 5, 33, 3, 1, 1),     // 25 pixels (8-row tiles, the last of one row), K = 540: three 256-step blocks
    ]

    func testConvolutionMatchesNaiveLoops() throws {
        var rng = SeededRandom(seed: 7)
        var settings: [(GEMMKernel, ConvolutionTiling)] = [(.avx2, .pixelColumns), (.avx2, .pixelRows)]
        if CPUFeatures.hasAVX512F { settings += [(.avx512, .pixelColumns), (.avx512, .pixelRows)] }
        else { print("FoldedConvolutionTests: no AVX-512 on this CPU, its kernels are not tested") }
        for (n, cin, h, w, cout, k, s, p) in cases {
            let x = Tensor(shape: [cin, n, h, w], (0..<(cin * n * h * w)).map { _ in rng.uniform(-1, 1) })
            let wt = Tensor(shape: [cout, cin, k, k], (0..<(cout * cin * k * k)).map { _ in rng.uniform(-1, 1) })
            let bias = (0..<cout).map { _ in rng.uniform(-1, 1) }
            let conv = FoldedConv(weight: wt, bias: bias, stride: s, padding: p)
            let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
            let res = Tensor(shape: [cout, n, oh, ow], (0..<(cout * n * oh * ow)).map { _ in rng.uniform(-1, 1) })
            let ref = naive(x.scalars, wt.scalars, bias, n: n, cin: cin, h: h, w: w, cout: cout, k: k, s: s, p: p)
            for (kernel, tiling) in settings { for threads in [1, 2] { for (relu, residual) in [(false, false), (true, true)] {
                let label = "n\(n) c\(cin) \(h)x\(w) -> \(cout) k\(k) s\(s) p\(p) \(kernel) \(tiling) t\(threads) relu \(relu)"
                let y = withSettings(kernel: kernel, tiling: tiling, threads: threads) {
                    conv.apply(PlanarBatch(data: x), relu: relu, residual: residual ? PlanarBatch(data: res) : nil)
                }
                XCTAssertEqual(y.data.shape, [cout, n, oh, ow], label)
                let got = y.data.scalars, r = res.scalars
                var worst: Double = 0
                for i in 0..<ref.count {
                    var e = ref[i].value + (residual ? Double(r[i]) : 0)
                    if relu { e = max(e, 0) }
                    worst = max(worst, abs(Double(got[i]) - e) / (ref[i].magnitude + 1))
                }
                XCTAssertLessThan(worst, 1e-5, label)
            } } }
        }
    }

    /// The whole-plane copies of same-size stride-1 convolutions give the im2col matrix of the general path
    /// exactly (every row range, whole-image column ranges, sizes down to 1x1 and kernels wider than the plane).
    func testSameSizeLoweringEqualsTheGeneralPath() {
        var rng = SeededRandom(seed: 11)
        for (n, c, h, w, k) in [(1, 3, 7, 7, 3), (2, 2, 5, 8, 3), (3, 2, 1, 1, 3), (2, 3, 2, 9, 5), (1, 2, 14, 3, 5), (2, 1, 4, 4, 7)] {
            let pad = (k - 1) / 2
            let g = ConvGeometry(batch: n, channels: c, height: h, width: w, kernel: k, stride: 1, padding: pad, outHeight: h, outWidth: w)
            let x = (0..<(c * n * h * w)).map { _ in rng.uniform(-1, 1) }
            let rows = c * k * k, p = h * w
            for (k0, kc) in [(0, rows), (1, rows - 2), (rows / 2, 1)] where kc > 0 {
                for (b0, images) in [(0, n), (n - 1, 1)] {
                    let ld = images * p + 3
                    var fast = [Float](repeating: .nan, count: kc * ld), slow = fast
                    x.withUnsafeBufferPointer { xp in
                        g.lower(xp.baseAddress!, k0: k0, kc: kc, col0: b0 * p, cols: images * p, into: &fast, ld: ld)
                        g.lower(xp.baseAddress!, k0: k0, kc: kc, col0: b0 * p, cols: images * p, into: &slow, ld: ld, planeCopies: false)
                    }
                    for r in 0..<kc { for j in 0..<(images * p) {
                        XCTAssertEqual(fast[r * ld + j], slow[r * ld + j], "n\(n) c\(c) \(h)x\(w) k\(k) row \(k0 + r) col \(j)")
                    } }
                }
            }
        }
    }

    func testMaxPoolMatchesNaiveLoops() {
        var rng = SeededRandom(seed: 3)
        for (h, w) in [(7, 9), (2, 2), (5, 17), (3, 40), (112, 112), (1, 33)] {
            var v = (0..<(2 * 3 * h * w)).map { _ in rng.uniform(-1, 1) }
            v[min(v.count - 1, 5 * w + 11)] = .nan
            let y = maxPoolPlanar(PlanarBatch(data: Tensor(shape: [2, 3, h, w], v)), kernel: 3, stride: 2, padding: 1)
            let oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1
            XCTAssertEqual(y.data.shape, [2, 3, oh, ow])
            let got = y.data.scalars
            for pl in 0..<6 { for oy in 0..<oh { for ox in 0..<ow {
                var m = -Float.infinity
                for iy in max(2 * oy - 1, 0)..<min(2 * oy + 2, h) { for ix in max(2 * ox - 1, 0)..<min(2 * ox + 2, w) {
                    let e = v[(pl * h + iy) * w + ix]
                    if e > m || e.isNaN { m = e }
                } }
                let g = got[(pl * oh + oy) * ow + ox]
                XCTAssertTrue(g == m || (g.isNaN && m.isNaN), "\(h)x\(w) plane \(pl) (\(oy), \(ox)): \(g) vs \(m)")
            } } }
        }
    }

    // MARK: - helpers

    /// Convolution of a CNHW input in float64: value and sum of |terms| (for the tolerance) per output.
    private func naive(_ x: [Float], _ wt: [Float], _ bias: [Float], n: Int, cin: Int, h: Int, w: Int, cout: Int,
                       k: Int, s: Int, p: Int) -> [(value: Double, magnitude: Double)] {
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
        var out = [(value: Double, magnitude: Double)](repeating: (0, 0), count: cout * n * oh * ow)
        for co in 0..<cout { for b in 0..<n { for oy in 0..<oh { for ox in 0..<ow {
            var acc = Double(bias[co]), mag = abs(Double(bias[co]))
            for ci in 0..<cin { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * s - p + ky, ix = ox * s - p + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let t = Double(wt[((co * cin + ci) * k + ky) * k + kx]) * Double(x[((ci * n + b) * h + iy) * w + ix])
                acc += t; mag += abs(t)
            } } }
            out[((co * n + b) * oh + oy) * ow + ox] = (acc, mag)
        } } } }
        return out
    }

    private func withSettings<R>(kernel: GEMMKernel, tiling: ConvolutionTiling, threads: Int, _ body: () -> R) -> R {
        let (k0, t0, th0) = (GEMMConfiguration.kernel, ThreadPool.shared.threadCount, GEMMConfiguration.parallelThreshold)
        let tiling0 = ConvolutionTiling.mode
        GEMMConfiguration.kernel = kernel
        ConvolutionTiling.mode = tiling
        ThreadPool.shared.threadCount = threads
        GEMMConfiguration.parallelThreshold = 0  // split even these small products over the threads
        defer {
            GEMMConfiguration.kernel = k0
            ConvolutionTiling.mode = tiling0
            ThreadPool.shared.threadCount = t0
            GEMMConfiguration.parallelThreshold = th0
        }
        return body()
    }
}
