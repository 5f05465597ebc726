import NeuralNetwork
import Tensors

/// A torchvision ResNet residual block: trainable (`forward` on `Variable`s, batch norm in train or eval mode)
/// and foldable into an inference block.
public protocol ResidualBlock: Module, UnaryLayer {
    /// Output channels.
    var outChannels: Int { get }
    /// The shortcut projection (`downsample.0` conv, `downsample.1` BN), if any.
    var downsample: (conv: Conv2d, bn: BatchNorm2d)? { get }
    /// The block with batch norm folded into its convolutions.
    func folded() -> FoldedBlock
}

/// torchvision's `Conv2d` of a ResNet (no bias) with Kaiming-normal (fan_out, ReLU) initialisation
/// (`kaiming` false keeps `Conv2d`'s cheaper default, for weights that are loaded next).
func resnetConv(_ inC: Int, _ outC: Int, kernel: Int, stride: Int, padding: Int, kaiming: Bool = true,
                rng: inout SeededRandom) -> Conv2d {
    let c = Conv2d(inC, outC, kernelSize: kernel, stride: stride, padding: padding, bias: false, rng: &rng)
    if kaiming { c.weight.value = Tensor.kaimingNormal([outC, inC, kernel, kernel], fanOut: true, rng: &rng) }
    return c
}

/// Folds an eval-mode `bn` into the bias-free `conv`.
func fold(_ conv: Conv2d, _ bn: BatchNorm2d) -> FoldedConv {
    FoldedConv(weight: conv.weight.value, gamma: bn.weight.value, beta: bn.bias.value, mean: bn.runningMean.value,
               variance: bn.runningVar.value, eps: bn.eps, stride: conv.stride.0, padding: conv.padding.0)
}

func downsampleEntries(_ d: (conv: Conv2d, bn: BatchNorm2d)?, _ buffers: Bool) -> [(String, Variable)] {
    guard let d else { return [] }
    return buffers ? prefixed("downsample.1", d.bn.namedBuffers)
        : prefixed("downsample.0", d.conv.namedParameters) + prefixed("downsample.1", d.bn.namedParameters)
}

func makeDownsample(_ inC: Int, _ outC: Int, stride: Int, kaiming: Bool, rng: inout SeededRandom) -> (conv: Conv2d, bn: BatchNorm2d)? {
    guard stride != 1 || inC != outC else { return nil }
    return (resnetConv(inC, outC, kernel: 1, stride: stride, padding: 0, kaiming: kaiming, rng: &rng), BatchNorm2d(outC))
}

/// ResNet-18/34's block: 3x3 conv (stride) -> BN -> ReLU -> 3x3 conv -> BN, plus the shortcut, then ReLU.
public final class BasicBlock: ResidualBlock {
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    public let downsample: (conv: Conv2d, bn: BatchNorm2d)?
    public let outChannels: Int

    /// `kaiming`: torchvision's Kaiming-normal convolution weights (false: `Conv2d`'s default, cheaper).
    public init(_ inC: Int, _ planes: Int, stride: Int, kaiming: Bool = true, rng: inout SeededRandom) {
        conv1 = resnetConv(inC, planes, kernel: 3, stride: stride, padding: 1, kaiming: kaiming, rng: &rng)
        bn1 = BatchNorm2d(planes)
        conv2 = resnetConv(planes, planes, kernel: 3, stride: 1, padding: 1, kaiming: kaiming, rng: &rng)
        bn2 = BatchNorm2d(planes)
        downsample = makeDownsample(inC, planes, stride: stride, kaiming: kaiming, rng: &rng)
        outChannels = planes
    }

    public var namedParameters: [(String, Variable)] {
        prefixed("conv1", conv1.namedParameters) + prefixed("bn1", bn1.namedParameters)
            + prefixed("conv2", conv2.namedParameters) + prefixed("bn2", bn2.namedParameters) + downsampleEntries(downsample, false)
    }
    public var namedBuffers: [(String, Variable)] {
        prefixed("bn1", bn1.namedBuffers) + prefixed("bn2", bn2.namedBuffers) + downsampleEntries(downsample, true)
    }
    public func setTraining(_ training: Bool) {
        for b in [bn1, bn2] + (downsample.map { [$0.bn] } ?? []) { b.setTraining(training) }
    }

