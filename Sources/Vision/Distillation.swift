#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NeuralNetwork
import SafeTensors
import Tensors

/// Settings of a distillation run (stored in checkpoints).
public struct DistillationOptions: Codable, Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    /// Adam's peak learning rate; it follows a cosine decay to `learningRate * finalLearningRateFraction`.
    public var learningRate: Float
    public var finalLearningRateFraction: Float
    /// Decoupled (AdamW) weight decay.
    public var weightDecay: Float
    public var seed: UInt64
    /// Random horizontal flips (probability 0.5).
    public var flip: Bool
    /// Smallest area fraction of a random crop (resized back to the input size); 1 disables crops.
    /// Crops need a teacher that runs on each augmented view (`DistillationTeacher.encoder`).
    public var minimumCropArea: Float
    /// Weight of an extra `1 - cosine` term per region (0: plain MSE).
    public var cosineWeight: Float
    /// Weight of the hint terms (FitNets): each teacher hint map's MSE against an adapted student stage,
    /// divided by that map's variance and multiplied by the final map's, so that every hint counts like the
    /// final features. 0: none. Needs a `HintTeacher` running on each view (`DistillationTeacher.encoder`).
    public var hintWeight: Float

    public init(epochs: Int = 10, batchSize: Int = 32, learningRate: Float = 2e-3, finalLearningRateFraction: Float = 0.02,
                weightDecay: Float = 0, seed: UInt64 = 0, flip: Bool = true, minimumCropArea: Float = 0.5,
                cosineWeight: Float = 0, hintWeight: Float = 0) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.finalLearningRateFraction = finalLearningRateFraction
        self.weightDecay = weightDecay
        self.seed = seed
        self.flip = flip
        self.minimumCropArea = minimumCropArea
        self.cosineWeight = cosineWeight
        self.hintWeight = hintWeight
    }

    private enum CodingKeys: String, CodingKey {
        case epochs, batchSize, learningRate, finalLearningRateFraction, weightDecay, seed, flip, minimumCropArea,
             cosineWeight, hintWeight
    }

    /// Decodes options stored by earlier versions too (no `hintWeight`: 0).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(epochs: try c.decode(Int.self, forKey: .epochs), batchSize: try c.decode(Int.self, forKey: .batchSize),
                  learningRate: try c.decode(Float.self, forKey: .learningRate),
                  finalLearningRateFraction: try c.decode(Float.self, forKey: .finalLearningRateFraction),
                  weightDecay: try c.decode(Float.self, forKey: .weightDecay), seed: try c.decode(UInt64.self, forKey: .seed),
                  flip: try c.decode(Bool.self, forKey: .flip), minimumCropArea: try c.decode(Float.self, forKey: .minimumCropArea),
                  cosineWeight: try c.decode(Float.self, forKey: .cosineWeight),
                  hintWeight: try c.decodeIfPresent(Float.self, forKey: .hintWeight) ?? 0)
    }
}

/// Where the teacher's region features come from.
public enum DistillationTeacher {
    /// The teacher runs on every augmented batch (the student's view, converted to the teacher's
    /// preprocessing), so crops and flips are exact.
    case encoder(any ImageEncoder)
    /// Features precomputed on the un-augmented images, `[B, C, h, w]` for the given indices. Only flips
    /// are possible (crops are ignored): the teacher map is mirrored, which is only approximately the
    /// teacher's features of the mirrored image (its filters and SAME padding are not symmetric).
    case precomputed((_ indices: [Int]) throws -> Tensor)
}

/// Reported after every batch.
public struct DistillationProgress: Sendable, Equatable {
    /// 0-based epoch and batch within it.
    public var epoch: Int, batch: Int, batchesPerEpoch: Int
    public var loss: Float
    /// Mean loss of the epoch so far.
    public var meanLoss: Float
    public var learningRate: Float
}

/// Where a distillation run stands; saved in checkpoints so that a resumed run continues exactly.
public struct DistillationState: Codable, Sendable, Equatable {
    /// Completed epochs.
    public var epoch = 0
    /// Batches already done in the current epoch.
    public var batchInEpoch = 0
    public var step = 0
    public var lossSum = 0.0
    public var lossCount = 0
    /// Mean training loss of each completed epoch.
    public var epochLosses: [Float] = []
    public var finished = false
    public init() {}
}

