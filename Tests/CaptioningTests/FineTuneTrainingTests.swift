import XCTest
import NeuralNetwork
import Tensors
import Vision
@testable import Captioning

/// `caption train --fine-tune-encoder` on the tiny dataset with a tiny small CNN (random weights, 7x7x6 regions).
final class FineTuneTrainingTests: TinyDatasetTestCase {
    static let tiny = SmallCNNConfiguration(stemChannels: 4, blocks: [.init(8, stride: 2), .init(8, stride: 2), .init(8, stride: 2),
                                                                     .init(8, stride: 2), .init(8, stride: 1)], projectionChannels: 6)

    static func makeEncoder() -> SmallCNN {
        let e = SmallCNN(configuration: tiny, seed: 3)
        var rng = SeededRandom(seed: 4)
        for (name, v) in e.stateEntries where name.hasSuffix("running_var") { v.value = Tensor.uniform(v.shape, 0.5, 2, rng: &rng) }
        return e
    }

    static func regionEncoder() -> RegionEncoder {
        let e = makeEncoder()
        return RegionEncoder(encoder: e, weightsID: "tiny", weightsSHA256: nil, embeddedTensors: EncoderCatalog.tensors(of: e),
                             configuration: tiny.serialized)
    }

    func configuration(out: String, epochs: Int) -> TrainingRunConfiguration {
        var c = TrainingRunConfiguration(data: root + "/data")
        c.outDirectory = root + "/" + out
        c.cacheDirectory = root + "/cache"
        c.minCount = 1
        c.options.epochs = epochs
        c.options.batchSize = 3
        c.options.learningRate = 0.01
        c.options.encoderLearningRate = 0.003
        c.options.patience = 10
        c.lstm.embedding = 8; c.lstm.attention = 8; c.lstm.hidden = 12; c.lstm.dropout = 0.5
        c.validationBeam = 2
        c.progress = false
        return c
    }

    func run(_ c: TrainingRunConfiguration, interruptWhenTrainingStarts: Bool = false, log: @escaping (String) -> Void = { _ in }) throws -> TrainingRunResult {
        let r = TrainingRun(c, log: { line in
            log(line)
            if interruptWhenTrainingStarts && line.hasPrefix("decoder ") { Interrupt.request() }
        }, makeEncoder: { _, _, _, _ in Self.regionEncoder() })
        defer { Interrupt.reset() }
        return try r.run()
    }

    func tensors(_ path: String, _ prefix: String) throws -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for (k, v) in try ModelFile(contentsOf: path).tensors where k.hasPrefix(prefix) { out[k] = v.values }
        return out
    }

    func testFineTuningLowersTheLossTrainsTheSuffixOnlyAndTheModelFileCaptionsAlone() throws {
        var lines: [String] = []
        let r = try run(configuration(out: "ft", epochs: 4), log: { lines.append($0) })
        XCTAssertEqual(r.outcome, .completed)
        XCTAssertTrue(lines.contains { $0.hasPrefix("fine-tuning small from features.4") }, lines.joined(separator: "\n"))
        let losses = r.state.history.map(\.trainLoss)
        XCTAssertLessThan(losses.last!, losses.first! * 0.9, "training loss falls: \(losses)")

        // The suffix (features.4, features.5 and the projection features.6) changed; the prefix did not.
        let initial = Self.makeEncoder().stateTensors
        let saved = try tensors(r.checkpointPath, "encoder.")
        XCTAssertEqual(Set(saved.keys), Set(initial.map { "encoder." + $0.0 }))
        var changed = 0
        for (name, t) in initial {
            let stage = Int(name.split(separator: ".")[1])!
            if stage < 4 {
                XCTAssertEqual(saved["encoder." + name], t.scalars, "prefix tensor \(name) is unchanged")
            } else if name.hasSuffix("weight") && !name.contains("conv.0.1") && !name.contains("conv.2") {
                // Convolution weights (the batch-norm slots hold the identity + folded shift after write-back).
                if saved["encoder." + name] != t.reshaped(t.shape).scalars { changed += 1 }
            }
        }
        XCTAssertGreaterThanOrEqual(changed, 4, "suffix convolutions changed")

        // The model file alone: its spec embeds the fine-tuned encoder, and captioning needs no weights file.
        let model = try ModelFile(contentsOf: r.checkpointPath)
        XCTAssertEqual(model.config.encoder.fineTunedFrom, "features.4")
        XCTAssertTrue(model.config.encoder.embeddedWeights)
        let fromFile = try EncoderCatalog.make(for: model.config.encoder, model: model, weights: nil)
        let image = root + "/data/images/img0.ppm"
        let described = try fromFile.encode(paths: [image])
        // The in-memory model: the original encoder's prefix (float32) and the trained suffix from the checkpoint.
        let original = Self.regionEncoder()
        let tuning = try EncoderFineTuning(encoder: original.encoder as! any FineTunableEncoder, cut: "features.4", learningRate: 1)
        for e in tuning.parameters.entries { tuning.parameters.setValue(e.name, try XCTUnwrap(model.tensors["finetune." + e.name]).values) }
        tuning.syncModules()
        let prefix = tuning.prefixActivations([try original.input(path: image)])
        let y = withNoGrad { tuning.suffix.forward(Variable(Tensor(shape: [1] + tuning.prefixShape, prefix))) }.value
        let inMemory = RegionEncoder.regionRows(y)
        XCTAssertEqual(described.count, inMemory.count)
        let scale = max(1, inMemory.map { abs($0) }.max() ?? 0)
        let worst = zip(described, inMemory).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, 1e-4, "model file encoder vs in-memory fine-tuned encoder")
        XCTAssertGreaterThan(zip(described, try original.encode(paths: [image])).map { abs($0 - $1) }.max() ?? 0, 1e-4,
                             "the fine-tuned encoder differs from the original")
        // The best model (what describe loads) embeds a fine-tuned encoder too and no optimizer state.
        let best = try ModelFile(contentsOf: r.modelPath)
        XCTAssertNotNil(best.tensors["encoder.features.6.weight"])
        XCTAssertNil(best.tensors["optimizer.encoder.m"])
        _ = try CaptionModel.load(r.modelPath)
    }

    func testFineTuneResumeEqualsUninterrupted() throws {
        try assertResumeEqualsUninterrupted(run: { try self.run($0, interruptWhenTrainingStarts: $1) },
                                            configuration: { self.configuration(out: $0, epochs: $1) },
                                            prefixes: ["decoder.", "finetune.", "encoder.", "optimizer."],
                                            interruptedPrefixes: ["decoder.", "finetune.", "optimizer."])
        // Resuming with another encoder learning rate, or without fine-tuning, is refused.
        var c3 = configuration(out: "split", epochs: 3)
        c3.resume = true
        c3.options.encoderLearningRate = 0.5
        XCTAssertThrowsError(try run(c3)) { XCTAssertTrue("\($0)".contains("encoder learning rate"), "\($0)") }
        c3.options.encoderLearningRate = nil
        XCTAssertThrowsError(try run(c3)) { XCTAssertTrue("\($0)".contains("encoder learning rate"), "\($0)") }
    }

    func testAnUnknownCutIsOneLineError() throws {
        var c = configuration(out: "bad", epochs: 1)
        c.options.fineTuneFrom = "layer2"
        XCTAssertThrowsError(try run(c)) { XCTAssertTrue("\($0)".contains("cannot be fine-tuned from 'layer2'"), "\($0)") }
    }
}