    public func forward(_ x: Variable) -> Variable {
        let y = bn2(conv2(bn1(conv1(x)).relu()))
        let identity = downsample.map { $0.bn($0.conv(x)) } ?? x
        return (y + identity).relu()
    }

    public func folded() -> FoldedBlock {
        FoldedBlock(convs: [fold(conv1, bn1), fold(conv2, bn2)], downsample: downsample.map { fold($0.conv, $0.bn) })
    }
}

/// ResNet-50's block: 1x1 conv -> BN -> ReLU -> 3x3 conv (stride) -> BN -> ReLU -> 1x1 conv (x4) -> BN,
/// plus the shortcut, then ReLU (torchvision's V1.5: the stride sits on the 3x3 convolution).
public final class Bottleneck: ResidualBlock {
    public static let expansion = 4
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d, conv3: Conv2d, bn3: BatchNorm2d
    public let downsample: (conv: Conv2d, bn: BatchNorm2d)?
    public let outChannels: Int

    /// `kaiming`: torchvision's Kaiming-normal convolution weights (false: `Conv2d`'s default, cheaper).
    public init(_ inC: Int, _ planes: Int, stride: Int, kaiming: Bool = true, rng: inout SeededRandom) {
        let out = planes * Bottleneck.expansion
        conv1 = resnetConv(inC, planes, kernel: 1, stride: 1, padding: 0, kaiming: kaiming, rng: &rng)
        bn1 = BatchNorm2d(planes)
        conv2 = resnetConv(planes, planes, kernel: 3, stride: stride, padding: 1, kaiming: kaiming, rng: &rng)
        bn2 = BatchNorm2d(planes)
        conv3 = resnetConv(planes, out, kernel: 1, stride: 1, padding: 0, kaiming: kaiming, rng: &rng)
        bn3 = BatchNorm2d(out)
        downsample = makeDownsample(inC, out, stride: stride, kaiming: kaiming, rng: &rng)
        outChannels = out
    }

    public var namedParameters: [(String, Variable)] {
        prefixed("conv1", conv1.namedParameters) + prefixed("bn1", bn1.namedParameters)
            + prefixed("conv2", conv2.namedParameters) + prefixed("bn2", bn2.namedParameters)
            + prefixed("conv3", conv3.namedParameters) + prefixed("bn3", bn3.namedParameters) + downsampleEntries(downsample, false)
    }
    public var namedBuffers: [(String, Variable)] {
        prefixed("bn1", bn1.namedBuffers) + prefixed("bn2", bn2.namedBuffers) + prefixed("bn3", bn3.namedBuffers)
            + downsampleEntries(downsample, true)
    }
    public func setTraining(_ training: Bool) {
        for b in [bn1, bn2, bn3] + (downsample.map { [$0.bn] } ?? []) { b.setTraining(training) }
    }

    public func forward(_ x: Variable) -> Variable {
        let y = bn3(conv3(bn2(conv2(bn1(conv1(x)).relu())).relu()))
        let identity = downsample.map { $0.bn($0.conv(x)) } ?? x
        return (y + identity).relu()
    }

    public func folded() -> FoldedBlock {
        FoldedBlock(convs: [fold(conv1, bn1), fold(conv2, bn2), fold(conv3, bn3)], downsample: downsample.map { fold($0.conv, $0.bn) })
    }
}

/// A residual block for inference: every convolution but the last followed by ReLU, the last one adding the
/// shortcut (identity or the folded projection) before its ReLU.
public struct FoldedBlock {
    var convs: [FoldedConv]
    var downsample: FoldedConv?

    func apply(_ x: PlanarBatch, observeShortcut: ((PlanarBatch) -> Void)? = nil) -> PlanarBatch {
        let shortcut = downsample.map { $0.apply(x, relu: false) } ?? x
        if downsample != nil, let observeShortcut { observeShortcut(shortcut) }
        var y = x
        for c in convs.dropLast() { y = c.apply(y, relu: true) }
        return convs[convs.count - 1].apply(y, relu: true, residual: shortcut)
    }
}
