import XCTest
import Foundation
import SafeTensors
import Tensors
@testable import Captioning

final class TransformerTests: XCTestCase {
    let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/transformer_golden.safetensors").path

    func loadGolden() throws -> (SafeTensorsFile, TransformerDecoder) {
        let f = try SafeTensorsFile(contentsOf: golden)
        let sizes = Dictionary(uniqueKeysWithValues: f.metadata["sizes"]!.split(separator: " ").map { kv -> (String, Int) in
            let p = kv.split(separator: "="); return (String(p[0]), Int(p[1])!)
        })
        let cfg = TransformerConfig(vocabularySize: sizes["V"]!, modelSize: sizes["D"]!, heads: sizes["heads"]!, feedForwardSize: sizes["F"]!,
                                    layers: sizes["layers"]!, encoderSize: sizes["E"]!, maxPositions: sizes["maxpos"]!, dropout: 0)
        let m = TransformerDecoder(cfg)
        for e in m.parameters.entries {
            XCTAssertEqual(try f.shape("param/" + e.name), e.shape, e.name)
            m.parameters.setValue(e.name, try f.floats("param/" + e.name))
        }
        XCTAssertEqual(m.parameters.entries.count, f.names.filter { $0.hasPrefix("param/") }.count, "every PyTorch parameter is mapped")
        return (f, m)
    }

    func testGridPositionsMatchPython() throws {
        let (f, m) = try loadGolden()
        let want = try f.floats("output/grid_positions")
        XCTAssertLessThan(relativeError(gridPositions(regions: want.count / m.config.modelSize, size: m.config.modelSize), want), 1e-6)
    }

    /// Loss and every gradient against PyTorch's nn.TransformerDecoder (pre-norm), Golden/make_transformer_golden.py.
    func testMatchesPyTorchLossAndGradients() throws {
        let (f, m) = try loadGolden()
        let shape = try f.shape("input/features")
        let lengths = try f.int64s("input/lengths").map(Int.init)
        let tokens = try f.int64s("input/tokens").map { Int32($0) }
        let T = tokens.count / shape[0] - 1
        // Training batches pad every caption to the longest one: the batch's maxLength must be T.
        let batch = CaptionBatch(features: try f.floats("input/features"), regions: shape[1], tokens: tokens, lengths: lengths)
        XCTAssertEqual(batch.maxLength, T)
        var dF = [Float](repeating: 0, count: shape.reduce(1, *))
        var none: SeededRandom? = nil
        let loss = dF.withUnsafeMutableBufferPointer { m.trainStep(batch, rng: &none, featureGradient: $0.baseAddress!) }
        XCTAssertEqual(loss.crossEntropy, try f.floats("output/loss")[0], accuracy: 1e-5)
        for e in m.parameters.entries {
            XCTAssertLessThan(relativeError(m.parameters.gradient(e.name), try f.floats("grad/" + e.name)), 2e-4, "gradient of \(e.name)")
        }
        XCTAssertLessThan(relativeError(dF, try f.floats("grad/features")), 2e-4)
    }

    /// Label smoothing and the other paths of a 1-layer model against central differences. Entries whose one-sided
    /// differences disagree sit on a ReLU kink, where the derivative is undefined; they are skipped and counted.
    func testGradientsMatchFiniteDifferencesWithLabelSmoothing() {
        let cfg = TransformerConfig(vocabularySize: 9, modelSize: 6, heads: 3, feedForwardSize: 5, layers: 1, encoderSize: 4,
                                    maxPositions: 8, dropout: 0, labelSmoothing: 0.1)
        let m = TransformerDecoder(cfg)
        m.initialise(seed: 5)
        var rng = SeededRandom(seed: 2)
        let feats = (0..<(2 * 3 * 4)).map { _ in rng.uniform(-1, 1) }
        let batch = CaptionBatch(features: feats, regions: 3, tokens: [1, 5, 6, 2, 1, 7, 2, 0], lengths: [3, 2])
        var none: SeededRandom? = nil
        let base = m.trainStep(batch, rng: &none).crossEntropy
        let analytic = m.parameters.gradients
        let eps: Float = 1e-3
        var worst: Float = 0
        var checked = 0, kinks = 0
        for k in Swift.stride(from: 0, to: m.parameters.count, by: 5) {
            let old = m.parameters.values[k]
            m.parameters.values[k] = old + eps
            let up = m.trainStep(batch, rng: &none).crossEntropy
            m.parameters.values[k] = old - eps
            let down = m.trainStep(batch, rng: &none).crossEntropy
            m.parameters.values[k] = old
            let forward = (up - base) / eps, backward = (base - down) / eps
            if abs(forward - backward) > 0.2 * max(abs(forward), abs(backward)) + 2e-3 { kinks += 1; continue }
            let numeric = (up - down) / (2 * eps)
            worst = max(worst, abs(numeric - analytic[k]) / max(1e-2, abs(numeric) + abs(analytic[k])))
            checked += 1
        }
        XCTAssertLessThan(worst, 3e-2)
        XCTAssertLessThanOrEqual(kinks, 3, "too many entries skipped as kinks (\(kinks) of \(checked + kinks))")
        XCTAssertGreaterThan(checked, 100)
    }

    /// Cached step-by-step decoding with teacher-forced tokens gives PyTorch's full-prefix logits (as log-probabilities).
    func testCachedDecodingMatchesFullPrefixComputation() throws {
        let (f, m) = try loadGolden()
        let shape = try f.shape("input/features")
        let (B, P) = (shape[0], shape[1])
        let tokens = try f.int64s("input/tokens").map(Int.init)
        let logits = try f.floats("output/logits")
        let V = m.config.vocabularySize
        let T = tokens.count / B - 1
        var d = TransformerStepDecoder(model: m, features: try f.floats("input/features"), imageCount: B, regions: P)
        for t in 0..<T {
            let (logp, att) = d.step(lastTokens: (0..<B).map { tokens[$0 * (T + 1) + t] })
            for b in 0..<B {
                var want = Array(logits[((b * T + t) * V)..<((b * T + t + 1) * V)])
                logSoftmaxRows(&want, rows: 1, columns: V)
                XCTAssertLessThan(relativeError(Array(logp[(b * V)..<((b + 1) * V)]), want), 1e-5, "b=\(b) t=\(t)")
                XCTAssertEqual(att![(b * P)..<((b + 1) * P)].reduce(0, +), 1, accuracy: 1e-5, "attention rows sum to 1")
            }
        }
    }

    /// Beam search with the cache: batched equals one image at a time.
    func testBeamSearchBatchedEqualsSingle() throws {
        let (f, m) = try loadGolden()
        let shape = try f.shape("input/features")
        let feats = try f.floats("input/features")
        let per = shape[1] * shape[2]
        let o = BeamSearchOptions(beamWidth: 3, maxLength: 10, lengthPenalty: .average(alpha: 0.7), nBest: 3, startToken: 1, endToken: 2, suppressedTokens: [0, 1, 3])
        var all = TransformerStepDecoder(model: m, features: feats, imageCount: shape[0], regions: shape[1])
        let together = beamSearch(&all, imageCount: shape[0], options: o)
        for i in 0..<shape[0] {
            var one = TransformerStepDecoder(model: m, features: Array(feats[(i * per)..<((i + 1) * per)]), imageCount: 1, regions: shape[1])
            let alone = beamSearch(&one, imageCount: 1, options: o)[0]
            XCTAssertEqual(alone.map(\.tokens), together[i].map(\.tokens))
        }
    }
}
