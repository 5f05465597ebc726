import XCTest
@testable import Metrics

/// Every value of ../shared/metrics/README.md (pycocoevalcap 1.2 output), asserted to 1e-9 or tighter.
final class ReferenceValueTests: XCTestCase {
    let worked: (hyps: [String: String], refs: [String: [String]]) = (
        ["img1": "A brown dog is running on grass.", "img2": "A man on a bike!"],
        ["img1": ["The brown dog is running on the green grass.", "A dog runs across the grass in a park",
                  "A small dog is running fast through the green grass."],
         "img2": ["Man riding a bike.", "A man is riding his bicycle", "A person cycling down the street."]])

    func assertAll(_ got: [Double], _ want: [Double], tolerance: Double = 1e-11, _ what: String,
                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        for (k, (g, w)) in zip(got, want).enumerated() {
            XCTAssertEqual(g, w, accuracy: tolerance, "\(what)[\(k)]", file: file, line: line)
        }
    }

    // §2
    func testWorkedExampleCounts() {
        var index = NGramIndex()
        let h1 = index.ngramSentence(index.words(PTBTokenizer.tokenize(worked.hyps["img1"]!)))
        let h2 = index.ngramSentence(index.words(PTBTokenizer.tokenize(worked.hyps["img2"]!)))
        let r1 = worked.refs["img1"]!.map { index.ngramSentence(index.words(PTBTokenizer.tokenize($0))) }
        let r2 = worked.refs["img2"]!.map { index.ngramSentence(index.words(PTBTokenizer.tokenize($0))) }
        XCTAssertEqual(PTBTokenizer.scoringString(worked.hyps["img1"]!), "a brown dog is running on grass")
        XCTAssertEqual(PTBTokenizer.scoringString(worked.hyps["img2"]!), "a man on a bike")
        XCTAssertEqual(r1.map(\.length), [9, 9, 10])
        XCTAssertEqual(r2.map(\.length), [4, 6, 6])
        // counts reconstructed from the corpus BLEU of each image alone
        let (c1, _) = BLEU.score([h1], [r1], index: index, maxOrder: 4)
        let (c2, _) = BLEU.score([h2], [r2], index: index, maxOrder: 4)
        // img1: testlen 7, reflen 9, correct 7,4,3,2 of 7,6,5,4
        let bp1 = exp(1 - 9.0 / 7.0)
        assertAll(c1, [7.0 / 7, pow(7.0 / 7 * 4 / 6, 0.5), pow(7.0 / 7 * 4 / 6 * 3 / 5, 1 / 3.0), pow(7.0 / 7 * 4 / 6 * 3 / 5 * 2 / 4, 0.25)].map { $0 * bp1 },
                  tolerance: 1e-8, "img1 from counts")
        // img2: testlen 5, reflen 4 (tie 4/6 → shorter), correct 3,2 of 5,4; no penalty
        assertAll(Array(c2.prefix(2)), [3.0 / 5, pow(3.0 / 5 * 2 / 4, 0.5)], tolerance: 1e-8, "img2 from counts")
    }

    func testWorkedExampleCorpusAndPerImage() throws {
        let (corpus, images) = try CaptionScorer.scoreImages(hypotheses: worked.hyps, references: worked.refs)
        assertAll(corpus.bleu, [0.766703678730, 0.650569644463, 0.526593972506, 0.460022207222], tolerance: 1e-12, "corpus BLEU")
        XCTAssertEqual(corpus.bleu[3], 0.46002220722169895, accuracy: 1e-15)
        XCTAssertEqual(corpus.images, 2)
        XCTAssertEqual(images.map(\.image), ["img1", "img2"])
        assertAll(images[0].bleu, [0.751477292861, 0.613578640258, 0.553693203467, 0.502543153987], tolerance: 1e-12, "img1 BLEU")
        assertAll(images[1].bleu, [0.599999999880, 0.547722557382, 0.000004641589, 0.000000014953], tolerance: 1e-12, "img2 BLEU")
        // §6
        XCTAssertEqual(corpus.cider, 2.0398285731825405, accuracy: 1e-12)
        XCTAssertEqual(corpus.rougeL, 0.7068821658186261, accuracy: 1e-12)
        XCTAssertEqual(images[0].cider, 2.873506337377763, accuracy: 1e-12)
        XCTAssertEqual(images[0].rougeL, 0.7334669338677354, accuracy: 1e-12)
        XCTAssertEqual(images[1].cider, 1.2061508089873185, accuracy: 1e-12)
        XCTAssertEqual(images[1].rougeL, 0.6802973977695167, accuracy: 1e-12)
    }

