import Captioning

/// `caption summary`: layers, output shapes and parameter counts of a model
enum SummaryCommand: Command {
    static let name = "summary"
    static let summary = "layers, output shapes and parameter counts of a model"
    static let help = """
    usage: caption summary [--model FILE | --encoder NAME --decoder NAME [sizes]]

    Prints each layer with its output shape (without the batch; decoder rows for one caption of T tokens over
    P image regions) and its parameter count, then the totals. Encoder rows come from the Vision encoders
    (ResNets with avgpool/fc and MobileNetV2 with its classifier, as torchvision counts them: captioning uses
    the layers up to the last feature map); decoder rows group the decoder's parameters by module.

      --model FILE         summarise a trained model (its config and vocabulary size)
      --encoder NAME       resnet18 | resnet34 | resnet50 | mobilenet_v2 | small
      --decoder NAME       lstm | transformer (optional: encoder only when absent)
      --vocab-size N       decoder output size (default 2540: the Flickr8k train words with count >= 5, + 4 specials)
      --no-attention       lstm without attention
      --embedding-size N --attention-size N --hidden-size N      lstm sizes (512 each)
      --model-size N --heads N --ff-size N --layers N            transformer sizes (512, 8, 2048, 3)
      --tokens N           caption length T for the decoder shapes (default 20)
    """

    static func run(_ arguments: [String]) throws {
        let a = try Arguments(arguments, valued: ["--model", "--encoder", "--decoder", "--vocab-size", "--embedding-size", "--attention-size",
                                                  "--hidden-size", "--model-size", "--heads", "--ff-size", "--layers", "--tokens"],
                              flags: ["--no-attention"])
        guard a.positionals.isEmpty else { throw CLIError("unexpected argument '\(a.positionals[0])' (see --help)") }
        let T = try a.int("--tokens", default: 20, range: 1...1000)
        var encoderRows: [(row: LayerRow, usedForCaptioning: Bool)] = []
        var decoderRows: [LayerRow] = []
        var title = ""
        if let path = a.value("--model") {
            if a.value("--encoder") != nil || a.value("--decoder") != nil { throw CLIError("give either --model or --encoder/--decoder, not both") }
            let m = try CaptionModel.load(path)
            let spec = m.config.encoder
            encoderRows = try ModelSummary.encoder(spec.name, configuration: spec.configuration, inputSize: spec.inputSize ?? 224)
            decoderRows = ModelSummary.decoder(m.decoder, regions: spec.regions, tokens: T)
            title = "\(path): encoder \(spec.name) (\(spec.gridSize)x\(spec.gridSize)x\(spec.channels) regions), decoder \(m.config.decoder), vocabulary \(m.vocabulary.count)"
        } else {
            guard let enc = a.value("--encoder") else { throw CLIError("give --model FILE, or --encoder NAME [--decoder NAME]") }
            encoderRows = try ModelSummary.encoder(enc)
            let last = encoderRows.last { $0.usedForCaptioning }?.row.outputShape ?? [1, 1, 1]
            let (C, P) = (last[0], last.count == 3 ? last[1] * last[2] : 1)
            title = "encoder \(enc) (\(last.count == 3 ? "\(last[1])x\(last[2])x\(C)" : "\(C)") regions)"
            if let dec = a.value("--decoder") {
                let V = try a.int("--vocab-size", default: 2540, range: 5...10_000_000)
                let config: ModelConfig
                let spec = EncoderSpec(name: enc, gridSize: last.count == 3 ? last[1] : 1, channels: C, preprocessing: "direct", embeddedWeights: false)
                switch dec {
                case "lstm":
                    config = ModelConfig(encoder: spec, decoder: "lstm", lstm: ShowAttendTellConfig(
                        vocabularySize: V, embeddingSize: try a.int("--embedding-size", default: 512, range: 1...65536), encoderSize: C,
                        attentionSize: try a.int("--attention-size", default: 512, range: 1...65536),
                        hiddenSize: try a.int("--hidden-size", default: 512, range: 1...65536), dropout: 0.5, useAttention: !a.flag("--no-attention")))
                case "transformer":
                    let D = try a.int("--model-size", default: 512, range: 1...65536), H = try a.int("--heads", default: 8, range: 1...1024)
                    guard D % H == 0 else { throw CLIError("--model-size \(D) must be a multiple of --heads \(H)") }
                    config = ModelConfig(encoder: spec, decoder: "transformer", transformer: TransformerConfig(
                        vocabularySize: V, modelSize: D, heads: H, feedForwardSize: try a.int("--ff-size", default: 2048, range: 1...262_144),
                        layers: try a.int("--layers", default: 3, range: 1...64), encoderSize: C, maxPositions: 32))
                default:
                    throw CLIError("--decoder expects lstm or transformer, got '\(dec)'")
                }
                decoderRows = ModelSummary.decoder(try CaptionDecoder(config), regions: P, tokens: T)
                title += ", decoder \(dec), vocabulary \(V)"
            }
        }
        let rows = encoderRows.map(\.row) + decoderRows
        let nameWidth = max(24, (rows.map { $0.part.count + 1 + $0.name.count }.max() ?? 0) + 2)
        let shapeWidth = max(18, (rows.map { shapeText($0.outputShape).count }.max() ?? 0) + 2)
        var out = title + "\n\n"
        out += pad("layer", nameWidth) + pad("output shape", shapeWidth) + "parameters\n"
        for r in rows {
            out += pad(r.part + " " + r.name, nameWidth) + pad(shapeText(r.outputShape), shapeWidth) + grouped(r.parameters) + "\n"
        }
        let encAll = encoderRows.reduce(0) { $0 + $1.row.parameters }
        let encUsed = encoderRows.filter(\.usedForCaptioning).reduce(0) { $0 + $1.row.parameters }
        let dec = decoderRows.reduce(0) { $0 + $1.parameters }
        out += "\nencoder parameters: \(grouped(encAll))"
        if encUsed != encAll { out += " (\(grouped(encUsed)) up to the feature map used for captioning)" }
        out += "\n"
        if !decoderRows.isEmpty {
            out += "decoder parameters: \(grouped(dec))\n"
            out += "total (as used for captioning): \(grouped(encUsed + dec))\n"
        }
        print(out, terminator: "")
    }

    static func shapeText(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

    static func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(1, w - s.count)) }

    /// `11,689,512`.
    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return out
    }
}
