import XCTest
import Tensors
@testable import Captioning

final class TrainerTests: XCTestCase {
    struct Snapshot { var state: TrainingState; var adam: AdamOptimizer; var weights: [Float] }

    let config = ShowAttendTellConfig(vocabularySize: 12, embeddingSize: 6, encoderSize: 5, attentionSize: 4, hiddenSize: 7, dropout: 0.5)
    let regions = 3

    func data() -> ([TrainingExample], [Float]) {
        var rng = SeededRandom(seed: 8)
        let feats = (0..<(6 * regions * 5)).map { _ in rng.uniform(-1, 1) }
        let ex = (0..<20).map { i in TrainingExample(image: i % 6, words: (0..<(2 + i % 3)).map { _ in Int32(4 + rng.int(below: 8)) }) }
        return (ex, feats)
    }

    func trainer(_ seed: UInt64 = 1, epochs: Int = 2) -> DecoderTrainer<ShowAttendTell> {
        let (ex, feats) = data()
        let m = ShowAttendTell(config)
        m.initialise(seed: 4)
        var o = TrainingOptions()
        o.epochs = epochs
        o.batchSize = 4
        o.learningRate = 0.01
        o.seed = seed
        o.patience = 10
        return DecoderTrainer(model: m, options: o, examples: ex, features: feats, regions: regions, encoderSize: 5)
    }

    func validate(_ m: ShowAttendTell) -> ValidationScores {
        ValidationScores(bleu: [0, 0, 0, Double(m.parameters.values[0])], cider: 0, rougeL: 0)
    }

    func testBatchesGroupCaptionsByLengthAndCoverEveryExampleOnce() {
        let t = trainer()
        let b = t.batches(epoch: 0)
        XCTAssertEqual(b.flatMap { $0 }.sorted(), Array(0..<20))
        for batch in b { XCTAssertEqual(Set(batch.map { t.examples[$0].words.count }).count, 1) }
        XCTAssertNotEqual(b, t.batches(epoch: 1), "a new order every epoch")
        XCTAssertEqual(b, trainer().batches(epoch: 0), "the same seed gives the same order")
    }

    func testResumeContinuesExactly() throws {
        // Uninterrupted: two epochs.
        let straight = trainer()
        var last: Snapshot?
        var losses: [Double] = []
        let (outcome, _) = try straight.run(state: TrainingState(options: straight.options), optimizer: nil, validate: validate,
                                            save: { s, a, _ in last = Snapshot(state: s, adam: a, weights: straight.model.parameters.values) },
                                            log: { losses.append($0.trainLoss) }, progress: false)
        XCTAssertEqual(outcome, .completed)
        XCTAssertEqual(losses.count, 2)

        // Interrupted after the first batch, then after the first epoch, resumed each time from the saved state.
        defer { Interrupt.reset() }
        var saved: Snapshot?
        var t = trainer()
        Interrupt.request()
        var (o, _) = try t.run(state: TrainingState(options: t.options), optimizer: nil, validate: validate,
                               save: { s, a, _ in saved = Snapshot(state: s, adam: a, weights: t.model.parameters.values) }, progress: false)
        Interrupt.reset()
        XCTAssertEqual(o, .interrupted)
        XCTAssertEqual(saved?.state.batchInEpoch, 1)
        var resumedLosses: [Double] = []
        for _ in 0..<2 {
            let snap = saved!
            t = trainer()
            t.model.parameters.values = snap.weights
            (o, _) = try t.run(state: snap.state, optimizer: snap.adam, validate: validate,
                               save: { s, a, _ in
                                   saved = Snapshot(state: s, adam: a, weights: t.model.parameters.values)
                                   if s.epoch == 1 { Interrupt.request() }
                               },
                               log: { resumedLosses.append($0.trainLoss) }, progress: false)
            Interrupt.reset()
        }
        XCTAssertEqual(o, .completed)
        XCTAssertEqual(resumedLosses, losses, "same per-epoch losses")
        XCTAssertEqual(saved!.weights, last!.weights, "bit-identical weights after resuming")
        XCTAssertEqual(saved!.state.step, last!.state.step)
    }

