import XCTest
@testable import Metrics

final class PropertyTests: XCTestCase {
    let hyps = ["1": "a dog runs across the green grass", "2": "two people ride bikes down a busy street .",
                "3": "a child in a red coat plays outside in the snow", "4": "a man is surfing a large wave"]
    let refs = ["1": ["a brown dog runs on the grass", "a dog running across a green field", "the dog runs in the grass ."],
                "2": ["two cyclists ride down the street", "people riding bicycles on a city street", "two people on bikes ."],
                "3": ["a kid in a red jacket is playing in snow", "a child plays outside in the snow"],
                "4": ["a surfer rides a big wave", "a man surfing on a wave in the ocean", "someone surfs", "a surfer in the water"]]

    func testIdenticalHypothesisScoresBLEU4One() throws {
        for caption in ["a dog runs across the green grass", "two people ride bikes", "a b c d"] {
            let s = try CaptionScorer.score(hypotheses: ["x": caption], references: ["x": [caption, "something else entirely here"]])
            // (1 + 1e-15/n)/(1 + 1e-9/n) per order, and the ratio penalty of ~1e-10: equal to 1 within 1e-8
            for n in 0..<4 { XCTAssertEqual(s.bleu[n], 1, accuracy: 1e-8, "\(caption) BLEU-\(n + 1)") }
            XCTAssertLessThan(s.bleu[3], 1)
            XCTAssertEqual(s.rougeL, 1, accuracy: 1e-12)
        }
    }

    func testScoresDoNotDependOnOrder() throws {
        let a = try CaptionScorer.scoreImages(hypotheses: hyps, references: refs)
        // reversed reference lists and re-keyed dictionaries built in another order
        var refs2: [String: [String]] = [:]
        for k in refs.keys.sorted().reversed() { refs2[k] = refs[k]!.reversed() }
        var hyps2: [String: String] = [:]
        for k in hyps.keys.sorted().reversed() { hyps2[k] = hyps[k] }
        let b = try CaptionScorer.scoreImages(hypotheses: hyps2, references: refs2)
        for n in 0..<4 { XCTAssertEqual(a.corpus.bleu[n], b.corpus.bleu[n], accuracy: 1e-15) }
        XCTAssertEqual(a.corpus.cider, b.corpus.cider, accuracy: 1e-12)
        XCTAssertEqual(a.corpus.rougeL, b.corpus.rougeL, accuracy: 1e-15)
        XCTAssertEqual(a.images.map(\.image), b.images.map(\.image))
        // per-image values do not depend on which other images are scored, except CIDEr's document frequencies
        let one = try CaptionScorer.scoreImages(hypotheses: ["2": hyps["2"]!], references: ["2": refs["2"]!])
        let two = a.images.first { $0.image == "2" }!
        XCTAssertEqual(one.images[0].bleu, two.bleu)
        XCTAssertEqual(one.images[0].rougeL, two.rougeL)
    }

    func testDuplicatingTheCorpusLeavesBLEUUnchanged() throws {
        let a = try CaptionScorer.score(hypotheses: hyps, references: refs)
        var h2 = hyps, r2 = refs
        for (k, v) in hyps { h2["copy-" + k] = v }
        for (k, v) in refs { r2["copy-" + k] = v }
        let b = try CaptionScorer.score(hypotheses: h2, references: r2)
        XCTAssertEqual(b.images, 2 * a.images)
        // every order has matches here, so only the epsilons (1e-15, 1e-9 against doubled counts) move
        for n in 0..<4 { XCTAssertEqual(a.bleu[n], b.bleu[n], accuracy: 1e-9, "BLEU-\(n + 1)") }
        XCTAssertGreaterThan(a.bleu[3], 0.01)
        XCTAssertEqual(a.rougeL, b.rougeL, accuracy: 1e-12)
    }

    func testScoresAreOnTheirScales() throws {
        let s = try CaptionScorer.score(hypotheses: hyps, references: refs)
        for b in s.bleu { XCTAssertTrue(b > 0 && b < 1, "\(b)") }
        XCTAssertTrue(s.bleu[0] >= s.bleu[1] && s.bleu[1] >= s.bleu[2] && s.bleu[2] >= s.bleu[3])
        XCTAssertTrue(s.rougeL > 0 && s.rougeL < 1)
        XCTAssertTrue(s.cider > 0)
    }

    func testMissingImagesAreErrors() {
        XCTAssertThrowsError(try CaptionScorer.score(hypotheses: ["a": "x", "b": "y"], references: ["a": ["x"]])) {
            XCTAssertEqual(($0 as? MetricsError)?.description, "image b has a hypothesis but no references")
        }
        XCTAssertThrowsError(try CaptionScorer.score(hypotheses: ["a": "x"], references: ["a": ["x"], "c": ["z"], "b": ["y"]])) {
            XCTAssertEqual(($0 as? MetricsError)?.description, "image b has references but no hypothesis")
        }
        XCTAssertThrowsError(try CaptionScorer.score(hypotheses: ["a": "x"], references: ["a": []]))
        XCTAssertThrowsError(try CaptionScorer.score(hypotheses: [:], references: [:]))
    }

    func testStandaloneScorersAgreeWithCaptionScorer() throws {
        let ids = hyps.keys.sorted(by: CaptionScorer.imageIdPrecedes)
        let h = ids.map { PTBTokenizer.tokenize(hyps[$0]!) }
        let r = ids.map { refs[$0]!.map(PTBTokenizer.tokenize) }
        let s = try CaptionScorer.score(hypotheses: hyps, references: refs)
        XCTAssertEqual(BLEU.score(hypotheses: h, references: r).corpus, s.bleu)
        XCTAssertEqual(CIDErD.score(hypotheses: h, references: r).corpus, s.cider)
        XCTAssertEqual(ROUGEL.score(hypotheses: h, references: r).corpus, s.rougeL)
    }

    func testNumpyPairwiseSum() {
        // compared with a naive sum on values where the order does not matter (integers)
        for n in [0, 1, 7, 8, 9, 127, 128, 129, 1000, 4097] {
            let a = (0..<n).map { Double($0 % 17) }
            XCTAssertEqual(pairwiseSum(a), a.reduce(0, +), "\(n)")
        }
    }
}
