import XCTest
import Foundation

final class VocabCommandTests: XCTestCase {
    func testVocabularyOfTheTrainSplit() throws {
        let f = try CLIFixture.shared()
        let out = f.root + "/vocab.json"
        let r = try CLIRunner.run(["vocab", "--data", f.data, "--min-count", "2", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as! [String: Any]
        let words = try XCTUnwrap(o["words"] as? [String])
        let counts = try XCTUnwrap(o["counts"] as? [Int])
        XCTAssertEqual(Array(words.prefix(4)), ["<pad>", "<start>", "<end>", "<unk>"])
        // Independently: the 6 train images have "A <colour> square ." and "The picture is <colour> ."; every
        // colour occurs twice, "a square the picture is" six times each.
        var expected: [String: Int] = [:]
        for (colour, _) in CLIFixture.colours.prefix(6) {
            for w in ["a", colour, "square", "the", "picture", "is", colour] { expected[w, default: 0] += 1 }
        }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: zip(words.dropFirst(4), counts.dropFirst(4))), expected)
        XCTAssertEqual(counts.dropFirst(4).first, 6)
        XCTAssertFalse(words.contains("purple"), "val/test words are not counted")
        let high = try CLIRunner.run(["vocab", "--data", f.data, "--min-count", "3", "--out", out])
        XCTAssertEqual(high.status, 0, high.stderr)
        let o3 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as! [String: Any]
        XCTAssertEqual((o3["words"] as! [String]).count, 4 + 5)
        let missing = try CLIRunner.run(["vocab", "--data", f.data])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("--out"), missing.stderr)
    }
}
