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
                             embeddedTensors: embedded)
    }

    /// The encoder a model file was trained with: its embedded `encoder.*` weights, or `weights` (checked against
    /// the SHA-256 the model recorded).
    public static func make(for spec: EncoderSpec, model: ModelFile, weights: String?) throws(DatasetError) -> RegionEncoder {
        guard names.contains(spec.name) else { throw DatasetError("the model uses an unknown encoder '\(spec.name)'") }
        let pre = Preprocessing(rawValue: spec.preprocessing)
        guard let pre else { throw DatasetError("the model uses an unknown preprocessing '\(spec.preprocessing)'") }
        if spec.embeddedWeights && weights == nil {
            let embedded = model.tensors.filter { $0.key.hasPrefix("encoder.") }
            let stripped = Dictionary(uniqueKeysWithValues: embedded.map { (String($0.key.dropFirst("encoder.".count)), $0.value) })
            let encoder = try build(name: spec.name, weights: nil, embedded: stripped, seed: 0)
            return RegionEncoder(encoder: encoder, preprocessing: pre, weightsID: "w" + FeatureCache.hex(fingerprint(stripped)),
                                 weightsSHA256: nil, embeddedTensors: stripped, gridSize: spec.gridSize)
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
            for v in t[k]!.values { h = FeatureCache.fingerprint(withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) }, seed: h) }
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

    /// Constructs an encoder (pending the Vision encoders: none is available in this build yet).
    static func build(name: String, weights: String?, embedded: [String: (shape: [Int], values: [Float])]?, seed: UInt64) throws(DatasetError) -> any ImageEncoder {
        throw DatasetError("encoder \(name) is not available in this build yet")
    }
}

/// The encoder input of an image (pending Vision's `preprocess`).
func captionPreprocess(_ image: RGBImage, _ kind: Preprocessing, size: Int) -> Tensor {
    // Nearest-neighbour resize to size x size, scaled to [-1, 1]: a stand-in until Vision's `preprocess` lands.
    var t = Tensor(shape: [3, size, size])
    t.withUnsafeMutableBufferPointer { out in
        for y in 0..<size {
            for x in 0..<size {
                let sx = x * image.width / size, sy = y * image.height / size
                for c in 0..<3 { out[(c * size + y) * size + x] = Float(image.pixels[(sy * image.width + sx) * 3 + c]) / 127.5 - 1 }
            }
        }
    }
    return t
}
