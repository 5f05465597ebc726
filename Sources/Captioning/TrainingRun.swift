import SafeTensors
import Text
import Tensors
import Vision

/// Everything `caption train` is asked to do.
public struct TrainingRunConfiguration: Sendable {
    public var data: String
    public var format: DatasetFormat?
    public var images: String?
    /// `lstm` or `transformer`.
    public var decoder = "lstm"
    public var encoder = "small"
    public var encoderWeights: String?
    /// Overrides the encoder's own preprocessing (e.g. `direct` feeds Flickr8k's 224x224 images unchanged).
    public var preprocessing: Preprocessing?
    /// A vocabulary file; otherwise one is built from the train split's captions.
    public var vocabulary: String?
    public var minCount = 5
    public var outDirectory = "runs/caption"
    public var resume = false
    /// Start the decoder from this trained model (its vocabulary, decoder configuration and weights), e.g. to adapt a
    /// decoder trained on a teacher's features to a distilled student's.
    public var initFrom: String?
    /// Train on the first `limit` train images (and, unless `validationLimit` says otherwise, the first limit/5 val images).
    public var limit: Int?
    public var validationLimit: Int?
    /// Training captions longer than this many words are dropped.
    public var maxCaptionWords = 30
    /// Beam width of the per-epoch validation decode (1 = greedy).
    public var validationBeam = 3
    public var validationMaxLength = 20
    /// Where region features are cached.
    public var cacheDirectory = ".caption-cache/features"
    /// Images per encoder call while extracting features.
    public var featureBatch = 16
    /// Images per saved piece of an extraction (an interrupted one resumes after the last saved piece).
    public var featureSaveEvery = 256
    public var options = TrainingOptions()
    public var lstm = LSTMSizes()
    public var transformer = TransformerSizes()
    /// Progress lines on stderr.
    public var progress = true
    /// Seconds between mid-epoch checkpoints (0: only at epoch ends and on an interrupt). Not a training
    /// setting: a run may resume with another interval.
    public var checkpointInterval: Double = 600

    public struct LSTMSizes: Sendable {
        public var embedding = 512, attention = 512, hidden = 512
        public var dropout: Float = 0.5
        public var useAttention = true
        public init() {}
    }

    public struct TransformerSizes: Sendable {
        public var model = 512, heads = 8, feedForward = 2048, layers = 3
        public var dropout: Float = 0.1
        public init() {}
    }

    public init(data: String) { self.data = data }
}

/// What a training run produced.
public struct TrainingRunResult: Sendable {
    public var outcome: TrainingOutcome
    public var state: TrainingState
    /// The best model so far (what `describe`/`eval` use).
    public var modelPath: String
    /// The latest checkpoint, with the optimiser state (what `--resume` reads).
    public var checkpointPath: String
    public var logPath: String
    /// Seconds spent extracting features (0 when they came from the cache) and images encoded.
    public var featureSeconds: Double
    public var featureImages: Int
}

/// The `caption train` pipeline: dataset -> vocabulary -> cached region features of every used image ->
/// `DecoderTrainer` with a real (beam-search) decode of the val split after every epoch, scored with the Metrics
/// module -> `model.safetensors` (best epoch), `checkpoint.safetensors` (latest, resumable) and `log.jsonl`
/// in the output directory. All files are written atomically.
public final class TrainingRun {
    public let configuration: TrainingRunConfiguration
    let say: (String) -> Void
    let makeEncoder: (String, String?, Preprocessing?, UInt64) throws -> RegionEncoder

    public var modelPath: String { FileSystem.join(configuration.outDirectory, "model.safetensors") }
    public var checkpointPath: String { FileSystem.join(configuration.outDirectory, "checkpoint.safetensors") }
    public var logPath: String { FileSystem.join(configuration.outDirectory, "log.jsonl") }