/// One-line error of a distillation run.
public struct DistillationError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Trains a `SmallCNN` student to reproduce a teacher's region features: MSE on the features (plus an
/// optional cosine term), Adam with a cosine learning-rate decay, seeded crop/flip augmentation.
///
/// The loss is MSE because the student's features replace the teacher's as a captioning decoder's input:
/// matching values (not only directions) keeps magnitudes the decoder was trained on, and the teacher's
/// post-ReLU6 features are bounded in [0, 6], so squared errors are well scaled.
public final class Distiller {
    public static let stateMetadataKey = "distillation_state"
    public static let optionsMetadataKey = "distillation_options"
    public static let hintsMetadataKey = "distillation_hints"

    public let student: SmallCNN
    public let options: DistillationOptions
    public private(set) var state: DistillationState
    /// Where the teacher's hints enter the student (empty: no hints).
    public let hintLayout: [HintLayout]
    let hints: HintAdapters
    let optimizer: Adam

    /// A run from scratch; `hints` pairs the teacher's hint maps with student stages (used when
    /// `options.hintWeight > 0`; see `HintLayout.match`).
    public init(student: SmallCNN, options: DistillationOptions, hints: [HintLayout] = []) {
        self.student = student
        self.options = options
        hintLayout = options.hintWeight > 0 ? hints : []
        self.hints = HintAdapters(layout: hintLayout, seed: options.seed)
        state = DistillationState()
        optimizer = Adam(student.parameters + self.hints.parameters, learningRate: options.learningRate,
                         weightDecay: options.weightDecay, decoupled: true)
    }

    /// Every trained parameter with its checkpoint name (the student's, then the hint adapters').
    var trainedParameters: [(String, Variable)] { student.namedParameters + prefixed("hint", hints.namedParameters) }

    /// Learning rate at `step` of `total` (cosine decay from the peak to its final fraction).
    public func learningRate(step: Int, total: Int) -> Float {
        let t = total <= 1 ? 1 : min(1, Double(step) / Double(total - 1))
        let lo = Double(options.learningRate * options.finalLearningRateFraction), hi = Double(options.learningRate)
        return Float(lo + (hi - lo) * 0.5 * (1 + cos(Double.pi * t)))
    }

    /// Trains up to `options.epochs` epochs over `count` images.
    ///
    /// - `images(indices)`: the student's inputs `[B, 3, S, S]` (`Preprocessing.direct`, in [-1, 1]).
    /// - `progress`: after every batch. `checkpoint`: after every `checkpointEvery` batches (0: never) and
    ///   after every epoch, e.g. `{ try $0.save(to: path) }`. `shouldStop`: checked after each batch (SIGINT);
    ///   the run then returns early after a checkpoint.
    /// - Returns: the mean loss of every completed epoch (all of them, across resumes).
    @discardableResult
    public func train(count: Int, images: ([Int]) throws -> Tensor, teacher: DistillationTeacher,
                      progress: ((DistillationProgress) -> Void)? = nil, checkpointEvery: Int = 0,
                      checkpoint: ((Distiller) throws -> Void)? = nil,
                      shouldStop: (() -> Bool)? = nil) throws -> [Float] {
        guard count > 0 else { throw DistillationError("distill: no training images") }
        let batch = max(1, min(options.batchSize, count))
        let batchesPerEpoch = (count + batch - 1) / batch
        let total = options.epochs * batchesPerEpoch
        student.setTraining(true)
        defer { student.setTraining(false) }
        while state.epoch < options.epochs {
            let order = Self.shuffled(count, seed: options.seed, epoch: state.epoch)
            while state.batchInEpoch < batchesPerEpoch {
                let b = state.batchInEpoch
                // Batches near `batch` in size: the last one of an epoch is never a single image (BatchNorm).
                let indices = Array(order[(b * count / batchesPerEpoch)..<((b + 1) * count / batchesPerEpoch)])
                let lr = learningRate(step: state.step, total: total)
                for g in optimizer.groups { g.learningRate = lr }
                let loss = try step(indices: indices, images: images, teacher: teacher)
                state.batchInEpoch += 1
                state.step += 1
                state.lossSum += Double(loss)
                state.lossCount += 1
                progress?(DistillationProgress(epoch: state.epoch, batch: b, batchesPerEpoch: batchesPerEpoch, loss: loss,
                                               meanLoss: Float(state.lossSum / Double(state.lossCount)), learningRate: lr))
                let stop = shouldStop?() ?? false
                if state.batchInEpoch < batchesPerEpoch, stop || (checkpointEvery > 0 && state.batchInEpoch % checkpointEvery == 0) {
                    try checkpoint?(self)
                }
                if stop && state.batchInEpoch < batchesPerEpoch { return state.epochLosses }
            }
            state.epochLosses.append(Float(state.lossSum / Double(max(state.lossCount, 1))))
            state.epoch += 1
            state.batchInEpoch = 0
            state.lossSum = 0
            state.lossCount = 0
            state.finished = state.epoch >= options.epochs
            try checkpoint?(self)
            if shouldStop?() ?? false { break }
        }
        return state.epochLosses
    }

