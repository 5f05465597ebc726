import Foundation
import NeuralNetwork
import SafeTensors
import Tensors
import XCTest
@testable import Vision

final class SmallCNNTests: XCTestCase {
    /// A tiny configuration for fast tests: 32x32 inputs give 2x2 regions... (stride 16) with 24 channels.
    static let tiny = SmallCNNConfiguration(stemChannels: 8, blocks: [.init(16, stride: 1), .init(16, stride: 2),
                                                                      .init(24, stride: 2), .init(24, stride: 2)],
                                            projectionChannels: 20)

    func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor.uniform(shape, -scale, scale, rng: &rng)
    }

    /// The direct depthwise op equals NeuralNetwork's grouped `conv2d` (im2col), values and gradients.
    func testDepthwiseOpMatchesGroupedConv2d() {
        for (i, (h, w, stride, pad)) in [(7, 9, 1, 1), (8, 10, 2, 1), (9, 13, 2, 1), (6, 11, 1, 0), (11, 7, 2, 0)].enumerated() {
            let c = 5, n = 2
            let xv = random([n, c, h, w], seed: UInt64(i)), wv = random([c, 1, 3, 3], seed: 50 + UInt64(i))
            let up = random([n, c, (h + 2 * pad - 3) / stride + 1, (w + 2 * pad - 3) / stride + 1], seed: 90 + UInt64(i))
            func run(_ f: (Variable, Variable) -> Variable) -> (Tensor, Tensor, Tensor) {
                let x = Variable(xv, requiresGrad: true), wt = Variable(wv, requiresGrad: true)
                let y = f(x, wt)
                (y * Variable(up)).sum().backward()
                return (y.value, x.grad!, wt.grad!)
            }
            let ours = run { depthwiseConv3x3($0, $1, stride: stride, padding: pad) }
            let ref = run { conv2d($0, $1, nil, stride: (stride, stride), padding: (pad, pad), groups: c) }
            XCTAssertEqual(ours.0.shape, ref.0.shape)
            XCTAssertLessThan(ours.0.maxAbsDifference(ref.0), 1e-5, "forward \(h)x\(w) s\(stride) p\(pad)")
            XCTAssertLessThan(ours.1.maxAbsDifference(ref.1), 1e-5, "input gradient \(h)x\(w) s\(stride) p\(pad)")
            XCTAssertLessThan(ours.2.maxAbsDifference(ref.2), 1e-4, "weight gradient \(h)x\(w) s\(stride) p\(pad)")
        }
    }

    func testStandardShapesParametersAndFlops() {
        let config = SmallCNNConfiguration.standard()
        let m = SmallCNN(configuration: config, seed: 1)
        // Independent count: stem conv + BN, per block dw (9c) + BN (2c) + pw (c*out) + BN (2 out), projection.
        var expected = 16 * 27 + 32, c = 16
        for b in config.blocks { expected += 9 * c + 2 * c + c * b.channels + 2 * b.channels; c = b.channels }
        expected += 512 * 1280 + 1280
        XCTAssertEqual(m.parameterCount, expected)
        XCTAssertTrue((1_000_000...3_000_000).contains(m.parameterCount), "\(m.parameterCount) parameters")
        let gflop = Double(config.flops()) / 1e9
        XCTAssertTrue((0.2...0.5).contains(gflop), "\(gflop) GFLOP")
        XCTAssertEqual(config.totalStride, 32)
        XCTAssertEqual(m.featureChannels, 1280)
        XCTAssertEqual(m.preprocessing, .direct)
        let f = m.features(random([1, 3, 224, 224], seed: 3))
        XCTAssertEqual(f.shape, [1, 1280, 7, 7])
        XCTAssertEqual(SmallCNN(configuration: .standard(projectionChannels: nil)).featureChannels, 512)
        let names = Set(m.stateEntries.map(\.0))
        for key in ["features.0.0.weight", "features.0.1.running_mean", "features.1.conv.0.0.weight", "features.1.conv.0.1.bias",
                    "features.1.conv.1.weight", "features.13.conv.2.running_var", "features.14.weight", "features.14.bias"] {
            XCTAssertTrue(names.contains(key), key)
        }
        print("SmallCNN standard: \(m.parameterCount) parameters, \(String(format: "%.3f", gflop)) GFLOP per 224x224 image")
    }

    /// With batch norm at its identity initialisation, PyTorch's default weights make the standard network's
    /// region features vanish (two images give the same features to 1e-6 of their scale), He's keep them apart.
    func testHeInitialisationKeepsImagesApartWithoutBatchStatistics() {
        let x = random([2, 3, 64, 64], seed: 5)
        func spread(_ m: SmallCNN) -> (scale: Float, difference: Float) {
            m.setTraining(false)
            let y = m.features(x).scalars, half = y.count / 2
            let scale = y.map { abs($0) }.max() ?? 0
            let difference = zip(y[..<half], y[half...]).map { abs($0 - $1) }.max() ?? 0
            return (scale, difference)
        }
        let plain = spread(SmallCNN(configuration: .standard(), seed: 3))
        let he = SmallCNN(configuration: .standard(), seed: 3)
        he.useHeInitialisation()
        let kept = spread(he)
        print("SmallCNN features without batch statistics: default init max |y| \(plain.scale), image difference \(plain.difference); He \(kept.scale), \(kept.difference)")
        XCTAssertLessThan(plain.difference, 1e-6 * max(plain.scale, 1e-30) + 1e-6, "the default initialisation no longer vanishes?")
        XCTAssertGreaterThan(kept.difference, 0.05 * kept.scale, "He initialisation should keep two images' features apart")
    }

    /// The folded inference path equals the autodiff forward pass in evaluation mode.
    func testFoldedFeaturesEqualEvalForward() {
        let m = SmallCNN(configuration: Self.tiny, seed: 2)
        // Non-trivial running statistics and affine parameters.
        var rng = SeededRandom(seed: 9)
        for (name, v) in m.stateEntries where name.contains("running_mean") || name.contains("1.bias") || name.hasSuffix(".2.bias") {
            v.value = Tensor.uniform(v.shape, -0.3, 0.3, rng: &rng)
        }
        for (name, v) in m.stateEntries where name.contains("running_var") || name.hasSuffix("1.weight") || name.hasSuffix(".2.weight") {
            v.value = Tensor.uniform(v.shape, 0.5, 1.5, rng: &rng)
        }
        m.setTraining(false)
        let x = random([3, 3, 32, 32], seed: 4)
        let reference = withNoGrad { m.forward(Variable(x)).value }
        let folded = m.features(x)
        XCTAssertEqual(folded.shape, [3, 20, 2, 2])
        XCTAssertLessThan(folded.maxAbsDifference(reference), 1e-4)
    }

    func testStateDictRoundTripF32AndF16() throws {
        let m = SmallCNN(configuration: Self.tiny, seed: 3)
        let x = random([2, 3, 32, 32], seed: 5)
        // Train one step so that running statistics differ from their initial values.
        m.setTraining(true)
        _ = m.forward(Variable(x))
        m.setTraining(false)
        let before = m.features(x)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smallcnn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let p32 = dir.appendingPathComponent("a.safetensors").path, p16 = dir.appendingPathComponent("b.safetensors").path
        try m.save(to: p32)
        try m.save(to: p16, dtype: .f16)
        let l32 = try SmallCNN(contentsOf: p32)
        XCTAssertEqual(l32.configuration, Self.tiny)
        XCTAssertEqual(l32.features(x), before)
        for ((n1, a), (n2, b)) in zip(m.stateEntries, l32.stateEntries) { XCTAssertEqual(n1, n2); XCTAssertEqual(a.value, b.value, n1) }
        let l16 = try SmallCNN(contentsOf: p16)
        XCTAssertLessThan(l16.features(x).maxAbsDifference(before), 0.05)
        XCTAssertThrowsError(try SmallCNN(contentsOf: dir.appendingPathComponent("missing").path))
        XCTAssertThrowsError(try SmallCNNConfiguration(parsing: "stem=8;blocks=16/3"))
        XCTAssertEqual(try SmallCNNConfiguration(parsing: Self.tiny.serialized), Self.tiny)
        // A file of a different configuration names the first bad key.
        do { _ = try SmallCNN(file: try SafeTensorsFile(contentsOf: p32), configuration: .standard()); XCTFail("loaded") } catch {
            XCTAssertTrue("\(error)".contains("features."), "\(error)")
        }
    }

    /// On four images, training with Adam drives a regression loss down.
    func testTrainingLossFalls() {
        let m = SmallCNN(configuration: Self.tiny, seed: 4)
        m.setTraining(true)
        let x = random([4, 3, 32, 32], seed: 6), target = Tensor.uniform([4, 20, 2, 2], 0, 2, rng: &Self.rng)
        let opt = Adam(m.parameters, learningRate: 3e-3)
        var losses: [Float] = []
        for _ in 0..<40 {
            opt.zeroGrad()
            let loss = mseLoss(m.forward(Variable(x)), Variable(target))
            loss.backward()
            opt.step()
            losses.append(loss.value.item)
        }
        XCTAssertLessThan(losses.last!, 0.3 * losses.first!, "losses \(losses.first!) -> \(losses.last!)")
    }

    nonisolated(unsafe) static var rng = SeededRandom(seed: 77)
}

