#if canImport(Glibc)
import Glibc
#endif
import NeuralNetwork
import SafeTensors
import Tensors
import Vision

/// Where a distillation run takes the teacher's features from.
public enum DistillationTeacherMode: String, Sendable, CaseIterable {
    /// The teacher encodes every (un-augmented) image once, into the feature cache; training uses random
    /// horizontal flips with mirrored teacher maps (no crops). Cheapest: an epoch costs student time only.
    case cached
    /// The teacher runs on every augmented batch: random crops and flips, exact targets; an epoch costs a
    /// teacher forward pass per image on top of the student's training step.
    case online
}

/// Everything `caption distill` is asked to do.
public struct DistillationRunConfiguration: Sendable {
    public var data: String
    public var format: DatasetFormat?
    public var images: String?
    /// `mobilenet_v2`, `resnet18`, `resnet34`, `resnet50`, or `small` (a small CNN file; without weights a
    /// seeded random network, for tests).
    public var teacher: String
    public var teacherWeights: String?
    /// The student encoder file to write (what `caption train --encoder small --encoder-weights` reads).
    public var out: String
    public var resume = false
    /// Train on the first `limit` train images (and validate on the first limit/5 val images unless `validationLimit`).
    public var limit: Int?
    public var validationLimit: Int?
    public var teacherMode = DistillationTeacherMode.cached
    /// Channel multiplier of the student (1: `SmallCNNConfiguration.standard`, 1.46 M parameters with a 1280 projection).
    public var width = 1.0
    public var options = DistillationOptions()
    /// Weight of the teacher's hints (`DistillationOptions.hintWeight`); nil: 1 in online mode with a teacher
    /// that gives hints (MobileNetV2, ResNets), else 0.
    public var hintWeight: Float?
    /// Checkpoint every this many batches within an epoch (and always at the end of each epoch); 0: epochs only.
    public var checkpointEvery = 100
    public var cacheDirectory = ".caption-cache/features"
    /// Images per teacher call while filling the cache, and per student call while validating.
    public var featureBatch = 16
    public var progress = true

    public init(data: String, teacher: String, teacherWeights: String?, out: String) {
        self.data = data
        self.teacher = teacher
        self.teacherWeights = teacherWeights
        self.out = out
    }
}

/// One line of the per-epoch log (`<out>.log.jsonl`).
public struct DistillationEpochRecord: Codable, Sendable, Equatable {
    /// 1-based.
    public var epoch: Int
    public var trainLoss: Double
    /// Mean squared error of the student's val features against the teacher's.
    public var valMSE: Double
    /// Mean over val regions of the cosine between student and teacher feature vectors.
    public var valCosine: Double
    /// `valMSE` divided by the variance of the teacher's val features (0 = perfect, 1 = predicting the mean).
    public var valRelativeMSE: Double
    public var learningRate: Double
    /// Wall time of the epoch in this process (training and validation) and training images per second.
    public var seconds: Double
    public var imagesPerSecond: Double
    /// Whether this epoch's student was written to the output file (lowest val MSE so far).
    public var best: Bool

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", valMSE = "val_mse", valCosine = "val_cosine", valRelativeMSE = "val_relative_mse"
        case learningRate = "learning_rate", seconds, imagesPerSecond = "images_per_s", best
    }
}

/// What a distillation run produced.
public struct DistillationRunResult: Sendable {
    public enum Outcome: Sendable, Equatable {
        case completed
        /// SIGINT/SIGTERM during training: a checkpoint was written; `--resume` continues.
        case interrupted
        /// SIGINT while the teacher's features were being computed: nothing was written.
        case interruptedBeforeTraining
    }
    public var outcome: Outcome
    public var state: DistillationState
    public var outPath: String
    public var checkpointPath: String
    public var logPath: String
    /// Every epoch so far (across resumes).
    public var history: [DistillationEpochRecord]
    /// Training images per second in this process (student steps, and the teacher in online mode).
    public var imagesPerSecond: Double
}

