import NeuralNetwork
import SafeTensors
import Tensors

/// The ResNet depths of torchvision's `resnet18`, `resnet34` and `resnet50`.
public enum ResNetDepth: Int, Sendable, CaseIterable {
    case resnet18 = 18, resnet34 = 34, resnet50 = 50

    /// Blocks in layer1...layer4.
    public var blocks: [Int] {
        switch self {
        case .resnet18: return [2, 2, 2, 2]
        case .resnet34, .resnet50: return [3, 4, 6, 3]
        }
    }
    /// Bottleneck (ResNet-50) or basic blocks.
    public var usesBottleneck: Bool { self == .resnet50 }
    /// Channels of layer4's output: 512 or 2048.
    public var featureChannels: Int { usesBottleneck ? 2048 : 512 }
    /// `resnet18`, `resnet34`, `resnet50`.
    public var name: String { "resnet\(rawValue)" }

    /// From a name such as `resnet50`.
    public init?(name: String) {
        guard let d = ResNetDepth.allCases.first(where: { $0.name == name }) else { return nil }
        self = d
    }
}

/// How far a ResNet is built and run: the stem (`conv1`, `bn1`, ReLU, max pool), up to a residual layer, or the
/// whole network with `avgpool` and `fc`.
public enum ResNetStage: Int, Sendable, Comparable, CaseIterable {
    case stem = 0, layer1, layer2, layer3, layer4, fc
    public static func < (a: ResNetStage, b: ResNetStage) -> Bool { a.rawValue < b.rawValue }
}

