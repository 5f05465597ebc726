import XCTest
import Foundation
import SafeTensors
import Tensors
@testable import Captioning

/// Maximum |a - b| relative to max |b| (0 when both are zero).
func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    var diff: Float = 0, scale: Float = 0
    for (x, y) in zip(a, b) { diff = max(diff, abs(x - y)); scale = max(scale, abs(y)) }
    return scale == 0 ? diff : diff / scale
}

final class ShowAttendTellTests: XCTestCase {
    let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/sat_golden.safetensors").path

    /// Forward loss and every gradient against PyTorch (Golden/make_sat_golden.py).
    func testMatchesPyTorchLossAndGradients() throws {
        let f = try SafeTensorsFile(contentsOf: golden)
        let feats = try f.shape("input/features")     // [B, P, E]
        let (B, P, E) = (feats[0], feats[1], feats[2])
        let V = try f.shape("param/fc.weight")[0]
        let config = ShowAttendTellConfig(vocabularySize: V, embeddingSize: try f.shape("param/embedding.weight")[1], encoderSize: E,
                                          attentionSize: try f.shape("param/attention.encoder_att.weight")[0],
                                          hiddenSize: try f.shape("param/fc.weight")[1], dropout: 0)
        let model = ShowAttendTell(config)
        for e in model.parameters.entries {
            XCTAssertEqual(try f.shape("param/" + e.name), e.shape, e.name)
            model.parameters.setValue(e.name, try f.floats("param/" + e.name))
        }
        let lengths = try f.int64s("input/lengths").map(Int.init)
        let batch = CaptionBatch(features: try f.floats("input/features"), regions: P,
                                 tokens: try f.int64s("input/captions").map { Int32($0) }, lengths: lengths)
        var dFeat = [Float](repeating: 0, count: B * P * E)
        var rng: SeededRandom? = nil
        let loss = dFeat.withUnsafeMutableBufferPointer { model.trainStep(batch, attentionPenaltyWeight: 1, rng: &rng, featureGradient: $0.baseAddress!) }
        XCTAssertEqual(loss.crossEntropy, try f.floats("output/ce")[0], accuracy: 1e-5)
        XCTAssertEqual(loss.attentionPenalty, try f.floats("output/penalty")[0], accuracy: 1e-6)
        XCTAssertEqual(loss.tokens, lengths.reduce(0, +))
        for e in model.parameters.entries {
            let reference = try f.floats("grad/" + e.name)
            if e.name == "attention.full_att.bias" {
                // Softmax is shift-invariant: this gradient is zero up to rounding (PyTorch: -2.3e-9).
                XCTAssertEqual(model.parameters.gradient(e.name)[0], reference[0], accuracy: 1e-6)
                continue
            }
            let err = relativeError(model.parameters.gradient(e.name), reference)
            XCTAssertLessThan(err, 1e-4, "gradient of \(e.name)")
        }
        XCTAssertLessThan(relativeError(dFeat, try f.floats("grad/features")), 1e-4, "gradient of the features")
    }

    /// Central differences in float64 on the loss, for a model without attention and with odd sizes.
    func testGradientsMatchFiniteDifferencesWithoutAttention() {
        let config = ShowAttendTellConfig(vocabularySize: 7, embeddingSize: 3, encoderSize: 5, hiddenSize: 4, dropout: 0, useAttention: false)
        let model = ShowAttendTell(config)
        model.initialise(seed: 3)
        var rng = SeededRandom(seed: 9)
        let (B, P) = (2, 3)
        let feats = (0..<(B * P * 5)).map { _ in rng.uniformFloat() * 2 - 1 }
        let batch = CaptionBatch(features: feats, regions: P, tokens: [1, 4, 5, 2, 0, 1, 6, 2, 0, 0], lengths: [3, 2])
        var none: SeededRandom? = nil
        _ = model.trainStep(batch, rng: &none)
        let analytic = model.parameters.gradients
        let eps: Float = 1e-2
        var worst: Float = 0
        for k in Swift.stride(from: 0, to: model.parameters.count, by: 3) {
            let old = model.parameters.values[k]
            model.parameters.values[k] = old + eps
            model.parameters.zeroGradients()
            let up = model.trainStep(batch, rng: &none).total
            model.parameters.values[k] = old - eps
            let down = model.trainStep(batch, rng: &none).total
            model.parameters.values[k] = old
            let numeric = (up - down) / (2 * eps)
            worst = max(worst, abs(numeric - analytic[k]) / max(1e-2, abs(numeric) + abs(analytic[k])))
        }
        XCTAssertLessThan(worst, 2e-2)
    }

