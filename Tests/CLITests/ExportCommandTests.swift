import XCTest
import Foundation

final class ExportCommandTests: XCTestCase {
    func dtypes(_ path: String) throws -> [String: String] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = d.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: d.subdata(in: 8..<(8 + n))) as! [String: Any]
        var out: [String: String] = [:]
        for (k, v) in header where k != "__metadata__" { out[k] = (v as! [String: Any])["dtype"] as? String }
        return out
    }

    func testExportHalvesTheWeightsDropsTrainingStateAndStillCaptions() throws {
        let f = try CLIFixture.shared()
        XCTAssertEqual(f.trainResult.status, 0, f.trainResult.stderr)
        let checkpoint = f.runDirectory + "/checkpoint.safetensors"
        let out = f.root + "/exported.safetensors"
        let r = try CLIRunner.run(["export", "--model", checkpoint, "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("float16"), r.stdout)
        let types = try dtypes(out)
        XCTAssertFalse(types.isEmpty)
        XCTAssertTrue(types.keys.allSatisfy { !$0.hasPrefix("optimizer.") }, "optimizer state dropped")
        XCTAssertTrue(types.values.allSatisfy { $0 == "F16" }, "\(Set(types.values))")
        XCTAssertTrue(types.keys.contains { $0.hasPrefix("encoder.") }, "the embedded encoder is kept")
        let meta = try CLIFixture.metadata(out)
        XCTAssertNil(meta["training.state"])
        XCTAssertEqual(meta["vocabulary"], try CLIFixture.metadata(checkpoint)["vocabulary"])
        let inSize = try FileManager.default.attributesOfItem(atPath: f.model)[.size] as! Int
        let outSize = try FileManager.default.attributesOfItem(atPath: out)[.size] as! Int
        XCTAssertLessThan(Double(outSize), 0.6 * Double(inSize), "float16 halves the weights")
        // The exported model captions the images.
        let d = try CLIRunner.run(["describe", f.data + "/images", "--model", out])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertEqual(d.stdout.split(separator: "\n").count, CLIFixture.colours.count)
    }

    func testBadInputIsOneErrorLineAndNoOutput() throws {
        let f = try CLIFixture.shared()
        let out = f.root + "/never.safetensors"
        for args in [["export", "--model", f.root + "/missing.safetensors", "--out", out],
                     ["export", "--model", f.data + "/captions.txt", "--out", out],
                     ["export", "--model", f.model, "--out", f.root + "/no/such/dir/m.safetensors"],
                     ["export", "--model", f.model]] {
            let r = try CLIRunner.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, r.stderr)
            XCTAssertTrue(lines.first?.hasPrefix("error: ") ?? false, r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
