import XCTest
import Foundation

/// The README's main job: `caption describe Samples/` with the model shipped in `Models/` (found through the
/// repository the binary was built in, no `--model`).
final class ShippedModelTests: XCTestCase {
    var samples: String { CLIRunner.repositoryRoot.appendingPathComponent("Samples").path }
    var shipped: String { CLIRunner.repositoryRoot.appendingPathComponent("Models/default.safetensors").path }

    func sampleImages() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: samples)
            .filter { [".jpg", ".png"].contains(where: $0.hasSuffix) }.sorted().map { samples + "/" + $0 }
    }

    func testDescribeEverySampleWithTheShippedModel() throws {
        guard FileManager.default.fileExists(atPath: shipped) else { throw XCTSkip("no shipped model in Models/") }
        let images = try sampleImages()
        XCTAssertGreaterThanOrEqual(images.count, 6)
        let r = try CLIRunner.run(["describe", samples], currentDirectory: URL(fileURLWithPath: NSTemporaryDirectory()))
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        XCTAssertEqual(lines.map { String($0[0]) }, images)
        for l in lines {
            XCTAssertEqual(l.count, 2)
            let words = l[1].split(separator: " ")
            XCTAssertGreaterThanOrEqual(words.count, 3, "a caption of a few words: \(l)")
            XCTAssertFalse(l[1].contains("<unk>") || l[1].contains("<end>") || l[1].contains("<pad>"), String(l[1]))
        }
        // JSON, parsed back: the same captions, log-probabilities, a sorted unique n-best list.
        let j = try CLIRunner.run(["describe", samples, "--json", "--n-best", "3"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let items = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(items.compactMap { $0["image"] as? String }, images)
        for (item, line) in zip(items, lines) {
            XCTAssertEqual(item["caption"] as? String, String(line[1]))
            let best = try XCTUnwrap(item["n_best"] as? [[String: Any]])
            let scores = best.compactMap { $0["score"] as? Double }
            XCTAssertEqual(scores.count, best.count)
            XCTAssertEqual(best.compactMap { $0["log_prob"] as? Double }.count, best.count)
            XCTAssertEqual(scores, scores.sorted(by: >), "n-best sorted by score")
            XCTAssertEqual(item["score"] as? Double, scores.first)
            XCTAssertEqual(Set(best.compactMap { $0["caption"] as? String }).count, best.count, "n-best unique")
            XCTAssertNotEqual(item["score"] as? Double, item["log_prob"] as? Double, "the default length penalty ranks beams")
        }
        // --length-penalty none: ranking by the raw log-probability.
        let raw = try CLIRunner.run(["describe", samples, "--json", "--n-best", "2", "--length-penalty", "none"])
        XCTAssertEqual(raw.status, 0, raw.stderr)
        let rawItems = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(raw.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rawItems.count, items.count)
        for item in rawItems {
            for h in try XCTUnwrap(item["n_best"] as? [[String: Any]]) {
                XCTAssertEqual(h["score"] as? Double, h["log_prob"] as? Double)
            }
        }
    }

    func testAttentionMapOfASampleIsAPNGOfTheGridSize() throws {
        guard FileManager.default.fileExists(atPath: shipped) else { throw XCTSkip("no shipped model in Models/") }
        let out = NSTemporaryDirectory() + "caption-att-\(getpid()).png"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let image = try sampleImages()[0]
        let r = try CLIRunner.run(["describe", image, "--attention-map", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let items = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let words = (items[0]["caption"] as? String ?? "").split(separator: " ").count
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func be32(_ o: Int) -> Int { png[o..<o + 4].reduce(0) { $0 << 8 | Int($1) } }
        let (w, h) = (be32(16), be32(20))
        XCTAssertGreaterThan(w, 0)
        XCTAssertGreaterThan(h, 0)
        // One tile per word (and possibly one for <end>), at most five tiles a row.
        let columns = w / 224, rows = Int((Double(h) / Double(224 + 22)).rounded())
        XCTAssertEqual(w % 224, 0, "tiles of 224 pixels: width \(w)")
        XCTAssertGreaterThanOrEqual(columns * rows, words, "\(columns)x\(rows) tiles for \(words) words")
    }
}
