import NeuralNetwork
import Tensors

/// `--fine-tune-encoder` for ResNets: residual layers `layerL` ... `layer4` train (default from `layer2`, as the
/// Show-Attend-Tell tutorial); the suffix's convolutions carry their batch norm folded in (frozen statistics).
extension ResNet: FineTunableEncoder {
    public var fineTuneCuts: [String] { (1...layers.count).map { "layer\($0)" } }
    public var defaultFineTuneCut: String { "layer2" }

    static func layerIndex(_ cut: String) -> Int { Int(cut.dropFirst("layer".count)) ?? 99 }

    public func prefixFeatures(_ images: Tensor, cut: String) -> Tensor {
        precondition(fineTuneCuts.contains(cut), "\(name): unknown cut \(cut)")
        return run(images, upTo: ResNetStage(rawValue: Self.layerIndex(cut) - 1) ?? .stem)
    }

    /// The convolutions of a block with their batch norms, by state-dict prefix, in order (shortcut last).
    static func convNorms(_ block: any ResidualBlock) -> [(String, Conv2d, BatchNorm2d)] {
        var out: [(String, Conv2d, BatchNorm2d)] = []
        if let b = block as? BasicBlock {
            out = [("conv1", b.conv1, b.bn1), ("conv2", b.conv2, b.bn2)]
        } else if let b = block as? Bottleneck {
            out = [("conv1", b.conv1, b.bn1), ("conv2", b.conv2, b.bn2), ("conv3", b.conv3, b.bn3)]
        }
        if let d = block.downsample { out.append(("downsample.0", d.conv, d.bn)) }
        return out
    }

    public func suffix(from cut: String) -> EncoderSuffix {
        precondition(fineTuneCuts.contains(cut), "\(name): unknown cut \(cut)")
        var out: [(String, SuffixBlock)] = []
        for l in Self.layerIndex(cut)...layers.count {
            for (b, block) in layers[l - 1].enumerated() {
                let parts = Self.convNorms(block)
                func layer(_ c: Conv2d, _ bn: BatchNorm2d, _ act: FusedActivation) -> FoldedConvLayer {
                    let f = fold(c, bn)
                    return FoldedConvLayer(weight: f.weight.reshaped(c.weight.shape), bias: Tensor(shape: [f.outChannels], f.bias),
                                           stride: f.stride, padding: .symmetric(f.padding), depthwise: false, activation: act)
                }
                let body = parts.filter { $0.0 != "downsample.0" }
                let convs = body.enumerated().map { i, p in (p.0, layer(p.1, p.2, i == body.count - 1 ? .none : .relu)) }
                let shortcut = parts.first { $0.0 == "downsample.0" }.map { ($0.0, layer($0.1, $0.2, .none)) }
                out.append(("layer\(l).\(b)", SuffixBlock(convs: convs, shortcut: shortcut, residual: true, reluAfterResidual: true)))
            }
        }
        return EncoderSuffix(cut: cut, blocks: out)
    }

    public func prefixTensors(cut: String) -> [(String, Tensor)] {
        let l0 = Self.layerIndex(cut)
        return stateTensors.filter { name, _ in
            if name.hasPrefix("layer") { return (Int(name.dropFirst(5).prefix { $0 != "." }) ?? 99) < l0 }
            return name.hasPrefix("conv1.") || name.hasPrefix("bn1.")
        }
    }

    public func load(suffix: EncoderSuffix) {
        for l in Self.layerIndex(suffix.cut)...layers.count {
            for (b, block) in layers[l - 1].enumerated() {
                for (n, conv, bn) in Self.convNorms(block) {
                    guard let s = suffix.layer("layer\(l).\(b).\(n)") else { continue }
                    conv.weight.value = s.weight.value.reshaped(conv.weight.shape)
                    let c = bn.weight.shape[0]
                    // Identity batch norm (scale exactly sqrt(var + eps) / sqrt(var + eps)) shifted by the folded bias.
                    bn.weight.value = Tensor(shape: [c], [Float](repeating: Float((1 + Double(bn.eps)).squareRoot()), count: c))
                    bn.bias.value = s.bias.value
                    bn.runningMean.value = Tensor.zeros([c])
                    bn.runningVar.value = Tensor.ones([c])
                }
            }
        }
        invalidateInference()
    }

    public var stateTensors: [(String, Tensor)] { stateEntries.map { ($0.0, $0.1.value) } }
}
