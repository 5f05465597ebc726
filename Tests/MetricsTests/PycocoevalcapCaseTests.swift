import Foundation
import XCTest
@testable import Metrics

/// A synthetic case full of tricky captions (Fixtures/make_score_fixture.py), scored by pycocoevalcap 1.2
/// with the real PTB jar: the whole pipeline (files, tokenizer, scorers) must give its numbers.
final class PycocoevalcapCaseTests: XCTestCase {
    func testSyntheticCaseMatchesPycocoevalcap() throws {
        let hyps = try CaptionFiles.readHypotheses(fixtureURL("score_hypotheses.txt").path)
        let refs = try CaptionFiles.readReferences(fixtureURL("score_references.txt").path)
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL("score_expected.json"))) as? [String: Any])
        let (corpus, images) = try CaptionScorer.scoreImages(hypotheses: hyps.captions, references: refs.captions)
        XCTAssertEqual(corpus.images, expected["images"] as? Int)
        let bleu = try XCTUnwrap(expected["bleu"] as? [Double])
        for n in 0..<4 { XCTAssertEqual(corpus.bleu[n], bleu[n], accuracy: 1e-12, "BLEU-\(n + 1)") }
        XCTAssertEqual(corpus.cider, try XCTUnwrap(expected["cider"] as? Double), accuracy: 1e-12)
        XCTAssertEqual(corpus.rougeL, try XCTUnwrap(expected["rouge_l"] as? Double), accuracy: 1e-12)
        let per = try XCTUnwrap(expected["per_image"] as? [String: [String: Any]])
        XCTAssertEqual(per.count, images.count)
        for im in images {
            let e = try XCTUnwrap(per[im.image], im.image)
            let b = try XCTUnwrap(e["bleu"] as? [Double])
            for n in 0..<4 { XCTAssertEqual(im.bleu[n], b[n], accuracy: 1e-12, "\(im.image) BLEU-\(n + 1)") }
            XCTAssertEqual(im.cider, try XCTUnwrap(e["cider"] as? Double), accuracy: 1e-12, im.image)
            XCTAssertEqual(im.rougeL, try XCTUnwrap(e["rouge_l"] as? Double), accuracy: 1e-12, im.image)
        }
    }
}
