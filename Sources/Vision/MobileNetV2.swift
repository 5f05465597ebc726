import SafeTensors
import Tensors

/// One-line error from loading encoder weights.
public struct EncoderWeightsError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// MobileNetV2 1.0/224 (TF-slim layout, as in `weights/pretrained/README.md`): batch norm folded into
/// every convolution (each has a bias), ReLU6, inverted residual blocks (expand 1x1, depthwise 3x3,
/// linear project 1x1), TensorFlow SAME padding (stride 2 on even sizes pads 0 before, 1 after),
/// inputs in [-1, 1], 1001 logits with index 0 = background. Inference only.
///
/// Layers run channel-major (`[C, N, H, W]`) so every 1x1 convolution of a batch is a single `sgemm`,
/// and depthwise convolutions use `DepthwiseConvolution` with fused bias and ReLU6.
public final class MobileNetV2: ImageEncoder {
    public let name = "mobilenet_v2"
    public let featureChannels = 1280
    public let preprocessing = Preprocessing.mobilenet
    public let inputSize = 224
    /// Number of logits: background + the 1000 ImageNet classes.
    public static let classCount = 1001

    /// One inverted residual block (`features.k`, k = 1...17).
    struct Block {
        let inChannels, hidden, outChannels, stride: Int
        var expandWeight: Tensor?, expandBias: Tensor?
        var depthwiseWeight: Tensor, depthwiseBias: Tensor
        var projectWeight: Tensor, projectBias: Tensor
        var residual: Bool { stride == 1 && inChannels == outChannels }
    }

    /// `(expansion t, output channels c, repeats n, first stride s)` as in the paper's Table 2.
    static let settings: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    var stemWeight: Tensor, stemBias: Tensor
    var blocks: [Block]
    var headWeight: Tensor, headBias: Tensor
    var classifierWeight: Tensor, classifierBias: Tensor

    /// Every tensor name with its shape, in network order (torchvision names with BN folded).
    public static var expectedShapes: [(String, [Int])] {
        var out: [(String, [Int])] = [("features.0.0.weight", [32, 3, 3, 3]), ("features.0.0.bias", [32])]
        var cin = 32, k = 1
        for s in settings {
            for _ in 0..<s.n {
                let hidden = cin * s.t, p = "features.\(k).conv"
                if s.t == 1 {
                    out += [("\(p).0.0.weight", [hidden, 1, 3, 3]), ("\(p).0.0.bias", [hidden]),
                            ("\(p).1.weight", [s.c, hidden, 1, 1]), ("\(p).1.bias", [s.c])]
                } else {
                    out += [("\(p).0.0.weight", [hidden, cin, 1, 1]), ("\(p).0.0.bias", [hidden]),
                            ("\(p).1.0.weight", [hidden, 1, 3, 3]), ("\(p).1.0.bias", [hidden]),
                            ("\(p).2.weight", [s.c, hidden, 1, 1]), ("\(p).2.bias", [s.c])]
                }
                cin = s.c
                k += 1
            }
        }
        out += [("features.18.0.weight", [1280, 320, 1, 1]), ("features.18.0.bias", [1280]),
                ("classifier.1.weight", [1001, 1280]), ("classifier.1.bias", [1001])]
        return out
    }