extension SmallCNNTests {
    /// Training-step and inference time of the standard student at 224x224; runs only with `CAPTION_BENCH=1`.
    func testTrainingStepTiming() throws {
        guard ProcessInfo.processInfo.environment["CAPTION_BENCH"] != nil else {
            throw XCTSkip("set CAPTION_BENCH=1 to time the small CNN")
        }
        let m = SmallCNN(configuration: .standard(), seed: 1)
        let n = 16
        let x = random([n, 3, 224, 224], seed: 1), target = random([n, 1280, 7, 7], seed: 2)
        let opt = Adam(m.parameters, learningRate: 1e-3)
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e6 }
        m.setTraining(true)
        var times: [Double] = []
        for _ in 0..<3 {
            let t0 = now()
            opt.zeroGrad()
            let loss = mseLoss(m.forward(Variable(x)), Variable(target))
            loss.backward()
            opt.step()
            times.append(now() - t0)
        }
        let step = times.sorted()[1]
        m.setTraining(false)
        _ = m.features(x)
        let t0 = now()
        _ = m.features(x)
        let inference = now() - t0
        print("SmallCNN batch \(n): train step \(String(format: "%.0f", step)) ms (\(String(format: "%.1f", step / Double(n))) ms/image), "
              + "inference \(String(format: "%.1f", inference)) ms (\(String(format: "%.2f", inference / Double(n))) ms/image)")
    }
}