/// The `caption distill` pipeline: dataset -> teacher (loaded by name) -> teacher features of the train and val
/// images (feature cache) -> `Distiller` training a random-initialised `SmallCNN` -> after every epoch the val
/// features are compared (MSE, cosine) and the best student is written to `out` as a small CNN encoder file;
/// `<out>.checkpoint.safetensors` (atomic, every epoch and every `checkpointEvery` batches, and on SIGINT)
/// resumes exactly; `<out>.log.jsonl` holds one JSON line per epoch.
public final class DistillationRun {
    public let configuration: DistillationRunConfiguration
    let say: (String) -> Void

    /// Metadata keys this run adds to the Distiller's checkpoints (checked on `--resume`).
    static let identityKeys = ["distill.teacher", "distill.teacher_weights", "distill.teacher_mode", "distill.data", "distill.student"]

    public var checkpointPath: String { Self.sibling(configuration.out, "checkpoint.safetensors") }
    public var logPath: String { Self.sibling(configuration.out, "log.jsonl") }

    /// `dir/name.safetensors` -> `dir/name.<suffix>`.
    static func sibling(_ out: String, _ suffix: String) -> String {
        let base = out.hasSuffix(".safetensors") ? String(out.dropLast(".safetensors".count)) : out
        return base + "." + suffix
    }

    public init(_ configuration: DistillationRunConfiguration, log: @escaping (String) -> Void = { _ in }) {
        self.configuration = configuration
        self.say = log
    }

    /// The student architecture for a teacher with `channels` output channels at `width`.
    public static func studentConfiguration(channels: Int, width: Double) -> SmallCNNConfiguration {
        var c = SmallCNNConfiguration.standard(projectionChannels: channels)
        func scaled(_ v: Int) -> Int { max(4, Int((Double(v) * width / 4).rounded()) * 4) }
        c.stemChannels = scaled(c.stemChannels)
        c.blocks = c.blocks.map { SmallCNNConfiguration.Block(scaled($0.channels), stride: $0.stride) }
        return c
    }

    struct Interrupted: Error {}

