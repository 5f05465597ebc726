import XCTest
import Foundation

/// `caption train` against a full disk, a mismatched `--resume` and SIGKILL at random instants.
final class TrainReliabilityTests: XCTestCase {
    /// A fresh run directory holding a copy of the shared run's checkpoint and model (after 2 epochs).
    func copyOfSharedRun(_ name: String) throws -> (CLIFixture, String) {
        let f = try CLIFixture.shared()
        XCTAssertEqual(f.trainResult.status, 0, f.trainResult.stderr)
        let out = f.root + "/" + name
        try? FileManager.default.removeItem(atPath: out)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for file in ["checkpoint.safetensors", "model.safetensors", "log.jsonl"] {
            try FileManager.default.copyItem(atPath: f.runDirectory + "/" + file, toPath: out + "/" + file)
        }
        return (f, out)
    }

    func errorLines(_ r: CLIResult) -> [Substring] { r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") } }

    func hiddenFiles(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
    }

    /// The completed epochs recorded in a checkpoint's training state (read with Foundation).
    func checkpointEpoch(_ path: String) throws -> Int {
        let state = try XCTUnwrap(CLIFixture.metadata(path)["training.state"], "no training state in \(path)")
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any])
        return try XCTUnwrap(o["epoch"] as? Int)
    }

    func testResumeWithADifferentConfigIsRefusedNamingTheDifference() throws {
        let (f, out) = try copyOfSharedRun("resume-mismatch")
        let before = try Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.safetensors"))
        let cases: [([String], String)] = [
            (["--hidden-size", "32"], "--hidden-size 24 vs 32"),
            (["--embedding-size", "8"], "--embedding-size 16 vs 8"),
            (["--decoder", "transformer"], "decoder lstm vs transformer"),
            (["--batch-size", "8"], "batch size 4 vs 8"),
            (["--learning-rate", "0.5"], "learning rate"),
        ]
        for (change, named) in cases {
            // Later options override earlier ones, so the change replaces the shared run's value.
            let r = try CLIRunner.run(f.trainArguments(out: out, epochs: 3) + change + ["--resume"])
            XCTAssertNotEqual(r.status, 0, "\(change)")
            XCTAssertLessThan(r.status, 128, "\(change): killed by a signal")
            let lines = errorLines(r)
            XCTAssertEqual(lines.count, 1, "\(change): \(r.stderr)")
            XCTAssertTrue(lines.first?.contains(named) ?? false, "\(change): the error names '\(named)': \(r.stderr)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.safetensors")), before, "a refused resume leaves the checkpoint as it was")
        // The same settings resume.
        let r = try CLIRunner.run(f.trainArguments(out: out, epochs: 3) + ["--resume"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testDiskFullWhileSavingACheckpointKeepsThePreviousOne() throws {
        let (f, out) = try copyOfSharedRun("disk-full")
        let checkpoint = out + "/checkpoint.safetensors"
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        let modelSize = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors")).count
        XCTAssertLessThan(modelSize + 4096, before.count, "the checkpoint (with optimizer state) is larger than the model")
        // A file-size limit between the model's and the checkpoint's size (the shell counts 512-byte blocks): the
        // best model and the log still fit, the checkpoint write fails with EFBIG, as on a full disk.
        let blocks = (modelSize + before.count) / 2 / 512
        let args = f.trainArguments(out: out, epochs: 3) + ["--resume", "--patience", "400"]
        let r = try CLIRunner.run(["-c", "ulimit -f \(blocks) && exec \"$0\" \"$@\"", CLIRunner.executable.path] + args,
                                  executable: URL(fileURLWithPath: "/bin/sh"))
        XCTAssertNotEqual(r.status, 0, r.stderr)
        XCTAssertLessThan(r.status, 128, "killed by a signal (SIGXFSZ not ignored?): \(r.stderr)")
        let lines = errorLines(r)
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(lines.first?.contains("checkpoint.safetensors") ?? false, r.stderr)
        XCTAssertTrue(lines.first?.contains("File too large") ?? false, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: checkpoint)), before, "the previous checkpoint is intact")
        XCTAssertEqual(try hiddenFiles(out), [], "no temporary file left behind")
        XCTAssertEqual(try checkpointEpoch(checkpoint), 2)
        // Without the limit, --resume continues from it.
        let resumed = try CLIRunner.run(args)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming at epoch 3"), resumed.stderr)
        XCTAssertEqual(try checkpointEpoch(checkpoint), 3)
    }

    func testSIGKILLAtSeededRandomInstantsAlwaysResumes() throws {
        let f = try CLIFixture.shared()
        let out = f.root + "/sigkill-random"
        try? FileManager.default.removeItem(atPath: out)
        let checkpoint = out + "/checkpoint.safetensors"
        var rng = SplitMix64(seed: 20261201)
        var epochs: [Int] = []
        for i in 0..<5 {
            // A fresh run first (killed once it has a checkpoint), then --resume of whatever the last kill left.
            let args = f.trainArguments(out: out, epochs: 400) + ["--patience", "400"] + (i == 0 ? [] : ["--resume"])
            let p = try BackgroundCaption(args)
            // "epoch 2:" is printed after the first checkpoint is saved.
            XCTAssertTrue(p.wait(for: i == 0 ? "epoch 2:" : "resuming at epoch"), p.stderr)
            // Anywhere in the next 0-300 ms: mid-step, mid-validation or mid-write of a checkpoint.
            usleep(UInt32(rng.next() % 300_000))
            kill(p.process.processIdentifier, SIGKILL)
            _ = p.finish()
            XCTAssertLessThanOrEqual(try hiddenFiles(out).count, 1, "at most the interrupted temporary file")
            epochs.append(try checkpointEpoch(checkpoint))
        }
        XCTAssertEqual(epochs, epochs.sorted(), "the checkpoint never goes back: \(epochs)")
        // The last good checkpoint resumes to one more epoch and finishes.
        let last = try checkpointEpoch(checkpoint)
        let r = try CLIRunner.run(f.trainArguments(out: out, epochs: last + 1) + ["--resume", "--patience", "400"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("resuming at epoch \(last + 1)"), r.stderr)
        XCTAssertEqual(try checkpointEpoch(checkpoint), last + 1)
    }
}

/// A small seeded generator (SplitMix64), so that the kill instants are the same on every run.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
