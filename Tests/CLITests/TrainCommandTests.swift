import XCTest
import Foundation

final class TrainCommandTests: XCTestCase {
    func testTrainsTheTinyDatasetAndWritesModelCheckpointAndLog() throws {
        let f = try CLIFixture.shared()
        let r = f.trainResult!
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("trained 2 epochs"), r.stdout)
        XCTAssertTrue(r.stderr.contains("features (train): 6 images encoded by small"), r.stderr)
        let log = try String(contentsOfFile: f.runDirectory + "/log.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 2)
        for (i, line) in log.enumerated() {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            XCTAssertEqual(o["epoch"] as? Int, i + 1)
            for k in ["train_loss", "bleu1", "bleu2", "bleu3", "bleu4", "cider", "rouge_l", "seconds"] { XCTAssertNotNil(o[k] as? Double, k) }
        }
        // The model holds the config, the vocabulary and the small encoder's weights; no optimizer state.
        let meta = try CLIFixture.metadata(f.model)
        XCTAssertEqual(meta["caption.kind"], "caption-model/1")
        XCTAssertTrue(meta["vocabulary"]?.contains("\"square\"") ?? false)
        XCTAssertTrue(meta["config"]?.contains("\"small\"") ?? false)
        XCTAssertFalse(try CLIFixture.tensors(f.model, prefix: "encoder.").isEmpty, "small encoder embedded")
        XCTAssertTrue(try CLIFixture.tensors(f.model, prefix: "optimizer.").isEmpty)
        XCTAssertFalse(try CLIFixture.tensors(f.runDirectory + "/checkpoint.safetensors", prefix: "optimizer.").isEmpty)
    }

    func testSecondRunUsesTheFeatureCacheAndResumeEqualsUninterrupted() throws {
        let f = try CLIFixture.shared()
        let split = f.root + "/split"
        let one = try CLIRunner.run(f.trainArguments(out: split, epochs: 1))
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stderr.contains("features (train): 6 images from the cache"), one.stderr)
        let two = try CLIRunner.run(f.trainArguments(out: split, epochs: 2) + ["--resume"])
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssertTrue(two.stderr.contains("resuming at epoch 2"), two.stderr)
        let a = try CLIFixture.tensors(split + "/checkpoint.safetensors", prefix: "decoder.")
        let b = try CLIFixture.tensors(f.runDirectory + "/checkpoint.safetensors", prefix: "decoder.")
        XCTAssertFalse(a.isEmpty)
        XCTAssertEqual(a, b, "1 epoch + --resume gives bit-identical weights to 2 epochs")
        let logA = try String(contentsOfFile: split + "/log.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(logA.count, 2)
    }

    func testInitFromStartsFromTheModelsWeightsAndVocabulary() throws {
        let f = try CLIFixture.shared()
        let out = f.root + "/init-from"
        let r = try CLIRunner.run(f.trainArguments(out: out, epochs: 1) + ["--init-from", f.model, "--learning-rate", "1e-12"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("decoder initialised from"), r.stderr)
        // With a vanishing learning rate the weights stay (to float rounding) those of the model it started from.
        let start = try CLIFixture.tensors(f.model, prefix: "decoder.")
        let end = try CLIFixture.tensors(out + "/model.safetensors", prefix: "decoder.")
        XCTAssertEqual(Set(start.keys), Set(end.keys))
        func floats(_ d: Data) -> [Float] { d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
        for (k, v) in start {
            let d = zip(floats(v), floats(end[k]!)).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(d, 1e-5, k)
        }
        XCTAssertEqual(try CLIFixture.metadata(out + "/model.safetensors")["vocabulary"], try CLIFixture.metadata(f.model)["vocabulary"])
        let bad = try CLIRunner.run(f.trainArguments(out: f.root + "/init-from-bad", epochs: 1) + ["--init-from", f.root + "/missing.safetensors"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertEqual(bad.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }.count, 1, bad.stderr)
    }

    func testSIGINTSavesACheckpointAndExitsZeroThenResumes() throws {
        let f = try CLIFixture.shared()
        let out = f.root + "/sigint"
        let args = f.trainArguments(out: out, epochs: 400) + ["--patience", "400"]
        let p = try BackgroundCaption(args)
        XCTAssertTrue(p.wait(for: "decoder lstm"), p.stderr)
        XCTAssertTrue(p.wait(for: "epoch 1:"), p.stderr)
        p.process.interrupt()
        let status = p.finish()
        XCTAssertEqual(status, 0, p.stderr)
        XCTAssertTrue(p.stderr.contains("interrupted: checkpoint saved"), p.stderr)
        XCTAssertTrue(p.stderr.contains("--resume"), p.stderr)
        let meta = try CLIFixture.metadata(out + "/checkpoint.safetensors")
        XCTAssertNotNil(meta["training.state"])
        // A fresh run into the used directory is refused; --resume continues (here up to 3 epochs in all).
        let r = try CLIRunner.run(f.trainArguments(out: out, epochs: 3) + ["--patience", "400"])
        XCTAssertNotEqual(r.status, 0, "a fresh run into a used directory is refused")
        XCTAssertTrue(r.stderr.contains("--resume"), r.stderr)
        let resumed = try CLIRunner.run(f.trainArguments(out: out, epochs: 3) + ["--patience", "400", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
    }

    func testSIGKILLLeavesALoadableCheckpointThatResumes() throws {
        let f = try CLIFixture.shared()
        let out = f.root + "/sigkill"
        // Mid-epoch checkpoints as often as they come (every batch), so the kill may land in any of their writes.
        let p = try BackgroundCaption(f.trainArguments(out: out, epochs: 400) + ["--patience", "400", "--checkpoint-minutes", "0.000001"])
        XCTAssertTrue(p.wait(for: "epoch 2:"), p.stderr)
        kill(p.process.processIdentifier, SIGKILL)
        _ = p.finish()
        // Whatever moment it died at, the checkpoint is a complete file (atomic rename), and --resume continues.
        let meta = try CLIFixture.metadata(out + "/checkpoint.safetensors")
        XCTAssertNotNil(meta["training.state"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(".") }
        XCTAssertLessThanOrEqual(leftovers.count, 1, "at most the interrupted temporary file")
        let r = try CLIRunner.run(f.trainArguments(out: out, epochs: 4) + ["--resume", "--patience", "400"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("resuming at epoch"), r.stderr)
    }

    func testBadArgumentsAreOneErrorLine() throws {
        let f = try CLIFixture.shared()
        for args in [["train"], ["train", "--data", f.data, "--encoder", "vgg"], ["train", "--data", f.root + "/nope"],
                     ["train", "--data", f.data, "--out", f.root + "/empty", "--resume"],
                     ["train", "--data", f.data, "--encoder", "mobilenet_v2"],
                     ["train", "--data", f.data, "--decoder", "gru"],
                     ["train", "--data", f.data, "--checkpoint-minutes", "-1"]] {
            let r = try CLIRunner.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.filter { $0.hasPrefix("error: ") }.count, 1, "\(args): \(r.stderr)")
        }
    }
}