    /// One optimisation step on `indices`; returns the batch loss.
    func step(indices: [Int], images: ([Int]) throws -> Tensor, teacher: DistillationTeacher) throws -> Float {
        let x = try images(indices)
        guard x.rank == 4, x.shape[0] == indices.count, x.shape[1] == 3 else {
            throw DistillationError("distill: image batch has shape \(x.shape), expected [\(indices.count), 3, H, W]")
        }
        let views = indices.map { augmentation(index: $0, epoch: state.epoch, height: x.shape[2], width: x.shape[3]) }
        let input = DistillationAugmentation.apply(x, views)
        let target: Tensor
        var hintTargets: [Tensor] = []
        switch teacher {
        case .encoder(let t):
            let teacherInput = DistillationAugmentation.convert(input, to: t.preprocessing)
            if !hintLayout.isEmpty {
                guard let ht = t as? any HintTeacher else { throw DistillationError("distill: teacher \(t.name) gives no hints") }
                (target, hintTargets) = withNoGrad { ht.featuresAndHints(teacherInput) }
                guard hintTargets.count == hintLayout.count else {
                    throw DistillationError("distill: teacher \(t.name) gives \(hintTargets.count) hints, the run expects \(hintLayout.count)")
                }
            } else {
                target = withNoGrad { t.features(teacherInput) }
            }
        case .precomputed(let features):
            let f = try features(indices)
            guard f.rank == 4, f.shape[0] == indices.count else {
                throw DistillationError("distill: teacher features have shape \(f.shape), expected [\(indices.count), C, h, w]")
            }
            guard hintLayout.isEmpty else { throw DistillationError("distill: hints need the teacher on every view (online mode)") }
            target = DistillationAugmentation.mirror(f, where: views.map(\.flip))
        }
        optimizer.zeroGrad()
        let (y, taps) = student.forward(Variable(input), tapping: Set(hintLayout.map(\.studentStage)))
        guard y.shape == target.shape else {
            throw DistillationError("distill: student features \(y.shape) do not match the teacher's \(target.shape)")
        }
        var loss = mseLoss(y, Variable(target))
        if options.cosineWeight > 0 { loss = loss + options.cosineWeight * cosineDistance(y, Variable(target)) }
        if !hintLayout.isEmpty {
            let finalVariance = populationVariance(target)
            for (k, h) in hintLayout.enumerated() {
                guard let tap = taps[h.studentStage] else { continue }
                let adapted = hints.convolutions[k](tap)
                guard adapted.shape == hintTargets[k].shape else {
                    throw DistillationError("distill: student stage \(h.studentStage) gives \(adapted.shape) for the teacher's hint \(hintTargets[k].shape)")
                }
                let scale = options.hintWeight * finalVariance / populationVariance(hintTargets[k])
                loss = loss + scale * mseLoss(adapted, Variable(hintTargets[k]))
            }
        }
        loss.backward()
        optimizer.step()
        return loss.value.item
    }

    /// Mean over regions of `1 - cos(student, teacher)` along channels.
    func cosineDistance(_ s: Variable, _ t: Variable) -> Variable {
        let dot = (s * t).sum(axis: 1), ns = (s * s).sum(axis: 1) + 1e-6, nt = (t * t).sum(axis: 1) + 1e-6
        return 1 - (dot / (ns * nt).sqrt()).mean()
    }

