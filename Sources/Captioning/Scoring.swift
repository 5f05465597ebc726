import Metrics

/// Scores hypotheses (`image -> caption`) against raw references (`image -> captions`) with the Metrics module
/// (pycocoevalcap protocol): BLEU-1..4, CIDEr-D, ROUGE-L.
public func scoreCaptions(hypotheses: [String: String], references: [String: [String]]) throws(DatasetError) -> ValidationScores {
    do {
        let s = try CaptionScorer.score(hypotheses: hypotheses, references: references)
        return ValidationScores(bleu: s.bleu, cider: s.cider, rougeL: s.rougeL)
    } catch {
        throw DatasetError("scoring: \(error.description)")
    }
}
