import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif

final class DistillCommandTests: XCTestCase {
    /// A flickr8k-style dataset of seeded PPM images: images/, captions.txt, train.txt, val.txt, test.txt.
    static func makeDataset(in dir: URL, train: Int, val: Int, corrupt: String? = nil) throws -> String {
        let ds = dir.appendingPathComponent("ds")
        let images = ds.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let names = (0..<(train + val)).map { "im\($0).ppm" }
        for (i, n) in names.enumerated() {
            try writePPM(images.appendingPathComponent(n).path, width: 48 + (i % 5) * 9, height: 40 + (i % 3) * 11, seed: i)
        }
        if let corrupt { try Data("P6\n40 40\n255\nshort".utf8).write(to: images.appendingPathComponent(corrupt)) }
        let captions = names.enumerated().map { "\($1)#0\ta test picture number \($0)\n\($1)#1\tanother caption\n" }.joined()
        try Data(captions.utf8).write(to: ds.appendingPathComponent("captions.txt"))
        try Data((names.prefix(train).joined(separator: "\n") + "\n").utf8).write(to: ds.appendingPathComponent("train.txt"))
        try Data((names.suffix(val).joined(separator: "\n") + "\n").utf8).write(to: ds.appendingPathComponent("val.txt"))
        try Data((names.suffix(val).joined(separator: "\n") + "\n").utf8).write(to: ds.appendingPathComponent("test.txt"))
        return ds.path
    }

