import XCTest
import Tensors
import NeuralNetwork

/// The batched im2col/GEMM lowering (forward, input and weight gradients) against direct loops in float64,
/// on ResNet-like geometries and odd sizes, covering the one-image, batched, pointwise and strided paths.
final class ConvolutionLoweringTests: XCTestCase {
    struct Case { var n, c, h, w, oc, k, s, p, g: Int; var bias: Bool }

    static let cases: [Case] = [
        Case(n: 2, c: 3, h: 23, w: 19, oc: 8, k: 7, s: 2, p: 3, g: 1, bias: false),   // stem, odd sizes
        Case(n: 3, c: 8, h: 9, w: 9, oc: 16, k: 3, s: 1, p: 1, g: 1, bias: true),     // small maps: batched
        Case(n: 2, c: 6, h: 11, w: 10, oc: 5, k: 3, s: 2, p: 1, g: 1, bias: true),    // 3x3 / 2
        Case(n: 4, c: 16, h: 7, w: 7, oc: 12, k: 1, s: 1, p: 0, g: 1, bias: false),   // pointwise, batched
        Case(n: 2, c: 8, h: 8, w: 9, oc: 4, k: 1, s: 2, p: 0, g: 1, bias: true),      // 1x1 / 2 downsample
        Case(n: 1, c: 4, h: 40, w: 36, oc: 6, k: 3, s: 1, p: 1, g: 1, bias: false),   // large map: one image per GEMM
        Case(n: 2, c: 5, h: 33, w: 32, oc: 3, k: 1, s: 1, p: 0, g: 1, bias: true),    // pointwise, in place
        Case(n: 2, c: 4, h: 6, w: 7, oc: 6, k: 3, s: 1, p: 2, g: 2, bias: true),      // groups, wide padding
        Case(n: 3, c: 2, h: 5, w: 4, oc: 3, k: 5, s: 3, p: 1, g: 1, bias: false),     // kernel larger than stride
    ]

    func testForwardAndGradientsMatchDirectLoops() {
        var rng = SeededRandom(seed: 77)
        for t in Self.cases {
            let cg = t.c / t.g, ocg = t.oc / t.g
            let oh = (t.h + 2 * t.p - t.k) / t.s + 1, ow = (t.w + 2 * t.p - t.k) / t.s + 1
            let x = Tensor.uniform([t.n, t.c, t.h, t.w], -1, 1, rng: &rng)
            let w = Tensor.uniform([t.oc, cg, t.k, t.k], -1, 1, rng: &rng)
            let b = Tensor.uniform([t.oc], -1, 1, rng: &rng)
            let dy = Tensor.uniform([t.n, t.oc, oh, ow], -1, 1, rng: &rng)
            let xv = Variable(x, requiresGrad: true), wv = Variable(w, requiresGrad: true), bv = Variable(b, requiresGrad: true)
            let y = conv2d(xv, wv, t.bias ? bv : nil, stride: (t.s, t.s), padding: (t.p, t.p), groups: t.g)
            y.backward(dy)

            let xs = x.scalars, ws = w.scalars, bs = b.scalars, ds = dy.scalars
            var yRef = [Double](repeating: 0, count: t.n * t.oc * oh * ow)
            var dxRef = [Double](repeating: 0, count: xs.count), dwRef = [Double](repeating: 0, count: ws.count)
            var dbRef = [Double](repeating: 0, count: t.oc)
            for n in 0..<t.n { for o in 0..<t.oc { for oy in 0..<oh { for ox in 0..<ow {
                let yi = ((n * t.oc + o) * oh + oy) * ow + ox
                let g = o / ocg
                var acc = t.bias ? Double(bs[o]) : 0
                let d = Double(ds[yi])
                dbRef[o] += d
                for ci in 0..<cg { for ky in 0..<t.k { for kx in 0..<t.k {
                    let iy = oy * t.s - t.p + ky, ix = ox * t.s - t.p + kx
                    guard iy >= 0 && iy < t.h && ix >= 0 && ix < t.w else { continue }
                    let xi = ((n * t.c + g * cg + ci) * t.h + iy) * t.w + ix
                    let wi = ((o * cg + ci) * t.k + ky) * t.k + kx
                    acc += Double(xs[xi]) * Double(ws[wi])
                    dxRef[xi] += Double(ws[wi]) * d
                    dwRef[wi] += Double(xs[xi]) * d
                } } }
                yRef[yi] = acc
            } } } }
            let label = "\(t)"
            assertClose(y.value.scalars, yRef, "forward \(label)")
            assertClose(xv.grad?.scalars ?? [], dxRef, "dx \(label)")
            assertClose(wv.grad?.scalars ?? [], dwRef, "dw \(label)")
            if t.bias { assertClose(bv.grad?.scalars ?? [], dbRef, "db \(label)") }
        }
    }

    func testMaxPoolMatchesDirectLoopsOnResNetStem() {
        var rng = SeededRandom(seed: 78)
        let (n, c, h, w) = (2, 3, 17, 14)
        let x = Tensor.uniform([n, c, h, w], -1, 1, rng: &rng)
        let y = withNoGrad { MaxPool2d(kernelSize: 3, stride: 2, padding: 1)(Variable(x)) }.value
        let oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1
        XCTAssertEqual(y.shape, [n, c, oh, ow])
        let xs = x.scalars, ys = y.scalars
        for pl in 0..<(n * c) { for oy in 0..<oh { for ox in 0..<ow {
            var best = -Float.infinity
            for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx
                if iy >= 0 && iy < h && ix >= 0 && ix < w { best = max(best, xs[(pl * h + iy) * w + ix]) }
            } }
            XCTAssertEqual(ys[(pl * oh + oy) * ow + ox], best)
        } } }
    }

    private func assertClose(_ got: [Float], _ want: [Double], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, label, file: file, line: line)
        var worst = 0.0
        for (g, r) in zip(got, want) { worst = max(worst, abs(Double(g) - r) / max(1, abs(r))) }
        XCTAssertLessThan(worst, 2e-5, label, file: file, line: line)
    }
}