    /// The seeded view of image `index` in `epoch` (independent of batch composition and resumes).
    func augmentation(index: Int, epoch: Int, height: Int, width: Int) -> DistillationAugmentation.View {
        var rng = SeededRandom(seed: options.seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(epoch) &* 0xBF58_476D_1CE4_E5B9 ^ UInt64(index) &+ 1)
        for _ in 0..<2 { _ = rng.next() }
        let flip = options.flip && rng.uniformFloat() < 0.5
        var view = DistillationAugmentation.View(top: 0, left: 0, height: Float(height), width: Float(width), flip: flip)
        if options.minimumCropArea < 1 {
            let area = rng.uniform(max(options.minimumCropArea, 0.05), 1)
            let aspect = Float(exp(Double(rng.uniform(Float(log(3.0 / 4)), Float(log(4.0 / 3))))))
            let h = min(Float(height), (area / aspect).squareRoot() * Float(height))
            let w = min(Float(width), (area * aspect).squareRoot() * Float(width))
            view.top = rng.uniform(0, Float(height) - h)
            view.left = rng.uniform(0, Float(width) - w)
            view.height = h
            view.width = w
        }
        return view
    }

    /// A permutation of `0..<count` for `epoch`.
    static func shuffled(_ count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = SeededRandom(seed: seed ^ (UInt64(epoch) &+ 1) &* 0xD1B5_4A32_D192_ED03)
        var a = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { a.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return a
    }

    // MARK: Checkpoints

    /// Writes the student (`student.*`), Adam's moments (`optimizer.*`), the options, state and student
    /// configuration (metadata) to `path`, atomically.
    public func save(to path: String) throws(DistillationError) {
        var w = SafeTensorsWriter()
        do {
            try StateDict.add(student, to: &w, prefix: "student.")
            if !hintLayout.isEmpty { try StateDict.add(hints, to: &w, prefix: "hint.") }
            for (name, t) in optimizer.stateTensors(trainedParameters) {
                try w.add(name: "optimizer." + name, floats: t.scalars, shape: t.shape)
            }
            let enc = JSONEncoder()
            enc.outputFormatting = .sortedKeys
            let meta = [Self.stateMetadataKey: String(decoding: try enc.encode(state), as: UTF8.self),
                        Self.optionsMetadataKey: String(decoding: try enc.encode(options), as: UTF8.self),
                        SmallCNN.configurationMetadataKey: student.configuration.serialized,
                        Self.hintsMetadataKey: String(decoding: try enc.encode(hintLayout), as: UTF8.self)]
            try w.write(to: path, metadata: meta)
        } catch {
            throw DistillationError("\(path): cannot save distillation checkpoint: \(error)")
        }
    }

    /// Resumes from a checkpoint written by `save(to:)`. `options` (default: the stored ones) may change
    /// the number of epochs only; other differences are refused.
    public static func resume(from path: String, options: DistillationOptions? = nil) throws(DistillationError) -> Distiller {
        do {
            let file = try SafeTensorsFile(contentsOf: path)
            guard let s = file.metadata[stateMetadataKey], let o = file.metadata[optionsMetadataKey] else {
                throw DistillationError("\(path): not a distillation checkpoint (no state in its metadata)")
            }
            let dec = JSONDecoder()
            let state = try dec.decode(DistillationState.self, from: Data(s.utf8))
            let stored = try dec.decode(DistillationOptions.self, from: Data(o.utf8))
            var chosen = stored
            if let options {
                var a = options, b = stored
                a.epochs = 0; b.epochs = 0
                guard a == b else { throw DistillationError("\(path): checkpoint was made with different distillation options") }
                chosen = options
            }
            let student = try SmallCNN(file: file, prefix: "student.")
            let layout = try file.metadata[hintsMetadataKey].map { try dec.decode([HintLayout].self, from: Data($0.utf8)) } ?? []
            guard layout.count <= 16, layout.allSatisfy({ (0...student.configuration.blocks.count).contains($0.studentStage)
                && student.configuration.stageChannels[$0.studentStage] == $0.studentChannels
                && (1...SmallCNNConfiguration.maximumChannels).contains($0.teacherChannels) }) else {
                throw DistillationError("\(path): its hint layout does not fit its student")
            }
            guard layout.isEmpty == (chosen.hintWeight == 0) else {
                throw DistillationError("\(path): checkpoint was made with different distillation options")
            }
            let d = Distiller(student: student, options: chosen, hints: layout)
            if !layout.isEmpty { try StateDict.load(d.hints, from: file, prefix: "hint.") }
            var tensors: [String: Tensor] = [:]
            for name in file.names where name.hasPrefix("optimizer.") {
                tensors[String(name.dropFirst("optimizer.".count))] = Tensor(shape: try file.shape(name), try file.floats(name))
            }
            try d.optimizer.loadState(tensors, d.trainedParameters)
            d.state = state
            if d.state.epoch < chosen.epochs { d.state.finished = false }
            return d
        } catch let e as DistillationError {
            throw e
        } catch {
            throw DistillationError("\(path): cannot resume distillation: \(error)")
        }
    }
}

/// Crop/flip views of image batches, the teacher-side counterparts, and input conversion.
public enum DistillationAugmentation {
    /// A crop box in input pixels (resized back to the input size) and whether it is mirrored.
    public struct View: Sendable, Equatable {
        public var top, left, height, width: Float
        public var flip: Bool
    }

