import XCTest
import Foundation

final class FineTuneCommandTests: XCTestCase {
    func testFineTuneEncoderTrainsAndTheModelAloneDescribes() throws {
        let f = try CLIFixture.shared()
        let out = f.root + "/fine-tune"
        let r = try CLIRunner.run(f.trainArguments(out: out, epochs: 2) + ["--fine-tune-encoder", "--encoder-learning-rate", "0.002"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("fine-tuning small from features.12"), r.stderr)
        XCTAssertTrue(r.stderr.contains("prefix activations (entering features.12, 256x14x14, float16"), r.stderr)
        let meta = try CLIFixture.metadata(out + "/model.safetensors")
        XCTAssertTrue(meta["config"]?.contains("\"fineTunedFrom\":\"features.12\"") ?? false, meta["config"] ?? "")
        let d = try CLIRunner.run(["describe", "--model", out + "/model.safetensors", f.data + "/images/red.ppm"])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertFalse(d.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        // --resume without --fine-tune-encoder is refused in one line; flags that need it too.
        let bad = try CLIRunner.run(f.trainArguments(out: out, epochs: 3) + ["--resume"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("encoder learning rate"), bad.stderr)
        let lone = try CLIRunner.run(f.trainArguments(out: f.root + "/lone") + ["--fine-tune-from", "features.3"])
        XCTAssertNotEqual(lone.status, 0)
        XCTAssertEqual(lone.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count, 1, lone.stderr)
    }

    func testHelpNamesTheFineTuningFlags() throws {
        let r = try CLIRunner.run(["train", "--help"])
        for flag in ["--fine-tune-encoder", "--fine-tune-from", "--encoder-learning-rate", "--cache-chunk"] {
            XCTAssertTrue(r.stdout.contains(flag), "train --help lacks \(flag)")
        }
    }

    /// A feature extraction killed with SIGKILL continues from its last saved piece on the next run.
    func testSIGKILLDuringFeatureExtractionResumes() throws {
        let root = NSTemporaryDirectory() + "caption-extract-kill-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/data/images", withIntermediateDirectories: true)
        var captions = "", names: [String] = []
        for i in 0..<160 {
            let name = "im\(i).ppm"
            names.append(name)
            let (colour, rgb) = CLIFixture.colours[i % CLIFixture.colours.count]
            try CLIFixture.writePPM(root + "/data/images/" + name, size: 24, rgb: rgb, stripe: i % 8)
            captions += "\(name)#0\tA \(colour) square .\n"
        }
        try captions.write(toFile: root + "/data/captions.txt", atomically: true, encoding: .utf8)
        try names.prefix(158).joined(separator: "\n").write(toFile: root + "/data/train.txt", atomically: true, encoding: .utf8)
        try names.suffix(2).joined(separator: "\n").write(toFile: root + "/data/val.txt", atomically: true, encoding: .utf8)
        let args = ["train", "--data", root + "/data", "--encoder", "small", "--epochs", "1", "--batch-size", "32",
                    "--embedding-size", "8", "--attention-size", "8", "--hidden-size", "8", "--min-count", "1",
                    "--cache", root + "/cache", "--cache-chunk", "16", "--quiet"]
        let p = try BackgroundCaption(args + ["--out", root + "/first"])
        // Kill as soon as a piece of the extraction is on disk.
        let end = Date().addingTimeInterval(60)
        var pieces: [String] = []
        while Date() < end && p.process.isRunning {
            let partial = (try? FileManager.default.contentsOfDirectory(atPath: root + "/cache"))?.first { $0.hasSuffix(".partial") }
            pieces = partial.flatMap { try? FileManager.default.contentsOfDirectory(atPath: root + "/cache/" + $0) }?.filter { $0.hasPrefix("part-") } ?? []
            if !pieces.isEmpty { break }
            usleep(1000)
        }
        XCTAssertFalse(pieces.isEmpty, "no piece saved before the run ended: \(p.stderr)")
        kill(p.process.processIdentifier, SIGKILL)
        _ = p.finish()
        let second = try CLIRunner.run(args + ["--out", root + "/second"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("continuing an interrupted extraction at image"), second.stderr)
        let left = try FileManager.default.contentsOfDirectory(atPath: root + "/cache").filter { $0.hasSuffix(".partial") }
        XCTAssertEqual(left, [], "pieces removed once the cache file is complete")
    }
}
