import XCTest
import Tensors
import SafeTensors
import NeuralNetwork

final class ConvolutionTests: XCTestCase {
    /// Direct 7-loop convolution as the reference.
    func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, pad: Int, groups: Int) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oc, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (h + 2 * pad - kh) / stride + 1, ow = (wd + 2 * pad - kw) / stride + 1
        var y = Tensor(shape: [n, oc, oh, ow])
        let ocg = oc / groups
        for bi in 0..<n { for o in 0..<oc { for oy in 0..<oh { for ox in 0..<ow {
            var s: Float = b?[flat: o] ?? 0
            let g = o / ocg
            for ci in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * stride - pad + ky, ix = ox * stride - pad + kx
                if iy >= 0 && iy < h && ix >= 0 && ix < wd { s += x[bi, g * cg + ci, iy, ix] * w[o, ci, ky, kx] }
            } } }
            y[bi, o, oy, ox] = s
        } } } }
        _ = c
        return y
    }

    func testConvMatchesNaiveAndGradients() {
        var rng = SeededRandom(seed: 40)
        let cases: [(n: Int, c: Int, h: Int, w: Int, oc: Int, k: Int, s: Int, p: Int, g: Int, bias: Bool)] = [
            (1, 1, 5, 5, 1, 3, 1, 0, 1, true), (2, 3, 7, 6, 4, 3, 2, 1, 1, true), (1, 4, 5, 7, 6, 3, 1, 1, 2, false),
            (3, 2, 4, 4, 5, 1, 1, 0, 1, true), (1, 4, 6, 5, 4, 3, 2, 1, 4, false), (2, 3, 5, 5, 2, 1, 2, 0, 1, true),
        ]
        for t in cases {
            let conv = Conv2d(t.c, t.oc, kernelSize: t.k, stride: t.s, padding: t.p, groups: t.g, bias: t.bias, rng: &rng)
            let x = rand([t.n, t.c, t.h, t.w], &rng)
            let y = withNoGrad { conv(x) }.value
            let ref = naiveConv(x.value, conv.weight.value, conv.bias?.value, stride: t.s, pad: t.p, groups: t.g)
            XCTAssertLessThan(y.maxAbsDifference(ref), 1e-5, "\(t)")
            assertGradients([x] + conv.parameters, "conv2d \(t)") { conv(x) }
        }
    }

    func testBatchNormGradientsAndStatistics() {
        var rng = SeededRandom(seed: 41)
        for (n, c, h, w) in [(2, 3, 2, 3), (1, 2, 3, 3), (4, 1, 1, 1)] {
            let bn = BatchNorm2d(c)
            bn.weight.value = Tensor.uniform([c], 0.5, 1.5, rng: &rng)
            bn.bias.value = Tensor.uniform([c], -1, 1, rng: &rng)
            let x = rand([n, c, h, w], &rng, scale: 2)
            assertGradients([x] + bn.parameters, step: 1e-3, "BatchNorm2d train \(n)x\(c)x\(h)x\(w)") { bn(x) }
            bn.setTraining(false)
            bn.runningVar.value = Tensor.uniform([c], 0.5, 2, rng: &rng)
            assertGradients([x] + bn.parameters, "BatchNorm2d eval") { bn(x) }
        }
        XCTAssertEqual(BatchNorm2d(3).stateEntries.map(\.0), ["weight", "bias", "running_mean", "running_var"])
    }

    func testPooling() {
        var rng = SeededRandom(seed: 42)
        for (k, s, p) in [(2, 2, 0), (3, 2, 1), (3, 1, 1)] {
            let pool = MaxPool2d(kernelSize: k, stride: s, padding: p)
            // Distinct values keep the maxima away from ties.
            let vals = (0..<(2 * 3 * 5 * 6)).map { Float($0) * 0.01 }
            var shuffled = vals
            rng.shuffle(&shuffled)
            let x = Variable(Tensor(shape: [2, 3, 5, 6], shuffled), requiresGrad: true)
            assertGradients([x], step: 1e-3, "maxpool \(k) \(s) \(p)") { pool(x) }
        }
        let x = Variable(Tensor(shape: [1, 1, 3, 3], [1, 5, 2, 0, -1, 7, 3, 4, 6]))
        XCTAssertEqual(withNoGrad { MaxPool2d(kernelSize: 2, stride: 1)(x) }.value.scalars, [5, 7, 4, 7])
        XCTAssertEqual(withNoGrad { MaxPool2d(kernelSize: 3, stride: 2, padding: 1)(x) }.value.scalars, [5, 7, 4, 7])
        let a = rand([2, 3, 4, 5], &rng)
        assertGradients([a], "adaptive avg pool") { AdaptiveAvgPool2d()(a) }
        XCTAssertEqual(withNoGrad { AdaptiveAvgPool2d()(x) }.value.scalars[0], 3, accuracy: 1e-6)
    }

    func testConvBatchNormPoolAgainstTorch() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/golden.safetensors").path
        let golden = try SafeTensorsFile(contentsOf: path)
        func t(_ name: String) throws -> Tensor { Tensor(shape: try golden.shape(name), try golden.floats(name)) }
        var rng = SeededRandom(seed: 0)
        let conv = Conv2d(4, 6, kernelSize: 3, stride: 2, padding: 1, groups: 2, rng: &rng)
        try StateDict.load(conv, from: golden, prefix: "conv.", strict: false)
        let bn = BatchNorm2d(6)
        bn.weight.value = try t("bn.weight")
        bn.bias.value = try t("bn.bias")
        let pool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
        try withNoGrad {
            let y = conv(Variable(try t("conv.input")))
            XCTAssertLessThan(y.value.maxAbsDifference(try t("conv.output")), 1e-5)
            let z = bn(y)
            XCTAssertLessThan(z.value.maxAbsDifference(try t("bn.train_output")), 1e-5)
            XCTAssertLessThan(bn.runningMean.value.maxAbsDifference(try t("bn.running_mean")), 1e-6)
            XCTAssertLessThan(bn.runningVar.value.maxAbsDifference(try t("bn.running_var")), 1e-6)
            XCTAssertLessThan(pool(z).value.maxAbsDifference(try t("pool.output")), 1e-5)
            bn.setTraining(false)
            XCTAssertLessThan(bn(y).value.maxAbsDifference(try t("bn.eval_output")), 1e-5)
        }
    }
}

final class SequentialTests: XCTestCase {
    func testNamesTrainingSwitchAndGradients() {
        var rng = SeededRandom(seed: 43)
        let bn = BatchNorm2d(4)
        let net = Sequential([Conv2d(2, 4, kernelSize: 3, padding: 1, bias: false, rng: &rng), bn, Activation(.tanh),
                              AdaptiveAvgPool2d()])
        XCTAssertEqual(net.stateEntries.map(\.0), ["0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var"])
        let x = rand([2, 2, 4, 4], &rng)
        net.setTraining(false)
        XCTAssertFalse(bn.isTraining)
        bn.runningVar.value = Tensor.uniform([4], 0.5, 2, rng: &rng)
        bn.runningMean.value = Tensor.uniform([4], -0.2, 0.2, rng: &rng)
        assertGradients([x] + net.parameters, step: 1e-3, "conv-bn-tanh-avg (smooth: a relu or max-pool kink inside ±step breaks finite differences)") { net(x) }
        XCTAssertEqual(net.parameterCount, 4 * 2 * 9 + 8)
    }
}
