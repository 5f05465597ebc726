import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import Metrics

/// The whole of Flickr8k (40k captions): caption #0 of every image as the hypothesis, #1…#4 as references.
final class Flickr8kTests: XCTestCase {
    func testFlickr8kHoldOutMatchesPycocoevalcapAndIsFast() throws {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared not found: skipping the Flickr8k scoring test") }
        let path = shared.appendingPathComponent("data/flickr8k/captions.txt").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) not found") }
        let (hyps, refs) = try CaptionFiles.holdOut(path)
        let captions = hyps.count + refs.values.reduce(0) { $0 + $1.count }
        XCTAssertGreaterThan(captions, 40_000)
        let t0 = Date(), c0 = threadCPUSeconds()
        let (scores, images) = try CaptionScorer.scoreImages(hypotheses: hyps, references: refs)
        let seconds = Date().timeIntervalSince(t0), cpu = threadCPUSeconds() - c0
        print(String(format: "Flickr8k hold-one-out: %d captions, %d images scored in %.3f s wall, %.3f s CPU (tokenize + BLEU + CIDEr-D + ROUGE-L)",
                     captions, scores.images, seconds, cpu))
        XCTAssertEqual(scores.images, 8091)
        XCTAssertEqual(images.count, 8091)
        // pycocoevalcap 1.2 on the same protocol (Fixtures/flickr8k_holdout_reference.py)
        let bleu = [0.6352204748004946, 0.44761215320674724, 0.30957350424361463, 0.212160023058414]
        for n in 0..<4 { XCTAssertEqual(scores.bleu[n], bleu[n], accuracy: 1e-12, "BLEU-\(n + 1)") }
        XCTAssertEqual(scores.cider, 0.7699271897311616, accuracy: 1e-12)
        XCTAssertEqual(scores.rougeL, 0.4944513492628518, accuracy: 1e-12)
        // CPU time, so that a loaded machine does not fail the test; on an idle one wall ≈ CPU
        XCTAssertLessThan(cpu, 2.0)
    }
}

/// CPU time of the calling thread.
func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