    /// Loads `mobilenet_v2_1.0_224_dequant.safetensors` (or any file with the same names and shapes).
    public convenience init(contentsOf path: String) throws(EncoderWeightsError) {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: path) } catch { throw EncoderWeightsError("\(path): \(error)") }
        try self.init(file: file)
    }

    /// Loads the weights by name, validating every shape; the first missing, misshapen or unexpected
    /// key is reported in one line.
    public init(file: SafeTensorsFile) throws(EncoderWeightsError) {
        let expected = Self.expectedShapes
        for (key, shape) in expected {
            guard let info = file.tensors[key] else { throw EncoderWeightsError("mobilenet_v2: missing key '\(key)'") }
            guard info.shape == shape else {
                throw EncoderWeightsError("mobilenet_v2: '\(key)' has shape \(info.shape), expected \(shape)")
            }
        }
        let known = Set(expected.map(\.0))
        if let extra = file.names.first(where: { !known.contains($0) }) {
            throw EncoderWeightsError("mobilenet_v2: unexpected key '\(extra)'")
        }
        var t: [String: Tensor] = [:]
        for (key, shape) in expected {
            do { t[key] = Tensor(shape: shape, try file.floats(key)) } catch {
                throw EncoderWeightsError("mobilenet_v2: cannot read '\(key)': \(error)")
            }
        }
        func w(_ key: String) -> Tensor { t[key, default: Tensor(shape: [0])] }  // every key was validated above
        stemWeight = w("features.0.0.weight")
        stemBias = w("features.0.0.bias")
        var blocks: [Block] = []
        var cin = 32, k = 1
        for s in Self.settings {
            for i in 0..<s.n {
                let p = "features.\(k).conv", hidden = cin * s.t, stride = i == 0 ? s.s : 1
                if s.t == 1 {
                    blocks.append(Block(inChannels: cin, hidden: hidden, outChannels: s.c, stride: stride,
                                        expandWeight: nil, expandBias: nil,
                                        depthwiseWeight: w("\(p).0.0.weight"), depthwiseBias: w("\(p).0.0.bias"),
                                        projectWeight: w("\(p).1.weight"), projectBias: w("\(p).1.bias")))
                } else {
                    blocks.append(Block(inChannels: cin, hidden: hidden, outChannels: s.c, stride: stride,
                                        expandWeight: w("\(p).0.0.weight"), expandBias: w("\(p).0.0.bias"),
                                        depthwiseWeight: w("\(p).1.0.weight"), depthwiseBias: w("\(p).1.0.bias"),
                                        projectWeight: w("\(p).2.weight"), projectBias: w("\(p).2.bias")))
                }
                cin = s.c
                k += 1
            }
        }
        self.blocks = blocks
        headWeight = w("features.18.0.weight")
        headBias = w("features.18.0.bias")
        classifierWeight = w("classifier.1.weight")
        classifierBias = w("classifier.1.bias")
    }

    /// Number of parameters (3,489,097 for the pretrained file).
    public var parameterCount: Int {
        var n = stemWeight.count + stemBias.count + headWeight.count + headBias.count
        n += classifierWeight.count + classifierBias.count
        for b in blocks {
            n += (b.expandWeight?.count ?? 0) + (b.expandBias?.count ?? 0) + b.depthwiseWeight.count + b.depthwiseBias.count
            n += b.projectWeight.count + b.projectBias.count
        }
        return n
    }

    /// Runs `features.0` ... `features.18` on NCHW images in [-1, 1] (or only the stages before `stopBefore`);
    /// `tap(k, map)` sees each stage's output.
    func run(_ images: Tensor, stopBefore: Int = 19, tap: ((Int, FeatureMap) -> Void)? = nil) -> FeatureMap {
        precondition(images.rank == 4 && images.shape[1] == 3, "mobilenet_v2 expects [N, 3, H, W] images, got \(images.shape)")
        let x = FeatureMap(nchw: images)
        let (top, bottom) = DepthwiseConvolution.samePadding(x.height, stride: 2)
        let (left, right) = DepthwiseConvolution.samePadding(x.width, stride: 2)
        var y = ConvolutionInference.convolution(x, weight: stemWeight, bias: stemBias, stride: 2,
                                                 padding: (top, left, bottom, right), activation: .relu6)
        tap?(0, y)
        for (i, b) in blocks.enumerated() {
            if i + 1 >= stopBefore { return y }
            var h = y
            if let ew = b.expandWeight, let eb = b.expandBias {
                h = ConvolutionInference.pointwise(h, weight: ew, bias: eb, activation: .relu6)
            }
            h = ConvolutionInference.depthwise(h, weight: b.depthwiseWeight, bias: b.depthwiseBias, stride: b.stride,
                                               activation: .relu6)
            y = ConvolutionInference.pointwise(h, weight: b.projectWeight, bias: b.projectBias, activation: .none,
                                               residual: b.residual ? y : nil)
            tap?(i + 1, y)
        }
        if stopBefore <= 18 { return y }
        y = ConvolutionInference.pointwise(y, weight: headWeight, bias: headBias, activation: .relu6)
        tap?(18, y)
        return y
    }

    /// `[N, 3, 224, 224]` inputs in [-1, 1] to the region features `[N, 1280, 7, 7]` (`features.18`).
    public func features(_ images: Tensor) -> Tensor { run(images).nchw }

    /// The 1001 logits `[N, 1001]` (index 0 = background, i = ImageNet class i - 1).
    public func logits(_ images: Tensor) -> Tensor {
        ConvolutionInference.linear(ConvolutionInference.globalAverage(run(images)), weight: classifierWeight,
                                    bias: classifierBias)
    }

    /// Logits from precomputed region features `[N, 1280, h, w]` (mean pool, then the classifier).
    public func logits(fromFeatures f: Tensor) -> Tensor {
        precondition(f.rank == 4 && f.shape[1] == featureChannels, "mobilenet_v2 features must be [N, 1280, h, w], got \(f.shape)")
        let n = f.shape[0], c = f.shape[1], hw = f.shape[2] * f.shape[3]
        let pooled = f.reshaped([n, c, hw]).withUnsafeBufferPointer { p in
            Tensor(shape: [n, c]) { d in
                for i in 0..<n * c { var s: Float = 0; for j in 0..<hw { s += p[i * hw + j] }; d[i] = s / Float(hw) }
            }
        }
        return ConvolutionInference.linear(pooled, weight: classifierWeight, bias: classifierBias)
    }

    /// Every stage for inspection: `features.0` ... `features.18` (NCHW), `pooled` `[N, 1280]`,
    /// `logits` and `probs` `[N, 1001]`.
    public func stages(_ images: Tensor) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        let f = run(images) { k, m in out["features.\(k)"] = m.nchw }
        let pooled = ConvolutionInference.globalAverage(f)
        let logits = ConvolutionInference.linear(pooled, weight: classifierWeight, bias: classifierBias)
        out["pooled"] = pooled
        out["logits"] = logits
        out["probs"] = logits.softmax(axis: -1)
        return out
    }
}