    /// Distils a tiny student (width 0.25) from a random small teacher on 6 images, returning its file.
    static func makeStudent(in dir: URL) throws -> String {
        let ds = try makeDataset(in: dir, train: 4, val: 2)
        let out = dir.appendingPathComponent("student.safetensors").path
        let r = try CLIRunner.run(["distill", "--teacher", "small", "--data", ds, "--out", out, "--epochs", "1", "--batch-size", "2",
                                   "--width", "0.25", "--cache", dir.appendingPathComponent("cache").path, "--quiet"])
        guard r.status == 0 else { throw NSError(domain: "distill", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.stderr]) }
        return out
    }

    /// The common arguments of a tiny run.
    func tiny(_ ds: String, _ out: String, _ cache: String, epochs: Int = 2, batch: Int = 4) -> [String] {
        ["distill", "--teacher", "small", "--data", ds, "--out", out, "--epochs", "\(epochs)", "--batch-size", "\(batch)",
         "--width", "0.25", "--cache", cache, "--quiet", "--seed", "3"]
    }

    func logLines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
    }

    /// Runs `caption` in the background, waits until `file` exists (the first checkpoint), waits `delay`
    /// seconds more, sends `signal` and returns the exit status and stderr.
    func runAndSignal(_ arguments: [String], when file: String, delay: Double, signal: Int32, stderrFile: URL) throws -> (Int32, Process.TerminationReason, String) {
        let p = Process()
        p.executableURL = CLIRunner.executable
        p.arguments = arguments
        FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        let err = try FileHandle(forWritingTo: stderrFile)
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: file) && p.isRunning && Date() < deadline { usleep(2000) }
        if delay > 0 { usleep(UInt32(delay * 1e6)) }
        if p.isRunning { kill(p.processIdentifier, signal) }
        p.waitUntilExit()
        try err.close()
        return (p.terminationStatus, p.terminationReason, (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "")
    }

    /// The final checkpoint and the deterministic log fields of a run, for exact comparisons.
    func outcome(_ out: String) throws -> (tensors: [String: [Float]], log: [[Double]]) {
        let base = String(out.dropLast(".safetensors".count))
        let ck = try TestSafeTensors(path: base + ".checkpoint.safetensors")
        let log = try logLines(base + ".log.jsonl").map { l in ["epoch", "train_loss", "val_mse", "val_cosine"].map { (l[$0] as? NSNumber)?.doubleValue ?? .nan } }
        return (ck.tensors.mapValues(\.values), log)
    }

    func testTinyDistillationWritesAStudentThatTrainEmbeds() throws {
        let tmp = try makeTemporaryDirectory("distill")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let ds = try Self.makeDataset(in: tmp, train: 8, val: 2)
        let out = tmp.appendingPathComponent("student.safetensors").path
        let r = try CLIRunner.run(tiny(ds, out, tmp.appendingPathComponent("cache").path, epochs: 2, batch: 4).filter { $0 != "--quiet" })
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("distilled 2 epochs"), r.stdout)
        XCTAssertTrue(r.stderr.contains("epoch 2/2"), r.stderr)
        let log = try logLines(tmp.appendingPathComponent("student.log.jsonl").path)
        XCTAssertEqual(log.count, 2)
        for (i, l) in log.enumerated() {
            XCTAssertEqual((l["epoch"] as? NSNumber)?.intValue, i + 1)
            for k in ["train_loss", "val_mse", "val_cosine", "val_relative_mse", "images_per_s", "learning_rate", "seconds"] {
                XCTAssertNotNil(l[k] as? NSNumber, "log lacks \(k): \(l)")
            }
            XCTAssertGreaterThan((l["val_mse"] as? NSNumber)?.doubleValue ?? 0, 0)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("student.checkpoint.safetensors").path))
        // The student file is a small CNN state dict with its configuration, no optimizer state.
        let s = try TestSafeTensors(path: out)
        XCTAssertNotNil(s.metadata["small_cnn_configuration"])
        XCTAssertEqual(s.metadata["distill.teacher"], "small")
        XCTAssertNotNil(s.tensors["features.0.0.weight"])
        XCTAssertNil(s.tensors.keys.first { $0.hasPrefix("optimizer.") || $0.hasPrefix("student.") })

        // caption train --encoder small --encoder-weights accepts it and embeds it in the model.
        let run = tmp.appendingPathComponent("run").path
        let t = try CLIRunner.run(["train", "--data", ds, "--encoder", "small", "--encoder-weights", out, "--epochs", "1", "--out", run,
                                   "--cache", tmp.appendingPathComponent("cache").path, "--min-count", "1", "--quiet", "--val-beam", "1",
                                   "--embedding-size", "8", "--attention-size", "8", "--hidden-size", "8", "--batch-size", "8"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let model = try TestSafeTensors(path: run + "/model.safetensors")
        for (k, v) in s.tensors where !k.hasSuffix("num_batches_tracked") {
            XCTAssertEqual(model.tensors["encoder." + k]?.values, v.values, "encoder.\(k) is not the distilled student's")
        }
    }

    /// Cached teacher maps (computed once, stored in float16, transposed back) give the same training as the
    /// teacher run on every batch, when no augmentation separates the two (a wrong layout would change the loss
    /// at the first step).
    func testCachedTeacherMatchesOnlineTeacher() throws {
        let tmp = try makeTemporaryDirectory("distill-modes")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let ds = try Self.makeDataset(in: tmp, train: 8, val: 2)
        let cache = tmp.appendingPathComponent("cache").path
        var losses: [[Double]] = []
        for mode in ["cached", "online"] {
            let out = tmp.appendingPathComponent("\(mode).safetensors").path
            let r = try CLIRunner.run(tiny(ds, out, cache, epochs: 1) + ["--teacher-mode", mode, "--no-flip", "--min-crop", "1"])
            XCTAssertEqual(r.status, 0, r.stderr)
            losses.append(try logLines(tmp.appendingPathComponent("\(mode).log.jsonl").path).map { ($0["train_loss"] as? NSNumber)?.doubleValue ?? .nan })
        }
        // One epoch: later epochs drift apart (Adam amplifies the float16 rounding of the cached maps).
        XCTAssertEqual(losses[0].count, 1)
        for (a, b) in zip(losses[0], losses[1]) { XCTAssertEqual(a, b, accuracy: 2e-5 * abs(b), "cached \(losses[0]) vs online \(losses[1])") }
    }

    /// Ctrl-C mid-run checkpoints and exits 0 with a resume hint; `--resume` then ends exactly where an
    /// uninterrupted run does (same weights, optimizer state and log).
    func testInterruptThenResumeIsExact() throws {
        let tmp = try makeTemporaryDirectory("distill-sigint")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let ds = try Self.makeDataset(in: tmp, train: 16, val: 2)
        let cache = tmp.appendingPathComponent("cache").path
        let straight = tmp.appendingPathComponent("straight.safetensors").path
        let r = try CLIRunner.run(tiny(ds, straight, cache, batch: 2) + ["--checkpoint-every", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)

        let out = tmp.appendingPathComponent("cut.safetensors").path
        let args = tiny(ds, out, cache, batch: 2) + ["--checkpoint-every", "1"]
        let (status, reason, stderr) = try runAndSignal(args, when: tmp.appendingPathComponent("cut.checkpoint.safetensors").path, delay: 0,
                                                        signal: SIGINT, stderrFile: tmp.appendingPathComponent("err.txt"))
        XCTAssertEqual(reason, .exit)
        XCTAssertEqual(status, 0, stderr)
        XCTAssertTrue(stderr.contains("interrupted: checkpoint saved to") && stderr.contains("--resume"), stderr)
        let resumed = try CLIRunner.run(args + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let a = try outcome(straight), b = try outcome(out)
        XCTAssertEqual(a.log, b.log)
        XCTAssertEqual(a.tensors.count, b.tensors.count)
        for (k, v) in a.tensors { XCTAssertEqual(b.tensors[k], v, "\(k) differs after interrupt + resume") }
    }

    /// SIGKILL at some instant after the first checkpoint leaves a checkpoint that resumes to the same end.
    func testKillLeavesALoadableCheckpoint() throws {
        let tmp = try makeTemporaryDirectory("distill-kill")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let ds = try Self.makeDataset(in: tmp, train: 16, val: 2)
        let cache = tmp.appendingPathComponent("cache").path
        let straight = tmp.appendingPathComponent("straight.safetensors").path
        XCTAssertEqual(try CLIRunner.run(tiny(ds, straight, cache, batch: 2) + ["--checkpoint-every", "1"]).status, 0)
        let out = tmp.appendingPathComponent("killed.safetensors").path
        let args = tiny(ds, out, cache, batch: 2) + ["--checkpoint-every", "1"]
        let checkpoint = tmp.appendingPathComponent("killed.checkpoint.safetensors").path
        for (i, delay) in [0.05, 0.3].enumerated() {
            let (_, reason, _) = try runAndSignal(FileManager.default.fileExists(atPath: checkpoint) ? args + ["--resume"] : args,
                                                  when: checkpoint, delay: delay, signal: SIGKILL, stderrFile: tmp.appendingPathComponent("err.txt"))
            if i == 0 { XCTAssertEqual(reason, .uncaughtSignal, "the run ended before SIGKILL") }
            XCTAssertNoThrow(try TestSafeTensors(path: checkpoint), "the checkpoint is not readable after SIGKILL")
        }
        let resumed = try CLIRunner.run(args + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let a = try outcome(straight), b = try outcome(out)
        XCTAssertEqual(a.log, b.log)
        for (k, v) in a.tensors { XCTAssertEqual(b.tensors[k], v, "\(k) differs after kill + resume") }
    }

    func testBadInputsAreOneLineAndLeaveNoOutput() throws {
        let tmp = try makeTemporaryDirectory("distill-bad")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let ds = try Self.makeDataset(in: tmp, train: 4, val: 2)
        let cache = tmp.appendingPathComponent("cache").path
        let out = tmp.appendingPathComponent("s.safetensors").path
        func run(_ extra: [String], teacher: String = "small", data: String? = nil, out o: String? = nil) throws -> CLIResult {
            try CLIRunner.run(["distill", "--teacher", teacher, "--data", data ?? ds, "--out", o ?? out, "--epochs", "1", "--batch-size", "2",
                               "--width", "0.25", "--cache", cache, "--quiet"] + extra)
        }
        assertOneErrorLine(try run([], teacher: "vgg16"), mentioning: "vgg16")
        assertOneErrorLine(try run([], teacher: "mobilenet_v2"), mentioning: "--teacher-weights")
        assertOneErrorLine(try run(["--teacher-weights", tmp.path + "/none.safetensors"], teacher: "resnet18"), mentioning: "none.safetensors")
        assertOneErrorLine(try run([], out: tmp.path + "/nodir/s.safetensors"), mentioning: "nodir")
        assertOneErrorLine(try run([], data: tmp.path + "/nodata"), mentioning: "nodata")
        assertOneErrorLine(try run(["--resume"]), mentioning: "nothing to resume")
        assertOneErrorLine(try run(["--width", "0"]), mentioning: "--width")
        assertOneErrorLine(try run(["--teacher-mode", "lazy"]), mentioning: "--teacher-mode")
        assertOneErrorLine(try run(["--hint-weight", "-1"]), mentioning: "--hint-weight")
        assertOneErrorLine(try run(["--hint-weight", "1"]), mentioning: "--teacher-mode online")
        assertOneErrorLine(try run(["--hint-weight", "1", "--teacher-mode", "online"]), mentioning: "gives no hints")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        // Weights of another architecture: a small CNN file as the MobileNetV2 / ResNet-50 teacher.
        let student = try Self.makeStudent(in: tmp.appendingPathComponent("st"))
        assertOneErrorLine(try run(["--teacher-weights", student], teacher: "mobilenet_v2"), mentioning: "features.0.0.weight")
        assertOneErrorLine(try run(["--teacher-weights", student], teacher: "resnet50"), mentioning: "conv1.weight")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        // An image that fails to decode is named; nothing is written.
        let broken = try Self.makeDataset(in: tmp.appendingPathComponent("b"), train: 4, val: 2, corrupt: "im1.ppm")
        assertOneErrorLine(try run([], data: broken), mentioning: "im1.ppm")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("s.checkpoint.safetensors").path))

        // --resume with other settings is refused, naming the difference; without --resume the run is kept.
        XCTAssertEqual(try run([]).status, 0)
        assertOneErrorLine(try run(["--resume", "--learning-rate", "0.01"]), mentioning: "--learning-rate")
        assertOneErrorLine(try run(["--resume", "--width", "0.5"]), mentioning: "--width")
        assertOneErrorLine(try run([]), mentioning: "--resume")
    }

    /// Online mode with a ResNet teacher uses its layer2/layer3 hints by default: the checkpoint records the
    /// layout and holds the adapters; the student file does not; `--resume` with another weight is refused.
    func testOnlineResNetTeacherDistilsWithHints() throws {
        guard let shared = encoderTestsSharedDirectory() else { throw XCTSkip("../shared not found: skipping the ResNet-18 hint distillation") }
        let tmp = try makeTemporaryDirectory("distill-hints")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let ds = try Self.makeDataset(in: tmp, train: 4, val: 2)
        let out = tmp.appendingPathComponent("s.safetensors").path
        let args = ["distill", "--teacher", "resnet18", "--teacher-weights", shared + "/weights/synthetic/resnet18_synthetic_f16.safetensors",
                    "--teacher-mode", "online", "--data", ds, "--out", out, "--epochs", "1", "--batch-size", "2", "--width", "0.25",
                    "--cache", tmp.appendingPathComponent("cache").path, "--quiet"]
        let r = try CLIRunner.run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let checkpoint = tmp.appendingPathComponent("s.checkpoint.safetensors").path
        let meta = try CLIFixture.metadata(checkpoint)
        XCTAssertTrue(meta["distillation_hints"]?.contains("\"teacherChannels\":256") ?? false, "\(meta)")
        XCTAssertEqual(Set(try CLIFixture.tensors(checkpoint, prefix: "hint.").keys),
                       ["hint.0.weight", "hint.0.bias", "hint.1.weight", "hint.1.bias"])
        XCTAssertTrue(try CLIFixture.tensors(out, prefix: "hint").isEmpty)
        assertOneErrorLine(try CLIRunner.run(args + ["--resume", "--epochs", "2", "--hint-weight", "0.5"]), mentioning: "--hint-weight")
    }
}
