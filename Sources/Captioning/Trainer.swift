import Tensors

/// One training caption: the image's index in the feature table and the caption's word ids
/// (without `<start>`/`<end>`).
public struct TrainingExample: Sendable, Equatable {
    public var image: Int
    public var words: [Int32]
    public init(image: Int, words: [Int32]) { self.image = image; self.words = words }
}

/// Settings of `caption train`; stored in checkpoints so `--resume` can refuse a different configuration.
public struct TrainingOptions: Codable, Sendable, Equatable {
    public var epochs = 20
    public var batchSize = 32
    public var learningRate: Float = 4e-4
    public var seed: UInt64 = 1
    /// Weight of the doubly stochastic attention penalty (Show, Attend and Tell's λ).
    public var attentionPenalty: Float = 1
    /// Gradients are clamped to ±this (the tutorial's 5).
    public var gradientClip: Float = 5
    /// Stop after this many epochs without a better validation BLEU-4.
    public var patience = 4
    /// Multiply the learning rate by this after an epoch without improvement.
    public var decayOnPlateau: Float = 0.8
    /// Linear learning-rate warm-up over this many steps (0 = none); the transformer wants it.
    public var warmupSteps = 0
    /// `--fine-tune-encoder`: the learning rate of the encoder suffix (nil: the encoder is frozen). It follows
    /// the decoder's warm-up and plateau decay (a fixed ratio to the decoder's rate).
    public var encoderLearningRate: Float?
    /// `--fine-tune-from`: the first trainable encoder block (nil: the encoder's default).
    public var fineTuneFrom: String?
    /// Token id of `<start>`, `<end>`.
    public var startToken: Int32 = 1
    public var endToken: Int32 = 2

    public init() {}

    /// Names and values of the fields that differ from `other` (for refusing a mismatched `--resume`).
    public func differences(from other: TrainingOptions) -> [String] {
        var d: [String] = []
        if batchSize != other.batchSize { d.append("batch size \(other.batchSize) vs \(batchSize)") }
        if learningRate != other.learningRate { d.append("learning rate \(other.learningRate) vs \(learningRate)") }
        if seed != other.seed { d.append("seed \(other.seed) vs \(seed)") }
        if attentionPenalty != other.attentionPenalty { d.append("attention penalty \(other.attentionPenalty) vs \(attentionPenalty)") }
        if gradientClip != other.gradientClip { d.append("gradient clip \(other.gradientClip) vs \(gradientClip)") }
        if encoderLearningRate != other.encoderLearningRate {
            let f = { (v: Float?) in v.map { "\($0)" } ?? "frozen" }
            d.append("encoder learning rate \(f(other.encoderLearningRate)) vs \(f(encoderLearningRate))")
        }
        if encoderLearningRate != nil && fineTuneFrom != other.fineTuneFrom {
            d.append("fine-tune cut \(other.fineTuneFrom ?? "default") vs \(fineTuneFrom ?? "default")")
        }
        return d
    }
}

/// Validation figures of one epoch (a real decode of the val split, not teacher-forced).
public struct ValidationScores: Codable, Sendable, Equatable {
    public var bleu: [Double]
    public var cider: Double
    public var rougeL: Double
    public init(bleu: [Double], cider: Double, rougeL: Double) { self.bleu = bleu; self.cider = cider; self.rougeL = rougeL }
}

/// One line of the per-epoch JSON-lines log.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var bleu1: Double, bleu2: Double, bleu3: Double, bleu4: Double
    public var cider: Double
    public var rougeL: Double
    public var seconds: Double
    public var learningRate: Float

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", bleu1, bleu2, bleu3, bleu4, cider, rougeL = "rouge_l", seconds, learningRate = "learning_rate"
    }
}

/// Where training stands; saved in every checkpoint so that `--resume` continues exactly.
public struct TrainingState: Codable, Sendable, Equatable {
    /// Completed epochs.
    public var epoch = 0
    /// Batches already done in the current (unfinished) epoch.
    public var batchInEpoch = 0
    public var step = 0
    /// State of the dropout generator.
    public var dropoutState: UInt64
    public var learningRate: Float
    public var bestBleu4 = -1.0
    public var bestEpoch = 0
    public var epochsWithoutImprovement = 0
    public var lossSum = 0.0
    public var lossCount = 0
    public var secondsInEpoch = 0.0
    public var history: [EpochRecord] = []
    public var finished = false

    public init(options: TrainingOptions) {
        dropoutState = options.seed &* 0x2545F4914F6CDD1D
        learningRate = options.learningRate
    }
}

/// Why a training run returned.
public enum TrainingOutcome: Equatable, Sendable {
    case completed
    case earlyStopped
    case interrupted
}

