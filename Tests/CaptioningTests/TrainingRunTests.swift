import XCTest
import Tensors
import Vision
@testable import Captioning

/// A stand-in encoder: 2x2 average pooling of a 4x4 input, 3 channels, so the pipeline runs in milliseconds.
final class PoolEncoder: ImageEncoder {
    let name = "pool"
    let featureChannels = 3
    let preprocessing = Preprocessing.direct
    let inputSize = 4
    func features(_ images: Tensor) -> Tensor {
        let n = images.shape[0]
        var out = [Float](repeating: 0, count: n * 3 * 4)
        for i in 0..<n { for c in 0..<3 { for y in 0..<4 { for x in 0..<4 {
            out[((i * 3 + c) * 2 + y / 2) * 2 + x / 2] += images[i, c, y, x] / 4
        } } } }
        return Tensor(shape: [n, 3, 2, 2], out)
    }
}

/// Writes a tiny flickr8k-layout dataset of PPM images: `count` images, each a distinct colour pattern
/// with two captions naming its colour.
func writeTinyDataset(_ dir: String, count: Int = 8) throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
    let colours = ["red", "green", "blue", "white", "black", "yellow", "purple", "orange", "pink", "grey"]
    var captions = ""
    var names: [String] = []
    for i in 0..<count {
        let name = "img\(i).ppm"
        names.append(name)
        var bytes = Array("P6\n4 4\n255\n".utf8)
        for p in 0..<16 {
            bytes += [UInt8((i * 37 + p * 3) % 256), UInt8((i * 91) % 256), UInt8(((i % 3) * 120 + p) % 256)]
        }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/images/" + name))
        let colour = colours[i % colours.count]
        captions += "\(name)#0\tA \(colour) square .\n\(name)#1\tThe square is \(colour) .\n"
    }
    try captions.write(toFile: dir + "/captions.txt", atomically: true, encoding: .utf8)
    try names.prefix(count - 2).joined(separator: "\n").write(toFile: dir + "/train.txt", atomically: true, encoding: .utf8)
    try names.suffix(2).joined(separator: "\n").write(toFile: dir + "/val.txt", atomically: true, encoding: .utf8)
    try names.suffix(2).joined(separator: "\n").write(toFile: dir + "/test.txt", atomically: true, encoding: .utf8)
}

/// The resume scenario every trainer must pass: 2 epochs straight; 1 epoch then `--resume` to 2; interrupted after
/// the first batch (as SIGINT does) then resumed. Both resumed runs must end with checkpoints whose tensors under
/// each of `prefixes` are bit-identical to the straight run's (`final` for the interrupted one), with the same losses.
func assertResumeEqualsUninterrupted(run: (TrainingRunConfiguration, _ interrupt: Bool) throws -> TrainingRunResult,
                                     configuration: (_ out: String, _ epochs: Int) -> TrainingRunConfiguration,
                                     prefixes: [String], interruptedPrefixes: [String]? = nil,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
    func tensors(_ path: String, _ prefix: String) throws -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for (k, v) in try ModelFile(contentsOf: path).tensors where k.hasPrefix(prefix) { out[k] = v.values }
        return out
    }
    let straight = try run(configuration("straight", 2), false)
    _ = try run(configuration("split", 1), false)
    var c = configuration("split", 2)
    c.resume = true
    let resumed = try run(c, false)
    XCTAssertEqual(resumed.state.epoch, 2, file: file, line: line)
    for prefix in prefixes {
        XCTAssertEqual(try tensors(resumed.checkpointPath, prefix), try tensors(straight.checkpointPath, prefix),
                       "bit-identical \(prefix)*", file: file, line: line)
    }
    XCTAssertEqual(resumed.state.history.map(\.trainLoss), straight.state.history.map(\.trainLoss), file: file, line: line)
    // A checkpoint after every batch (the mid-epoch timer at its shortest) changes nothing.
    var frequent = configuration("frequent", 2)
    frequent.checkpointInterval = 1e-9
    let checkpointed = try run(frequent, false)
    for prefix in prefixes {
        XCTAssertEqual(try tensors(checkpointed.checkpointPath, prefix), try tensors(straight.checkpointPath, prefix),
                       "bit-identical \(prefix)* with a checkpoint after every batch", file: file, line: line)
    }
    let interrupted = try run(configuration("sigint", 2), true)
    XCTAssertEqual(interrupted.outcome, .interrupted, file: file, line: line)
    XCTAssertEqual(interrupted.state.batchInEpoch, 1, file: file, line: line)
    var c2 = configuration("sigint", 2)
    c2.resume = true
    let finished = try run(c2, false)
    XCTAssertEqual(finished.outcome, .completed, file: file, line: line)
    for prefix in interruptedPrefixes ?? prefixes {
        XCTAssertEqual(try tensors(finished.checkpointPath, prefix), try tensors(straight.checkpointPath, prefix),
                       "bit-identical \(prefix)* after an interrupt", file: file, line: line)
    }
}

