import NeuralNetwork
import Vision

/// One row of `caption summary`: a layer, its output shape (without the batch; decoders: per caption of `T`
/// tokens over `P` regions), and its parameter count.
public struct LayerRow: Sendable, Equatable {
    public var part: String
    public var name: String
    public var outputShape: [Int]
    public var parameters: Int
    public init(part: String, name: String, outputShape: [Int], parameters: Int) {
        self.part = part
        self.name = name
        self.outputShape = outputShape
        self.parameters = parameters
    }
}

/// Layer tables of encoders (from the Vision encoders' own structure) and decoders (from their parameter stores).
public enum ModelSummary {
    /// The encoder's layers for a `size`x`size` input. ResNets include `avgpool`/`fc` and MobileNetV2 its classifier,
    /// as torchvision counts them; `usedForCaptioning` says which rows captioning runs.
    public static func encoder(_ name: String, configuration: String? = nil, inputSize size: Int = 224) throws(DatasetError) -> [(row: LayerRow, usedForCaptioning: Bool)] {
        switch name {
        case "resnet18", "resnet34", "resnet50":
            guard let depth = ResNetDepth(name: name) else { throw DatasetError("unknown encoder \(name)") }
            return ResNet(depth, upTo: .fc).layerSummary(inputSize: size).map { r in
                (LayerRow(part: "encoder", name: r.name, outputShape: r.outputShape, parameters: r.parameters), r.name != "avgpool" && r.name != "fc")
            }
        case "mobilenet_v2":
            var groups: [(String, Int)] = []
            for (key, shape) in MobileNetV2.expectedShapes {
                let parts = key.split(separator: ".")
                let g = parts[0] == "classifier" ? "classifier" : parts.prefix(2).joined(separator: ".")
                let n = shape.reduce(1, *)
                if let last = groups.last, last.0 == g { groups[groups.count - 1].1 += n } else { groups.append((g, n)) }
            }
            // Output channels and strides per block, from the paper's table.
            var shapes: [[Int]] = []
            var side = (size + 1) / 2
            shapes.append([32, side, side])
            for s in MobileNetV2Settings.table {
                for i in 0..<s.n {
                    if i == 0 && s.s == 2 { side = (side + 1) / 2 }
                    shapes.append([s.c, side, side])
                }
            }
            shapes.append([1280, side, side])
            shapes.append([1001])
            return zip(groups, shapes).map { g, s in (LayerRow(part: "encoder", name: g.0, outputShape: s, parameters: g.1), g.0 != "classifier") }
        case "small":
            let config = try configuration.map { t throws(DatasetError) in
                do { return try SmallCNNConfiguration(parsing: t) } catch { throw DatasetError("\(error)") }
            } ?? .standard()
            let m = SmallCNN(configuration: config)
            var counts: [(String, Int)] = []
            for (key, v) in m.namedParameters {
                let g = key.split(separator: ".").prefix(2).joined(separator: ".")
                if let last = counts.last, last.0 == g { counts[counts.count - 1].1 += v.value.count } else { counts.append((g, v.value.count)) }
            }
            var side = (size + 1) / 2
            var shapes: [[Int]] = [[config.stemChannels, side, side]]
            for b in config.blocks {
                side = (side + b.stride - 1) / b.stride
                shapes.append([b.channels, side, side])
            }
            if let p = config.projectionChannels { shapes.append([p, side, side]) }
            return zip(counts, shapes).map { g, s in (LayerRow(part: "encoder", name: g.0, outputShape: s, parameters: g.1), true) }
        default:
            throw DatasetError("unknown encoder '\(name)' (expected one of \(EncoderCatalog.names.joined(separator: ", ")))")
        }
    }

    /// The decoder's layers, grouped by module from its parameter store, with output shapes for a caption of
    /// `tokens` tokens over `regions` regions.
    public static func decoder(_ d: CaptionDecoder, regions P: Int, tokens T: Int = 20) -> [LayerRow] {
        var groups: [(String, Int)] = []
        for e in d.parameters.entries {
            let parts = e.name.split(separator: ".")
            let g = parts.dropLast().joined(separator: ".")
            if let last = groups.last, last.0 == g { groups[groups.count - 1].1 += e.count } else { groups.append((g, e.count)) }
        }
        func shape(_ g: String) -> [Int] {
            switch d {
            case .lstm(let m):
                let c = m.config
                switch g {
                case "attention.encoder_att": return [P, c.attentionSize]
                case "attention.decoder_att": return [T, c.attentionSize]
                case "attention.full_att": return [T, P]
                case "embedding": return [T, c.embeddingSize]
                case "decode_step": return [T, c.hiddenSize]
                case "init_h", "init_c": return [c.hiddenSize]
                case "f_beta": return [T, c.encoderSize]
                case "fc": return [T, c.vocabularySize]
                default: return []
                }
            case .transformer(let m):
                let c = m.config
                if g == "mem_proj" { return [P, c.modelSize] }
                if g == "fc" { return [T, c.vocabularySize] }
                if g.hasSuffix("linear1") { return [T, c.feedForwardSize] }
                if g.hasSuffix("self_attn") || g.hasSuffix("multihead_attn") { return [T, 3 * c.modelSize] }
                return [T, c.modelSize]
            }
        }
        return groups.map { LayerRow(part: "decoder", name: $0.0, outputShape: shape($0.0), parameters: $0.1) }
    }
}

/// MobileNetV2's `(t, c, n, s)` table (Sandler et al. 2018, Table 2).
enum MobileNetV2Settings {
    static let table: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]
}