    /// Step-by-step decoding with teacher-forced tokens reproduces PyTorch's scores and attention weights.
    func testStepDecoderMatchesPyTorchScoresAndAttention() throws {
        let f = try SafeTensorsFile(contentsOf: golden)
        let feats = try f.shape("input/features")
        let (B, P, E) = (feats[0], feats[1], feats[2])
        let V = try f.shape("param/fc.weight")[0]
        let model = ShowAttendTell(ShowAttendTellConfig(vocabularySize: V, embeddingSize: try f.shape("param/embedding.weight")[1], encoderSize: E,
                                                        attentionSize: try f.shape("param/attention.encoder_att.weight")[0],
                                                        hiddenSize: try f.shape("param/fc.weight")[1], dropout: 0))
        for e in model.parameters.entries { model.parameters.setValue(e.name, try f.floats("param/" + e.name)) }
        let captions = try f.int64s("input/captions").map(Int.init)
        let lengths = try f.int64s("input/lengths").map(Int.init)
        let scores = try f.floats("output/scores"), alphas = try f.floats("output/alphas")
        let T = lengths[0], stride = captions.count / B
        var d = ShowAttendTellStepDecoder(model: model, features: try f.floats("input/features"), imageCount: B, regions: P)
        for t in 0..<T {
            let (logp, att) = d.step(lastTokens: (0..<B).map { captions[$0 * stride + t] })
            for b in 0..<B where lengths[b] > t {
                var want = Array(scores[((b * T + t) * V)..<((b * T + t + 1) * V)])
                logSoftmaxRows(&want, rows: 1, columns: V)
                XCTAssertLessThan(relativeError(Array(logp[(b * V)..<((b + 1) * V)]), want), 1e-5, "log-probs b=\(b) t=\(t)")
                XCTAssertLessThan(relativeError(Array(att![(b * P)..<((b + 1) * P)]), Array(alphas[((b * T + t) * P)..<((b * T + t + 1) * P)])), 1e-5)
            }
        }
    }

    /// Beam search over the step decoder: batched decoding equals one image at a time, and beam 1 is greedy.
    func testBeamSearchOverTheDecoder() {
        let model = ShowAttendTell(ShowAttendTellConfig(vocabularySize: 9, embeddingSize: 4, encoderSize: 3, attentionSize: 5, hiddenSize: 6, dropout: 0))
        model.initialise(seed: 11)
        var rng = SeededRandom(seed: 5)
        let (N, P, E) = (3, 4, 3)
        let feats = (0..<(N * P * E)).map { _ in rng.uniformFloat() * 4 - 2 }
        let o = BeamSearchOptions(beamWidth: 3, maxLength: 8, lengthPenalty: .average(alpha: 0.6), nBest: 2, startToken: 1, endToken: 2, suppressedTokens: [0, 1, 3])
        var all = ShowAttendTellStepDecoder(model: model, features: feats, imageCount: N, regions: P)
        let together = beamSearch(&all, imageCount: N, options: o)
        for i in 0..<N {
            var one = ShowAttendTellStepDecoder(model: model, features: Array(feats[(i * P * E)..<((i + 1) * P * E)]), imageCount: 1, regions: P)
            let alone = beamSearch(&one, imageCount: 1, options: o)[0]
            XCTAssertEqual(alone.map(\.tokens), together[i].map(\.tokens))
            for (a, b) in zip(alone, together[i]) { XCTAssertEqual(a.logProbability, b.logProbability, accuracy: 1e-4) }
        }
    }
}
