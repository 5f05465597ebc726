import ImageCodecs
import NeuralNetwork
import SafeTensors
import Tensors
import Vision

/// The encoders `caption` knows by name, built for training (`make(name:…)`) or for a model file (`make(for:…)`).
/// The only place that names concrete Vision encoder types.
public enum EncoderCatalog {
    public static let names = ["resnet18", "resnet34", "resnet50", "mobilenet_v2", "small"]

    /// Whether an encoder's weights are stored in the model file (the small CNN) rather than given with `--encoder-weights`.
    public static func embeds(_ name: String) -> Bool { name == "small" }

    /// An encoder by name: pretrained ones need `weights`; the small CNN loads `weights` when given, otherwise
    /// starts from a seeded initialisation.
    public static func make(name: String, weights: String?, preprocessing: Preprocessing? = nil, seed: UInt64 = 1) throws(DatasetError) -> RegionEncoder {
        guard names.contains(name) else {
            throw DatasetError("unknown encoder '\(name)' (expected one of \(names.joined(separator: ", ")))")
        }
        if !embeds(name) && weights == nil {
            throw DatasetError("encoder \(name) needs its pretrained weights: pass --encoder-weights FILE")
        }
        if let weights, !FileSystem.isFile(weights) { throw DatasetError("encoder weights \(weights) do not exist") }
        let sha = try weights.map { p throws(DatasetError) in try SHA256.file(p) }
        let encoder = try build(name: name, weights: weights, embedded: nil, seed: seed)
        let embedded = embeds(name) ? tensors(of: encoder) : [:]
        let id = embeds(name) ? "w" + FeatureCache.hex(fingerprint(embedded)) : String((sha ?? "").prefix(16))
        return RegionEncoder(encoder: encoder, preprocessing: preprocessing, weightsID: id, weightsSHA256: embeds(name) ? nil : sha,
                             embeddedTensors: embedded, configuration: configuration(of: encoder))
    }

    /// The encoder a model file was trained with: its embedded `encoder.*` weights, or `weights` (checked against
    /// the SHA-256 the model recorded).
    public static func make(for spec: EncoderSpec, model: ModelFile, weights: String?) throws(DatasetError) -> RegionEncoder {
        guard names.contains(spec.name) else { throw DatasetError("the model uses an unknown encoder '\(spec.name)'") }
        let pre = Preprocessing(rawValue: spec.preprocessing)
        guard let pre else { throw DatasetError("the model uses an unknown preprocessing '\(spec.preprocessing)'") }
        // A fine-tuned encoder is embedded whole; `weights` (the file it started from) is not needed then.
        if spec.embeddedWeights && (weights == nil || spec.fineTunedFrom != nil) {
            let embedded = model.tensors.filter { $0.key.hasPrefix("encoder.") }
            let stripped = Dictionary(uniqueKeysWithValues: embedded.map { (String($0.key.dropFirst("encoder.".count)), $0.value) })
            let encoder = try build(name: spec.name, weights: nil, embedded: stripped, configuration: spec.configuration, seed: 0)
            return RegionEncoder(encoder: encoder, preprocessing: pre, weightsID: "w" + FeatureCache.hex(fingerprint(stripped)),
                                 weightsSHA256: nil, embeddedTensors: stripped, gridSize: spec.gridSize, configuration: spec.configuration)
        }
        guard let weights else {
            throw DatasetError("this model's \(spec.name) encoder weights are not embedded in it: pass --encoder-weights FILE (the file it was trained with)")
        }
        guard FileSystem.isFile(weights) else { throw DatasetError("encoder weights \(weights) do not exist") }
        let sha = try SHA256.file(weights)
        if let want = spec.weightsSHA256, want != sha {
            throw DatasetError("\(weights) is not the \(spec.name) weights file this model was trained with (SHA-256 \(sha.prefix(12))…, expected \(want.prefix(12))…)")
        }
        let encoder = try build(name: spec.name, weights: weights, embedded: nil, seed: 0)
        guard encoder.featureChannels == spec.channels else {
            throw DatasetError("encoder \(spec.name) gives \(encoder.featureChannels) channels, the model expects \(spec.channels)")
        }
        return RegionEncoder(encoder: encoder, preprocessing: pre, weightsID: String(sha.prefix(16)), weightsSHA256: sha, gridSize: spec.gridSize)
    }

