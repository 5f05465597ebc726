import NeuralNetwork
import SafeTensors
import Tensors

/// Architecture of a `SmallCNN`: a stride-2 3x3 stem, then depthwise-separable blocks
/// (depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU), then an optional linear 1x1 projection.
public struct SmallCNNConfiguration: Sendable, Equatable, Codable {
    /// One depthwise-separable block: output channels and the depthwise stride (1 or 2).
    public struct Block: Sendable, Equatable, Codable {
        public var channels: Int
        public var stride: Int
        public init(_ channels: Int, stride: Int) { self.channels = channels; self.stride = stride }
    }

    public var stemChannels: Int
    public var blocks: [Block]
    /// Channels of a final 1x1 convolution with bias and no activation (e.g. the teacher's 1280); nil: none.
    public var projectionChannels: Int?

    public init(stemChannels: Int, blocks: [Block], projectionChannels: Int?) {
        self.stemChannels = stemChannels
        self.blocks = blocks
        self.projectionChannels = projectionChannels
    }

    /// MobileNetV1 at width 0.5 (16 → 512 channels, total stride 32: 7x7 regions at 224), projected to
    /// `projectionChannels` (1280 = MobileNetV2's `features.18`). About 1.46 M parameters and 0.36 GFLOP per
    /// 224x224 image with the projection (0.8 M and 0.30 GFLOP without).
    public static func standard(projectionChannels: Int? = 1280) -> SmallCNNConfiguration {
        let b: [(Int, Int)] = [(32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (256, 1), (256, 1),
                               (256, 1), (256, 1), (512, 2), (512, 1)]
        return SmallCNNConfiguration(stemChannels: 16, blocks: b.map { Block($0.0, stride: $0.1) },
                                     projectionChannels: projectionChannels)
    }

    /// Channels of the output feature map.
    public var outputChannels: Int { projectionChannels ?? blocks.last?.channels ?? stemChannels }
    /// Product of the strides (32 for `standard`).
    public var totalStride: Int { blocks.reduce(2) { $0 * $1.stride } }

    /// Multiply-adds times two for one `size x size` image.
    public func flops(size: Int = 224) -> Int {
        var h = (size + 1) / 2, c = stemChannels
        var f = h * h * c * 27
        for b in blocks {
            h = (h + 2 - 3) / b.stride + 1
            f += h * h * c * 9 + h * h * c * b.channels
            c = b.channels
        }
        if let p = projectionChannels { f += h * h * c * p }
        return 2 * f
    }

    /// Compact text form stored in file metadata: `stem=16;blocks=32/1,64/2,...;projection=1280`.
    public var serialized: String {
        "stem=\(stemChannels);blocks=" + blocks.map { "\($0.channels)/\($0.stride)" }.joined(separator: ",")
            + ";projection=" + (projectionChannels.map(String.init) ?? "none")
    }

    /// Largest channel count a parsed configuration may name.
    public static let maximumChannels = 65536
    /// Largest parameter count a parsed configuration may describe (2^28, 1 GiB of floats).
    public static let maximumParameters = 1 << 28

    /// About how many parameters the network has (convolutions and batch norms), in floating point so that it
    /// cannot overflow.
    public var parameterEstimate: Double {
        var n = Double(stemChannels) * (27 + 4), previous = Double(stemChannels)
        for b in blocks {
            let c = Double(b.channels)
            n += previous * (9 + 4) + previous * c + 4 * c
            previous = c
        }
        if let p = projectionChannels { n += previous * Double(p) + Double(p) }
        return n
    }

    /// Parses `serialized`; throws a one-line error on malformed text.
    public init(parsing text: String) throws(EncoderWeightsError) {
        var stem: Int?, blocks: [Block]?, projection: Int??
        for part in text.split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw EncoderWeightsError("small cnn configuration: malformed '\(part)'") }
            switch kv[0] {
            case "stem": stem = Int(kv[1])
            case "blocks":
                var list: [Block] = []
                for item in kv[1].split(separator: ",") {
                    let cs = item.split(separator: "/").compactMap { Int($0) }
                    guard cs.count == 2, cs[0] > 0, cs[1] == 1 || cs[1] == 2 else {
                        throw EncoderWeightsError("small cnn configuration: bad block '\(item)'")
                    }
                    list.append(Block(cs[0], stride: cs[1]))
                }
                blocks = list
            case "projection": projection = kv[1] == "none" ? .some(nil) : Int(kv[1]).map { .some($0) }
            default: throw EncoderWeightsError("small cnn configuration: unknown field '\(kv[0])'")
            }
        }
        guard let stem, stem > 0, let blocks, let projection, (projection ?? 1) > 0, blocks.count < 1000 else {
            throw EncoderWeightsError("small cnn configuration: incomplete '\(text)'")
        }
        // Sizes are bounded before anything is allocated (a corrupt model file must not ask for terabytes).
        for c in [stem, projection ?? 1] + blocks.map(\.channels) where c > Self.maximumChannels {
            throw EncoderWeightsError("small cnn configuration: \(c) channels is above the limit of \(Self.maximumChannels)")
        }
        self.init(stemChannels: stem, blocks: blocks, projectionChannels: projection)
        guard parameterEstimate <= Double(Self.maximumParameters) else {
            throw EncoderWeightsError("small cnn configuration: about \(Int(parameterEstimate)) parameters is above the limit of \(Self.maximumParameters)")
        }
    }
}

