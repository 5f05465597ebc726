import XCTest
import Foundation
import NeuralNetwork
import SafeTensors
import Tensors
@testable import Vision

private func weightsDirectory() throws -> String {
    guard let s = sharedDirectory() else { throw XCTSkip("../shared not found: skipping the ResNet goldens") }
    return s + "/weights"
}

private func tensor(_ f: SafeTensorsFile, _ name: String) throws -> Tensor {
    Tensor(shape: try f.shape(name), try f.floats(name))
}

/// Asserts `max |got - gold| <= tol` and prints the difference.
private func check(_ label: String, _ got: Tensor, _ gold: Tensor, _ tol: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.shape, gold.shape, label, file: file, line: line)
    guard got.shape == gold.shape else { return }
    let d = got.maxAbsDifference(gold)
    var peak: Float = 0
    gold.withUnsafeBufferPointer { for v in $0 { peak = max(peak, abs(v)) } }
    print("resnet: \(label) max |diff| \(d) (max |ref| \(peak), tolerance \(tol))")
    XCTAssertLessThanOrEqual(d, tol, label, file: file, line: line)
}

private func top(_ logits: Tensor, _ k: Int) -> [Int] {
    let v = logits.scalars
    return Array(v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }.prefix(k))
}

final class ResNetTests: XCTestCase {
    func testParameterCountsMatchTorchvision() {
        let expected: [(ResNetDepth, Int)] = [(.resnet18, 11_689_512), (.resnet34, 21_797_672), (.resnet50, 25_557_032)]
        for (depth, count) in expected {
            let m = ResNet(depth, seed: nil)  // Conv2d's default random init (the Kaiming-normal draw is slow)
            let rows = m.layerSummary(inputSize: 224)
            XCTAssertEqual(rows.reduce(0) { $0 + $1.parameters }, count, depth.name)
            XCTAssertEqual(m.parameterCount, count, depth.name)
            XCTAssertEqual(rows.first { $0.name == "maxpool" }?.outputShape, [64, 56, 56])
            XCTAssertEqual(rows.last { $0.name.hasPrefix("layer4.") }?.outputShape, [depth.featureChannels, 7, 7])
            XCTAssertEqual(rows.last?.outputShape, [1000])
            // BatchNorm running statistics are buffers, not parameters (the synthetic file holds both).
            let buffers = m.namedBuffers.reduce(0) { $0 + $1.1.value.count }
            if depth == .resnet18 { XCTAssertEqual(count + buffers, 11_699_112) }
        }
        XCTAssertEqual(ResNet(.resnet34, upTo: .layer4, seed: nil).layerSummary().count, 4 + 3 + 4 + 6 + 3)
    }

    func testResNet18EveryPhotoStage() throws {
        let dir = try weightsDirectory()
        let model = try ResNet(.resnet18, weights: dir + "/synthetic/resnet18_synthetic_f16.safetensors")
        let g = try SafeTensorsFile(contentsOf: dir + "/golden/resnet18_synthetic_golden.safetensors")
        let pre = try SafeTensorsFile(contentsOf: dir + "/golden/photo_preprocess.safetensors")
        let input = try tensor(pre, "normalized")
        var stages: [String: Tensor] = [:]
        let start = Date()
        let logits = model.run(input, upTo: .fc) { stages[$0] = $1 }
        print("resnet: ResNet-18 batch-1 forward with observers \(Int(Date().timeIntervalSince(start) * 1000)) ms")

        let bn1 = try tensor(g, "photo_bn1")
        check("photo bn1", stages["bn1"]!, bn1, 1e-4)
        let relu = Tensor(shape: bn1.shape, bn1.scalars.map { max($0, 0) })
        check("photo relu", stages["relu"]!, relu, 1e-4)
        for name in ["maxpool", "layer1.0", "layer1", "layer2.0.downsample", "layer2.0", "layer2", "layer3.0.downsample",
                     "layer3.0", "layer3", "layer4.0.downsample", "layer4.0", "layer4"] {
            check("photo \(name)", stages[name]!, try tensor(g, "photo_" + name), 1e-4)
        }
        check("photo avgpool", stages["avgpool"]!, try tensor(g, "photo_avgpool"), 2e-5)
        check("photo fc", logits, try tensor(g, "photo_fc"), 2e-5)
        XCTAssertEqual(top(logits, 5), try g.int64s("photo_top5").map { Int($0) })
        XCTAssertEqual(top(logits, 5), [697, 220, 260, 613, 466])
        XCTAssertEqual(model.features(input).shape, [1, 512, 7, 7])

        // conv1 alone (the trainable layer), against the README's float64 derivation from bn1.
        let conv1 = withNoGrad { model.conv1(Variable(input)) }.value
        let w = model.bn1.weight.value, b = model.bn1.bias.value, mu = model.bn1.runningMean.value, v = model.bn1.runningVar.value
        let plane = 112 * 112
        let derived = Tensor(shape: bn1.shape) { o in
            for c in 0..<64 {
                let scale = Double(w[flat: c]) / (Double(v[flat: c]) + 1e-5).squareRoot()
                let shift = Double(b[flat: c]) - Double(mu[flat: c]) * scale
                for i in 0..<plane { o[c * plane + i] = Float((Double(bn1[flat: c * plane + i]) - shift) / scale) }
            }
        }
        check("photo conv1", conv1, derived, 1e-4)
    }

