import XCTest
import Foundation
import NeuralNetwork
import SafeTensors
import Tensors
@testable import Vision

/// `max |a - b| / max(1, max |b|)`.
private func relativeDifference(_ a: Tensor, _ b: Tensor) -> Float {
    XCTAssertEqual(a.shape, b.shape)
    var d: Float = 0, m: Float = 1
    for i in 0..<min(a.count, b.count) { d = max(d, abs(a[flat: i] - b[flat: i])); m = max(m, abs(b[flat: i])) }
    return d / m
}

/// Random batch-norm statistics and affine terms, so folding is not the identity.
private func randomiseBatchNorms(_ m: any Module, seed: UInt64) {
    var rng = SeededRandom(seed: seed)
    for (name, v) in m.stateEntries where v.shape.count == 1 {
        if name.hasSuffix("running_var") { v.value = Tensor.uniform(v.shape, 0.5, 2, rng: &rng) }
        else if name.hasSuffix("running_mean") || name.hasSuffix(".bias") { v.value = Tensor.uniform(v.shape, -0.2, 0.2, rng: &rng) }
        else if name.hasSuffix(".weight") { v.value = Tensor.uniform(v.shape, 0.5, 1.5, rng: &rng) }
    }
}

final class FineTuningTests: XCTestCase {
    /// At initialisation prefix + suffix equals the inference encoder; after `load(suffix:)` of changed weights,
    /// the encoder's inference path equals prefix + the changed suffix; the prefix never changes.
    func checkSplit(_ encoder: any FineTunableEncoder, cut: String, input: Tensor, file: StaticString = #filePath, line: UInt = #line) {
        let reference = encoder.features(input)
        let prefix = encoder.prefixFeatures(input, cut: cut)
        let suffix = encoder.suffix(from: cut)
        let y = withNoGrad { suffix.forward(Variable(prefix)) }.value
        let d0 = relativeDifference(y, reference)
        XCTAssertLessThanOrEqual(d0, 1e-4, "\(encoder.name) from \(cut): suffix at initialisation vs inference", file: file, line: line)
        // Change every suffix weight, write them back, and compare the inference path again.
        var rng = SeededRandom(seed: 5)
        for (_, p) in suffix.namedParameters { p.value = p.value + Tensor.uniform(p.shape, -0.02, 0.02, rng: &rng) * p.value.abs().max() }
        let before = encoder.prefixTensors(cut: cut)
        encoder.load(suffix: suffix)
        let changed = withNoGrad { suffix.forward(Variable(prefix)) }.value
        XCTAssertGreaterThan(relativeDifference(changed, reference), 1e-3, "the perturbation changes the features", file: file, line: line)
        XCTAssertLessThanOrEqual(relativeDifference(encoder.features(input), changed), 1e-4, "\(encoder.name): written-back suffix", file: file, line: line)
        XCTAssertLessThanOrEqual(relativeDifference(encoder.prefixFeatures(input, cut: cut), prefix), 0, "prefix unchanged", file: file, line: line)
        let after = encoder.prefixTensors(cut: cut)
        XCTAssertEqual(before.map(\.0), after.map(\.0), file: file, line: line)
        XCTAssertEqual(before.map { $0.1.scalars }, after.map { $0.1.scalars }, "prefix weights unchanged", file: file, line: line)
    }

    func testMobileNetV2SuffixEqualsInference() throws {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared not found: skipping the MobileNetV2 suffix test") }
        let path = shared + "/weights/pretrained/mobilenet_v2_1.0_224_dequant.safetensors"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no pretrained MobileNetV2 weights: skipping") }
        let m = try MobileNetV2(contentsOf: path)
        XCTAssertEqual(m.defaultFineTuneCut, "features.14")
        var rng = SeededRandom(seed: 1)
        let x = Tensor.uniform([2, 3, 224, 224], -1, 1, rng: &rng)
        XCTAssertEqual(m.prefixFeatures(x, cut: "features.14").shape, [2, 96, 14, 14])
        checkSplit(m, cut: "features.14", input: x)
        checkSplit(try MobileNetV2(contentsOf: path), cut: "features.18", input: x)
        // An earlier cut (stride-2 block on 56x56) with the full SAME-padding path.
        checkSplit(try MobileNetV2(contentsOf: path), cut: "features.4", input: Tensor.uniform([1, 3, 224, 224], -1, 1, rng: &rng))
    }

