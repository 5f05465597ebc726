import SafeTensors
import Text

/// One of the two decoders, with its parameters.
public enum CaptionDecoder {
    case lstm(ShowAttendTell)
    case transformer(TransformerDecoder)

    public var parameters: ParameterStore {
        switch self {
        case .lstm(let m): return m.parameters
        case .transformer(let m): return m.parameters
        }
    }

    /// Builds the decoder a config describes (weights zero until loaded or initialised).
    public init(_ config: ModelConfig) throws(DatasetError) {
        try config.validate()
        switch config.decoder {
        case "lstm":
            guard let c = config.lstm else { throw DatasetError("model config names the lstm decoder but has no lstm sizes") }
            self = .lstm(ShowAttendTell(c))
        case "transformer":
            guard let c = config.transformer else { throw DatasetError("model config names the transformer decoder but has no transformer sizes") }
            guard c.modelSize > 0, c.heads > 0, c.modelSize % c.heads == 0 else {
                throw DatasetError("transformer model size \(c.modelSize) is not a multiple of its \(c.heads) heads")
            }
            self = .transformer(TransformerDecoder(c))
        default:
            throw DatasetError("unknown decoder '\(config.decoder)' (expected lstm or transformer)")
        }
    }

    public func initialise(seed: UInt64) {
        switch self {
        case .lstm(let m): m.initialise(seed: seed)
        case .transformer(let m): m.initialise(seed: seed)
        }
    }

    /// Batched beam search over `imageCount` images' region features `[imageCount, regions, channels]`.
    public func decode(features: [Float], imageCount: Int, regions: Int, options: BeamSearchOptions) -> [[Hypothesis]] {
        guard imageCount > 0 else { return [] }
        switch self {
        case .lstm(let m):
            var d = ShowAttendTellStepDecoder(model: m, features: features, imageCount: imageCount, regions: regions)
            return beamSearch(&d, imageCount: imageCount, options: options)
        case .transformer(let m):
            var o = options
            o.maxLength = min(o.maxLength, m.config.maxPositions - 1)
            var d = TransformerStepDecoder(model: m, features: features, imageCount: imageCount, regions: regions)
            return beamSearch(&d, imageCount: imageCount, options: o)
        }
    }
}

/// A trained captioning model as loaded from its file: config, vocabulary, decoder, and the file's other
/// tensors (an embedded encoder's `encoder.*`).
public final class CaptionModel {
    public let config: ModelConfig
    public let vocabulary: Vocabulary
    public let decoder: CaptionDecoder
    /// The file it was loaded from (nil for a model being trained).
    public let file: ModelFile?

    /// A model in memory (e.g. during training).
    public init(config: ModelConfig, vocabulary: Vocabulary, decoder: CaptionDecoder) {
        self.config = config
        self.vocabulary = vocabulary
        self.decoder = decoder
        file = nil
    }

    public init(_ file: ModelFile, path: String = "model") throws(DatasetError) {
        self.file = file
        config = file.config
        do { vocabulary = try Vocabulary(json: file.vocabularyJSON) } catch {
            throw DatasetError("\(path): its vocabulary is invalid: \(error.description)")
        }
        // A config describing far more parameters than the file holds is refused before they are allocated.
        let stored = file.tensors.reduce(0) { $0 + ($1.key.hasPrefix("decoder.") ? $1.value.values.count : 0) }
        do throws(DatasetError) {
            let described = try file.config.validate()
            guard described <= 2 * Double(stored) + 1_000_000 else {
                throw DatasetError("its config describes a decoder of about \(Int(described)) parameters but it holds \(stored)")
            }
            decoder = try CaptionDecoder(file.config)
        } catch { throw DatasetError("\(path): \(error.description)") }
        let vocabSize: Int
        switch decoder {
        case .lstm(let m): vocabSize = m.config.vocabularySize
        case .transformer(let m): vocabSize = m.config.vocabularySize
        }
        guard vocabSize == vocabulary.count else {
            throw DatasetError("\(path): the decoder has \(vocabSize) outputs but the vocabulary \(vocabulary.count) words")
        }
        do { try file.load(into: decoder.parameters, prefix: "decoder.") } catch {
            throw DatasetError("\(path): \(error.description)")
        }
    }

    /// Reads a model file.
    public static func load(_ path: String) throws(DatasetError) -> CaptionModel {
        let f: ModelFile
        do { f = try ModelFile(contentsOf: path) } catch { throw DatasetError(error.description) }
        return try CaptionModel(f, path: path)
    }

    /// Search settings for this model: `<pad>`, `<start>` and `<unk>` are never generated. `lengthPenalty` nil:
    /// `LengthPenalty.standard` for beams, none for greedy decoding (beam 1 stays plain greedy).
    public func searchOptions(beam: Int, maxLength: Int = 20, nBest: Int = 1, lengthPenalty: LengthPenalty? = nil,
                              noRepeatNgram: Int = 0, minLength: Int = 0, allowUnknown: Bool = false) -> BeamSearchOptions {
        var suppressed: Set<Int> = [Int(Vocabulary.pad), Int(Vocabulary.start)]
        if !allowUnknown { suppressed.insert(Int(Vocabulary.unknown)) }
        let penalty = lengthPenalty ?? (beam > 1 ? .standard : .none)
        return BeamSearchOptions(beamWidth: beam, maxLength: maxLength, minLength: minLength, lengthPenalty: penalty,
                                 nBest: nBest, noRepeatNgram: noRepeatNgram, startToken: Int(Vocabulary.start),
                                 endToken: Int(Vocabulary.end), suppressedTokens: suppressed)
    }

    /// Decodes images in chunks of `batch` images; `features` is `[images, regions, channels]`.
    public func decode(features: [Float], imageCount: Int, options: BeamSearchOptions, batch: Int = 64,
                       progress: ProgressReporter? = nil) -> [[Hypothesis]] {
        let per = config.encoder.regions * config.encoder.channels
        var out: [[Hypothesis]] = []
        out.reserveCapacity(imageCount)
        var s = 0
        while s < imageCount {
            let n = min(batch, imageCount - s)
            out += decoder.decode(features: Array(features[(s * per)..<((s + n) * per)]), imageCount: n,
                                  regions: config.encoder.regions, options: options)
            s += n
            progress?.update(s)
        }
        progress?.finish()
        return out
    }

    /// The caption text of a hypothesis.
    public func caption(_ h: Hypothesis) -> String { vocabulary.caption(h.tokens.map { Int32($0) }) }
}