    func testExactFormulaAgreesWithoutEpsilonsTo1e9() throws {
        let corpus = try CaptionScorer.score(hypotheses: worked.hyps, references: worked.refs)
        let p = [10.0 / 12, 6.0 / 10, 3.0 / 8, 2.0 / 6]
        var prod = 1.0
        for n in 0..<4 {
            prod *= p[n]
            XCTAssertEqual(corpus.bleu[n], exp(-1.0 / 12) * pow(prod, 1 / Double(n + 1)), accuracy: 1e-9)
        }
    }

    // §3
    func testEdgeCases() throws {
        func bleu(_ hyp: String, _ refs: [String]) throws -> [Double] {
            try CaptionScorer.score(hypotheses: ["x": hyp], references: ["x": refs]).bleu
        }
        assertAll(try bleu("the cat sat on the mat", ["a cat sits on a mat", "there is a cat on the mat"]),
                  [0.666666666444, 0.516397779314, 0.405480132887, 0.000068658905], tolerance: 1e-12, "no 4-gram match")
        assertAll(try bleu("a dog runs", ["a dog runs", "the dog is running"]),
                  [0.999999999333, 0.999999999250, 0.999999999056, 0.031622776577], tolerance: 1e-12, "shorter than 4")
        XCTAssertEqual(try bleu("", ["a cat"]), [0, 0, 0, 0])
        let mixed = try CaptionScorer.score(hypotheses: ["a": "a dog runs", "b": ""],
                                            references: ["a": ["a dog runs", "the dog is running"], "b": ["a cat", "one cat sleeping"]])
        assertAll(mixed.bleu, [0.513417118690, 0.513417118648, 0.513417118548, 0.016235674846], tolerance: 1e-12, "mixed corpus")
    }

    // §6
    func testTwoImageCase() throws {
        let (c, per) = try CaptionScorer.scoreImages(
            hypotheses: ["a": "the cat sat on the mat", "b": "a dog runs"],
            references: ["a": ["a cat sits on a mat", "there is a cat on the mat"], "b": ["a dog runs", "the dog is running"]])
        XCTAssertEqual(c.bleu[3], 8.77382675031484e-05, accuracy: 1e-16)
        XCTAssertEqual(c.cider, 3.477120896269849, accuracy: 1e-12)
        XCTAssertEqual(c.rougeL, 0.8034825870646767, accuracy: 1e-12)
        XCTAssertEqual(per[0].cider, 2.5878623445747495, accuracy: 1e-12)
        XCTAssertEqual(per[0].rougeL, 0.6069651741293532, accuracy: 1e-12)
        XCTAssertEqual(per[1].cider, 4.366379447964949, accuracy: 1e-12)
        XCTAssertEqual(per[1].rougeL, 1.0, accuracy: 1e-12)
    }

    func testThreeImageCase() throws {
        let (c, per) = try CaptionScorer.scoreImages(
            hypotheses: ["x": "two kids play in the snow", "y": "a black dog is jumping over a log", "z": "a man is climbing a rock"],
            references: [
                "x": ["two children play in the snow .", "Kids playing in snow", "Two kids are sledding down a snowy hill ."],
                "y": ["A black dog jumps over a log .", "a dog leaping over a fallen tree", "The black dog is jumping ."],
                "z": ["A woman in a red jacket hikes up a mountain trail", "a hiker on a rocky path", "A person climbs a steep hill ."],
            ])
        XCTAssertEqual(c.bleu[3], 0.4375980697751947, accuracy: 1e-12)
        XCTAssertEqual(c.cider, 2.051679420413677, accuracy: 1e-12)
        XCTAssertEqual(c.rougeL, 0.6588003933136676, accuracy: 1e-12)
        let wantCider = [2.733932795043474, 3.4211054661975555, 0.0]
        let wantRouge = [0.8333333333333334, 0.8097345132743362, 0.3333333333333333]
        for i in 0..<3 {
            XCTAssertEqual(per[i].cider, wantCider[i], accuracy: 1e-12, per[i].image)
            XCTAssertEqual(per[i].rougeL, wantRouge[i], accuracy: 1e-12, per[i].image)
        }
    }
}