/// torchvision's ResNet (V1.5) with its `state_dict` names, in two forms:
/// - trainable: `forward(_: Variable)` through NeuralNetwork layers (BatchNorm in train or eval mode), so that
///   later layers can be fine-tuned; the parameters are the `Module`'s;
/// - inference: `features`/`classify`/`run`, with batch norm folded into the convolutions and ReLU fused, built from
///   the current parameters on first use (call `invalidateInference()` after changing them).
public final class ResNet: Module, ImageEncoder {
    public let depth: ResNetDepth
    /// The last stage that exists (a partial model has no later layers and no `fc`).
    public let lastStage: ResNetStage
    public let conv1: Conv2d, bn1: BatchNorm2d
    public let layers: [[any ResidualBlock]]
    public let fc: Linear?
    public let maxPool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)

    public var name: String { depth.name }
    public var featureChannels: Int { depth.featureChannels }
    public var preprocessing: Preprocessing { .imagenet }
    public var inputSize: Int { 224 }

    private var inference: FoldedResNet?

    /// A randomly initialised ResNet as torchvision's (Kaiming-normal convolutions, BN weight 1 / bias 0,
    /// default `Linear`), built up to `lastStage`. With `seed` nil the convolutions keep `Conv2d`'s cheaper
    /// default initialisation (for weights that are loaded next).
    public init(_ depth: ResNetDepth, upTo lastStage: ResNetStage = .fc, seed: UInt64? = 0) {
        var rng = SeededRandom(seed: seed ?? 0)
        let kaiming = seed != nil
        self.depth = depth
        self.lastStage = lastStage
        conv1 = resnetConv(3, 64, kernel: 7, stride: 2, padding: 3, kaiming: kaiming, rng: &rng)
        bn1 = BatchNorm2d(64)
        var inC = 64
        var built: [[any ResidualBlock]] = []
        for (i, count) in depth.blocks.enumerated() where i + 1 <= lastStage.rawValue {
            let planes = 64 << i
            var blocks: [any ResidualBlock] = []
            for b in 0..<count {
                let stride = b == 0 && i > 0 ? 2 : 1
                let block: any ResidualBlock = depth.usesBottleneck
                    ? Bottleneck(inC, planes, stride: stride, kaiming: kaiming, rng: &rng)
                    : BasicBlock(inC, planes, stride: stride, kaiming: kaiming, rng: &rng)
                inC = block.outChannels
                blocks.append(block)
            }
            built.append(blocks)
        }
        layers = built
        fc = lastStage == .fc ? Linear(depth.featureChannels, 1000, rng: &rng) : nil
        setTraining(false)
    }

    /// A ResNet loaded from a torchvision state dict in safetensors (F32/F16/BF16), see `load`.
    public convenience init(_ depth: ResNetDepth, weights path: String, upTo lastStage: ResNetStage = .fc, prefix: String = "") throws(StateDictError) {
        self.init(depth, upTo: lastStage, seed: nil)
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: path) } catch { throw StateDictError("\(path): \(error)") }
        try load(from: file, prefix: prefix)
    }

    /// Loads every parameter and BN statistic by torchvision name (`prefix + name`), validating each shape first;
    /// throws a one-line error naming the first missing key, wrong shape, or unexpected key (keys of stages beyond
    /// `lastStage` and `num_batches_tracked` are ignored). Nothing changes when it throws.
    public func load(from file: SafeTensorsFile, prefix: String = "") throws(StateDictError) {
        let skipped = (lastStage.rawValue..<ResNetStage.fc.rawValue).map { "\(prefix)layer\($0 + 1)." } + (fc == nil ? ["\(prefix)fc."] : [])
        try StateDict.load(self, from: file, prefix: prefix, strict: true, ignore: { key in
            StateDict.defaultIgnore(key) || skipped.contains { key.hasPrefix($0) }
        })
        inference = nil
    }

    // MARK: Module

    public var namedParameters: [(String, Variable)] {
        var e = prefixed("conv1", conv1.namedParameters) + prefixed("bn1", bn1.namedParameters)
        for (i, blocks) in layers.enumerated() {
            for (b, block) in blocks.enumerated() { e += prefixed("layer\(i + 1).\(b)", block.namedParameters) }
        }
        if let fc { e += prefixed("fc", fc.namedParameters) }
        return e
    }
    public var namedBuffers: [(String, Variable)] {
        var e = prefixed("bn1", bn1.namedBuffers)
        for (i, blocks) in layers.enumerated() {
            for (b, block) in blocks.enumerated() { e += prefixed("layer\(i + 1).\(b)", block.namedBuffers) }
        }
        return e
    }
    public func setTraining(_ training: Bool) {
        bn1.setTraining(training)
        for blocks in layers { for b in blocks { b.setTraining(training) } }
        if training { inference = nil }
    }

    /// Parameters of the residual layers `from...4` (for `--fine-tune-encoder`: freeze the rest with
    /// `setRequiresGrad(false)` and train these).
    public func parameters(ofLayers range: ClosedRange<Int>) -> [Variable] {
        layers.enumerated().filter { range.contains($0.offset + 1) }.flatMap { $0.element.flatMap { $0.parameters } }
    }

    /// Drops the folded inference weights; they are rebuilt from the parameters on the next inference call.
    public func invalidateInference() { inference = nil }

    // MARK: Trainable path

    /// `[N, 3, H, W]` to the last built stage (the feature map, or `[N, 1000]` logits when `fc` exists and
    /// `logits` is true), recording the graph for backpropagation.
    public func forward(_ x: Variable, logits: Bool = false) -> Variable {
        var y = maxPool(bn1(conv1(x)).relu())
        for blocks in layers { for b in blocks { y = b.forward(y) } }
        guard logits, let fc else { return y }
        let s = y.shape
        return fc(y.reshaped([s[0], s[1], s[2] * s[3]]).mean(axis: 2))
    }

    // MARK: Inference path

    private func folded() -> FoldedResNet {
        if let inference { return inference }
        let f = FoldedResNet(self)
        inference = f
        return f
    }

    /// The last feature map `[N, C, H, W]` (C = 512 or 2048, 7x7 at 224) of preprocessed images `[N, 3, H, W]`;
    /// for a partial model, the output of its last built layer.
    public func features(_ images: Tensor) -> Tensor {
        run(images, upTo: min(lastStage, .layer4))
    }

    /// ImageNet logits `[N, 1000]` (torchvision's class order); needs a model with `fc`.
    public func classify(_ images: Tensor) -> Tensor {
        precondition(fc != nil, "classify needs a ResNet with fc")
        return run(images, upTo: .fc)
    }

    /// Runs to `stage` (≤ `lastStage`); `observe` receives named NCHW intermediates as torchvision's modules name them:
    /// `bn1` (conv1 and bn1, folded), `relu`, `maxpool`, `layerL.B` (each block), `layerL.0.downsample`, `layerL`,
    /// `avgpool` (`[N, C]`) and `fc` (`[N, 1000]`). Returns the stage's output (NCHW, or `[N, 1000]` for `.fc`).
    public func run(_ images: Tensor, upTo stage: ResNetStage, observe: ((String, Tensor) -> Void)? = nil) -> Tensor {
        precondition(stage <= lastStage, "\(name) is built up to \(lastStage), cannot run to \(stage)")
        precondition(images.rank == 4 && images.shape[1] == 3, "\(name) expects [N, 3, H, W] images, got \(images.shape)")
        return folded().run(PlanarBatch(nchw: images), upTo: stage, observe: observe)
    }

    // MARK: Summary

    /// Each module's output shape (without the batch) and parameter count for a `inputSize` square input, as
    /// `caption summary` prints them: `conv1`, `bn1`, `relu`, `maxpool`, every block, `avgpool`, `fc`.
    public func layerSummary(inputSize: Int = 224) -> [(name: String, outputShape: [Int], parameters: Int)] {
        func count(_ m: any Module) -> Int { m.parameterCount }
        var rows: [(name: String, outputShape: [Int], parameters: Int)] = []
        var side = (inputSize + 6 - 7) / 2 + 1
        rows.append(("conv1", [64, side, side], count(conv1)))
        rows.append(("bn1", [64, side, side], count(bn1)))
        rows.append(("relu", [64, side, side], 0))
        side = (side + 2 - 3) / 2 + 1
        rows.append(("maxpool", [64, side, side], 0))
        var channels = 64
        for (i, blocks) in layers.enumerated() {
            for (b, block) in blocks.enumerated() {
                if b == 0 && i > 0 { side = (side + 2 - 3) / 2 + 1 }
                channels = block.outChannels
                rows.append(("layer\(i + 1).\(b)", [channels, side, side], count(block)))
            }
        }
        if let fc {
            rows.append(("avgpool", [channels, 1, 1], 0))
            rows.append(("fc", [1000], count(fc)))
        }
        return rows
    }
}