/// A small CNN image encoder that trains from scratch with the autodiff (MobileNetV1-style
/// depthwise-separable blocks with batch norm and ReLU), the distillation student of `caption distill`.
///
/// Parameter names follow torchvision's MobileNet layout: `features.0.0` (stem conv), `features.0.1` (its BN),
/// `features.k.conv.0.0` / `.0.1` (depthwise conv / BN), `features.k.conv.1` / `.2` (pointwise conv / BN) for
/// block k, and `features.{K+1}.weight/bias` for the projection. `features(_:)` is the inference path, with
/// every batch norm folded into its convolution.
public final class SmallCNN: Module, ImageEncoder {
    /// Key of the configuration in saved files' metadata.
    public static let configurationMetadataKey = "small_cnn_configuration"

    public let configuration: SmallCNNConfiguration
    public let name = "small"
    public let preprocessing = Preprocessing.direct
    public let inputSize = 224
    public var featureChannels: Int { configuration.outputChannels }

    let stem: Conv2d, stemNorm: BatchNorm2d
    struct Block {
        let depthwise: Conv2d, depthwiseNorm: BatchNorm2d, pointwise: Conv2d, pointwiseNorm: BatchNorm2d
        let stride: Int
    }
    let blocks: [Block]
    let projection: Conv2d?

    /// A randomly initialised network (PyTorch's default conv initialisation, BN weight 1 / bias 0).
    public init(configuration: SmallCNNConfiguration = .standard(), seed: UInt64 = 0) {
        self.configuration = configuration
        var rng = SeededRandom(seed: seed)
        stem = Conv2d(3, configuration.stemChannels, kernelSize: 3, stride: 2, padding: 1, bias: false, rng: &rng)
        stemNorm = BatchNorm2d(configuration.stemChannels)
        var c = configuration.stemChannels
        var blocks: [Block] = []
        for b in configuration.blocks {
            blocks.append(Block(depthwise: Conv2d(c, c, kernelSize: 3, stride: b.stride, padding: 1, groups: c, bias: false, rng: &rng),
                                depthwiseNorm: BatchNorm2d(c),
                                pointwise: Conv2d(c, b.channels, kernelSize: 1, bias: false, rng: &rng),
                                pointwiseNorm: BatchNorm2d(b.channels), stride: b.stride))
            c = b.channels
        }
        self.blocks = blocks
        projection = configuration.projectionChannels.map { Conv2d(c, $0, kernelSize: 1, bias: true, rng: &rng) }
    }

    /// Scales every convolution weight by √6, turning PyTorch's default initialisation (variance 1 / (3 fan-in))
    /// into He's (2 / fan-in), which keeps the activations' variance through each convolution + ReLU. For
    /// training from scratch with batch norm frozen at its identity initialisation (`--fine-tune-encoder` on a
    /// random network): with the default, every one of the 27 convolutions shrinks the variance about 6-fold
    /// and the region features of different images are the same to 1e-10, so the decoder learns one caption.
    public func useHeInitialisation() {
        let scale = Float(6).squareRoot()
        var convs = [stem] + blocks.flatMap { [$0.depthwise, $0.pointwise] }
        if let projection { convs.append(projection) }
        for conv in convs { conv.weight.value = conv.weight.value * scale }
    }