    /// `checkpointDue` saves within epochs (never on an epoch's last batch, which the epoch-end save covers), and
    /// training resumed from such a mid-epoch save ends bit-identical to an uninterrupted run.
    func testMidEpochCheckpointsResumeExactly() throws {
        let straight = trainer()
        var last: Snapshot?
        _ = try straight.run(state: TrainingState(options: straight.options), optimizer: nil, validate: validate,
                             save: { s, a, _ in last = Snapshot(state: s, adam: a, weights: straight.model.parameters.values) }, progress: false)
        let batchesPerEpoch = straight.batches(epoch: 0).count
        XCTAssertGreaterThan(batchesPerEpoch, 3)

        let t = trainer()
        var saves: [Snapshot] = []
        _ = try t.run(state: TrainingState(options: t.options), optimizer: nil, validate: validate,
                      save: { s, a, _ in saves.append(Snapshot(state: s, adam: a, weights: t.model.parameters.values)) },
                      progress: false, checkpointDue: { true })
        XCTAssertEqual(saves.count, 2 * batchesPerEpoch, "one save after every batch: mid-epoch ones and the epoch ends")
        XCTAssertEqual(saves.filter { $0.state.batchInEpoch > 0 }.count, 2 * (batchesPerEpoch - 1))
        XCTAssertEqual(saves.last!.weights, last!.weights, "saving changes nothing")
        let mid = try XCTUnwrap(saves.first { $0.state.epoch == 1 && $0.state.batchInEpoch == 2 })
        let resumed = trainer()
        resumed.model.parameters.values = mid.weights
        var final: Snapshot?
        _ = try resumed.run(state: mid.state, optimizer: mid.adam, validate: validate,
                            save: { s, a, _ in final = Snapshot(state: s, adam: a, weights: resumed.model.parameters.values) }, progress: false)
        XCTAssertEqual(final!.weights, last!.weights, "bit-identical weights after resuming mid-epoch")
        XCTAssertEqual(final!.state.history.map(\.trainLoss), last!.state.history.map(\.trainLoss))
    }

    func testSameSeedSameLossesDifferentSeedDifferentLosses() throws {
        func losses(_ seed: UInt64) throws -> [Double] {
            let t = trainer(seed, epochs: 2)
            var l: [Double] = []
            _ = try t.run(state: TrainingState(options: t.options), optimizer: nil, validate: validate, save: { _, _, _ in },
                          log: { l.append($0.trainLoss) }, progress: false)
            return l
        }
        XCTAssertEqual(try losses(3), try losses(3))
        XCTAssertNotEqual(try losses(3), try losses(4))
    }

    func testTransformerTrainsThroughTheSameTrainer() throws {
        let (ex, feats) = data()
        let m = TransformerDecoder(TransformerConfig(vocabularySize: 12, modelSize: 8, heads: 2, feedForwardSize: 16, layers: 1, encoderSize: 5, maxPositions: 8))
        m.initialise(seed: 1)
        var o = TrainingOptions()
        o.epochs = 3
        o.batchSize = 4
        o.learningRate = 0.01
        let t = DecoderTrainer(model: m, options: o, examples: ex, features: feats, regions: regions, encoderSize: 5)
        var losses: [Double] = []
        let (outcome, state) = try t.run(state: TrainingState(options: o), optimizer: nil,
                                         validate: { _ in ValidationScores(bleu: [0, 0, 0, 0], cider: 0, rougeL: 0) },
                                         save: { _, _, _ in }, log: { losses.append($0.trainLoss) }, progress: false)
        XCTAssertEqual(outcome, .completed)
        XCTAssertEqual(state.epoch, 3)
        XCTAssertLessThan(losses.last!, losses.first!)
    }
}
