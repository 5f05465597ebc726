#if canImport(Glibc)
import Glibc
#endif

/// A decoder that beam search can drive: it holds one recurrent/cached state per live row and, given each
/// row's last token, returns log-probabilities for the next token of every row.
public protocol StepDecoder {
    /// Vocabulary size `V` (the width of every log-probability row).
    var vocabularySize: Int { get }
    /// Advances every live row by one token. Returns `[rows, V]` log-probabilities, row-major, and optionally
    /// `[rows, regions]` attention weights over the image regions used for this step.
    mutating func step(lastTokens: [Int]) -> (logProbabilities: [Float], attention: [Float]?)
    /// Rebuilds the live rows: new row `i` continues old row `parents[i]` (rows may repeat or disappear).
    mutating func select(rows parents: [Int])
}

/// How a hypothesis' summed log-probability is normalised for ranking.
public enum LengthPenalty: Sendable, Equatable {
    /// Raw summed log-probability (favours short captions).
    case none
    /// `score / length^alpha`.
    case average(alpha: Double)
    /// GNMT: `score / ((5 + length)^alpha / 6^alpha)`.
    case gnmt(alpha: Double)

    /// The default of `caption describe`/`eval` and of training's val decoding: `score / length^0.75`.
    /// Chosen on the Flickr8k val split (MobileNetV2 + LSTM model; BLEU-4 at beam 3 / 5): none 0.1919 / 0.1929,
    /// 0.6 0.1928 / 0.1975, 0.7 0.1963 / 0.1993, 0.75 0.1967 / 0.1996, 0.8 0.1956 / 0.1984, 0.9 0.1929 / 0.1946,
    /// 1.2 0.1782 / 0.1777, gnmt:1.0 0.1939 / 0.1974 (README, "Results on Flickr8k").
    public static let standard = LengthPenalty.average(alpha: 0.75)

    public func normalise(_ logProbability: Double, length: Int) -> Double {
        switch self {
        case .none: return logProbability
        case .average(let a): return logProbability / pow(Double(max(length, 1)), a)
        case .gnmt(let a): return logProbability / pow((5 + Double(length)) / 6, a)
        }
    }
}

/// Beam-search settings. `beamWidth == 1` is greedy decoding through the same code.
public struct BeamSearchOptions: Sendable {
    public var beamWidth: Int
    public var maxLength: Int
    public var minLength: Int
    public var lengthPenalty: LengthPenalty
    public var nBest: Int
    /// Forbid any n-gram of this size from appearing twice (0 = off).
    public var noRepeatNgram: Int
    public var startToken: Int
    public var endToken: Int
    /// Tokens never generated (e.g. `<pad>`, `<start>`, `<unk>`).
    public var suppressedTokens: Set<Int>

    public init(beamWidth: Int = 5, maxLength: Int = 20, minLength: Int = 0, lengthPenalty: LengthPenalty = .none,
                nBest: Int = 1, noRepeatNgram: Int = 0, startToken: Int, endToken: Int, suppressedTokens: Set<Int> = []) {
        self.beamWidth = max(1, beamWidth)
        self.maxLength = max(1, maxLength)
        self.minLength = max(0, minLength)
        self.lengthPenalty = lengthPenalty
        self.nBest = max(1, nBest)
        self.noRepeatNgram = max(0, noRepeatNgram)
        self.startToken = startToken
        self.endToken = endToken
        self.suppressedTokens = suppressedTokens
    }
}

/// One decoded caption.
public struct Hypothesis: Sendable, Equatable {
    /// Generated tokens without `<start>` and without `<end>`.
    public var tokens: [Int]
    /// Sum of the log-probabilities of the generated tokens (including `<end>` when it finished).
    public var logProbability: Double
    /// The ranking score (`logProbability` normalised by the length penalty).
    public var score: Double
    /// Whether it ended with `<end>` (false: cut at the maximum length).
    public var finished: Bool
    /// Attention weights per generated token (`tokens.count` rows), when the decoder reports them.
    public var attention: [[Float]]
}

