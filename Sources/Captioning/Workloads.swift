import Tensors

/// The decoder work measured by `caption bench`, with the shapes of the PyTorch baseline
/// (`../shared/bench/README.md`): random weights and inputs with fixed seeds; V = 3000, 49 regions,
/// captions of 20 words. Each function prepares its inputs once and returns a closure doing one call's work.
public enum DecoderWorkloads {
    static func features(_ n: Int, _ e: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<(n * 49 * e)).map { _ in rng.uniformFloat() }
    }

    static func satModel(encoderSize: Int) -> ShowAttendTell {
        let m = ShowAttendTell(ShowAttendTellConfig(vocabularySize: 3000, embeddingSize: 512, encoderSize: encoderSize,
                                                    attentionSize: 512, hiddenSize: 512, dropout: 0.5))
        m.initialise(seed: 1)
        return m
    }

    /// One Adam step of the Show-Attend-Tell decoder on 32 captions of 20 words (640 target tokens).
    /// Our decoder computes the region projection once per batch: compare with `train_step_cached_att`.
    public static func satTrainStep(encoderSize: Int, batch: Int = 32) -> () -> Void {
        let m = satModel(encoderSize: encoderSize)
        var rng = SeededRandom(seed: 2)
        var tokens: [Int32] = []
        for _ in 0..<batch { tokens += [1] + (0..<20).map { _ in Int32(4 + rng.int(below: 2996)) } }
        let b = CaptionBatch(features: features(batch, encoderSize, seed: 3), regions: 49, tokens: tokens,
                             lengths: [Int](repeating: 20, count: batch))
        var adam = AdamOptimizer(parameterCount: m.parameters.count, learningRate: 4e-4)
        var dropout: SeededRandom? = SeededRandom(seed: 4)
        return {
            m.parameters.zeroGradients()
            _ = m.trainStep(b, attentionPenaltyWeight: 1, rng: &dropout)
            adam.update(m.parameters)
        }
    }

    /// Beam search of one image with fixed work: no hypothesis ever ends (the end token is outside the
    /// vocabulary), so every call runs 20 steps with 5 live beams, as the baseline's `beam5/batch1`.
    public static func satBeam(encoderSize: Int, beam: Int = 5, images: Int = 1) -> () -> Void {
        let m = satModel(encoderSize: encoderSize)
        let f = features(images, encoderSize, seed: 5)
        let o = BeamSearchOptions(beamWidth: beam, maxLength: 20, startToken: 1, endToken: 3000)
        return {
            var d = ShowAttendTellStepDecoder(model: m, features: f, imageCount: images, regions: 49)
            _ = beamSearch(&d, imageCount: images, options: o)
        }
    }

    /// The same fixed-work beam search as `satBeam`, on region features `[images, 49, E]` (row-major) given at
    /// each call: the decoding half of the baseline's `end_to_end/...+sat_beam5`.
    public static func satBeamOnFeatures(encoderSize: Int, beam: Int = 5) -> (_ features: [Float], _ images: Int) -> Void {
        let m = satModel(encoderSize: encoderSize)
        let o = BeamSearchOptions(beamWidth: beam, maxLength: 20, startToken: 1, endToken: 3000)
        return { f, images in
            var d = ShowAttendTellStepDecoder(model: m, features: f, imageCount: images, regions: 49)
            _ = beamSearch(&d, imageCount: images, options: o)
        }
    }

    /// Greedy decoding of exactly 20 words per image (no early stop), including the initial state.
    public static func satGreedy(encoderSize: Int, batch: Int) -> () -> Void { satBeam(encoderSize: encoderSize, beam: 1, images: batch) }

    static func transformerModel() -> TransformerDecoder {
        let m = TransformerDecoder(TransformerConfig(vocabularySize: 3000, modelSize: 512, heads: 8, feedForwardSize: 2048, layers: 3,
                                                     encoderSize: 512, maxPositions: 64, dropout: 0.1))
        m.initialise(seed: 6)
        return m
    }

    /// Greedy decoding of 20 tokens per image with the key/value cache (the baseline recomputes the prefix:
    /// an algorithmic difference, stated wherever the ratio is quoted).
    public static func transformerGreedy(batch: Int) -> () -> Void { transformerBeam(beam: 1, images: batch) }

    /// Beam search of the transformer decoder with fixed work (no hypothesis ends; 20 steps), `images` at once.
    public static func transformerBeam(beam: Int = 5, images batch: Int) -> () -> Void {
        let m = transformerModel()
        let f = features(batch, 512, seed: 7)
        let o = BeamSearchOptions(beamWidth: beam, maxLength: 20, startToken: 1, endToken: 3000)
        return {
            var d = TransformerStepDecoder(model: m, features: f, imageCount: batch, regions: 49)
            _ = beamSearch(&d, imageCount: batch, options: o)
        }
    }

    /// One Adam step of the transformer decoder on 32 sequences of 20 tokens.
    public static func transformerTrainStep(batch: Int = 32) -> () -> Void {
        let m = transformerModel()
        var rng = SeededRandom(seed: 8)
        var tokens: [Int32] = []
        for _ in 0..<batch { tokens += [1] + (0..<20).map { _ in Int32(4 + rng.int(below: 2996)) } }
        let b = CaptionBatch(features: features(batch, 512, seed: 9), regions: 49, tokens: tokens, lengths: [Int](repeating: 20, count: batch))
        var adam = AdamOptimizer(parameterCount: m.parameters.count, learningRate: 1e-4)
        var dropout: SeededRandom? = SeededRandom(seed: 10)
        return {
            m.parameters.zeroGradients()
            _ = m.trainStep(b, rng: &dropout)
            adam.update(m.parameters)
        }
    }
}