/// A decoder the trainer can drive: parameters in one store and a teacher-forced forward/backward step.
public protocol TrainableDecoder: AnyObject {
    var parameters: ParameterStore { get }
    /// Whether the step uses the dropout generator.
    var usesDropout: Bool { get }
    /// Forward + backward of one batch, accumulating gradients; with `featureGradient`, the gradient of the
    /// loss with respect to `batch.features` is written there.
    func trainStep(_ batch: CaptionBatch, options: TrainingOptions, rng: inout SeededRandom?,
                   featureGradient: UnsafeMutablePointer<Float>?) -> StepLoss
}

extension TrainableDecoder {
    /// A step without the feature gradient (frozen encoder).
    public func trainStep(_ batch: CaptionBatch, options: TrainingOptions, rng: inout SeededRandom?) -> StepLoss {
        trainStep(batch, options: options, rng: &rng, featureGradient: nil)
    }
}

extension ShowAttendTell: TrainableDecoder {
    public var usesDropout: Bool { config.dropout > 0 }
    public func trainStep(_ batch: CaptionBatch, options: TrainingOptions, rng: inout SeededRandom?,
                          featureGradient: UnsafeMutablePointer<Float>?) -> StepLoss {
        trainStep(batch, attentionPenaltyWeight: config.useAttention ? options.attentionPenalty : 0, rng: &rng,
                  featureGradient: featureGradient)
    }
}

extension TransformerDecoder: TrainableDecoder {
    public var usesDropout: Bool { config.dropout > 0 }
    public func trainStep(_ batch: CaptionBatch, options: TrainingOptions, rng: inout SeededRandom?,
                          featureGradient: UnsafeMutablePointer<Float>?) -> StepLoss {
        trainStep(batch, padToken: 0, rng: &rng, featureGradient: featureGradient)
    }
}

/// Teacher-forced training of a decoder on cached region features, validated after every epoch by a real
/// decode scored with BLEU-4. Batches hold captions of one length (grouped by length, shuffled with a seed
/// per epoch), so resuming mid-epoch replays exactly the same order.
public final class DecoderTrainer<Model: TrainableDecoder> {
    public let model: Model
    public let options: TrainingOptions
    let examples: [TrainingExample]
    let features: [Float]
    let regions: Int

    /// - Parameters: `features`: `[images, regions, encoderSize]` for the images `examples` refer to.
    let encoderSize: Int

    /// `--fine-tune-encoder`: the trainable encoder suffix and the cached prefix activations of the images
    /// `examples` refer to (float16 bits `[images, tuning.prefixCount]`); `features` is then unused.
    public let tuning: EncoderFineTuning?
    let prefix: [UInt16]

    public init(model: Model, options: TrainingOptions, examples: [TrainingExample], features: [Float], regions: Int, encoderSize: Int,
                tuning: EncoderFineTuning? = nil, prefix: [UInt16] = []) {
        self.tuning = tuning
        self.prefix = prefix
        self.encoderSize = encoderSize
        self.model = model
        self.options = options
        self.examples = examples
        self.features = features
        self.regions = regions
    }

    /// The batches of `epoch` (0-based): example indices, one caption length per batch.
    public func batches(epoch: Int) -> [[Int]] {
        var rng = SeededRandom(seed: options.seed &+ UInt64(epoch + 1) &* 0x9E3779B97F4A7C15)
        var byLength: [Int: [Int]] = [:]
        for (i, e) in examples.enumerated() { byLength[e.words.count, default: []].append(i) }
        var out: [[Int]] = []
        for length in byLength.keys.sorted() {
            var group = byLength[length]!
            rng.shuffle(&group)
            var s = 0
            while s < group.count {
                out.append(Array(group[s..<min(s + options.batchSize, group.count)]))
                s += options.batchSize
            }
        }
        rng.shuffle(&out)
        return out
    }

    func makeBatch(_ indices: [Int], features override: [Float]? = nil) -> CaptionBatch {
        let E = encoderSize
        let L = examples[indices[0]].words.count
        var tokens: [Int32] = []
        tokens.reserveCapacity(indices.count * (L + 2))
        var feats: [Float] = []
        feats.reserveCapacity(indices.count * regions * E)
        for i in indices {
            let e = examples[i]
            tokens.append(options.startToken)
            tokens += e.words
            tokens.append(options.endToken)
            if override == nil {
                let o = e.image * regions * E
                feats += features[o..<(o + regions * E)]
            }
        }
        return CaptionBatch(features: override ?? feats, regions: regions, tokens: tokens, lengths: [Int](repeating: L + 1, count: indices.count))
    }

