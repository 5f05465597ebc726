import XCTest
import Foundation

/// Every file of the regression corpus (Tests/Corpus/<fuzz target>/: minimised libFuzzer findings and inputs just
/// above each resource limit) through the command that reads that kind of file: a non-zero exit, no signal, and
/// exactly one `error:` line naming the file.
final class RegressionCorpusTests: XCTestCase {
    static let corpus = CLIRunner.repositoryRoot.appendingPathComponent("Tests/Corpus")

    func files(_ kind: String) throws -> [String] {
        let dir = Self.corpus.appendingPathComponent(kind).path
        guard FileManager.default.fileExists(atPath: dir) else { return [] }  // git keeps no empty directory
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted().map { dir + "/" + $0 }
    }

    func testImagesAreOneErrorLineFromDescribe() throws {
        let f = try CLIFixture.shared()
        var count = 0
        for kind in ["jpeg", "png", "pnm", "bmp"] {
            for path in try files(kind) {
                let name = (path as NSString).lastPathComponent
                let r = try CLIRunner.run(["describe", path, "--model", f.model])
                assertOneErrorLine(r, naming: name, "describe \(kind)/\(name)")
                XCTAssertTrue(r.stdout.isEmpty, "\(name): \(r.stdout)")
                if name.hasPrefix("limit-") { XCTAssertTrue(r.stderr.contains("limit of"), "the limit is named: \(r.stderr)") }
                count += 1
            }
        }
        XCTAssertGreaterThan(count, 0)
    }

    func testSafeTensorsFilesAreOneErrorLineAsModels() throws {
        let f = try CLIFixture.shared()
        let image = f.data + "/images/red.ppm"
        let all = try files("safetensors")
        XCTAssertFalse(all.isEmpty)
        for path in all {
            let name = (path as NSString).lastPathComponent
            let r = try CLIRunner.run(["describe", image, "--model", path])
            assertOneErrorLine(r, naming: name, "describe --model \(name)")
            if name.hasPrefix("limit-") { XCTAssertTrue(r.stderr.contains("limit of"), "the limit is named: \(r.stderr)") }
        }
    }

    /// `file` (a safetensors file) with `change` applied to its `__metadata__`, written to `out`; read and written
    /// with Foundation, independently of the project's reader.
    static func rewriteMetadata(_ file: String, to out: String, _ change: (inout [String: String]) throws -> Void) throws {
        let d = try Data(contentsOf: URL(fileURLWithPath: file))
        let n = d.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var header = try XCTUnwrap(JSONSerialization.jsonObject(with: d.subdata(in: 8..<(8 + n))) as? [String: Any])
        var meta = header["__metadata__"] as? [String: String] ?? [:]
        try change(&meta)
        header["__metadata__"] = meta
        let h = try JSONSerialization.data(withJSONObject: header)
        var bytes = Data((0..<8).map { UInt8((h.count >> (8 * $0)) & 0xFF) })
        bytes += h
        bytes += d.subdata(in: (8 + n)..<d.count)
        try bytes.write(to: URL(fileURLWithPath: out))
    }

    /// Metadata texts in the file that holds them: `config-*` and `vocab-*` as a model's config or vocabulary
    /// (`describe --model`), `smallcnn-*` as its encoder's configuration, `options-*` and `state-*` as a
    /// checkpoint's training options or state (`train --resume`).
    func testMetadataIsOneErrorLineInsideAModelOrCheckpoint() throws {
        let f = try CLIFixture.shared()
        let image = f.data + "/images/red.ppm"
        let all = try files("metadata")
        XCTAssertFalse(all.isEmpty)
        for path in all {
            let name = (path as NSString).lastPathComponent
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            let kind = String(name.prefix { $0 != "-" })
            switch kind {
            case "config", "vocab", "smallcnn":
                let model = f.root + "/corpus-" + name + ".safetensors"
                try Self.rewriteMetadata(f.model, to: model) { meta in
                    switch kind {
                    case "config": meta["config"] = text
                    case "vocab": meta["vocabulary"] = text
                    default:
                        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(meta["config"]!.utf8)) as? [String: Any])
                        var encoder = try XCTUnwrap(config["encoder"] as? [String: Any])
                        encoder["configuration"] = text
                        config["encoder"] = encoder
                        meta["config"] = String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)
                    }
                }
                let r = try CLIRunner.run(["describe", image, "--model", model])
                assertOneErrorLine(r, naming: "corpus-" + name, "describe --model with \(name)")
            case "options", "state":
                let out = f.root + "/corpus-" + name
                try? FileManager.default.removeItem(atPath: out)
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try Self.rewriteMetadata(f.runDirectory + "/checkpoint.safetensors", to: out + "/checkpoint.safetensors") { meta in
                    meta[kind == "options" ? "training.options" : "training.state"] = text
                }
                let r = try CLIRunner.run(f.trainArguments(out: out, epochs: 3) + ["--resume"])
                assertOneErrorLine(r, naming: "checkpoint", "train --resume with \(name)")
            default:
                XCTFail("\(name): metadata corpus files are named config-, vocab-, smallcnn-, options- or state-")
            }
        }
    }

    /// Caption files by prefix: `hyp-`/`ref-` through `caption score`, `token-`, `csv-`, `karpathy-`, `coco-`
    /// as a dataset of that format through `caption vocab`.
    func testCaptionFilesAreOneErrorLine() throws {
        let f = try CLIFixture.shared()
        let hyps = f.root + "/corpus-hypotheses.txt"
        try "red.ppm\ta red square .\n".write(toFile: hyps, atomically: true, encoding: .utf8)
        let all = try files("captions")
        XCTAssertFalse(all.isEmpty)
        for path in all {
            let name = (path as NSString).lastPathComponent
            let kind = String(name.prefix { $0 != "-" })
            let args: [String]
            switch kind {
            case "hyp": args = ["score", "--hypotheses", path, "--references", f.data + "/captions.txt"]
            case "ref": args = ["score", "--hypotheses", hyps, "--references", path]
            case "token": args = ["vocab", "--data", path, "--format", "flickr8k", "--out", f.root + "/corpus-vocab.json"]
            case "csv", "karpathy", "coco": args = ["vocab", "--data", path, "--format", kind, "--out", f.root + "/corpus-vocab.json"]
            default: XCTFail("\(name): caption corpus files are named hyp-, ref-, token-, csv-, karpathy- or coco-"); continue
            }
            let r = try CLIRunner.run(args)
            assertOneErrorLine(r, naming: name, "\(args[0]) \(name)")
            if name.contains("limit-") { XCTAssertTrue(r.stderr.contains("limit of"), "the limit is named: \(r.stderr)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.root + "/corpus-vocab.json"), "no output written")
    }
}
