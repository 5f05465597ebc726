import XCTest
import Foundation

final class DescribeCommandTests: XCTestCase {
    func testDescribeADirectoryAndFilesAsTextAndJSON() throws {
        let f = try CLIFixture.shared()
        XCTAssertEqual(f.trainResult.status, 0, f.trainResult.stderr)
        let dir = f.data + "/images"
        let r = try CLIRunner.run(["describe", dir, "--model", f.model, "--beam", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        let expected = CLIFixture.colours.map { dir + "/" + $0.0 + ".ppm" }.sorted()
        XCTAssertEqual(lines.map { String($0.split(separator: "\t", omittingEmptySubsequences: false)[0]) }, expected, "sorted, one line each")
        XCTAssertTrue(lines.allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 2 })

        let j = try CLIRunner.run(["describe", dir + "/red.ppm", dir + "/blue.ppm", "--model", f.model, "--beam", "3", "--n-best", "2", "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let items = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(items.map { $0["image"] as? String }, [dir + "/red.ppm", dir + "/blue.ppm"])
        for item in items {
            let caption = try XCTUnwrap(item["caption"] as? String)
            let lp = try XCTUnwrap(item["log_prob"] as? Double)
            XCTAssertLessThanOrEqual(lp, 0)
            let nBest = try XCTUnwrap(item["n_best"] as? [[String: Any]])
            XCTAssertGreaterThanOrEqual(nBest.count, 1)
            XCTAssertLessThanOrEqual(nBest.count, 2)
            XCTAssertEqual(nBest[0]["caption"] as? String, caption)
            XCTAssertEqual(Set(nBest.compactMap { $0["caption"] as? String }).count, nBest.count, "n-best is unique")
        }
        // Greedy text equals beam 1 JSON's caption.
        let g = try CLIRunner.run(["describe", dir + "/red.ppm", "--model", f.model, "--beam", "1"])
        let gj = try CLIRunner.run(["describe", dir + "/red.ppm", "--model", f.model, "--beam", "1", "--json"])
        let gItems = try JSONSerialization.jsonObject(with: Data(gj.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(g.stdout, dir + "/red.ppm\t" + (gItems[0]["caption"] as! String) + "\n")
    }

    func testABadImageIsOneErrorLineAndTheOthersAreStillCaptioned() throws {
        let f = try CLIFixture.shared()
        let bad = f.root + "/broken.jpg"
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 1]).write(to: URL(fileURLWithPath: bad))
        let good = f.data + "/images/red.ppm"
        let r = try CLIRunner.run(["describe", good, bad, f.root + "/missing.png", "--model", f.model])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 1, r.stdout)
        XCTAssertTrue(r.stdout.hasPrefix(good + "\t"), r.stdout)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 2, r.stderr)
        XCTAssertTrue(errors[0].contains("broken.jpg"), String(errors[0]))
        XCTAssertTrue(errors[1].contains("missing.png"), String(errors[1]))
    }

    func testDescribeErrors() throws {
        let f = try CLIFixture.shared()
        let r = try CLIRunner.run(["describe", "--model", f.model])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.hasPrefix("error: "), r.stderr)
        let w = try CLIRunner.run(["describe", f.data + "/images/red.ppm", "--model", f.data + "/captions.txt"])
        XCTAssertNotEqual(w.status, 0)
        XCTAssertEqual(w.stderr.split(separator: "\n").count, 1, w.stderr)
    }

    func testAttentionMapIsAPNGGridWithOneTilePerWord() throws {
        let f = try CLIFixture.shared()
        let out = f.root + "/attention.png"
        let r = try CLIRunner.run(["describe", f.data + "/images/red.ppm", "--model", f.model, "--beam", "2", "--attention-map", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let words = r.stdout.split(separator: "\t")[1].split(separator: " ").count
        let png = try Data(contentsOf: URL(fileURLWithPath: out))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature")
        XCTAssertEqual(String(decoding: png[12..<16], as: UTF8.self), "IHDR")
        let be = { (o: Int) in png[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        // Tiles of 224 px, 5 per row, each with a 22 px label strip (5x7 font at scale 2, plus 8).
        XCTAssertEqual(be(16), min(5, max(words, 1)) * 224)
        XCTAssertEqual(be(20), max(1, (words + 4) / 5) * 246)
        // Several images: one file each, named after the image.
        let many = try CLIRunner.run(["describe", f.data + "/images/red.ppm", f.data + "/images/blue.ppm", "--model", f.model,
                                      "--attention-map", f.root + "/att.png"])
        XCTAssertEqual(many.status, 0, many.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: f.root + "/att-red.png"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: f.root + "/att-blue.png"))
    }
}