    /// Bilinear resampling (half-pixel centres, edge clamp) of each image's view to the input size.
    public static func apply(_ x: Tensor, _ views: [View]) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        if views.allSatisfy({ $0 == View(top: 0, left: 0, height: Float(h), width: Float(w), flip: false) }) { return x }
        let src = x.readPointer
        return Tensor(shape: x.shape) { d in
            for (b, v) in views.enumerated() where b < n {
                let sy = v.height / Float(h), sx = v.width / Float(w)
                // Horizontal taps for every output column.
                var x0 = [Int](repeating: 0, count: w), x1 = x0, fx = [Float](repeating: 0, count: w)
                for ox in 0..<w {
                    let col = v.flip ? w - 1 - ox : ox
                    let p = min(max(v.left + (Float(col) + 0.5) * sx - 0.5, 0), Float(w - 1))
                    x0[ox] = Int(p); x1[ox] = min(x0[ox] + 1, w - 1); fx[ox] = p - Float(x0[ox])
                }
                for oy in 0..<h {
                    let p = min(max(v.top + (Float(oy) + 0.5) * sy - 0.5, 0), Float(h - 1))
                    let y0 = Int(p), y1 = min(y0 + 1, h - 1), fy = p - Float(y0)
                    for ch in 0..<c {
                        let plane = src + (b * c + ch) * h * w, r0 = plane + y0 * w, r1 = plane + y1 * w
                        let out = d + ((b * c + ch) * h + oy) * w
                        for ox in 0..<w {
                            let a = r0[x0[ox]] + (r0[x1[ox]] - r0[x0[ox]]) * fx[ox]
                            let bb = r1[x0[ox]] + (r1[x1[ox]] - r1[x0[ox]]) * fx[ox]
                            out[ox] = a + (bb - a) * fy
                        }
                    }
                }
            }
        }
    }

    /// Mirrors the feature maps `[B, C, h, w]` of the images whose view is flipped.
    public static func mirror(_ f: Tensor, where flips: [Bool]) -> Tensor {
        guard flips.contains(true) else { return f }
        let n = f.shape[0], c = f.shape[1], h = f.shape[2], w = f.shape[3], src = f.readPointer
        return Tensor(shape: f.shape) { d in
            for b in 0..<n { for r in 0..<(c * h) {
                let row = src + (b * c * h + r) * w, out = d + (b * c * h + r) * w
                let flip = b < flips.count && flips[b]
                for x in 0..<w { out[x] = row[flip ? w - 1 - x : x] }
            } }
        }
    }

    /// Converts `[-1, 1]` inputs (`(p/255 - 0.5)/0.5`) to another encoder's normalisation.
    public static func convert(_ x: Tensor, to preprocessing: Preprocessing) -> Tensor {
        switch preprocessing {
        case .mobilenet, .direct: return x
        case .imagenet:
            let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
            let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3], src = x.readPointer
            return Tensor(shape: x.shape) { d in
                for b in 0..<n { for ch in 0..<c {
                    let m = mean[ch % 3], s = std[ch % 3], off = (b * c + ch) * hw
                    for i in 0..<hw { d[off + i] = ((src[off + i] * 0.5 + 0.5) - m) / s }
                } }
            }
        }
    }
}