/// The inference form of a `ResNet`: folded convolutions on CNHW batches.
final class FoldedResNet {
    let stem: FoldedConv
    let layers: [[FoldedBlock]]
    let fcWeight: Tensor?, fcBias: Tensor?

    init(_ m: ResNet) {
        stem = fold(m.conv1, m.bn1)
        layers = m.layers.map { $0.map { $0.folded() } }
        fcWeight = m.fc?.weight.value
        fcBias = m.fc?.bias?.value
    }

    func run(_ x: PlanarBatch, upTo stage: ResNetStage, observe: ((String, Tensor) -> Void)?) -> Tensor {
        var y: PlanarBatch
        if let observe {
            let b = stem.apply(x, relu: false)
            observe("bn1", b.nchw)
            y = reluPlanar(b)
            observe("relu", y.nchw)
        } else {
            y = stem.apply(x, relu: true)
        }
        y = maxPoolPlanar(y, kernel: 3, stride: 2, padding: 1)
        observe?("maxpool", y.nchw)
        for (i, blocks) in layers.enumerated() where i + 1 <= stage.rawValue {
            for (b, block) in blocks.enumerated() {
                let prefix = "layer\(i + 1).\(b)"
                y = block.apply(y, observeShortcut: observe.map { o in { o(prefix + ".downsample", $0.nchw) } })
                observe?(prefix, y.nchw)
            }
            observe?("layer\(i + 1)", y.nchw)
        }
        guard stage == .fc, let fcWeight else { return y.nchw }
        let pooled = globalAveragePool(y)
        observe?("avgpool", pooled)
        let logits = linearForward(pooled, weight: fcWeight, bias: fcBias)
        observe?("fc", logits)
        return logits
    }
}
