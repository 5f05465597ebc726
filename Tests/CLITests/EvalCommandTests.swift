import XCTest
import Foundation

final class EvalCommandTests: XCTestCase {
    func testEvalPrintsScoresAndJSONAndWritesPredictions() throws {
        let f = try CLIFixture.shared()
        XCTAssertEqual(f.trainResult.status, 0, f.trainResult.stderr)
        let tsv = f.root + "/pred.tsv", json = f.root + "/pred.json"
        let r = try CLIRunner.run(["eval", "--model", f.model, "--data", f.data, "--split", "test", "--beam", "2", "--json",
                                   "--cache", f.cache, "--predictions", json, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(o["images"] as? Int, 2)
        XCTAssertEqual(o["beam"] as? Int, 2)
        for k in ["bleu1", "bleu2", "bleu3", "bleu4", "cider", "rouge_l", "seconds"] {
            let v = try XCTUnwrap(o[k] as? Double, k)
            XCTAssertGreaterThanOrEqual(v, 0, k)
        }
        XCTAssertLessThanOrEqual(o["bleu1"] as! Double, 1)
        let preds = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as! [[String: Any]]
        XCTAssertEqual(preds.map { $0["image_id"] as? String }, ["purple.ppm", "orange.ppm"])
        XCTAssertTrue(preds.allSatisfy { $0["caption"] is String })

        let text = try CLIRunner.run(["eval", "--model", f.model, "--data", f.data, "--split", "val", "--limit", "1",
                                      "--cache", f.cache, "--predictions", tsv, "--quiet"])
        XCTAssertEqual(text.status, 0, text.stderr)
        for label in ["BLEU-1", "BLEU-4", "CIDEr-D", "ROUGE-L", "images/s"] { XCTAssertTrue(text.stdout.contains(label), text.stdout) }
        let lines = try String(contentsOfFile: tsv, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].hasPrefix("purple.ppm\t"), String(lines[0]))
    }

    func testEvalErrors() throws {
        let f = try CLIFixture.shared()
        for args in [["eval", "--data", f.data], ["eval", "--model", f.data + "/captions.txt", "--data", f.data],
                     ["eval", "--model", f.model, "--data", f.data, "--split", "holdout"]] {
            let r = try CLIRunner.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count, 1, "\(args): \(r.stderr)")
        }
    }
}