/// Batched beam search over images x beams: every step advances all live hypotheses of all images together.
/// Each image keeps a pool of finished hypotheses and a live beam that is refilled to full width after
/// hypotheses finish (the beam never shrinks). When nothing has finished by `maxLength`, the best live
/// hypotheses are returned. Results: for each image, up to `nBest` hypotheses, best first, all distinct.
public func beamSearch<D: StepDecoder>(_ decoder: inout D, imageCount: Int, options o: BeamSearchOptions) -> [[Hypothesis]] {
    let V = decoder.vocabularySize
    let K = o.beamWidth
    // Live rows, grouped by image in row order; initially one row per image.
    var live: [[Live]] = (0..<imageCount).map { _ in [Live(tokens: [], logProb: 0, attention: [])] }
    var finished: [[Hypothesis]] = Array(repeating: [], count: imageCount)
    var done = [Bool](repeating: false, count: imageCount)
    let poolTarget = max(K, o.nBest)

    for t in 0..<o.maxLength {
        let lastTokens = live.flatMap { $0.map { $0.tokens.last ?? o.startToken } }
        if lastTokens.isEmpty { break }
        let (logp, attention) = decoder.step(lastTokens: lastTokens)
        precondition(logp.count == lastTokens.count * V, "decoder returned \(logp.count) log-probabilities for \(lastTokens.count) rows")
        let regions = attention.map { $0.count / max(lastTokens.count, 1) } ?? 0
        let lastStep = t == o.maxLength - 1
        var parents: [Int] = []
        var nextLive: [[Live]] = Array(repeating: [], count: imageCount)
        var row = 0
        for img in 0..<imageCount {
            let rows = live[img]
            defer { row += rows.count }
            if done[img] || rows.isEmpty { continue }
            // Candidates: (parent row within image, token, cumulative log-prob).
            var cands: [(Int, Int, Double)] = []
            cands.reserveCapacity(rows.count * min(V, 2 * K + 1))
            for (r, h) in rows.enumerated() {
                let base = (row + r) * V
                let banned = bannedTokens(h.tokens, n: o.noRepeatNgram)
                // The best 2K tokens of this row (enough to refill K live after up to K of them finish),
                // kept in a small sorted array: one pass over the vocabulary, no full sort.
                let keep = 2 * K
                var rowCands: [(Int, Double)] = []
                rowCands.reserveCapacity(keep + 1)
                var threshold = -Double.infinity
                for v in 0..<V {
                    let lp = Double(logp[base + v])
                    if rowCands.count == keep && lp <= threshold { continue }
                    if lp == -.infinity || lp.isNaN { continue }
                    if v == o.endToken && h.tokens.count < o.minLength { continue }
                    if o.suppressedTokens.contains(v) && v != o.endToken { continue }
                    if banned.contains(v) { continue }
                    let s = h.logProb + lp
                    var at = rowCands.count
                    while at > 0 && rowCands[at - 1].1 < s { at -= 1 }
                    rowCands.insert((v, s), at: at)
                    if rowCands.count > keep { rowCands.removeLast() }
                    if rowCands.count == keep { threshold = rowCands[keep - 1].1 - h.logProb }
                }
                for (v, s) in rowCands { cands.append((r, v, s)) }
            }
            cands.sort { $0.2 > $1.2 || ($0.2 == $1.2 && ($0.0, $0.1) < ($1.0, $1.1)) }
            for (r, v, s) in cands {
                let parent = rows[r]
                var att = parent.attention
                if let attention, regions > 0 {
                    let start = (row + r) * regions
                    att.append(Array(attention[start..<(start + regions)]))
                }
                if v == o.endToken {
                    let len = parent.tokens.count + 1
                    finished[img].append(Hypothesis(tokens: parent.tokens, logProbability: s,
                                                    score: o.lengthPenalty.normalise(s, length: len), finished: true, attention: att))
                } else if nextLive[img].count < K {
                    nextLive[img].append(Live(tokens: parent.tokens + [v], logProb: s, attention: att))
                    parents.append(row + r)
                }
                if nextLive[img].count >= K { break }
            }
            finished[img].sort { $0.score > $1.score }
            if finished[img].count > poolTarget { finished[img].removeLast(finished[img].count - poolTarget) }
            // Stop this image when the pool is full and no live hypothesis can still rank above its worst member.
            if finished[img].count >= poolTarget, let worst = finished[img].last?.score {
                let bestLive = nextLive[img].map { o.lengthPenalty.normalise($0.logProb, length: $0.tokens.count + 1) }.max() ?? -.infinity
                if bestLive <= worst { done[img] = true }
            }
            if nextLive[img].isEmpty { done[img] = true }
            if done[img] {
                parents.removeLast(nextLive[img].count)
                nextLive[img] = []
            }
        }
        if lastStep {
            live = nextLive
            break
        }
        live = nextLive
        decoder.select(rows: parents)
        if done.allSatisfy({ $0 }) { break }
    }
    // Images whose pool is short get their best live (unfinished) hypotheses.
    var results: [[Hypothesis]] = []
    for img in 0..<imageCount {
        var pool = finished[img]
        if pool.count < o.nBest {
            for h in live[img] {
                pool.append(Hypothesis(tokens: h.tokens, logProbability: h.logProb,
                                       score: o.lengthPenalty.normalise(h.logProb, length: h.tokens.count),
                                       finished: false, attention: h.attention))
            }
        }
        pool.sort { $0.score > $1.score || ($0.score == $1.score && $0.finished && !$1.finished) }
        var seen: Set<[Int]> = []
        var unique: [Hypothesis] = []
        for h in pool where seen.insert(h.tokens).inserted {
            unique.append(h)
            if unique.count == o.nBest { break }
        }
        results.append(unique)
    }
    return results
}

/// A live hypothesis during the search.
private struct Live {
    var tokens: [Int]
    var logProb: Double
    var attention: [[Float]]
}

/// Tokens that would complete an n-gram already present in `tokens`.
func bannedTokens(_ tokens: [Int], n: Int) -> Set<Int> {
    guard n > 0, tokens.count >= n - 1 else { return [] }
    if n == 1 { return Set(tokens) }
    let prefix = Array(tokens.suffix(n - 1))
    var banned: Set<Int> = []
    if tokens.count >= n {
        for s in 0...(tokens.count - n) where Array(tokens[s..<(s + n - 1)]) == prefix {
            banned.insert(tokens[s + n - 1])
        }
    }
    return banned
}
