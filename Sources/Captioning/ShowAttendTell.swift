import Tensors

/// Sizes of the Show, Attend and Tell decoder (soft attention over image regions).
public struct ShowAttendTellConfig: Sendable, Equatable, Codable {
    public var vocabularySize: Int
    public var embeddingSize: Int
    public var encoderSize: Int
    public var attentionSize: Int
    public var hiddenSize: Int
    public var dropout: Float
    /// When false, the mean region only initialises the state and no context is fed (the "without attention" baseline).
    public var useAttention: Bool

    public init(vocabularySize: Int, embeddingSize: Int = 512, encoderSize: Int, attentionSize: Int = 512,
                hiddenSize: Int = 512, dropout: Float = 0.5, useAttention: Bool = true) {
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.encoderSize = encoderSize
        self.attentionSize = attentionSize
        self.hiddenSize = hiddenSize
        self.dropout = dropout
        self.useAttention = useAttention
    }

    /// LSTM input width: the word embedding, plus the gated context with attention.
    var lstmInput: Int { embeddingSize + (useAttention ? encoderSize : 0) }
}

/// Show, Attend and Tell (Xu et al. 2015) as in the PyTorch tutorial most users know, with the same parameter
/// names: `attention.{encoder_att,decoder_att,full_att}`, `embedding`, `decode_step` (an `LSTMCell`, gates i, f, g, o),
/// `init_h`, `init_c`, `f_beta` (the sigmoid gate on the context) and `fc`. Forward and backward are written out
/// by hand over whole batches (llm.c style): the output layer and the embedding half of the LSTM input run as one
/// GEMM over all time steps, and the region projection for attention is computed once per batch.
public final class ShowAttendTell {
    public let config: ShowAttendTellConfig
    public let parameters = ParameterStore()
    /// Activation buffers of `trainStep`, kept from one step to the next.
    let trainingArena = Arena()
    /// The decoder-step weights in panel layout for inference (`ShowAttendTellStepDecoder`), packed on first use.
    let stepPanelCache = StepPanelCache()

    // Offsets of every parameter in `parameters`.
    let encAttW, encAttB, decAttW, decAttB, fullAttW, fullAttB: Int
    let embW, wIH, bIH, wHH, bHH, initHW, initHB, initCW, initCB, fBetaW, fBetaB, fcW, fcB: Int

    public init(_ c: ShowAttendTellConfig) {
        config = c
        let p = parameters
        let (V, M, E, A, H) = (c.vocabularySize, c.embeddingSize, c.encoderSize, c.attentionSize, c.hiddenSize)
        // One allocation for all parameters (an upper bound: with attention), not a regrowth per tensor.
        p.reserve(A * (E + H + 3) + 1 + V * (M + H + 1) + 4 * H * (c.lstmInput + H + 2) + 2 * H * (E + 1) + E * (H + 1))
        if c.useAttention {
            encAttW = p.add("attention.encoder_att.weight", shape: [A, E]); encAttB = p.add("attention.encoder_att.bias", shape: [A])
            decAttW = p.add("attention.decoder_att.weight", shape: [A, H]); decAttB = p.add("attention.decoder_att.bias", shape: [A])
            fullAttW = p.add("attention.full_att.weight", shape: [1, A]); fullAttB = p.add("attention.full_att.bias", shape: [1])
        } else {
            (encAttW, encAttB, decAttW, decAttB, fullAttW, fullAttB) = (-1, -1, -1, -1, -1, -1)
        }
        embW = p.add("embedding.weight", shape: [V, M])
        wIH = p.add("decode_step.weight_ih", shape: [4 * H, c.lstmInput]); wHH = p.add("decode_step.weight_hh", shape: [4 * H, H])
        bIH = p.add("decode_step.bias_ih", shape: [4 * H]); bHH = p.add("decode_step.bias_hh", shape: [4 * H])
        initHW = p.add("init_h.weight", shape: [H, E]); initHB = p.add("init_h.bias", shape: [H])
        initCW = p.add("init_c.weight", shape: [H, E]); initCB = p.add("init_c.bias", shape: [H])
        if c.useAttention {
            fBetaW = p.add("f_beta.weight", shape: [E, H]); fBetaB = p.add("f_beta.bias", shape: [E])
        } else {
            (fBetaW, fBetaB) = (-1, -1)
        }
        fcW = p.add("fc.weight", shape: [V, H]); fcB = p.add("fc.bias", shape: [V])
    }

    /// PyTorch's default initialisation for Linear/LSTMCell (uniform ±1/sqrt(fan_in)), and the tutorial's
    /// U(-0.1, 0.1) for the embedding and the output layer (output bias 0).
    public func initialise(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for e in parameters.entries {
            let fanIn = e.shape.count > 1 ? e.shape[1] : (parameters.entries.first { $0.name == e.name.replacingSuffix(".bias", ".weight") }?.shape.last ?? 1)
            var bound = 1 / Float(fanIn).squareRoot()
            if e.name.hasPrefix("decode_step.") { bound = 1 / Float(config.hiddenSize).squareRoot() }
            if e.name == "embedding.weight" || e.name == "fc.weight" { bound = 0.1 }
            if e.name == "fc.bias" { bound = 0 }
            for i in e.offset..<(e.offset + e.count) { parameters.values[i] = bound * (2 * rng.uniformFloat() - 1) }
        }
    }
}

extension String {
    func replacingSuffix(_ suffix: String, _ with: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + with : self
    }
}
