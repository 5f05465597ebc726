import SafeTensors

/// Which image encoder a model uses and how its input is prepared.
public struct EncoderSpec: Codable, Sendable, Equatable {
    /// `resnet18`, `resnet34`, `resnet50`, `mobilenet_v2` or `small`.
    public var name: String
    /// Region grid side (7 for a 224x224 input to any of the encoders).
    public var gridSize: Int
    /// Channels of a region feature.
    public var channels: Int
    /// `imagenet` (resize 256, crop 224, mean/std), `mobilenet` (resize 256, crop 224, [-1, 1]), or `direct` (resize to 224, [-1, 1]).
    public var preprocessing: String
    /// Whether the encoder's weights are stored in the model file (`encoder.*` tensors).
    public var embeddedWeights: Bool
    /// SHA-256 (hex) of the weights file the encoder was trained with, when they are not embedded:
    /// `--encoder-weights` must match it.
    public var weightsSHA256: String?
    /// Side of the square encoder input (224).
    public var inputSize: Int?
    /// The encoder's architecture when it has variants (the small CNN's configuration, as text).
    public var configuration: String?
    /// Set when the encoder was fine-tuned (`caption train --fine-tune-encoder`): the first trained block. Its
    /// whole fine-tuned state is then embedded (`encoder.*`), and `weightsSHA256` names the weights it started from.
    public var fineTunedFrom: String?

    public init(name: String, gridSize: Int, channels: Int, preprocessing: String, embeddedWeights: Bool,
                weightsSHA256: String? = nil, inputSize: Int? = nil, configuration: String? = nil) {
        self.name = name
        self.gridSize = gridSize
        self.channels = channels
        self.preprocessing = preprocessing
        self.embeddedWeights = embeddedWeights
        self.weightsSHA256 = weightsSHA256
        self.inputSize = inputSize
        self.configuration = configuration
    }

    /// Regions per image (`gridSize`²).
    public var regions: Int { gridSize * gridSize }
}

/// Everything needed to rebuild a captioning model, stored as JSON in the model file's `__metadata__`.
public struct ModelConfig: Codable, Sendable, Equatable {
    public var encoder: EncoderSpec
    /// `lstm` or `transformer`.
    public var decoder: String
    public var lstm: ShowAttendTellConfig?
    public var transformer: TransformerConfig?

    public init(encoder: EncoderSpec, decoder: String, lstm: ShowAttendTellConfig? = nil, transformer: TransformerConfig? = nil) {
        self.encoder = encoder
        self.decoder = decoder
        self.lstm = lstm
        self.transformer = transformer
    }
}

/// A captioning model file: one safetensors file whose `__metadata__` holds `caption.kind`, the model config and
/// the vocabulary (JSON strings), optionally the training state; tensors `decoder.*`, `encoder.*` (when the encoder
/// is embedded) and, in training checkpoints, `optimizer.*`. A single file is enough to caption, and Python's
/// `safetensors` opens it.
public struct ModelFile {
    /// The value of `caption.kind` that marks a captioning model.
    public static let kind = "caption-model/1"

    public var config: ModelConfig
    /// The vocabulary as its JSON document (the Text module's format).
    public var vocabularyJSON: String
    /// Named tensors: name -> (shape, values).
    public var tensors: [String: (shape: [Int], values: [Float])]
    /// Other metadata strings (training state, provenance).
    public var extraMetadata: [String: String]

    public init(config: ModelConfig, vocabularyJSON: String, tensors: [String: (shape: [Int], values: [Float])] = [:], extraMetadata: [String: String] = [:]) {
        self.config = config
        self.vocabularyJSON = vocabularyJSON
        self.tensors = tensors
        self.extraMetadata = extraMetadata
    }

    /// Adds every parameter of `store` under `prefix`.
    public mutating func add(_ store: ParameterStore, prefix: String) {
        for e in store.entries { tensors[prefix + e.name] = (e.shape, store.value(e.name)) }
    }

