import NeuralNetwork
import Tensors

/// Zero padding of a suffix convolution: symmetric, or TensorFlow's SAME (MobileNetV2: stride 2 on an even size
/// pads 0 before and 1 after), computed from the input size.
public enum SuffixPadding: Sendable, Equatable {
    case symmetric(Int)
    case same
}

/// A trainable convolution of a fine-tuned encoder suffix: batch norm folded into `weight` and `bias` (so it stays
/// frozen at its running statistics, as is usual for small-batch fine-tuning), then ReLU, ReLU6 or nothing.
/// `depthwise`: a 3x3 depthwise convolution (`weight [C, 1, 3, 3]`); otherwise a dense one (`[OC, IC, k, k]`).
public final class FoldedConvLayer: Module, UnaryLayer {
    public let weight: Variable, bias: Variable
    public let stride: Int
    public let padding: SuffixPadding
    public let depthwise: Bool
    public let activation: FusedActivation

    public init(weight: Tensor, bias: Tensor, stride: Int, padding: SuffixPadding, depthwise: Bool, activation: FusedActivation) {
        precondition(weight.rank == 4 && bias.shape == [weight.shape[0]], "FoldedConvLayer: weight \(weight.shape), bias \(bias.shape)")
        precondition(!depthwise || (weight.shape[1] == 1 && weight.shape[2] == 3 && weight.shape[3] == 3), "depthwise weight \(weight.shape)")
        self.weight = Variable(weight, requiresGrad: true)
        self.bias = Variable(bias, requiresGrad: true)
        self.stride = stride
        self.padding = padding
        self.depthwise = depthwise
        self.activation = activation
    }

    public var namedParameters: [(String, Variable)] { [("weight", weight), ("bias", bias)] }

    func pads(_ extent: Int) -> (before: Int, after: Int) {
        switch padding {
        case .symmetric(let p): return (p, p)
        case .same: return DepthwiseConvolution.samePadding(extent, stride: stride)
        }
    }

    public func forward(_ x: Variable) -> Variable {
        let y: Variable
        if depthwise {
            y = depthwiseConv3x3(x, weight, stride: stride, padding: pads(x.shape[2]))
        } else {
            let k = weight.shape[2]
            let p: Int
            switch padding {
            case .symmetric(let s): p = s
            case .same:
                let (a, b) = DepthwiseConvolution.samePadding(x.shape[2], stride: stride)
                precondition(k == 1 || a == b, "SAME padding of a \(k)x\(k) convolution must be symmetric here")
                p = k == 1 ? 0 : a
            }
            y = conv2d(x, weight, nil, stride: (stride, stride), padding: (p, p))
        }
        return biasActivation(y, bias, activation)
    }
}

/// One block of a suffix: its convolutions in order, then (when `residual`) the input added back, through the
/// `shortcut` projection if there is one, and (`reluAfterResidual`) a ReLU on the sum, as in a ResNet block.
public final class SuffixBlock: Module, UnaryLayer {
    public let convs: [(String, FoldedConvLayer)]
    public let shortcut: (String, FoldedConvLayer)?
    public let residual: Bool
    public let reluAfterResidual: Bool

    public init(convs: [(String, FoldedConvLayer)], shortcut: (String, FoldedConvLayer)? = nil, residual: Bool,
                reluAfterResidual: Bool = false) {
        self.convs = convs
        self.shortcut = shortcut
        self.residual = residual
        self.reluAfterResidual = reluAfterResidual
    }

    public var namedParameters: [(String, Variable)] {
        convs.flatMap { prefixed($0.0, $0.1.namedParameters) } + (shortcut.map { prefixed($0.0, $0.1.namedParameters) } ?? [])
    }

    public func forward(_ x: Variable) -> Variable {
        var y = x
        for (_, c) in convs { y = c.forward(y) }
        guard residual else { return y }
        let sum = y + (shortcut.map { $0.1.forward(x) } ?? x)
        return reluAfterResidual ? sum.relu() : sum
    }
}

/// The trainable later part of an encoder (`--fine-tune-encoder`): the blocks from the cut point on, with
/// batch norm folded, initialised from the encoder's weights. Its parameter names are the encoder's
/// state-dict prefixes (`features.14.conv.0.0.weight`, `layer2.0.conv1.weight`, ...), each conv with a bias.
public final class EncoderSuffix: Module, UnaryLayer {
    /// The first block of the suffix (`features.14`, `layer2`).
    public let cut: String
    public let blocks: [(String, SuffixBlock)]

    public init(cut: String, blocks: [(String, SuffixBlock)]) {
        self.cut = cut
        self.blocks = blocks
    }

    public var namedParameters: [(String, Variable)] { blocks.flatMap { prefixed($0.0, $0.1.namedParameters) } }

    /// The prefix's output `[N, C, H, W]` to the encoder's feature map `[N, C', h, w]`, recording the graph.
    public func forward(_ x: Variable) -> Variable { blocks.reduce(x) { $1.1.forward($0) } }

    /// A layer by its parameter-name prefix (`features.14.conv.0.0`, `layer2.0.downsample.0`).
    func layer(_ name: String) -> FoldedConvLayer? {
        for (b, block) in blocks {
            for (c, conv) in block.convs where b + "." + c == name { return conv }
            if let (c, conv) = block.shortcut, b + "." + c == name { return conv }
        }
        return nil
    }
}

/// An encoder whose later blocks can be fine-tuned: a frozen prefix (inference path, run once per image and
/// cached) and a trainable `EncoderSuffix` initialised from the same weights, whose weights can be written back.
public protocol FineTunableEncoder: ImageEncoder {
    /// The cut points `--fine-tune-from` accepts, in network order (the first block of the trainable part).
    var fineTuneCuts: [String] { get }
    /// The default cut point.
    var defaultFineTuneCut: String { get }
    /// Inference through the frozen prefix: `[N, 3, H, W]` images to the activations `[N, C, h, w]` entering `cut`.
    func prefixFeatures(_ images: Tensor, cut: String) -> Tensor
    /// A trainable copy of the blocks from `cut` on.
    func suffix(from cut: String) -> EncoderSuffix
    /// The tensors the prefix before `cut` depends on, by state-dict name (for the prefix feature cache's key).
    func prefixTensors(cut: String) -> [(String, Tensor)]
    /// Replaces the blocks from `suffix.cut` on with the suffix's weights (batch norm, where the encoder has it,
    /// becomes the identity with the folded bias as its shift), so `features(_:)` then equals prefix + suffix.
    func load(suffix: EncoderSuffix)
    /// Every tensor by state-dict name (as the encoder's own weights file names them), to embed in a model file.
    var stateTensors: [(String, Tensor)] { get }
}

extension FineTunableEncoder {
    /// Throws unless `cut` is one of `fineTuneCuts`.
    public func validateCut(_ cut: String) throws(EncoderWeightsError) {
        guard fineTuneCuts.contains(cut) else {
            throw EncoderWeightsError("\(name) cannot be fine-tuned from '\(cut)': expected one of \(fineTuneCuts.joined(separator: ", "))")
        }
    }
}
