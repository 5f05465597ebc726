import XCTest
import Foundation

/// Every file of the committed hostile corpora, run through the command line: a non-zero exit and exactly one
/// `error:` line that names the file — never a crash (a signal), a hang or a second line.
final class HostileInputTests: XCTestCase {
    static var corpus: URL {
        CLIRunner.repositoryRoot.appendingPathComponent("Tests/ImageCodecsTests/Fixtures/hostile")
    }

    func testEveryHostileImageIsOneErrorLineFromDescribe() throws {
        let f = try CLIFixture.shared()
        XCTAssertEqual(f.trainResult.status, 0, f.trainResult.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { !$0.hasSuffix(".py") }.sorted()
        XCTAssertGreaterThan(files.count, 40)
        for name in files {
            let path = Self.corpus.appendingPathComponent(name).path
            let r = try CLIRunner.run(["describe", path, "--model", f.model])
            assertOneErrorLine(r, naming: name, "describe \(name)")
            XCTAssertTrue(r.stdout.isEmpty, "describe \(name) printed a caption: \(r.stdout)")
        }
    }

    func testHostileModelFilesAreOneErrorLine() throws {
        let f = try CLIFixture.shared()
        let model = try Data(contentsOf: URL(fileURLWithPath: f.model))
        let image = f.data + "/images/red.ppm"
        var cases: [(String, Data)] = [("empty.safetensors", Data()), ("eight.safetensors", model.prefix(8))]
        for cut in [9, 100, model.count / 2, model.count - 1] { cases.append(("truncated-\(cut).safetensors", model.prefix(cut))) }
        var huge = model; huge.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        cases.append(("huge-header.safetensors", huge))
        var notJSON = model; notJSON[8] = UInt8(ascii: "#")
        cases.append(("not-json.safetensors", notJSON))
        cases.append(("text.safetensors", Data("hello\n".utf8)))
        for (name, bytes) in cases {
            let path = f.root + "/" + name
            try bytes.write(to: URL(fileURLWithPath: path))
            let r = try CLIRunner.run(["describe", image, "--model", path])
            assertOneErrorLine(r, naming: name, "describe --model \(name)")
        }
        // A directory where a model file is expected.
        let r = try CLIRunner.run(["describe", image, "--model", f.root])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count, 1, r.stderr)
    }

    func testHostileCaptionFilesAreOneErrorLineFromScore() throws {
        let f = try CLIFixture.shared()
        let refs = f.data + "/captions.txt"
        let cases: [(String, [UInt8])] = [
            ("empty.tsv", []),
            ("no-tab.tsv", Array("red.ppm a red square\n".utf8)),
            ("bad-utf8.tsv", Array("red.ppm\ta ".utf8) + [0xFF, 0xFE, 0x0A]),
            ("duplicate.tsv", Array("red.ppm\ta red square\nred.ppm\tanother\n".utf8)),
            ("long-line.tsv", Array("red.ppm\t".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 200_000)),
            ("bad.json", Array("[{\"image_id\": 1, \"caption\": ".utf8)),
        ]
        for (name, bytes) in cases {
            let path = f.root + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let r = try CLIRunner.run(["score", "--hypotheses", path, "--references", refs])
            assertOneErrorLine(r, naming: name, "score \(name)")
        }
    }
}