    /// Runs (or resumes) training.
    /// - Parameters:
    ///   - validate: decodes the validation split with the current model and scores it.
    ///   - save: writes a checkpoint of the model, optimiser and state; `best` when this epoch is the best so far.
    ///   - log: receives each epoch's record.
    ///   - checkpointDue: asked after every batch that does not end an epoch; `true` saves a checkpoint there
    ///     (mid-epoch, resumable like an interrupt's), so that a killed run loses at most that much work.
    public func run(state initial: TrainingState, optimizer initialOptimizer: AdamOptimizer?,
                    validate: (Model) throws -> ValidationScores,
                    save: (TrainingState, AdamOptimizer, _ best: Bool) throws -> Void,
                    log: (EpochRecord) throws -> Void = { _ in },
                    progress: Bool = true, checkpointDue: () -> Bool = { false }) throws -> (TrainingOutcome, TrainingState) {
        var state = initial
        var adam = initialOptimizer ?? AdamOptimizer(parameterCount: model.parameters.count, learningRate: state.learningRate)
        if state.finished { return (.completed, state) }
        while state.epoch < options.epochs {
            let plan = batches(epoch: state.epoch)
            let reporter = progress ? ProgressReporter("epoch \(state.epoch + 1)/\(options.epochs)", total: plan.count, unit: "batches",
                                                         startingAt: state.batchInEpoch) : nil
            let started = ProgressReporter.now() - state.secondsInEpoch
            while state.batchInEpoch < plan.count {
                let indices = plan[state.batchInEpoch]
                // Fine-tuning: the suffix runs on the batch's cached prefix activations (one row per caption).
                let encoded = tuning.map { $0.forward(prefix: prefix, images: indices.map { examples[$0].image }) }
                let batch = makeBatch(indices, features: encoded?.regions)
                model.parameters.zeroGradients()
                var rng: SeededRandom? = model.usesDropout ? SeededRandom(seed: state.dropoutState) : nil
                var featureGradient = [Float](repeating: 0, count: encoded == nil ? 0 : batch.features.count)
                let loss = featureGradient.withUnsafeMutableBufferPointer { g in
                    model.trainStep(batch, options: options, rng: &rng, featureGradient: encoded == nil ? nil : g.baseAddress)
                }
                if let rng { state.dropoutState = rng.state }
                if options.gradientClip > 0 { model.parameters.clipGradients(value: options.gradientClip) }
                let warmup = options.warmupSteps > 0 ? min(1, Float(state.step + 1) / Float(options.warmupSteps)) : 1
                adam.learningRate = state.learningRate * warmup
                adam.update(model.parameters)
                if let tuning, let encoded {
                    tuning.backward(encoded.output, regionGradient: featureGradient)
                    if options.gradientClip > 0 { tuning.parameters.clipGradients(value: options.gradientClip) }
                    tuning.optimizer.learningRate = state.learningRate * encoderRatio * warmup
                    tuning.optimizer.update(tuning.parameters)
                }
                state.step += 1
                state.batchInEpoch += 1
                state.lossSum += Double(loss.crossEntropy) * Double(loss.tokens)
                state.lossCount += loss.tokens
                reporter?.update(state.batchInEpoch, extra: "loss \(formatLoss(state.lossSum / Double(max(state.lossCount, 1))))")
                if Interrupt.requested {
                    reporter?.finish()
                    state.secondsInEpoch = ProgressReporter.now() - started
                    try save(state, adam, false)
                    return (.interrupted, state)
                }
                if state.batchInEpoch < plan.count && checkpointDue() {
                    state.secondsInEpoch = ProgressReporter.now() - started
                    try save(state, adam, false)
                }
            }
            reporter?.finish()
            let scores = try validate(model)
            let seconds = ProgressReporter.now() - started
            let record = EpochRecord(epoch: state.epoch + 1, trainLoss: state.lossSum / Double(max(state.lossCount, 1)),
                                     bleu1: scores.bleu[0], bleu2: scores.bleu[1], bleu3: scores.bleu[2], bleu4: scores.bleu[3],
                                     cider: scores.cider, rougeL: scores.rougeL, seconds: seconds, learningRate: state.learningRate)
            state.history.append(record)
            state.epoch += 1
            state.batchInEpoch = 0
            state.lossSum = 0
            state.lossCount = 0
            state.secondsInEpoch = 0
            let improved = scores.bleu[3] > state.bestBleu4
            if improved {
                state.bestBleu4 = scores.bleu[3]
                state.bestEpoch = state.epoch
                state.epochsWithoutImprovement = 0
            } else {
                state.epochsWithoutImprovement += 1
                state.learningRate *= options.decayOnPlateau
            }
            adam.learningRate = state.learningRate
            tuning?.optimizer.learningRate = state.learningRate * encoderRatio
            let stop = state.epochsWithoutImprovement >= options.patience
            if stop || state.epoch >= options.epochs { state.finished = true }
            try log(record)
            try save(state, adam, improved)
            if stop { return (.earlyStopped, state) }
            if Interrupt.requested { return (.interrupted, state) }
        }
        return (.completed, state)
    }

    /// Encoder learning rate over the decoder's.
    var encoderRatio: Float { (options.encoderLearningRate ?? 0) / options.learningRate }

    private func formatLoss(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return "\(r)"
    }
}
