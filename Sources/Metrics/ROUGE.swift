/// ROUGE-L as pycocoevalcap's `Rouge()`: the longest common subsequence against each reference, the best
/// precision and the best recall over the references (taken separately), combined as an F-measure with
/// β = 1.2; the corpus score is the mean over images. Captions are split on single spaces, as pycocoevalcap
/// does, so an empty caption is one empty token.
public enum ROUGEL {
    public static let beta = 1.2

    /// Corpus and per-image ROUGE-L of tokenized captions (image i: `hypotheses[i]`, `references[i]`).
    public static func score(hypotheses: [[String]], references: [[[String]]]) -> (corpus: Double, perImage: [Double]) {
        var index = NGramIndex()
        func ids(_ ws: [String]) -> [Int32] { index.words(ws.isEmpty ? [""] : ws) }
        let hyps = hypotheses.map(ids)
        let refs = references.map { $0.map(ids) }
        return score(hyps, refs)
    }

    /// `hyps[i]`, `refs[i]`: word ids as split on single spaces (never empty: an empty caption is [""]).
    static func score(_ hyps: [[Int32]], _ refs: [[[Int32]]]) -> (corpus: Double, perImage: [Double]) {
        var row = [Int32]()
        var per: [Double] = []
        per.reserveCapacity(hyps.count)
        let b2 = beta * beta
        for (img, c) in hyps.enumerated() {
            var precMax = 0.0, recMax = 0.0
            var first = true
            for r in refs[img] {
                let l = Double(lcs(r, c, row: &row))
                let p = l / Double(c.count), q = l / Double(r.count)
                if first || p > precMax { precMax = p }
                if first || q > recMax { recMax = q }
                first = false
            }
            if precMax != 0, recMax != 0 {
                per.append(((1 + b2) * precMax * recMax) / (recMax + b2 * precMax))
            } else {
                per.append(0)
            }
        }
        return (numpyMean(per), per)
    }

    /// Length of the longest common subsequence (one DP row).
    static func lcs(_ a: [Int32], _ b: [Int32], row: inout [Int32]) -> Int {
        let (long, short) = a.count >= b.count ? (a, b) : (b, a)
        guard !short.isEmpty else { return 0 }
        row.removeAll(keepingCapacity: true)
        row.append(contentsOf: repeatElement(0, count: short.count + 1))
        for x in long {
            var diag: Int32 = 0
            for j in 1...short.count {
                let up = row[j]
                row[j] = x == short[j - 1] ? diag + 1 : max(up, row[j - 1])
                diag = up
            }
        }
        return Int(row[short.count])
    }
}
