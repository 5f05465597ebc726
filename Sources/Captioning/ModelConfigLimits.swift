/// Bounds on the sizes a model file's config may declare, checked before any parameter is allocated, so that a
/// corrupt or hostile config is one error line instead of a crash or a multi-terabyte allocation.
extension ModelConfig {
    /// Largest decoder accepted, in parameters (2^30 floats = 4 GiB).
    public static let maximumDecoderParameters = 1 << 30
    /// Largest single size (embedding, hidden, attention, channels…); the CLI's options stop at 65536 too.
    public static let maximumSize = 65536
    /// Largest vocabulary accepted, in tokens.
    public static let maximumVocabulary = 10_000_000

    /// Throws a one-line error naming the first size out of range, or the parameter count above the limit;
    /// returns about how many parameters the decoder has (exact for the lstm, an upper bound for the transformer).
    @discardableResult
    public func validate() throws(DatasetError) -> Double {
        func check(_ name: String, _ v: Int, _ range: ClosedRange<Int>) throws(DatasetError) {
            guard range.contains(v) else {
                throw DatasetError("model config: \(name) \(v) is outside \(range.lowerBound)...\(range.upperBound)")
            }
        }
        func checkDropout(_ v: Float) throws(DatasetError) {
            guard v >= 0, v < 1 else { throw DatasetError("model config: dropout \(v) is outside [0, 1)") }
        }
        let size = 1...Self.maximumSize
        try check("encoder gridSize", encoder.gridSize, 1...1024)
        try check("encoder channels", encoder.channels, size)
        if let s = encoder.inputSize { try check("encoder inputSize", s, 1...Self.maximumSize) }
        var parameters = 0.0
        switch decoder {
        case "lstm":
            guard let c = lstm else { throw DatasetError("model config names the lstm decoder but has no lstm sizes") }
            try check("lstm vocabularySize", c.vocabularySize, 1...Self.maximumVocabulary)
            try check("lstm embeddingSize", c.embeddingSize, size)
            try check("lstm attentionSize", c.attentionSize, size)
            try check("lstm hiddenSize", c.hiddenSize, size)
            try check("lstm encoderSize", c.encoderSize, size)
            try checkDropout(c.dropout)
            let (V, E, A, H, C) = (Double(c.vocabularySize), Double(c.embeddingSize), Double(c.attentionSize),
                                   Double(c.hiddenSize), Double(c.encoderSize))
            parameters = V * E + 4 * H * (E + C + H + 2) + A * (C + H + 3) + 1 + V * (H + 1) + C * (H + 1) + 2 * H * (C + 1)
            guard c.encoderSize == encoder.channels else {
                throw DatasetError("model config: the lstm reads \(c.encoderSize)-channel regions but the encoder gives \(encoder.channels)")
            }
        case "transformer":
            guard let c = transformer else { throw DatasetError("model config names the transformer decoder but has no transformer sizes") }
            try check("transformer vocabularySize", c.vocabularySize, 1...Self.maximumVocabulary)
            try check("transformer modelSize", c.modelSize, size)
            try check("transformer heads", c.heads, 1...1024)
            try check("transformer feedForwardSize", c.feedForwardSize, 1...262_144)
            try check("transformer layers", c.layers, 1...64)
            try check("transformer encoderSize", c.encoderSize, size)
            try check("transformer maxPositions", c.maxPositions, 1...4096)
            try checkDropout(c.dropout)
            guard c.modelSize % c.heads == 0 else {
                throw DatasetError("transformer model size \(c.modelSize) is not a multiple of its \(c.heads) heads")
            }
            let (V, D, F, L, C, P) = (Double(c.vocabularySize), Double(c.modelSize), Double(c.feedForwardSize),
                                      Double(c.layers), Double(c.encoderSize), Double(c.maxPositions))
            parameters = V * D + P * D + C * (D + 1) + L * (8 * D * (D + 1) + 2 * D * F + F + D + 6 * D) + V * (D + 1)
            guard c.encoderSize == encoder.channels else {
                throw DatasetError("model config: the transformer reads \(c.encoderSize)-channel regions but the encoder gives \(encoder.channels)")
            }
        default:
            throw DatasetError("unknown decoder '\(decoder)' (expected lstm or transformer)")
        }
        guard parameters <= Double(Self.maximumDecoderParameters) else {
            throw DatasetError("model config: a decoder of about \(Int(parameters)) parameters is above the limit of \(Self.maximumDecoderParameters)")
        }
        return parameters
    }
}
