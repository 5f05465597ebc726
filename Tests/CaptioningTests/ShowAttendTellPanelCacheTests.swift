import XCTest
import Tensors
@testable import Captioning

/// The step decoder's panel-packed weights follow the parameters: after any change of the values (in place or
/// through `setValue`) or of the GEMM kernel, decoding equals a fresh model with the same values.
final class ShowAttendTellPanelCacheTests: XCTestCase {
    private func model() -> ShowAttendTell {
        let m = ShowAttendTell(ShowAttendTellConfig(vocabularySize: 37, embeddingSize: 6, encoderSize: 5, attentionSize: 7, hiddenSize: 9, dropout: 0))
        m.initialise(seed: 3)
        return m
    }

    private func firstSteps(_ m: ShowAttendTell, _ feats: [Float]) -> [Float] {
        var d = ShowAttendTellStepDecoder(model: m, features: feats, imageCount: 2, regions: 4)
        let a = d.step(lastTokens: [1, 1]).logProbabilities
        d.select(rows: [1, 0, 0])
        return a + d.step(lastTokens: [4, 5, 6]).logProbabilities
    }

    func testCachedPanelsFollowParameterChanges() {
        var rng = SeededRandom(seed: 8)
        let feats = (0..<(2 * 4 * 5)).map { _ in rng.uniform(-1, 1) }
        let m = model()
        let before = firstSteps(m, feats)
        XCTAssertTrue(firstSteps(m, feats) == before, "cached panels changed the results")
        // In place: scale the output layer and the recurrent weights.
        for name in ["fc.weight", "decode_step.weight_hh"] {
            let e = m.parameters.entry(name)!
            m.parameters.values.withUnsafeMutableBufferPointer { v in for i in e.offset..<(e.offset + e.count) { v[i] *= 1.5 } }
        }
        let fresh = model()
        fresh.parameters.values = m.parameters.values
        let after = firstSteps(m, feats)
        XCTAssertTrue(after != before, "the change was not seen")
        XCTAssertTrue(after == firstSteps(fresh, feats), "differs from a fresh model (in place)")
        // Through setValue.
        m.parameters.setValue("attention.decoder_att.weight", m.parameters.value("attention.decoder_att.weight").map { -$0 })
        fresh.parameters.setValue("attention.decoder_att.weight", m.parameters.value("attention.decoder_att.weight"))
        XCTAssertTrue(firstSteps(m, feats) == firstSteps(fresh, feats), "differs from a fresh model (setValue)")
        XCTAssertTrue(firstSteps(m, feats) != after, "setValue was not seen")
        // Another kernel family: repacked, same values to rounding.
        let k0 = GEMMConfiguration.kernel
        defer { GEMMConfiguration.kernel = k0 }
        let reference = firstSteps(m, feats)
        for kernel in [GEMMKernel.avx2, .avx512] {
            GEMMConfiguration.kernel = kernel
            let got = firstSteps(m, feats)
            XCTAssertEqual(m.stepPanelCache.panels(for: m).kernel, GEMMConfiguration.resolvedKernel)
            for (g, r) in zip(got, reference) { XCTAssertEqual(g, r, accuracy: 1e-5 * max(1, abs(r))) }
        }
    }
}