    public func run() throws -> DistillationRunResult {
        let c = configuration
        try ImagePaths.checkOutput(c.out)
        if c.resume {
            guard FileSystem.isFile(checkpointPath) else { throw DatasetError("nothing to resume: \(checkpointPath) does not exist") }
        } else if FileSystem.isFile(checkpointPath) {
            throw DatasetError("\(checkpointPath) already exists: pass --resume to continue that run, or choose another --out")
        }
        let teacherNames = ["mobilenet_v2", "resnet18", "resnet34", "resnet50", "small"]
        guard teacherNames.contains(c.teacher) else {
            throw DatasetError("unknown teacher '\(c.teacher)' (expected one of \(teacherNames.joined(separator: ", ")))")
        }
        if c.teacher != "small" && c.teacherWeights == nil {
            throw DatasetError("teacher \(c.teacher) needs its pretrained weights: pass --teacher-weights FILE")
        }
        guard c.width > 0, c.width <= 8 else { throw DatasetError("--width expects a number in (0, 8], got \(c.width)") }

        // Data.
        let dataset = try CaptionDataset.load(c.data, format: c.format, images: c.images)
        say(dataset.summary)
        if let w = dataset.warning { say(w) }
        var train = try dataset.split("train"), val = try dataset.split("val")
        if let limit = c.limit { train = Array(train.prefix(limit)) }
        if let v = c.validationLimit ?? c.limit.map({ max(1, ($0 + 4) / 5) }) { val = Array(val.prefix(v)) }
        guard train.count >= 2 else { throw DatasetError("the dataset's train split has \(train.count) image(s): distillation needs at least 2") }
        guard !val.isEmpty else { throw DatasetError("the dataset's val split is empty: validation needs images") }

        // Teacher and student.
        if c.teacher == "small" && c.teacherWeights == nil { say("warning: teacher small without --teacher-weights: a random network (for tests)") }
        let teacher = try LoadedEncoder(name: c.teacher, weights: c.teacherWeights, allowRandomSmall: true, seed: 7)
        let size = 224
        // One pass on a blank image gives the teacher's grid and, for a teacher with hints, their shapes.
        let hintTeacher = teacher.encoder as? any HintTeacher
        let blank = Tensor(shape: [1, 3, size, size])
        let (probe, probeHints) = hintTeacher.map { $0.featuresAndHints(blank) } ?? (teacher.features(blank), [])
        guard probe.rank == 4 else { throw DatasetError("teacher \(c.teacher) gives features of shape \(probe.shape), expected [N, C, h, w]") }
        let (C, gh, gw) = (probe.shape[1], probe.shape[2], probe.shape[3])
        let P = gh * gw
        let studentConfig = Self.studentConfiguration(channels: C, width: c.width)
        let sg = (size + studentConfig.totalStride - 1) / studentConfig.totalStride
        guard gh == sg, gw == sg else {
            throw DatasetError("teacher \(c.teacher) gives a \(gh)x\(gw) grid at \(size)x\(size), the student \(sg)x\(sg)")
        }
        var options = c.options
        if c.teacherMode == .cached { options.minimumCropArea = 1 }
        if let w = c.hintWeight, w > 0 {
            guard c.teacherMode == .online else { throw DatasetError("--hint-weight needs --teacher-mode online (the teacher's inner maps are not cached)") }
            guard hintTeacher != nil else { throw DatasetError("teacher \(c.teacher) gives no hints: use --hint-weight 0") }
            options.hintWeight = w
        } else {
            options.hintWeight = c.hintWeight ?? (c.teacherMode == .online && hintTeacher != nil ? 1 : 0)
        }
        var hintLayout: [HintLayout] = []
        if options.hintWeight > 0 {
            let shapes = probeHints.map { Array($0.shape.dropFirst()) }
            switch HintLayout.match(student: studentConfig, inputSize: size, teacherShapes: shapes) {
            case .success(let l): hintLayout = l
            case .failure(let e): throw DatasetError("teacher \(c.teacher): \(e.description)")
            }
        }
        let weightsID = teacher.weightsSHA256.map { String($0.prefix(16)) } ?? "random7"
        let dataID = FeatureCache.hex(FeatureCache.fingerprint((train + [CaptionedImage(name: "|", path: "", captions: [])] + val)
            .flatMap { Array($0.name.utf8) + [0] }))
        let identity: [String: String] = [
            "distill.teacher": c.teacher, "distill.teacher_weights": teacher.weightsSHA256 ?? "random (seed 7)",
            "distill.teacher_mode": c.teacherMode.rawValue, "distill.data": dataID, "distill.student": studentConfig.serialized,
        ]

        let distiller: Distiller
        var history: [DistillationEpochRecord] = []
        if c.resume {
            let file: SafeTensorsFile
            do { file = try SafeTensorsFile(contentsOf: checkpointPath) } catch { throw DatasetError("\(checkpointPath): \(error)") }
            for key in Self.identityKeys where file.metadata[key] != identity[key] {
                let what = ["distill.teacher": "teacher", "distill.teacher_weights": "teacher weights (SHA-256)",
                            "distill.teacher_mode": "teacher mode", "distill.data": "training data (dataset or --limit)",
                            "distill.student": "student (--width)"][key] ?? key
                throw DatasetError("--resume with a different \(what) than the checkpoint's (\(file.metadata[key] ?? "none") there, \(identity[key] ?? "none") now)")
            }
            if let text = file.metadata[Distiller.optionsMetadataKey] {
                let stored: DistillationOptions
                do { stored = try ModelFile.decodeJSON(DistillationOptions.self, text, what: "distillation options") } catch {
                    throw DatasetError("\(checkpointPath): \(error.description)")
                }
                let diffs = Self.differences(options, stored)
                guard diffs.isEmpty else { throw DatasetError("--resume with different settings than the checkpoint: \(diffs.joined(separator: "; "))") }
            }
            do { distiller = try Distiller.resume(from: checkpointPath, options: options) } catch { throw DatasetError(error.description) }
            guard distiller.student.configuration == studentConfig else {
                throw DatasetError("\(checkpointPath): its student is not the one --width \(c.width) makes")
            }
            history = readLog().filter { $0.epoch <= distiller.state.epoch }
            say("resuming at epoch \(distiller.state.epoch + 1), batch \(distiller.state.batchInEpoch + 1) (step \(distiller.state.step))")
        } else {
            distiller = Distiller(student: SmallCNN(configuration: studentConfig, seed: options.seed), options: options, hints: hintLayout)
        }
        let student = distiller.student
        let studentParameters = student.parameters.reduce(0) { $0 + $1.value.count }
        say("teacher \(c.teacher): \(C)x\(gh)x\(gw) features (\(c.teacherMode.rawValue)); student small: \(studentParameters) parameters, \(Double(studentConfig.flops(size: size) / 10_000_000) / 100) GFLOP/image; \(train.count) train images, \(val.count) val images")

        // Inputs and teacher features.
        func inputs(_ images: [CaptionedImage]) throws -> Tensor {
            var list: [Tensor] = []
            for im in images { list.append(preprocess(try loadCaptionImage(path: im.path), .direct, size: size)) }
            return stackImages(list)
        }
        let cache = FeatureCache(directory: c.cacheDirectory)
        let cacheKey = "distill-\(c.teacher)-direct-\(size)-\(weightsID)"
        func teacherFeatures(_ images: [CaptionedImage], label: String) throws -> [Float] {
            let started = ProgressReporter.now()
            let cached = FileSystem.isFile(cache.path(encoderKey: cacheKey, images: images.map(\.path)))
            let byPath = Dictionary(images.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            let f = try cache.features(encoderKey: cacheKey, images: images.map(\.path), regions: P, channels: C, chunk: c.featureBatch,
                                       progressLabel: c.progress ? "teacher features (\(label))" : nil) { chunk in
                if Interrupt.requested { throw Interrupted() }
                let x = try inputs(chunk.compactMap { byPath[$0] })
                return RegionEncoder.regionRows(teacher.features(DistillationAugmentation.convert(x, to: teacher.preprocessing)))
            }
            let s = ProgressReporter.now() - started
            say(cached ? "teacher features (\(label)): \(images.count) images from the cache"
                       : "teacher features (\(label)): \(images.count) images in \(ProgressReporter.duration(s)) (\(Self.rate(Double(images.count) / max(s, 1e-9))) img/s)")
            return f
        }
        let valTeacher: [Float], trainTeacher: [Float]
        do {
            valTeacher = try teacherFeatures(val, label: "val")
            trainTeacher = c.teacherMode == .cached ? try teacherFeatures(train, label: "train") : []
        } catch is Interrupted {
            return DistillationRunResult(outcome: .interruptedBeforeTraining, state: distiller.state, outPath: c.out,
                                         checkpointPath: checkpointPath, logPath: logPath, history: history, imagesPerSecond: 0)
        }
        let teacherSource: DistillationTeacher
        switch c.teacherMode {
        case .online: teacherSource = .encoder(teacher.encoder)
        case .cached:
            teacherSource = .precomputed { indices in
                Tensor(shape: [indices.count, C, gh, gw]) { d in
                    for (b, i) in indices.enumerated() {
                        let src = i * P * C, dst = b * C * P
                        for p in 0..<P { for ch in 0..<C { d[dst + ch * P + p] = trainTeacher[src + p * C + ch] } }
                    }
                }
            }
        }

        // Validation: student features of the un-augmented val images against the teacher's.
        func validate() throws -> (mse: Double, cosine: Double, relative: Double) {
            var se = 0.0, cos = 0.0, sum = 0.0, sumSq = 0.0
            var s = 0
            while s < val.count {
                let chunk = Array(val[s..<min(s + c.featureBatch, val.count)])
                let f = RegionEncoder.regionRows(student.features(try inputs(chunk)))
                let off = s * P * C
                for r in 0..<(chunk.count * P) {
                    var dot = 0.0, ns = 0.0, nt = 0.0
                    for ch in 0..<C {
                        let a = Double(f[r * C + ch]), t = Double(valTeacher[off + r * C + ch])
                        se += (a - t) * (a - t); dot += a * t; ns += a * a; nt += t * t; sum += t; sumSq += t * t
                    }
                    cos += dot / max((ns * nt).squareRoot(), 1e-12)
                }
                s += chunk.count
            }
            let n = Double(val.count * P * C)
            let mse = se / n, variance = sumSq / n - (sum / n) * (sum / n)
            return (mse, cos / Double(val.count * P), mse / max(variance, 1e-12))
        }

        // Checkpoints, log, progress.
        let batch = max(1, min(options.batchSize, train.count))
        let batchesPerEpoch = (train.count + batch - 1) / batch
        var lastEpoch = distiller.state.epoch
        var epochStarted = ProgressReporter.now()
        var trainImages = 0, trainSeconds = 0.0, epochImages = 0, epochTrainSeconds = 0.0
        var stepStarted = ProgressReporter.now()
        var lastPrint = -1.0
        var lineOpen = false
        let interactive = isatty(2) != 0
        let started = ProgressReporter.now()
        var best = history.filter(\.best).map(\.valMSE).min() ?? .infinity
        let saveCheckpoint: (Distiller) throws -> Void = { d in
            try self.writeCheckpoint(d, identity: identity)
        }
        let checkpoint: (Distiller) throws -> Void = { d in
            if d.state.batchInEpoch == 0 && d.state.epoch > lastEpoch {
                let trainSecondsEpoch = epochTrainSeconds
                let v = try validate()
                let isBest = v.mse < best
                let record = DistillationEpochRecord(
                    epoch: d.state.epoch, trainLoss: Double(d.state.epochLosses.last ?? .nan), valMSE: v.mse, valCosine: v.cosine,
                    valRelativeMSE: v.relative, learningRate: Double(d.learningRate(step: max(d.state.step - 1, 0), total: options.epochs * batchesPerEpoch)),
                    seconds: ProgressReporter.now() - epochStarted,
                    imagesPerSecond: Double(epochImages) / max(trainSecondsEpoch, 1e-9), best: isBest)
                if isBest {
                    best = v.mse
                    var meta = identity
                    meta["distill.epoch"] = String(d.state.epoch)
                    meta["distill.val_mse"] = String(v.mse)
                    meta["distill.val_cosine"] = String(v.cosine)
                    do { try student.save(to: c.out, metadata: meta) } catch { throw DatasetError("\(error)") }
                }
                history.append(record)
                try self.writeLog(history)
                if lineOpen { Self.writeStderr("\n"); lineOpen = false }
                self.say("epoch \(record.epoch)/\(options.epochs): train loss \(Self.f4(record.trainLoss)), val MSE \(Self.f4(v.mse)) (relative \(Self.f4(v.relative))), cosine \(Self.f4(v.cosine))\(isBest ? " (best: written to \(c.out))" : ""), \(Self.rate(record.imagesPerSecond)) img/s, \(ProgressReporter.duration(record.seconds))")
                lastEpoch = d.state.epoch
                epochStarted = ProgressReporter.now()
                epochImages = 0
                epochTrainSeconds = 0
            }
            try saveCheckpoint(d)
            stepStarted = ProgressReporter.now()
        }
        let progress: (DistillationProgress) -> Void = { p in
            let now = ProgressReporter.now()
            let n = (p.batch + 1) * train.count / p.batchesPerEpoch - p.batch * train.count / p.batchesPerEpoch
            trainImages += n; epochImages += n
            trainSeconds += now - stepStarted; epochTrainSeconds += now - stepStarted
            stepStarted = now
            guard c.progress else { return }
            let t = now - started
            let last = p.batch + 1 == p.batchesPerEpoch && p.epoch + 1 == options.epochs
            guard last || lastPrint < 0 || t - lastPrint >= (interactive ? 0.5 : 10) else { return }
            lastPrint = t
            let rate = Double(trainImages) / max(trainSeconds, 1e-9)
            let remainingEpoch = Double((p.batchesPerEpoch - p.batch - 1) * batch)
            let remainingRun = remainingEpoch + Double((options.epochs - p.epoch - 1) * train.count)
            let line = "epoch \(p.epoch + 1)/\(options.epochs)  step \(p.batch + 1)/\(p.batchesPerEpoch)  loss \(Self.f4(Double(p.loss))) (mean \(Self.f4(Double(p.meanLoss))))  \(Self.rate(rate)) img/s  ETA epoch \(ProgressReporter.duration(remainingEpoch / rate)), run \(ProgressReporter.duration(remainingRun / rate))"
            if interactive { Self.writeStderr("\r" + line + "\u{1B}[K"); lineOpen = true } else { self.say(line) }
        }

        stepStarted = ProgressReporter.now()
        if distiller.state.finished && distiller.state.epoch >= options.epochs {
            say("the checkpoint has finished all \(options.epochs) epochs: pass a larger --epochs with --resume to train more")
        } else {
            try distiller.train(count: train.count, images: { try inputs($0.map { train[$0] }) }, teacher: teacherSource,
                                progress: progress, checkpointEvery: c.checkpointEvery, checkpoint: checkpoint,
                                shouldStop: { Interrupt.requested })
        }
        if lineOpen { Self.writeStderr("\n") }
        let interrupted = Interrupt.requested && !(distiller.state.finished && distiller.state.epoch >= options.epochs)
        return DistillationRunResult(outcome: interrupted ? .interrupted : .completed, state: distiller.state, outPath: c.out,
                                     checkpointPath: checkpointPath, logPath: logPath, history: history,
                                     imagesPerSecond: Double(trainImages) / max(trainSeconds, 1e-9))
    }

    /// Raw text on stderr (the redrawn progress line of a terminal).
    static func writeStderr(_ s: String) { writeStandardError(s) }


    /// The Distiller's checkpoint with this run's identity added to its metadata, written atomically.
    func writeCheckpoint(_ d: Distiller, identity: [String: String]) throws {
        let dir = FileSystem.parent(checkpointPath), base = FileSystem.baseName(checkpointPath)
        let tmp = FileSystem.join(dir, "." + base + ".distiller")
        do { try d.save(to: tmp) } catch { throw DatasetError(error.description) }
        defer { unlink(tmp) }
        do {
            let f = try SafeTensorsFile(contentsOf: tmp)
            var w = SafeTensorsWriter()
            for name in f.names {
                guard let info = f.tensors[name] else { continue }
                try w.add(name: name, raw: Array(try f.rawBytes(name)), dtype: info.dtype, shape: info.shape)
            }
            try w.write(to: checkpointPath, metadata: f.metadata.merging(identity) { _, new in new })
        } catch {
            throw DatasetError("\(checkpointPath): cannot save the distillation checkpoint: \(error)")
        }
    }

    func readLog() -> [DistillationEpochRecord] {
        guard let bytes = try? FileBytes.read(logPath, limit: 64 << 20) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap {
            try? ModelFile.decodeJSON(DistillationEpochRecord.self, String($0), what: "log line")
        }
    }

    func writeLog(_ history: [DistillationEpochRecord]) throws {
        var text = ""
        for h in history { text += try ModelFile.encodeJSON(h) + "\n" }
        do { try FileBytes.writeAtomically(Array(text.utf8), to: logPath) } catch { throw DatasetError("\(error)") }
    }

    /// The option fields (other than epochs) in which `a` and `b` differ, as `name: now vs checkpoint`.
    static func differences(_ a: DistillationOptions, _ b: DistillationOptions) -> [String] {
        var d: [String] = []
        func check<T: Equatable>(_ name: String, _ x: T, _ y: T) { if x != y { d.append("\(name) \(x) now, \(y) in the checkpoint") } }
        check("--batch-size", a.batchSize, b.batchSize)
        check("--learning-rate", a.learningRate, b.learningRate)
        check("final learning-rate fraction", a.finalLearningRateFraction, b.finalLearningRateFraction)
        check("--weight-decay", a.weightDecay, b.weightDecay)
        check("--seed", a.seed, b.seed)
        check("flips", a.flip, b.flip)
        check("--min-crop", a.minimumCropArea, b.minimumCropArea)
        check("--cosine-weight", a.cosineWeight, b.cosineWeight)
        check("--hint-weight", a.hintWeight, b.hintWeight)
        return d
    }

    static func f4(_ v: Double) -> String {
        guard v.isFinite else { return "\(v)" }
        return String(Double(Int((v * 10000).rounded())) / 10000)
    }

    static func rate(_ r: Double) -> String { r >= 100 ? String(Int(r.rounded())) : String(Double(Int(r * 10)) / 10) }
}
