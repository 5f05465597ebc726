import Foundation
import XCTest
@testable import Metrics

/// The whole of Flickr8k (40k captions): caption #0 of every image as the hypothesis, #1…#4 as references.
final class Flickr8kTests: XCTestCase {
    func testFlickr8kHoldOutMatchesPycocoevalcapAndIsFast() throws {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared not found: skipping the Flickr8k scoring test") }
        let path = shared.appendingPathComponent("data/flickr8k/captions.txt").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) not found") }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var hyps: [String: String] = [:], refs: [String: [String]] = [:]
        var captions = 0
        for line in text.split(separator: "\n") {
            guard let tab = line.firstIndex(of: "\t"), let hash = line[..<tab].lastIndex(of: "#") else { continue }
            let image = String(line[..<hash]), caption = String(line[line.index(after: tab)...])
            captions += 1
            if line[line.index(after: hash)..<tab] == "0" { hyps[image] = caption } else { refs[image, default: []].append(caption) }
        }
        XCTAssertGreaterThan(captions, 40_000)
        let t0 = Date()
        let (scores, images) = try CaptionScorer.scoreImages(hypotheses: hyps, references: refs)
        let seconds = Date().timeIntervalSince(t0)
        print(String(format: "Flickr8k hold-one-out: %d captions, %d images scored in %.3f s (tokenize + BLEU + CIDEr-D + ROUGE-L)",
                     captions, scores.images, seconds))
        XCTAssertEqual(scores.images, 8091)
        XCTAssertEqual(images.count, 8091)
        // pycocoevalcap 1.2 on the same protocol (Fixtures/flickr8k_holdout_reference.py)
        let bleu = [0.6352204748004946, 0.44761215320674724, 0.30957350424361463, 0.212160023058414]
        for n in 0..<4 { XCTAssertEqual(scores.bleu[n], bleu[n], accuracy: 1e-12, "BLEU-\(n + 1)") }
        XCTAssertEqual(scores.cider, 0.7699271897311616, accuracy: 1e-12)
        XCTAssertEqual(scores.rougeL, 0.4944513492628518, accuracy: 1e-12)
        XCTAssertLessThan(seconds, 2.0)
    }
}