    func testResNet18SuffixEqualsInference() throws {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared not found: skipping the ResNet-18 suffix test") }
        let path = shared + "/weights/synthetic/resnet18_synthetic_f16.safetensors"
        let r = try ResNet(.resnet18, weights: path, upTo: .layer4)
        XCTAssertEqual(r.defaultFineTuneCut, "layer2")
        var rng = SeededRandom(seed: 2)
        let x = Tensor.normal([2, 3, 96, 96], rng: &rng)
        XCTAssertEqual(r.prefixFeatures(x, cut: "layer2").shape, [2, 64, 24, 24])
        checkSplit(r, cut: "layer2", input: x)
        checkSplit(try ResNet(.resnet18, weights: path, upTo: .layer4), cut: "layer4", input: x)
    }

    func testResNet50BottleneckSuffixEqualsInference() {
        let r = ResNet(.resnet50, upTo: .layer4, seed: 4)
        randomiseBatchNorms(r, seed: 9)
        var rng = SeededRandom(seed: 3)
        checkSplit(r, cut: "layer4", input: Tensor.normal([1, 3, 64, 64], rng: &rng))
    }

    func testSmallCNNSuffixEqualsInference() {
        let config = SmallCNNConfiguration(stemChannels: 8, blocks: [.init(16, stride: 2), .init(16, stride: 1), .init(24, stride: 2), .init(24, stride: 1)],
                                           projectionChannels: 20)
        let small = SmallCNN(configuration: config, seed: 7)
        randomiseBatchNorms(small, seed: 8)
        XCTAssertEqual(small.defaultFineTuneCut, "features.3")
        XCTAssertEqual(small.fineTuneCuts.last, "features.5")
        var rng = SeededRandom(seed: 4)
        let x = Tensor.uniform([2, 3, 64, 64], -1, 1, rng: &rng)
        checkSplit(small, cut: "features.3", input: x)
        let again = SmallCNN(configuration: config, seed: 7)
        randomiseBatchNorms(again, seed: 8)
        checkSplit(again, cut: "features.1", input: x)
        XCTAssertThrowsError(try small.validateCut("features.9"))
    }

    // MARK: Gradient checks of the new ops and layers

    func testBiasActivationGradients() {
        var rng = SeededRandom(seed: 11)
        for act in [FusedActivation.none, .relu, .relu6] {
            let x = Variable(Tensor.uniform([2, 3, 4, 5], -2, 8, rng: &rng)), b = Variable(Tensor.uniform([3], -1, 1, rng: &rng))
            let r = GradientCheck.check([x, b], step: 1e-3) { biasActivation(x, b, act) }
            XCTAssertTrue(r.passed, "biasActivation \(act): \(r)")
            // Against the composed ops.
            let y = withNoGrad { biasActivation(x, b, act) }.value
            let sum = withNoGrad { x + b.reshaped([1, 3, 1, 1]) }
            let ref: Tensor
            switch act {
            case .none: ref = sum.value
            case .relu: ref = sum.value.relu()
            case .relu6: ref = sum.value.relu6()
            }
            XCTAssertEqual(y.scalars, ref.scalars)
        }
    }

