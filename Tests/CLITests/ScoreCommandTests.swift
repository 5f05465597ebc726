import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

final class ScoreCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("score-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func file(_ name: String, _ text: String) throws -> String { try file(name, Array(text.utf8)) }

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    let hypotheses = "img1\tA brown dog is running on grass.\nimg2\tA man on a bike!\n"
    let references = """
        img1#0\tThe brown dog is running on the green grass.
        img1#1\tA dog runs across the grass in a park
        img1#2\tA small dog is running fast through the green grass.
        img2#0\tMan riding a bike.
        img2#1\tA man is riding his bicycle
        img2#2\tA person cycling down the street.

        """

    func json(_ r: CLIResult) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
    }

    func testWorkedExampleHumanAndJSON() throws {
        let h = try file("h.txt", hypotheses), r = try file("r.txt", references)
        let human = try CLIRunner.run(["score", "--hypotheses", h, "--references", r])
        XCTAssertEqual(human.status, 0, human.stderr)
        for expected in ["images   2", "BLEU-1   0.7667", "BLEU-2   0.6506", "BLEU-3   0.5266", "BLEU-4   0.4600",
                         "CIDEr-D  2.0398", "ROUGE-L  0.7069", "0-1 scale"] {
            XCTAssertTrue(human.stdout.contains(expected), "missing \(expected) in\n\(human.stdout)")
        }
        let r2 = try CLIRunner.run(["score", "--hypotheses", h, "--references", r, "--json"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let j = try json(r2)
        XCTAssertEqual(Set(j.keys), ["images", "bleu1", "bleu2", "bleu3", "bleu4", "cider", "rouge_l"])
        XCTAssertEqual(j["images"] as? Int, 2)
        // ../shared/metrics/README.md §2 and §6 (pycocoevalcap)
        XCTAssertEqual(try XCTUnwrap(j["bleu1"] as? Double), 0.766703678730, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(j["bleu4"] as? Double), 0.46002220722169895, accuracy: 1e-15)
        XCTAssertEqual(try XCTUnwrap(j["cider"] as? Double), 2.0398285731825405, accuracy: 1e-13)
        XCTAssertEqual(try XCTUnwrap(j["rouge_l"] as? Double), 0.7068821658186261, accuracy: 1e-15)
    }

    func testPerImageFiles() throws {
        let h = try file("h.txt", hypotheses), r = try file("r.txt", references)
        let tsv = dir.appendingPathComponent("per.tsv").path, js = dir.appendingPathComponent("per.json").path
        XCTAssertEqual(try CLIRunner.run(["score", "--hypotheses", h, "--references", r, "--per-image", tsv]).status, 0)
        let rows = try String(contentsOfFile: tsv, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows[0], "image\tbleu1\tbleu2\tbleu3\tbleu4\tcider\trouge_l")
        let img2 = rows[2].split(separator: "\t")
        XCTAssertEqual(img2[0], "img2")
        XCTAssertEqual(try XCTUnwrap(Double(img2[3])), 0.000004641589, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(Double(img2[5])), 1.2061508089873185, accuracy: 1e-13)
        XCTAssertEqual(try CLIRunner.run(["score", "--hypotheses", h, "--references", r, "--per-image", js, "--json"]).status, 0)
        let items = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: js))) as? [[String: Any]])
        XCTAssertEqual(items.map { $0["image"] as? String }, ["img1", "img2"])
        XCTAssertEqual(try XCTUnwrap(items[0]["rouge_l"] as? Double), 0.7334669338677354, accuracy: 1e-15)
        XCTAssertEqual(items[1]["hypothesis"] as? String, "A man on a bike!")
    }

    func testCOCOFormats() throws {
        let h = try file("res.json", #"[{"image_id": 1, "caption": "A brown dog is running on grass."}, {"image_id": 2, "caption": "A man on a bike!"}]"#)
        let r = try file("caps.json", #"""
            {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}], "annotations": [
             {"image_id": 1, "caption": "The brown dog is running on the green grass."},
             {"image_id": 1, "caption": "A dog runs across the grass in a park"},
             {"image_id": 1, "caption": "A small dog is running fast through the green grass."},
             {"image_id": 2, "caption": "Man riding a bike."}, {"image_id": 2, "caption": "A man is riding his bicycle"},
             {"image_id": 2, "caption": "A person cycling down the street."}]}
            """#)
        let out = try CLIRunner.run(["score", "--hypotheses", h, "--references", r, "--json"])
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertEqual(try XCTUnwrap(try json(out)["bleu4"] as? Double), 0.46002220722169895, accuracy: 1e-15)
        // hypotheses named by file name are matched through the COCO images list
        let named = try file("named.txt", "a.jpg\tA brown dog is running on grass.\nb.jpg\tA man on a bike!\n")
        let out2 = try CLIRunner.run(["score", "--hypotheses", named, "--references", r, "--json"])
        XCTAssertEqual(out2.status, 0, out2.stderr)
        XCTAssertEqual(try XCTUnwrap(try json(out2)["cider"] as? Double), 2.0398285731825405, accuracy: 1e-13)
    }

    func testBOMAndCRLFAccepted() throws {
        let h = try file("h.txt", [0xEF, 0xBB, 0xBF] + Array(hypotheses.replacingOccurrences(of: "\n", with: "\r\n").utf8))
        let r = try file("r.txt", [0xEF, 0xBB, 0xBF] + Array(references.replacingOccurrences(of: "\n", with: "\r\n").utf8))
        let out = try CLIRunner.run(["score", "--hypotheses", h, "--references", r, "--json"])
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertEqual(try XCTUnwrap(try json(out)["bleu4"] as? Double), 0.46002220722169895, accuracy: 1e-15)
    }

    func testMissingImages() throws {
        let h = try file("h.txt", hypotheses + "img3\tA cat\n"), r = try file("r.txt", references + "img4#0\tA bird\n")
        let out = try CLIRunner.run(["score", "--hypotheses", h, "--references", r])
        assertOneErrorLine(out, mentioning: "image img3 has a hypothesis", silent: true)
        let h2 = try file("h2.txt", hypotheses)
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", h2, "--references", r]), mentioning: "image img4 has references in", silent: true)
        let ok = try CLIRunner.run(["score", "--hypotheses", h, "--references", r, "--allow-missing", "--json"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stderr.contains("skipping 1 image(s) with a hypothesis but no references (first: img3)"), ok.stderr)
        XCTAssertTrue(ok.stderr.contains("(first: img4)"), ok.stderr)
        XCTAssertEqual(try json(ok)["images"] as? Int, 2)
        XCTAssertEqual(try XCTUnwrap(try json(ok)["bleu4"] as? Double), 0.46002220722169895, accuracy: 1e-15)
    }

    func testBadInput() throws {
        let r = try file("r.txt", references), h = try file("h.txt", hypotheses)
        let empty = try file("empty.txt", "")
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", empty, "--references", r]), mentioning: "empty.txt: no captions (empty file)", silent: true)
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", h, "--references", empty]), mentioning: "empty.txt: no captions", silent: true)
        let noTab = try file("notab.txt", "img1\tA dog\nimg2 A man\n")
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", noTab, "--references", r]), mentioning: "notab.txt:2: expected IMAGE<TAB>caption", silent: true)
        let dup = try file("dup.txt", "img1\tA dog\nimg2\tA man\nimg1\tA cat\n")
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", dup, "--references", r]), mentioning: "dup.txt:3: second hypothesis for image img1", silent: true)
        let bad = try file("bad.txt", Array("img1\tA dog\n".utf8) + [0x69, 0x6D, 0x67, 0x32, 0x09, 0xC3, 0x28, 0x0A])
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", bad, "--references", r]), mentioning: "bad.txt:2: not valid UTF-8", silent: true)
        let long = try file("long.txt", "img1\t" + String(repeating: "dog ", count: 100) + "\nimg2\tA man\n")
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", long, "--references", r, "--max-line-bytes", "100"]),
                           mentioning: "long.txt:1: line is longer than the limit of 100 bytes", silent: true)
        let badJSON = try file("bad.json", #"[{"image_id": 1, "caption": 3}]"#)
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", badJSON, "--references", r]), mentioning: "lacks a string \"caption\"", silent: true)
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", h]), mentioning: "missing required option --references", silent: true)
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", h, "--references", dir.appendingPathComponent("nope").path]),
                           mentioning: "cannot open", silent: true)
        assertOneErrorLine(try CLIRunner.run(["score", "--hypotheses", h, "--references", r, "--bogus"]), mentioning: "unknown option --bogus", silent: true)
    }

    /// All 40k Flickr8k captions through the binary: #0 of each image as its hypothesis, #1…#4 as references.
    func testFlickr8kHoldOut() throws {
        let shared = CLIRunner.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")
        let captions = shared.appendingPathComponent("data/flickr8k/captions.txt")
        guard let text = try? String(contentsOf: captions, encoding: .utf8) else {
            throw XCTSkip("../shared not found: skipping the Flickr8k scoring run")
        }
        var hyps = "", refs = ""
        for line in text.split(separator: "\n") {
            if line.split(separator: "\t").first?.hasSuffix("#0") == true {
                hyps += line.replacingOccurrences(of: "#0\t", with: "\t") + "\n"
            } else {
                refs += line + "\n"
            }
        }
        let h = try file("flickr_hyps.txt", hyps), r = try file("flickr_refs.txt", refs)
        let t0 = Date(), c0 = childCPUSeconds()
        let out = try CLIRunner.run(["score", "--hypotheses", h, "--references", r, "--json"])
        let seconds = Date().timeIntervalSince(t0), cpu = childCPUSeconds() - c0
        print("caption score on Flickr8k (40455 captions, 8091 images): \(seconds) s wall, \(cpu) s CPU (whole process)")
        XCTAssertEqual(out.status, 0, out.stderr)
        let j = try json(out)
        XCTAssertEqual(j["images"] as? Int, 8091)
        // pycocoevalcap 1.2 (Tests/MetricsTests/Fixtures/flickr8k_holdout_reference.py)
        XCTAssertEqual(try XCTUnwrap(j["bleu4"] as? Double), 0.212160023058414, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(j["cider"] as? Double), 0.7699271897311616, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(j["rouge_l"] as? Double), 0.4944513492628518, accuracy: 1e-12)
        // CPU time of the child, so that a loaded machine does not fail the test
        XCTAssertLessThan(cpu, 2.0)
    }
}

/// User + system CPU time of the finished child processes.
func childCPUSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) * 1e-6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) * 1e-6
}