    func testResNet18RandomInput() throws {
        let dir = try weightsDirectory()
        let model = try ResNet(.resnet18, weights: dir + "/synthetic/resnet18_synthetic_f16.safetensors")
        let g = try SafeTensorsFile(contentsOf: dir + "/golden/resnet18_synthetic_golden.safetensors")
        XCTAssertEqual(g.tensors["input_random"]?.dtype, .f16)
        let input = try tensor(g, "input_random")
        var stages: [String: Tensor] = [:]
        let logits = model.run(input, upTo: .fc) { stages[$0] = $1 }
        for name in ["maxpool", "layer4"] { check("random \(name)", stages[name]!, try tensor(g, "random_" + name), 1e-4) }
        check("random avgpool", stages["avgpool"]!, try tensor(g, "random_avgpool"), 2e-5)
        check("random fc", logits, try tensor(g, "random_fc"), 2e-5)
        XCTAssertEqual(top(logits, 5), top(try tensor(g, "random_fc"), 5))
    }

    func testResNet50Layer1BothPaths() throws {
        let dir = try weightsDirectory()
        let model = try ResNet(.resnet50, weights: dir + "/synthetic/resnet50_layer1_synthetic_f16.safetensors", upTo: .layer1)
        let g = try SafeTensorsFile(contentsOf: dir + "/golden/resnet50_layer1_synthetic_golden.safetensors")
        let input = try tensor(g, "input_random"), gold = try tensor(g, "layer1")
        check("resnet50 layer1 (folded)", model.features(input), gold, 1e-4)
        // The trainable path (NeuralNetwork layers, BatchNorm in eval mode) computes the same.
        let trainable = withNoGrad { model.forward(Variable(input)) }.value
        check("resnet50 layer1 (trainable, eval BN)", trainable, gold, 1e-4)
    }

    func testLoadingReportsTheFirstBadKey() throws {
        let stem = ResNet(.resnet18, upTo: .stem)
        var w = SafeTensorsWriter()
        try StateDict.add(stem, to: &w)
        try w.add(name: "bogus.weight", floats: [1], shape: [1])
        let extra = try SafeTensorsFile(bytes: w.serialized(metadata: [:]))
        XCTAssertThrowsError(try ResNet(.resnet18, upTo: .stem).load(from: extra)) {
            XCTAssertEqual("\($0)", "unexpected key 'bogus.weight' in state dict")
        }
        var partial = SafeTensorsWriter()
        try partial.add(name: "conv1.weight", floats: stem.conv1.weight.value.scalars, shape: [64, 3, 7, 7])
        let missing = try SafeTensorsFile(bytes: partial.serialized(metadata: [:]))
        XCTAssertThrowsError(try ResNet(.resnet18, upTo: .stem).load(from: missing)) {
            XCTAssertEqual("\($0)", "missing key 'bn1.weight' in state dict")
        }
        // A ResNet-50 file for a ResNet-18: the first block's 1x1 conv1 does not fit the 3x3 one.
        if let dir = try? weightsDirectory() {
            XCTAssertThrowsError(try ResNet(.resnet18, weights: dir + "/synthetic/resnet50_layer1_synthetic_f16.safetensors", upTo: .layer1)) {
                XCTAssertEqual("\($0)", "shape mismatch for 'layer1.0.conv1.weight': file has [64, 64, 1, 1], model expects [64, 64, 3, 3]")
            }
            XCTAssertThrowsError(try ResNet(.resnet50, weights: dir + "/synthetic/resnet50_layer1_synthetic_f16.safetensors")) {
                XCTAssertEqual("\($0)", "missing key 'layer2.0.conv1.weight' in state dict")
            }
        }
        // The same state loads back exactly, and unused keys of later stages are ignored by a partial model.
        try stem.load(from: try SafeTensorsFile(bytes: { var v = SafeTensorsWriter(); try StateDict.add(ResNet(.resnet18, upTo: .layer1), to: &v); return v.serialized(metadata: [:]) }()))
    }
}

final class ResNetTrainingTests: XCTestCase {
    /// The trainable path backpropagates through the residual layers in train mode (BatchNorm batch statistics)
    /// and the folded inference path follows the parameters after `invalidateInference()`.
    func testGradientsReachTheLayersToFineTune() {
        let m = ResNet(.resnet18, upTo: .layer2, seed: 5)
        m.setTraining(true)
        m.conv1.weight.requiresGrad = false
        var rng = SeededRandom(seed: 1)
        let x = Variable(Tensor.normal([2, 3, 32, 32], rng: &rng))
        let y = m.forward(x)
        XCTAssertEqual(y.shape, [2, 128, 4, 4])
        y.squared().sum().backward()
        let tuned = m.parameters(ofLayers: 2...2)
        XCTAssertEqual(tuned.count, 15)  // per block 2 convs + 2 BNs (weight, bias) = 6, plus the downsample conv + BN = 3
        for p in tuned { XCTAssertNotNil(p.grad); XCTAssertGreaterThan(p.grad!.maxAbsDifference(Tensor.zeros(like: p.value)), 0) }
        XCTAssertNil(m.conv1.weight.grad)
        // Running statistics moved, and inference reads them once rebuilt.
        m.setTraining(false)
        let before = m.features(x.value)
        m.layers[1][1].namedParameters[0].1.value = m.layers[1][1].namedParameters[0].1.value * 0.5
        XCTAssertEqual(m.features(x.value), before, "folded weights are cached")
        m.invalidateInference()
        let after = m.features(x.value)
        XCTAssertNotEqual(after, before)
        let eval = withNoGrad { m.forward(Variable(x.value)) }.value
        XCTAssertLessThan(after.maxAbsDifference(eval), 1e-4)
    }
}