/// A test case with a fresh tiny dataset at `root + "/data"` (removed afterwards, with any SIGINT request reset).
class TinyDatasetTestCase: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "\(type(of: self))-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try writeTinyDataset(root + "/data")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
        Interrupt.reset()
    }
}

final class TrainingRunTests: TinyDatasetTestCase {

    func configuration(out: String, epochs: Int, decoder: String = "lstm") -> TrainingRunConfiguration {
        var c = TrainingRunConfiguration(data: root + "/data")
        c.decoder = decoder
        c.encoder = "pool"
        c.outDirectory = root + "/" + out
        c.cacheDirectory = root + "/cache"
        c.minCount = 1
        c.options.epochs = epochs
        c.options.batchSize = 3
        c.options.learningRate = 0.01
        c.options.patience = 10
        c.lstm.embedding = 8; c.lstm.attention = 8; c.lstm.hidden = 12; c.lstm.dropout = 0.5
        c.transformer.model = 8; c.transformer.heads = 2; c.transformer.feedForward = 16; c.transformer.layers = 1
        c.validationBeam = 2
        c.progress = false
        return c
    }

    func run(_ c: TrainingRunConfiguration, interruptWhenTrainingStarts: Bool = false) throws -> TrainingRunResult {
        let r = TrainingRun(c, log: { line in
            if interruptWhenTrainingStarts && line.hasPrefix("decoder ") { Interrupt.request() }
        }, makeEncoder: { _, _, _, _ in RegionEncoder(encoder: PoolEncoder(), weightsID: "pool", weightsSHA256: nil) })
        defer { Interrupt.reset() }
        return try r.run()
    }

    func testTrainsWritesModelLogAndCheckpoint() throws {
        for decoder in ["lstm", "transformer"] {
            let r = try run(configuration(out: "out-" + decoder, epochs: 2, decoder: decoder))
            XCTAssertEqual(r.outcome, .completed)
            XCTAssertEqual(r.state.epoch, 2)
            let log = try String(contentsOfFile: r.logPath, encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(log.count, 2)
            let first = try JSONSerialization.jsonObject(with: Data(log[0].utf8)) as! [String: Any]
            for key in ["epoch", "train_loss", "bleu1", "bleu2", "bleu3", "bleu4", "cider", "rouge_l", "seconds"] {
                XCTAssertNotNil(first[key], "log lacks \(key)")
            }
            let model = try CaptionModel.load(r.modelPath)
            XCTAssertEqual(model.config.decoder, decoder)
            XCTAssertEqual(model.config.encoder.name, "pool")
            XCTAssertEqual(model.config.encoder.gridSize, 2)
            XCTAssertTrue(model.vocabulary.contains("square"))
            XCTAssertNil(model.file?.tensors["optimizer.m"], "the model file carries no optimizer state")
            // Default search: the val-chosen length penalty for beams, plain greedy for beam 1.
            XCTAssertEqual(model.searchOptions(beam: 3).lengthPenalty, .average(alpha: 0.75))
            XCTAssertEqual(model.searchOptions(beam: 1).lengthPenalty, LengthPenalty.none)
            XCTAssertEqual(model.searchOptions(beam: 5, lengthPenalty: .gnmt(alpha: 1)).lengthPenalty, .gnmt(alpha: 1))
            XCTAssertNotNil(try ModelFile(contentsOf: r.checkpointPath).tensors["optimizer.m"])
            // A second run into the same directory is refused unless it resumes.
            XCTAssertThrowsError(try run(configuration(out: "out-" + decoder, epochs: 2, decoder: decoder)))
        }
    }

    func testResumeEqualsUninterrupted() throws {
        try assertResumeEqualsUninterrupted(run: { try self.run($0, interruptWhenTrainingStarts: $1) },
                                            configuration: { self.configuration(out: $0, epochs: $1) }, prefixes: ["decoder."])
        // Resuming with another learning rate is refused.
        var c3 = configuration(out: "split", epochs: 3)
        c3.resume = true
        c3.options.learningRate = 0.5
        XCTAssertThrowsError(try run(c3)) { XCTAssertTrue("\($0)".contains("learning rate"), "\($0)") }
        // So is resuming with another decoder size or decoder, the difference named.
        var c4 = configuration(out: "split", epochs: 3)
        c4.resume = true
        c4.lstm.hidden = 16
        XCTAssertThrowsError(try run(c4)) { XCTAssertTrue("\($0)".contains("--hidden-size 12 vs 16"), "\($0)") }
        var c5 = configuration(out: "split", epochs: 3, decoder: "transformer")
        c5.resume = true
        XCTAssertThrowsError(try run(c5)) { XCTAssertTrue("\($0)".contains("decoder lstm vs transformer"), "\($0)") }
    }
}
