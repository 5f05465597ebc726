/// A training batch for a decoder: region features and teacher-forcing token sequences.
public struct CaptionBatch: Sendable {
    /// `[batch, regions, encoderSize]`, row-major.
    public var features: [Float]
    public var regions: Int
    /// `[batch, maxLength + 1]`: `<start>`, the caption's tokens, `<end>`, then `<pad>`.
    public var tokens: [Int32]
    /// Number of target tokens of each caption (words + `<end>`), sorted in descending order.
    public var lengths: [Int]

    public var batchSize: Int { lengths.count }
    /// Decode steps (the longest caption's target count).
    public var maxLength: Int { lengths.first ?? 0 }
    var tokenStride: Int { tokens.count / max(batchSize, 1) }

    public init(features: [Float], regions: Int, tokens: [Int32], lengths: [Int]) {
        precondition(zip(lengths, lengths.dropFirst()).allSatisfy { $0 >= $1 }, "lengths must be sorted in descending order")
        precondition(lengths.allSatisfy { $0 >= 1 })
        precondition(tokens.count % max(lengths.count, 1) == 0 && tokens.count / max(lengths.count, 1) > (lengths.first ?? 0))
        self.features = features
        self.regions = regions
        self.tokens = tokens
        self.lengths = lengths
    }
}