    func testDepthwiseAsymmetricPaddingGradientsAndValues() {
        var rng = SeededRandom(seed: 12)
        for (h, stride, pads) in [(6, 2, (0, 1)), (7, 2, (1, 1)), (5, 1, (1, 1)), (6, 1, (0, 2))] {
            let x = Variable(Tensor.normal([2, 3, h, h], rng: &rng)), w = Variable(Tensor.normal([3, 1, 3, 3], rng: &rng))
            let r = GradientCheck.check([x, w]) { depthwiseConv3x3(x, w, stride: stride, padding: (before: pads.0, after: pads.1)) }
            XCTAssertTrue(r.passed, "depthwise h \(h) stride \(stride) padding \(pads): \(r)")
            // Naive reference loop.
            let y = withNoGrad { depthwiseConv3x3(x, w, stride: stride, padding: (before: pads.0, after: pads.1)) }.value
            let oh = (h + pads.0 + pads.1 - 3) / stride + 1
            XCTAssertEqual(y.shape, [2, 3, oh, oh])
            for n in 0..<2 { for c in 0..<3 { for oy in 0..<oh { for ox in 0..<oh {
                var s: Float = 0
                for ky in 0..<3 { for kx in 0..<3 {
                    let iy = oy * stride - pads.0 + ky, ix = ox * stride - pads.0 + kx
                    if iy >= 0 && iy < h && ix >= 0 && ix < h { s += x.value[n, c, iy, ix] * w.value[c, 0, ky, kx] }
                } }
                XCTAssertEqual(y[n, c, oy, ox], s, accuracy: 1e-5)
            } } } }
        }
    }

    func testSuffixBlockGradients() {
        var rng = SeededRandom(seed: 13)
        func conv(_ oc: Int, _ ic: Int, _ k: Int, stride: Int = 1, padding: SuffixPadding = .symmetric(0), depthwise: Bool = false,
                  _ act: FusedActivation) -> FoldedConvLayer {
            FoldedConvLayer(weight: Tensor.normal([oc, depthwise ? 1 : ic, k, k], rng: &rng) * 0.5, bias: Tensor.uniform([oc], -0.3, 0.3, rng: &rng),
                            stride: stride, padding: padding, depthwise: depthwise, activation: act)
        }
        // MobileNetV2 inverted residual (stride 2, SAME on an even size), a residual one, the 1x1 head.
        let mobile = EncoderSuffix(cut: "features.1", blocks: [
            ("features.1", SuffixBlock(convs: [("conv.0.0", conv(6, 2, 1, .relu6)), ("conv.1.0", conv(6, 6, 3, stride: 2, padding: .same, depthwise: true, .relu6)),
                                               ("conv.2", conv(3, 6, 1, .none))], residual: false)),
            ("features.2", SuffixBlock(convs: [("conv.0.0", conv(6, 3, 1, .relu6)), ("conv.1.0", conv(6, 6, 3, padding: .same, depthwise: true, .relu6)),
                                               ("conv.2", conv(3, 6, 1, .none))], residual: true)),
            ("features.3", SuffixBlock(convs: [("0", conv(4, 3, 1, .relu6))], residual: false)),
        ])
        // ResNet basic block with a stride-2 projection shortcut.
        let resnet = EncoderSuffix(cut: "layer2", blocks: [
            ("layer2.0", SuffixBlock(convs: [("conv1", conv(4, 2, 3, stride: 2, padding: .symmetric(1), .relu)), ("conv2", conv(4, 4, 3, padding: .symmetric(1), .none))],
                                     shortcut: ("downsample.0", conv(4, 2, 1, stride: 2, .none)), residual: true, reluAfterResidual: true)),
        ])
        XCTAssertEqual(resnet.namedParameters.map(\.0), ["layer2.0.conv1.weight", "layer2.0.conv1.bias", "layer2.0.conv2.weight",
                                                         "layer2.0.conv2.bias", "layer2.0.downsample.0.weight", "layer2.0.downsample.0.bias"])
        for (label, s) in [("mobilenet", mobile), ("resnet", resnet)] {
            let x = Variable(Tensor.uniform([2, 2, 6, 6], -1, 2, rng: &rng))
            let r = GradientCheck.check([x] + s.parameters, step: 1e-3) { s.forward(x) }
            XCTAssertTrue(r.passed, "\(label) suffix: \(r)")
        }
    }
}
