import Tensors

/// `--fine-tune-encoder` for MobileNetV2: the blocks `features.K` ... `features.18` train (default from
/// `features.14`, the 160-channel stage at 7x7); the weights are already folded, so the suffix starts exact.
extension MobileNetV2: FineTunableEncoder {
    public var fineTuneCuts: [String] { (1...18).map { "features.\($0)" } }
    public var defaultFineTuneCut: String { "features.14" }

    static func stage(_ cut: String) -> Int {
        Int(cut.dropFirst("features.".count)) ?? 19
    }

    public func prefixFeatures(_ images: Tensor, cut: String) -> Tensor {
        precondition(fineTuneCuts.contains(cut), "mobilenet_v2: unknown cut \(cut)")
        return run(images, stopBefore: Self.stage(cut)).nchw
    }

    public func suffix(from cut: String) -> EncoderSuffix {
        precondition(fineTuneCuts.contains(cut), "mobilenet_v2: unknown cut \(cut)")
        let k0 = Self.stage(cut)
        var out: [(String, SuffixBlock)] = []
        for k in stride(from: k0, through: 17, by: 1) {
            let b = blocks[k - 1]
            var convs: [(String, FoldedConvLayer)] = []
            var i = 0
            if let ew = b.expandWeight, let eb = b.expandBias {
                convs.append(("conv.0.0", FoldedConvLayer(weight: ew, bias: eb, stride: 1, padding: .symmetric(0), depthwise: false, activation: .relu6)))
                i = 1
            }
            convs.append(("conv.\(i).0", FoldedConvLayer(weight: b.depthwiseWeight, bias: b.depthwiseBias, stride: b.stride, padding: .same,
                                                         depthwise: true, activation: .relu6)))
            convs.append(("conv.\(i + 1)", FoldedConvLayer(weight: b.projectWeight, bias: b.projectBias, stride: 1, padding: .symmetric(0),
                                                           depthwise: false, activation: .none)))
            out.append(("features.\(k)", SuffixBlock(convs: convs, residual: b.residual)))
        }
        out.append(("features.18", SuffixBlock(convs: [("0", FoldedConvLayer(weight: headWeight, bias: headBias, stride: 1,
                                                                           padding: .symmetric(0), depthwise: false, activation: .relu6))],
                                               residual: false)))
        return EncoderSuffix(cut: cut, blocks: out)
    }

    public func prefixTensors(cut: String) -> [(String, Tensor)] {
        let k0 = Self.stage(cut)
        return stateTensors.filter { name, _ in
            guard name.hasPrefix("features.") else { return false }
            let k = Int(name.dropFirst("features.".count).prefix { $0 != "." }) ?? 99
            return k < k0
        }
    }

    public func load(suffix: EncoderSuffix) {
        let k0 = Self.stage(suffix.cut)
        func value(_ name: String) -> Tensor? { suffix.namedParameters.first { $0.0 == name }?.1.value }
        for k in stride(from: k0, through: 17, by: 1) {
            let p = "features.\(k).conv"
            if blocks[k - 1].expandWeight != nil {
                if let w = value("\(p).0.0.weight"), let b = value("\(p).0.0.bias") { blocks[k - 1].expandWeight = w; blocks[k - 1].expandBias = b }
                if let w = value("\(p).1.0.weight"), let b = value("\(p).1.0.bias") { blocks[k - 1].depthwiseWeight = w; blocks[k - 1].depthwiseBias = b }
                if let w = value("\(p).2.weight"), let b = value("\(p).2.bias") { blocks[k - 1].projectWeight = w; blocks[k - 1].projectBias = b }
            } else {
                if let w = value("\(p).0.0.weight"), let b = value("\(p).0.0.bias") { blocks[k - 1].depthwiseWeight = w; blocks[k - 1].depthwiseBias = b }
                if let w = value("\(p).1.weight"), let b = value("\(p).1.bias") { blocks[k - 1].projectWeight = w; blocks[k - 1].projectBias = b }
            }
        }
        if let w = value("features.18.0.weight"), let b = value("features.18.0.bias") { headWeight = w; headBias = b }
    }

    public var stateTensors: [(String, Tensor)] {
        var out: [(String, Tensor)] = [("features.0.0.weight", stemWeight), ("features.0.0.bias", stemBias)]
        for (i, b) in blocks.enumerated() {
            let p = "features.\(i + 1).conv"
            if let ew = b.expandWeight, let eb = b.expandBias {
                out += [("\(p).0.0.weight", ew), ("\(p).0.0.bias", eb), ("\(p).1.0.weight", b.depthwiseWeight), ("\(p).1.0.bias", b.depthwiseBias),
                        ("\(p).2.weight", b.projectWeight), ("\(p).2.bias", b.projectBias)]
            } else {
                out += [("\(p).0.0.weight", b.depthwiseWeight), ("\(p).0.0.bias", b.depthwiseBias),
                        ("\(p).1.weight", b.projectWeight), ("\(p).1.bias", b.projectBias)]
            }
        }
        out += [("features.18.0.weight", headWeight), ("features.18.0.bias", headBias),
                ("classifier.1.weight", classifierWeight), ("classifier.1.bias", classifierBias)]
        return out
    }
}