    static func fingerprint(_ t: [String: (shape: [Int], values: [Float])]) -> UInt64 {
        var h = FeatureCache.fingerprint([])
        for k in t.keys.sorted() {
            h = FeatureCache.fingerprint(Array(k.utf8), seed: h)
            t[k]!.values.withUnsafeBytes { h = FeatureCache.fingerprint($0, seed: h) }  // little-endian host
        }
        return h
    }

    /// The parameters and buffers of a trainable encoder, by state-dict name.
    static func tensors(of encoder: any ImageEncoder) -> [String: (shape: [Int], values: [Float])] {
        guard let m = encoder as? any Module else { return [:] }
        var out: [String: (shape: [Int], values: [Float])] = [:]
        for (name, v) in m.stateEntries { out[name] = (v.shape, v.value.scalars) }
        return out
    }

    /// Constructs an encoder: pretrained ones from their weights file; the small CNN from a saved file, from a
    /// model's embedded tensors (with the configuration recorded in the model), or freshly initialised with `seed`.
    static func build(name: String, weights: String?, embedded: [String: (shape: [Int], values: [Float])]?,
                      configuration: String? = nil, seed: UInt64) throws(DatasetError) -> any ImageEncoder {
        if let embedded, name != "small" {
            // A fine-tuned pretrained encoder, embedded whole in a model file.
            do {
                var w = SafeTensorsWriter()
                for k in embedded.keys.sorted() { try w.add(name: k, floats: embedded[k]!.values, shape: embedded[k]!.shape) }
                let file = try SafeTensorsFile(bytes: w.serialized())
                if name == "mobilenet_v2" { return try MobileNetV2(file: file) }
                guard let depth = ResNetDepth(name: name) else { throw DatasetError("unknown encoder '\(name)'") }
                let r = ResNet(depth, upTo: .layer4, seed: nil)
                try r.load(from: file)
                return r
            } catch let e as DatasetError {
                throw e
            } catch let e as EncoderWeightsError {
                throw DatasetError("the model's embedded \(name) encoder: \(e.description)")
            } catch let e as StateDictError {
                throw DatasetError("the model's embedded \(name) encoder: \(e.description)")
            } catch {
                throw DatasetError("the model's embedded \(name) encoder: \(error)")
            }
        }
        switch name {
        case "mobilenet_v2":
            guard let weights else { throw DatasetError("mobilenet_v2 needs --encoder-weights FILE") }
            do { return try MobileNetV2(contentsOf: weights) } catch { throw DatasetError(error.description) }
        case "resnet18", "resnet34", "resnet50":
            guard let weights, let depth = ResNetDepth(name: name) else { throw DatasetError("\(name) needs --encoder-weights FILE") }
            do { return try ResNet(depth, weights: weights, upTo: .layer4) } catch { throw DatasetError("\(weights): \(error.description)") }
        case "small":
            if let embedded {
                var w = SafeTensorsWriter()
                do {
                    for k in embedded.keys.sorted() { try w.add(name: k, floats: embedded[k]!.values, shape: embedded[k]!.shape) }
                    let file = try SafeTensorsFile(bytes: w.serialized())
                    let config = try configuration.map { t throws(EncoderWeightsError) in try SmallCNNConfiguration(parsing: t) }
                    return try SmallCNN(file: file, configuration: config ?? .standard())
                } catch let e as EncoderWeightsError {
                    throw DatasetError("the model's embedded small encoder: \(e.description)")
                } catch {
                    throw DatasetError("the model's embedded small encoder: \(error)")
                }
            }
            if let weights {
                do { return try SmallCNN(contentsOf: weights) } catch { throw DatasetError(error.description) }
            }
            // From scratch: variance-keeping weights (batch norm stays at identity when it is fine-tuned).
            let network = SmallCNN(configuration: .standard(), seed: seed)
            network.useHeInitialisation()
            return network
        default:
            throw DatasetError("unknown encoder '\(name)'")
        }
    }

    /// The small CNN's configuration as stored in a model's encoder spec.
    static func configuration(of encoder: any ImageEncoder) -> String? {
        (encoder as? SmallCNN)?.configuration.serialized
    }
}