    /// Loads a network saved by `save(to:)` (the configuration comes from the file's metadata).
    public convenience init(contentsOf path: String) throws(EncoderWeightsError) {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: path) } catch { throw EncoderWeightsError("\(path): \(error)") }
        try self.init(file: file)
    }

    /// Loads from a file holding the state dict under `prefix` and the configuration in its metadata
    /// (or given explicitly).
    public convenience init(file: SafeTensorsFile, prefix: String = "",
                            configuration: SmallCNNConfiguration? = nil) throws(EncoderWeightsError) {
        let config: SmallCNNConfiguration
        if let configuration { config = configuration } else {
            guard let text = file.metadata[Self.configurationMetadataKey] else {
                throw EncoderWeightsError("small cnn: no '\(Self.configurationMetadataKey)' in the file's metadata")
            }
            config = try SmallCNNConfiguration(parsing: text)
        }
        self.init(configuration: config)
        do { try StateDict.load(self, from: file, prefix: prefix) } catch {
            throw EncoderWeightsError("small cnn: \(error.description)")
        }
    }

    public var namedParameters: [(String, Variable)] {
        var out = prefixed("features.0.0", stem.namedParameters) + prefixed("features.0.1", stemNorm.namedParameters)
        for (i, b) in blocks.enumerated() {
            let p = "features.\(i + 1).conv"
            out += prefixed("\(p).0.0", b.depthwise.namedParameters) + prefixed("\(p).0.1", b.depthwiseNorm.namedParameters)
            out += prefixed("\(p).1", b.pointwise.namedParameters) + prefixed("\(p).2", b.pointwiseNorm.namedParameters)
        }
        if let projection { out += prefixed("features.\(blocks.count + 1)", projection.namedParameters) }
        return out
    }

    public var namedBuffers: [(String, Variable)] {
        var out = prefixed("features.0.1", stemNorm.namedBuffers)
        for (i, b) in blocks.enumerated() {
            let p = "features.\(i + 1).conv"
            out += prefixed("\(p).0.1", b.depthwiseNorm.namedBuffers) + prefixed("\(p).2", b.pointwiseNorm.namedBuffers)
        }
        return out
    }

    public func setTraining(_ training: Bool) {
        stemNorm.setTraining(training)
        for b in blocks { b.depthwiseNorm.setTraining(training); b.pointwiseNorm.setTraining(training) }
    }

    /// The differentiable forward pass `[N, 3, H, W]` → `[N, C, H/32, W/32]` (batch statistics in
    /// training mode, running statistics after `setTraining(false)`).
    public func forward(_ x: Variable) -> Variable { forward(x, tapping: []).output }

    public func callAsFunction(_ x: Variable) -> Variable { forward(x) }

    /// Convolution weights and biases with the batch norm (running statistics) folded in.
    struct Folded {
        var stem: (Tensor, Tensor)
        var blocks: [(dw: (Tensor, Tensor), pw: (Tensor, Tensor), stride: Int)]
        var projection: (Tensor, Tensor)?
    }

    static func fold(_ conv: Conv2d, _ bn: BatchNorm2d, rows: Int) -> (Tensor, Tensor) {
        let oc = conv.weight.shape[0], k = conv.weight.value.count / oc
        let g = bn.weight.value, be = bn.bias.value, mu = bn.runningMean.value, v = bn.runningVar.value
        var scale = [Float](repeating: 0, count: oc), bias = [Float](repeating: 0, count: oc)
        for c in 0..<oc {
            scale[c] = g[flat: c] / (v[flat: c] + bn.eps).squareRoot()
            bias[c] = be[flat: c] - mu[flat: c] * scale[c] + (conv.bias?.value[flat: c] ?? 0) * scale[c]
        }
        let wv = conv.weight.value
        let w = Tensor(shape: [oc, k]) { d in
            let src = wv.readPointer
            for c in 0..<oc { for i in 0..<k { d[c * k + i] = src[c * k + i] * scale[c] } }
        }
        return (rows == 4 ? w.reshaped(conv.weight.shape) : w, Tensor(bias))
    }

    func folded() -> Folded {
        Folded(stem: Self.fold(stem, stemNorm, rows: 4),
               blocks: blocks.map { (Self.fold($0.depthwise, $0.depthwiseNorm, rows: 2),
                                     Self.fold($0.pointwise, $0.pointwiseNorm, rows: 2), $0.stride) },
               projection: projection.map { p in (p.weight.value.reshaped([p.weight.shape[0], p.weight.shape[1]]), p.bias?.value ?? Tensor.zeros([p.weight.shape[0]])) })
    }

    /// Inference: `[N, 3, H, W]` images in [-1, 1] to `[N, featureChannels, H/32, W/32]`, with batch norm
    /// folded (running statistics), pointwise convolutions as single `sgemm`s over the batch.
    public func features(_ images: Tensor) -> Tensor { run(images, stopBefore: blocks.count + 2) }

    /// Inference through the stages before `features.stopBefore` (stem = 0, block k = k, projection = K + 1).
    func run(_ images: Tensor, stopBefore: Int) -> Tensor {
        precondition(images.rank == 4 && images.shape[1] == 3, "small cnn expects [N, 3, H, W] images, got \(images.shape)")
        let f = folded()
        var y = ConvolutionInference.convolution(FeatureMap(nchw: images), weight: f.stem.0, bias: f.stem.1, stride: 2,
                                                 padding: (1, 1, 1, 1), activation: .relu)
        for (i, b) in f.blocks.enumerated() where i + 1 < stopBefore {
            y = ConvolutionInference.depthwise(y, weight: b.dw.0, bias: b.dw.1, stride: b.stride, padding: 1, activation: .relu)
            y = ConvolutionInference.pointwise(y, weight: b.pw.0, bias: b.pw.1, activation: .relu)
        }
        if let p = f.projection, blocks.count + 1 < stopBefore {
            y = ConvolutionInference.pointwise(y, weight: p.0, bias: p.1, activation: .none)
        }
        return y.nchw
    }

    /// Writes the state dict and the configuration (metadata) to `path`; `.f16` halves the size.
    public func save(to path: String, dtype: SafeTensorsDType = .f32, metadata: [String: String] = [:]) throws(EncoderWeightsError) {
        var meta = metadata
        meta[Self.configurationMetadataKey] = configuration.serialized
        do { try StateDict.save(self, to: path, metadata: meta, dtype: dtype) } catch {
            throw EncoderWeightsError("small cnn: \(error.description)")
        }
    }
}
