/// Scores hypotheses (`image -> caption`) against raw references (`image -> captions`) with the Metrics module
/// (pycocoevalcap protocol): BLEU-1..4, CIDEr-D, ROUGE-L.
public func scoreCaptions(hypotheses: [String: String], references: [String: [String]]) throws -> ValidationScores {
    // Pending the Metrics module's CaptionScorer.
    ValidationScores(bleu: [0, 0, 0, 0], cider: 0, rougeL: 0)
}
