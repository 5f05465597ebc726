import NeuralNetwork
import Tensors

/// `--fine-tune-encoder` for the small CNN: blocks `features.K` ... and the projection train (default: from its
/// last stride-2 block, the one that goes to 7x7 at 224), batch norm folded and frozen.
extension SmallCNN: FineTunableEncoder {
    public var fineTuneCuts: [String] { (1...(blocks.count + (projection == nil ? 0 : 1))).map { "features.\($0)" } }
    public var defaultFineTuneCut: String {
        let last = blocks.lastIndex { $0.stride == 2 } ?? max(blocks.count - 1, 0)
        return "features.\(last + 1)"
    }

    static func stage(_ cut: String) -> Int { Int(cut.dropFirst("features.".count)) ?? 9999 }

    public func prefixFeatures(_ images: Tensor, cut: String) -> Tensor {
        precondition(fineTuneCuts.contains(cut), "small: unknown cut \(cut)")
        return run(images, stopBefore: Self.stage(cut))
    }

    public func suffix(from cut: String) -> EncoderSuffix {
        precondition(fineTuneCuts.contains(cut), "small: unknown cut \(cut)")
        let k0 = Self.stage(cut)
        var out: [(String, SuffixBlock)] = []
        for (i, b) in blocks.enumerated() where i + 1 >= k0 {
            let dw = Self.fold(b.depthwise, b.depthwiseNorm, rows: 4), pw = Self.fold(b.pointwise, b.pointwiseNorm, rows: 4)
            out.append(("features.\(i + 1)", SuffixBlock(convs: [
                ("conv.0.0", FoldedConvLayer(weight: dw.0, bias: dw.1, stride: b.stride, padding: .symmetric(1), depthwise: true, activation: .relu)),
                ("conv.1", FoldedConvLayer(weight: pw.0, bias: pw.1, stride: 1, padding: .symmetric(0), depthwise: false, activation: .relu)),
            ], residual: false)))
        }
        if let p = projection {
            // Named `features.{K+1}.weight` / `.bias`, as the encoder's own state dict.
            out.append(("features", SuffixBlock(convs: [("\(blocks.count + 1)", FoldedConvLayer(
                weight: p.weight.value, bias: p.bias?.value ?? Tensor.zeros([p.weight.shape[0]]), stride: 1, padding: .symmetric(0),
                depthwise: false, activation: .none))], residual: false)))
        }
        return EncoderSuffix(cut: cut, blocks: out)
    }

    public func prefixTensors(cut: String) -> [(String, Tensor)] {
        let k0 = Self.stage(cut)
        return stateTensors.filter { name, _ in (Int(name.dropFirst("features.".count).prefix { $0 != "." }) ?? 9999) < k0 }
    }

    public func load(suffix: EncoderSuffix) {
        let k0 = Self.stage(suffix.cut)
        func identity(_ bn: BatchNorm2d, shift: Tensor) {
            let c = bn.weight.shape[0]
            // sqrt(1 + eps) / sqrt(1 + eps) is exactly 1 in the fold.
            bn.weight.value = Tensor(shape: [c], [Float](repeating: (1 + bn.eps).squareRoot(), count: c))
            bn.bias.value = shift
            bn.runningMean.value = Tensor.zeros([c])
            bn.runningVar.value = Tensor.ones([c])
        }
        for (i, b) in blocks.enumerated() where i + 1 >= k0 {
            if let dw = suffix.layer("features.\(i + 1).conv.0.0") {
                b.depthwise.weight.value = dw.weight.value.reshaped(b.depthwise.weight.shape)
                identity(b.depthwiseNorm, shift: dw.bias.value)
            }
            if let pw = suffix.layer("features.\(i + 1).conv.1") {
                b.pointwise.weight.value = pw.weight.value.reshaped(b.pointwise.weight.shape)
                identity(b.pointwiseNorm, shift: pw.bias.value)
            }
        }
        if let p = projection, let s = suffix.layer("features.\(blocks.count + 1)") {
            p.weight.value = s.weight.value.reshaped(p.weight.shape)
            p.bias?.value = s.bias.value
        }
    }

    public var stateTensors: [(String, Tensor)] { stateEntries.map { ($0.0, $0.1.value) } }
}