    /// - Parameters: `log` receives human-readable status lines (the CLI sends them to stderr);
    ///   `makeEncoder(name, weights, preprocessing, seed)` builds the encoder (tests may inject one).
    public init(_ configuration: TrainingRunConfiguration, log: @escaping (String) -> Void = { _ in },
                makeEncoder: ((String, String?, Preprocessing?, UInt64) throws -> RegionEncoder)? = nil) {
        self.configuration = configuration
        self.say = log
        self.makeEncoder = makeEncoder ?? { name, weights, pre, seed in try EncoderCatalog.make(name: name, weights: weights, preprocessing: pre, seed: seed) }
    }

    public func run() throws -> TrainingRunResult {
        let c = configuration
        try FileSystem.makeDirectories(c.outDirectory)
        var resumed: ModelFile? = nil
        if c.resume {
            guard FileSystem.isFile(checkpointPath) else {
                throw DatasetError("nothing to resume: \(checkpointPath) does not exist")
            }
            do { resumed = try ModelFile(contentsOf: checkpointPath) } catch { throw DatasetError("\(error)") }
            guard let r = resumed, r.extraMetadata["training.state"] != nil else {
                throw DatasetError("\(checkpointPath) has no training state to resume from")
            }
            // Refuse a different model or different settings before any feature extraction.
            let modelDiffs = c.modelDifferences(from: r.config)
            guard modelDiffs.isEmpty else {
                throw DatasetError("--resume with a different model than the checkpoint's (checkpoint vs now): \(modelDiffs.joined(separator: "; "))")
            }
            let diffs = c.options.differences(from: try decodeMetadata(TrainingOptions.self, r, "training.options"))
            guard diffs.isEmpty else {
                throw DatasetError("--resume with different settings than the checkpoint: \(diffs.joined(separator: "; "))")
            }
        } else if FileSystem.isFile(checkpointPath) {
            throw DatasetError("\(c.outDirectory) already holds a training run (checkpoint.safetensors): pass --resume to continue it, or choose another --out")
        }

        // What runs killed mid-write left behind.
        for p in [checkpointPath, modelPath, logPath] { FileBytes.removeStaleTemporaries(of: p) }

        // Data.
        let dataset = try CaptionDataset.load(c.data, format: c.format, images: c.images)
        say(dataset.summary)
        if let w = dataset.warning { say(w) }
        if let n = dataset.splitNote { say("note: " + n) }
        var train = try dataset.split("train"), val = try dataset.split("val")
        if let limit = c.limit { train = Array(train.prefix(limit)) }
        if let v = c.validationLimit ?? c.limit.map({ max(1, ($0 + 4) / 5) }) { val = Array(val.prefix(v)) }
        guard !train.isEmpty else { throw DatasetError("the dataset's train split is empty") }
        guard !val.isEmpty else { throw DatasetError("the dataset's val split is empty: validation needs images") }

        // A model to start from (fine-tuning).
        var initial: ModelFile? = nil
        if let p = c.initFrom, resumed == nil {
            guard c.vocabulary == nil else { throw DatasetError("--init-from brings its own vocabulary: do not pass --vocab") }
            do { initial = try ModelFile(contentsOf: p) } catch { throw DatasetError("\(p): \(error)") }
        }

        // Vocabulary.
        let vocab: Vocabulary
        do {
            if let resumed {
                vocab = try Vocabulary(json: resumed.vocabularyJSON)
            } else if let initial {
                vocab = try Vocabulary(json: initial.vocabularyJSON)
            } else if let p = c.vocabulary {
                vocab = try Vocabulary(json: try DatasetParsers.readText(p))
            } else {
                vocab = Vocabulary(counting: train.flatMap { $0.captions.map(CaptionTokenizer.words) }, minCount: c.minCount)
            }
        } catch let e as VocabularyError {
            throw DatasetError("vocabulary: \(e.description)")
        }

        // Training examples.
        var examples: [TrainingExample] = []
        var dropped = 0, tokens = 0, unknown = 0
        for (i, im) in train.enumerated() {
            for caption in im.captions {
                let words = CaptionTokenizer.words(caption)
                if words.isEmpty || words.count > c.maxCaptionWords { dropped += 1; continue }
                let ids = vocab.encode(words).ids
                tokens += ids.count
                unknown += ids.filter { $0 == Vocabulary.unknown }.count
                examples.append(TrainingExample(image: i, words: ids))
            }
        }
        guard !examples.isEmpty else { throw DatasetError("no usable training caption (all empty or longer than \(c.maxCaptionWords) words)") }
        let unkRate = Double(unknown) / Double(max(tokens, 1)) * 100
        say("vocabulary: \(vocab.count) tokens; \(examples.count) training captions of \(train.count) images (\(dropped) dropped: empty or over \(c.maxCaptionWords) words), <unk> \(Double(Int(unkRate * 10)) / 10) %; \(val.count) val images")
        let examplesID = FeatureCache.hex(examples.reduce(FeatureCache.fingerprint(train.flatMap { Array($0.name.utf8) + [0] })) { h, e in
            FeatureCache.fingerprint(e.words.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } } + [255], seed: h)
        })

        // Encoder and features.
        let encoder: RegionEncoder
        if let resumed {
            let saved = resumed.config.encoder
            if saved.embeddedWeights {
                encoder = try EncoderCatalog.make(for: saved, model: resumed, weights: nil)
            } else {
                encoder = try makeEncoder(saved.name, c.encoderWeights, Preprocessing(rawValue: saved.preprocessing), c.options.seed)
                guard encoder.spec.weightsSHA256 == saved.weightsSHA256, encoder.spec.channels == saved.channels else {
                    throw DatasetError("--encoder-weights is not the \(saved.name) weights file the checkpoint was trained with")
                }
            }
        } else {
            encoder = try makeEncoder(c.encoder, c.encoderWeights, c.preprocessing, c.options.seed)
        }
        var spec = encoder.spec
        let (P, C) = (spec.regions, spec.channels)
        // --fine-tune-encoder: a frozen prefix (cached activations) and a trainable suffix.
        var tuning: EncoderFineTuning? = nil
        if let lr = c.options.encoderLearningRate {
            guard let f = encoder.encoder as? any FineTunableEncoder else {
                throw DatasetError("encoder \(spec.name) cannot be fine-tuned")
            }
            let cut = resumed.flatMap { $0.config.encoder.fineTunedFrom } ?? c.options.fineTuneFrom
            tuning = try EncoderFineTuning(encoder: f, preprocessing: encoder.preprocessing, cut: cut, learningRate: lr)
            spec.embeddedWeights = true
            spec.fineTunedFrom = tuning?.cut
        }
        var featureSeconds = 0.0, featureImages = 0
        func extract(_ images: [CaptionedImage], label: String, key: String, shape: [Int],
                     encode: @escaping ([String]) throws -> [Float]) throws -> [UInt16] {
            let cache = FeatureCache(directory: c.cacheDirectory, saveEvery: c.featureSaveEvery)
            let paths = images.map(\.path)
            let cached = FileSystem.isFile(cache.path(encoderKey: key, images: paths))
            let started = ProgressReporter.now()
            let f = try cache.halfFeatures(encoderKey: key, images: paths, shape: shape, chunk: c.featureBatch,
                                           progressLabel: c.progress ? "features (\(label))" : nil,
                                           resumed: { self.say("features (\(label)): continuing an interrupted extraction at image \($0 + 1) of \(images.count)") }) { chunk in
                if Interrupt.requested {
                    throw DatasetError("interrupted while extracting features: the images done so far are saved in \(c.cacheDirectory); run the same command again to continue")
                }
                return try encode(chunk)
            }
            let s = ProgressReporter.now() - started
            let what = tuning.map { "prefix activations (entering \($0.cut), \($0.prefixShape.map(String.init).joined(separator: "x")), float16: \(FeatureCache.megabytes(images.count * $0.prefixCount * 2)) MB)" } ?? "features"
            if cached {
                say("\(what) (\(label)): \(images.count) images from the cache")
            } else {
                featureSeconds += s
                featureImages += images.count
                say("\(what) (\(label)): \(images.count) images encoded by \(spec.name) in \(ProgressReporter.duration(s)) (\(Double(Int(Double(images.count) / max(s, 1e-9) * 10)) / 10) img/s)")
            }
            return f
        }
        func features(_ images: [CaptionedImage], label: String) throws -> [Float] {
            HalfConversion.toFloat(try extract(images, label: label, key: encoder.cacheKey, shape: [P, C]) { try encoder.encode(paths: $0) })
        }
        func prefixes(_ images: [CaptionedImage], label: String, _ t: EncoderFineTuning) throws -> [UInt16] {
            try extract(images, label: label, key: t.prefixCacheKey, shape: t.prefixShape) { chunk in
                var inputs: [Tensor] = []
                for p in chunk { inputs.append(try encoder.input(path: p)) }
                return t.prefixActivations(inputs)
            }
        }
        let trainFeatures = tuning == nil ? try features(train, label: "train") : []
        var valFeatures = tuning == nil ? try features(val, label: "val") : []
        let trainPrefix = try tuning.map { try prefixes(train, label: "train", $0) } ?? []
        let valPrefix = try tuning.map { try prefixes(val, label: "val", $0) } ?? []

        // Model.
        let config: ModelConfig
        if let resumed {
            config = resumed.config
        } else if let initial {
            let from = initial.config
            let encoderSize = from.lstm?.encoderSize ?? from.transformer?.encoderSize ?? -1
            guard encoderSize == C else {
                throw DatasetError("--init-from: its decoder reads \(encoderSize)-channel regions, but \(spec.name) gives \(C)")
            }
            config = ModelConfig(encoder: spec, decoder: from.decoder, lstm: from.lstm, transformer: from.transformer)
        } else {
            switch c.decoder {
            case "lstm":
                let s = c.lstm
                config = ModelConfig(encoder: spec, decoder: "lstm", lstm: ShowAttendTellConfig(
                    vocabularySize: vocab.count, embeddingSize: s.embedding, encoderSize: C, attentionSize: s.attention,
                    hiddenSize: s.hidden, dropout: s.dropout, useAttention: s.useAttention))
            case "transformer":
                let s = c.transformer
                guard s.heads > 0, s.model % s.heads == 0 else {
                    throw DatasetError("transformer model size \(s.model) must be a multiple of the head count \(s.heads)")
                }
                config = ModelConfig(encoder: spec, decoder: "transformer", transformer: TransformerConfig(
                    vocabularySize: vocab.count, modelSize: s.model, heads: s.heads, feedForwardSize: s.feedForward, layers: s.layers,
                    encoderSize: C, maxPositions: c.maxCaptionWords + 2, dropout: s.dropout))
            default:
                throw DatasetError("unknown decoder '\(c.decoder)' (expected lstm or transformer)")
            }
        }
        let decoder = try CaptionDecoder(config)
        var options = c.options
        var state = TrainingState(options: options)
        var adam: AdamOptimizer? = nil
        if let resumed {
            do { try resumed.load(into: decoder.parameters, prefix: "decoder.") } catch { throw DatasetError("\(checkpointPath): \(error.description)") }
            let saved = try decodeMetadata(TrainingOptions.self, resumed, "training.options")
            let diffs = options.differences(from: saved)
            guard diffs.isEmpty else {
                throw DatasetError("--resume with different settings than the checkpoint: \(diffs.joined(separator: "; "))")
            }
            options.patience = saved.patience
            options.decayOnPlateau = saved.decayOnPlateau
            options.warmupSteps = saved.warmupSteps
            guard resumed.extraMetadata["training.examples"] == examplesID else {
                throw DatasetError("--resume on different training data than the checkpoint's (dataset, --limit or vocabulary changed)")
            }
            state = try decodeMetadata(TrainingState.self, resumed, "training.state")
            do { try state.validate() } catch { throw DatasetError("\(checkpointPath): \(error.description)") }
            guard let m = resumed.tensors["optimizer.m"], let v = resumed.tensors["optimizer.v"],
                  m.values.count == decoder.parameters.count, v.values.count == decoder.parameters.count,
                  let step = resumed.extraMetadata["optimizer.step"].flatMap({ Int($0) }) else {
                throw DatasetError("\(checkpointPath) lacks a valid optimizer state")
            }
            adam = AdamOptimizer(learningRate: state.learningRate, step: step, firstMoment: m.values, secondMoment: v.values)
            if let tuning {
                let store = tuning.parameters
                for e in store.entries {
                    guard let t = resumed.tensors["finetune." + e.name], t.values.count == e.count else {
                        throw DatasetError("\(checkpointPath) lacks the fine-tuned encoder weight '\(e.name)'")
                    }
                    store.setValue(e.name, t.values)
                }
                guard let em = resumed.tensors["optimizer.encoder.m"], let ev = resumed.tensors["optimizer.encoder.v"],
                      em.values.count == store.count, ev.values.count == store.count,
                      let estep = resumed.extraMetadata["optimizer.encoder.step"].flatMap({ Int($0) }) else {
                    throw DatasetError("\(checkpointPath) lacks a valid encoder optimizer state")
                }
                tuning.optimizer = AdamOptimizer(learningRate: tuning.optimizer.learningRate, step: estep,
                                                 firstMoment: em.values, secondMoment: ev.values)
            }
            if state.finished && state.epoch < options.epochs && state.epochsWithoutImprovement < options.patience { state.finished = false }
            say("resuming at epoch \(state.epoch + 1), batch \(state.batchInEpoch + 1) (step \(state.step))")
        } else if let initial {
            do { try initial.load(into: decoder.parameters, prefix: "decoder.") } catch { throw DatasetError("--init-from: \(error.description)") }
            say("decoder initialised from \(c.initFrom ?? "")")
        } else {
            decoder.initialise(seed: options.seed)
        }
        if let tuning {
            say("fine-tuning \(spec.name) from \(tuning.cut): \(tuning.parameters.count) encoder parameters at learning rate \(c.options.encoderLearningRate ?? 0) (batch norm frozen)")
        }
        say("decoder \(config.decoder): \(decoder.parameters.count) parameters; encoder \(spec.name) (\(spec.gridSize)x\(spec.gridSize)x\(C), \(spec.preprocessing))")

        // Validation: a real decode of the val split, scored against the raw references.
        var references: [String: [String]] = [:]
        for im in val { references[im.name] = im.captions }
        let model = CaptionModel(config: config, vocabulary: vocab, decoder: decoder)
        let searchOptions = model.searchOptions(beam: c.validationBeam, maxLength: c.validationMaxLength)
        func validate() throws -> ValidationScores {
            // The current fine-tuned suffix on the cached val prefixes.
            if let tuning { valFeatures = tuning.regionFeatures(prefix: valPrefix, count: val.count) }
            let progress = c.progress ? ProgressReporter("val decode (beam \(c.validationBeam))", total: val.count, unit: "img") : nil
            let hyps = model.decode(features: valFeatures, imageCount: val.count, options: searchOptions, batch: 100, progress: progress)
            var out: [String: String] = [:]
            for (im, h) in zip(val, hyps) { out[im.name] = h.first.map(model.caption) ?? "" }
            if let first = val.first { say("  val \(first.name): \(out[first.name] ?? "")") }
            return try scoreCaptions(hypotheses: out, references: references)
        }

        // Checkpoints and log.
        var history = state.history
        let metadata: [String: String] = ["training.options": try ModelFile.encodeJSON(options), "training.examples": examplesID,
                                          "training.data": c.data]
        let save: (TrainingState, AdamOptimizer, Bool) throws -> Void = { st, opt, best in
            var f = ModelFile(config: config, vocabularyJSON: vocab.json(), extraMetadata: metadata)
            f.extraMetadata["training.state"] = try ModelFile.encodeJSON(st)
            f.add(decoder.parameters, prefix: "decoder.")
            if let tuning {
                // The whole fine-tuned encoder, so the model file alone captions.
                tuning.updateEncoder()
                for (k, v) in tuning.encoder.stateTensors { f.tensors["encoder." + k] = (v.shape, v.scalars) }
            } else {
                for (k, v) in encoder.embeddedTensors { f.tensors["encoder." + k] = v }
            }
            if best { try f.write(to: self.modelPath) }
            f.tensors["optimizer.m"] = ([opt.firstMoment.count], opt.firstMoment)
            f.tensors["optimizer.v"] = ([opt.secondMoment.count], opt.secondMoment)
            f.extraMetadata["optimizer.step"] = String(opt.step)
            if let tuning {
                // The suffix's exact parameters and moments, for --resume.
                f.add(tuning.parameters, prefix: "finetune.")
                f.tensors["optimizer.encoder.m"] = ([tuning.optimizer.firstMoment.count], tuning.optimizer.firstMoment)
                f.tensors["optimizer.encoder.v"] = ([tuning.optimizer.secondMoment.count], tuning.optimizer.secondMoment)
                f.extraMetadata["optimizer.encoder.step"] = String(tuning.optimizer.step)
            }
            try f.write(to: self.checkpointPath)
        }
        let logRecord: (EpochRecord) throws -> Void = { r in
            history.append(r)
            var text = ""
            for h in history { text += try ModelFile.encodeJSON(h) + "\n" }
            do { try FileBytes.writeAtomically(Array(text.utf8), to: self.logPath) } catch { throw DatasetError("\(error)") }
            let f4 = { (v: Double) in String(Double(Int((v * 10000).rounded())) / 10000) }
            self.say("epoch \(r.epoch): train loss \(f4(r.trainLoss)), val BLEU-1 \(f4(r.bleu1)) BLEU-4 \(f4(r.bleu4)) CIDEr-D \(f4(r.cider)) ROUGE-L \(f4(r.rougeL)), \(ProgressReporter.duration(r.seconds))")
        }

        func fit<M: TrainableDecoder>(_ m: M) throws -> (TrainingOutcome, TrainingState) {
            let t = DecoderTrainer(model: m, options: options, examples: examples, features: trainFeatures, regions: P, encoderSize: C,
                                   tuning: tuning, prefix: trainPrefix)
            // Mid-epoch checkpoints every `checkpointInterval` seconds (epoch-end saves restart the clock).
            var lastSave = ProgressReporter.now()
            let timedSave: (TrainingState, AdamOptimizer, Bool) throws -> Void = { st, opt, best in
                try save(st, opt, best)
                lastSave = ProgressReporter.now()
            }
            let interval = c.checkpointInterval
            return try t.run(state: state, optimizer: adam, validate: { _ in try validate() }, save: timedSave, log: logRecord,
                             progress: c.progress, checkpointDue: { interval > 0 && ProgressReporter.now() - lastSave >= interval })
        }
        let (outcome, final): (TrainingOutcome, TrainingState)
        switch decoder {
        case .lstm(let m): (outcome, final) = try fit(m)
        case .transformer(let m): (outcome, final) = try fit(m)
        }
        return TrainingRunResult(outcome: outcome, state: final, modelPath: modelPath, checkpointPath: checkpointPath, logPath: logPath,
                                 featureSeconds: featureSeconds, featureImages: featureImages)
    }

    func decodeMetadata<T: Decodable>(_ type: T.Type, _ f: ModelFile, _ key: String) throws -> T {
        guard let text = f.extraMetadata[key] else { throw DatasetError("\(checkpointPath) lacks '\(key)'") }
        do { return try ModelFile.decodeJSON(type, text, what: key) } catch { throw DatasetError("\(checkpointPath): \(error.description)") }
    }
}