    /// Copies tensors `prefix + name` into `store`, checking that every parameter is present with its shape
    /// and that no `prefix` tensor is left over. Errors name the first offending key.
    public func load(into store: ParameterStore, prefix: String) throws(SafeTensorsError) {
        for e in store.entries {
            guard let t = tensors[prefix + e.name] else { throw SafeTensorsError("model file has no tensor '\(prefix + e.name)'") }
            guard t.shape == e.shape else {
                throw SafeTensorsError("tensor '\(prefix + e.name)' has shape \(t.shape), expected \(e.shape)")
            }
            store.setValue(e.name, t.values)
        }
        if let extra = tensors.keys.sorted().first(where: { $0.hasPrefix(prefix) && store.entry(String($0.dropFirst(prefix.count))) == nil }) {
            throw SafeTensorsError("unexpected tensor '\(extra)' in the model file")
        }
    }

    /// Serialises to safetensors bytes; weights as F32, or F16 with `halfPrecision` (optimizer state stays F32).
    public func serialized(halfPrecision: Bool = false) throws(SafeTensorsError) -> [UInt8] {
        var w = SafeTensorsWriter()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let half = halfPrecision && !name.hasPrefix("optimizer.")
            try w.add(name: name, floats: t.values, shape: t.shape, dtype: half ? .f16 : .f32)
        }
        var meta = extraMetadata
        meta["caption.kind"] = ModelFile.kind
        meta["config"] = try ModelFile.encodeJSON(config)
        meta["vocabulary"] = vocabularyJSON
        return w.serialized(metadata: meta)
    }

    /// Writes atomically (temporary file, fsync, rename): a crash never leaves a half-written model.
    public func write(to path: String, halfPrecision: Bool = false) throws(SafeTensorsError) {
        try FileBytes.writeAtomically(try serialized(halfPrecision: halfPrecision), to: path)
    }

    /// Reads a model file, refusing other safetensors files (e.g. bare encoder weights) with a clear message.
    public init(contentsOf path: String) throws(SafeTensorsError) {
        let f: SafeTensorsFile
        do { f = try SafeTensorsFile(contentsOf: path) } catch {
            throw SafeTensorsError(error.description.hasPrefix(path) ? error.description : "\(path): \(error.description)")
        }
        try self.init(f, path: path)
    }

    public init(_ f: SafeTensorsFile, path: String = "model") throws(SafeTensorsError) {
        guard let kind = f.metadata["caption.kind"] else {
            throw SafeTensorsError("\(path) is not a caption model (a safetensors file without caption metadata, e.g. encoder weights; pass those with --encoder-weights)")
        }
        guard kind == ModelFile.kind else { throw SafeTensorsError("\(path) is a caption model of an unsupported version (\(kind))") }
        guard let configText = f.metadata["config"], let vocab = f.metadata["vocabulary"] else {
            throw SafeTensorsError("\(path): model metadata lacks its config or vocabulary")
        }
        do { config = try ModelFile.decodeJSON(ModelConfig.self, configText, what: "config") } catch {
            throw SafeTensorsError("\(path): \(error.description)")
        }
        vocabularyJSON = vocab
        var t: [String: (shape: [Int], values: [Float])] = [:]
        for name in f.names { t[name] = (try f.shape(name), try f.floats(name)) }
        tensors = t
        extraMetadata = f.metadata.filter { !["caption.kind", "config", "vocabulary"].contains($0.key) }
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension ModelFile {
    static func encodeJSON<T: Encodable>(_ v: T) throws(SafeTensorsError) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        do { return String(decoding: try e.encode(v), as: UTF8.self) } catch { throw SafeTensorsError("cannot encode \(T.self): \(error)") }
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String, what: String) throws(SafeTensorsError) -> T {
        do { return try JSONDecoder().decode(type, from: Data(text.utf8)) } catch {
            // One line: decoding errors can span several.
            throw SafeTensorsError("model \(what) is invalid: " + "\(error)".split(whereSeparator: \.isNewline).joined(separator: " "))
        }
    }
}
