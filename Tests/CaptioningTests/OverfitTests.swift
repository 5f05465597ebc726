import XCTest
import Tensors
@testable import Captioning

final class OverfitTests: XCTestCase {
    /// Eight "images" (random region features) with one caption each: the decoder must learn them exactly,
    /// reach a near-zero loss, and greedy decoding must give back each image's caption.
    func testShowAttendTellMemorisesEightCaptions() {
        for useAttention in [true, false] {
            let (N, P, E, V) = (8, 4, 8, 20)
            var rng = SeededRandom(seed: 42)
            let feats = (0..<(N * P * E)).map { _ in rng.uniformFloat() * 2 - 1 }
            let captions: [[Int]] = (0..<N).map { i in (0..<(3 + i % 4)).map { _ in 4 + Int(rng.next() % UInt64(V - 4)) } }
            let model = ShowAttendTell(ShowAttendTellConfig(vocabularySize: V, embeddingSize: 16, encoderSize: E, attentionSize: 16,
                                                            hiddenSize: 32, dropout: 0, useAttention: useAttention))
            model.initialise(seed: 1)
            // One batch with every caption, sorted by length as the trainer does.
            let order = (0..<N).sorted { captions[$0].count > captions[$1].count }
            let T = captions.map(\.count).max()! + 1
            var tokens: [Int32] = []
            var batchFeats: [Float] = []
            for i in order {
                let seq = [1] + captions[i] + [2]
                tokens += seq.map { Int32($0) } + [Int32](repeating: 0, count: T + 1 - seq.count)
                batchFeats += feats[(i * P * E)..<((i + 1) * P * E)]
            }
            let batch = CaptionBatch(features: batchFeats, regions: P, tokens: tokens, lengths: order.map { captions[$0].count + 1 })
            var adam = AdamOptimizer(parameterCount: model.parameters.count, learningRate: 0.01)
            var none: SeededRandom? = nil
            var loss: Float = .infinity
            for _ in 0..<300 {
                model.parameters.zeroGradients()
                loss = model.trainStep(batch, attentionPenaltyWeight: 0, rng: &none).crossEntropy
                model.parameters.clipGradients(value: 5)
                adam.update(model.parameters)
            }
            XCTAssertLessThan(loss, 0.05, "attention \(useAttention)")
            var d = ShowAttendTellStepDecoder(model: model, features: feats, imageCount: N, regions: P)
            let out = beamSearch(&d, imageCount: N, options: BeamSearchOptions(beamWidth: 1, maxLength: 12, startToken: 1, endToken: 2, suppressedTokens: [0, 1, 3]))
            for i in 0..<N { XCTAssertEqual(out[i][0].tokens, captions[i], "image \(i), attention \(useAttention)") }
        }
    }
}