/// Forward timings (release), run only with `CAPTION_BENCH=1`: ResNet-18/50, batch 1 and 16, median and min of 5.
final class ResNetTimingTests: XCTestCase {
    func testForwardMilliseconds() throws {
        guard ProcessInfo.processInfo.environment["CAPTION_BENCH"] == "1" else { throw XCTSkip("set CAPTION_BENCH=1 to time the ResNet forward") }
        for depth in [ResNetDepth.resnet18, .resnet50] {
            let m = ResNet(depth, upTo: .layer4, seed: nil)
            for n in [1, 16] {
                var rng = SeededRandom(seed: 2)
                let x = Tensor.normal([n, 3, 224, 224], rng: &rng)
                _ = m.features(x)
                var times: [Double] = []
                for _ in 0..<5 {
                    let t = Date()
                    let f = m.features(x)
                    times.append(Date().timeIntervalSince(t) * 1000)
                    XCTAssertEqual(f.shape, [n, depth.featureChannels, 7, 7])
                }
                times.sort()
                let med = times[2]
                print("resnet timing: \(depth.name) batch \(n): median \(String(format: "%.1f", med)) ms, min \(String(format: "%.1f", times[0])) ms (\(String(format: "%.1f", med / Double(n))) ms/image)")
            }
        }
    }
}

final class ImageNetClassesTests: XCTestCase {
    func testNamesAreTorchvisionsAndTheGoldensAgree() throws {
        XCTAssertEqual(ImageNetClasses.names.count, 1000)
        XCTAssertEqual(Set(ImageNetClasses.names).count, 1000)
        XCTAssertEqual(ImageNetClasses.name(0), "tench")
        XCTAssertEqual(ImageNetClasses.name(134), "crane bird")
        XCTAssertEqual(ImageNetClasses.name(517), "crane")
        XCTAssertEqual(ImageNetClasses.name(639), "maillot tank suit")
        XCTAssertEqual(ImageNetClasses.name(999), "toilet tissue")
        XCTAssertEqual(ImageNetClasses.name(0, background: true), "background")
        XCTAssertEqual(ImageNetClasses.name(283, background: true), "tiger cat")
        XCTAssertEqual(ImageNetClasses.name(1000), "class 1000")
        // Names recorded by the goldens' generators: torchvision's list (ResNet) and the 1001-line label file (MobileNetV2).
        let dir = try weightsDirectory()
        let r = try SafeTensorsFile(contentsOf: dir + "/golden/resnet18_synthetic_golden.safetensors")
        let m = try SafeTensorsFile(contentsOf: dir + "/pretrained/golden/mobilenet_v2_golden.safetensors")
        var checked = 0
        for (file, key, background) in [(r, "photo_top5", false), (r, "random_top5", false), (m, "photo_top5", true), (m, "chelsea_top5", true)] {
            let json = try XCTUnwrap(file.metadata[key])
            let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[Any]])
            for row in rows {
                let i = try XCTUnwrap(row[0] as? Int), n = try XCTUnwrap(row[1] as? String)
                XCTAssertEqual(background ? ImageNetClasses.synonyms(i, background: true) : ImageNetClasses.name(i), n)
                checked += 1
            }
        }
        XCTAssertEqual(checked, 20)
    }

    func testTopKSoftmax() {
        var logits = [Float](repeating: 0, count: 1000)
        logits[7] = 3; logits[3] = 2; logits[900] = 2
        let t = ImageNetClasses.top(logits, k: 3)
        XCTAssertEqual(t.map(\.index), [7, 3, 900])
        XCTAssertEqual(t[0].name, "cock")
        let z = 997 + 2 * Foundation.exp(2.0) + Foundation.exp(3.0)
        XCTAssertEqual(Double(t[0].probability), Foundation.exp(3.0) / z, accuracy: 1e-7)
        let bg = ImageNetClasses.top([Float](repeating: 0, count: 1000) + [5], k: 1)
        XCTAssertEqual(bg[0].index, 1000)
        XCTAssertEqual(bg[0].name, "toilet tissue")
        let rows = ImageNetClasses.top(Tensor(shape: [2, 1000], logits + logits.reversed()), k: 1)
        XCTAssertEqual(rows.map { $0[0].index }, [7, 992])
    }
}