extension SmallCNNTests {
    /// The fused batch norm + ReLU equals `BatchNorm2d` followed by `relu()`: outputs, gradients, running statistics.
    func testFusedBatchNormReLUMatchesBatchNorm2dThenReLU() {
        for training in [true, false] {
            let shape = [3, 5, 6, 7]
            let xv = random(shape, seed: 21, scale: 2) + 0.3, up = random(shape, seed: 22)
            func run(_ f: (Variable, BatchNorm2d) -> Variable) -> [Tensor] {
                let bn = BatchNorm2d(5)
                bn.weight.value = random([5], seed: 23) + 1
                bn.bias.value = random([5], seed: 24)
                bn.runningMean.value = random([5], seed: 25)
                bn.runningVar.value = random([5], seed: 26, scale: 0.5) + 1
                bn.setTraining(training)
                let x = Variable(xv, requiresGrad: true)
                let y = f(x, bn)
                (y * Variable(up)).sum().backward()
                return [y.value, x.grad!, bn.weight.grad!, bn.bias.grad!, bn.runningMean.value, bn.runningVar.value]
            }
            let ours = run { batchNormReLU($0, $1) }
            let ref = run { $1($0).relu() }
            for (i, name) in ["output", "input gradient", "weight gradient", "bias gradient", "running mean", "running var"].enumerated() {
                XCTAssertLessThan(ours[i].maxAbsDifference(ref[i]), 1e-4, "\(name), training \(training)")
            }
        }
    }
}
