import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// BLEU-1…4 exactly as pycocoevalcap's `Bleu(4)` (`BleuScorer` with `option='closest'`): clipping by the
/// maximum count in any one reference, the reference length closest to the hypothesis (ties to the shorter),
/// counts summed over the corpus, and the `tiny = 1e-15` / `small = 1e-9` terms that keep zero-match orders
/// (and hypotheses shorter than n) slightly above 0.
public enum BLEU {
    /// Corpus and per-image BLEU-1…`maxOrder` of tokenized captions: image i has hypothesis `hypotheses[i]`
    /// and references `references[i]` (at least one).
    public static func score(hypotheses: [[String]], references: [[[String]]], maxOrder: Int = 4)
        -> (corpus: [Double], perImage: [[Double]]) {
        var index = NGramIndex()
        let hyps = hypotheses.map { index.ngramSentence(index.words($0), maxOrder: maxOrder) }
        let refs = references.map { $0.map { index.ngramSentence(index.words($0), maxOrder: maxOrder) } }
        return score(hyps, refs, index: index, maxOrder: maxOrder)
    }

    /// The counts of one image (`cook_test`).
    struct Counts {
        var testLength = 0
        var referenceLength = 0
        var guess = [Int](repeating: 0, count: 4)
        var correct = [Int](repeating: 0, count: 4)
    }

    static let tiny = 1e-15, small = 1e-9

    static func score(_ hyps: [NGramSentence], _ refs: [[NGramSentence]], index: NGramIndex, maxOrder n: Int)
        -> (corpus: [Double], perImage: [[Double]]) {
        var refMax = [Int32](repeating: 0, count: index.count)
        var refStamp = [Int32](repeating: -1, count: index.count)
        var hypCount = [Int32](repeating: 0, count: index.count)
        var hypStamp = [Int32](repeating: -1, count: index.count)
        var refCount = [Int32](repeating: 0, count: index.count)
        var refCountStamp = [Int32](repeating: -1, count: index.count)
        var perImage: [[Double]] = []
        perImage.reserveCapacity(hyps.count)
        var total = Counts(guess: [Int](repeating: 0, count: n), correct: [Int](repeating: 0, count: n))
        var refSerial: Int32 = 0
        for (img, hyp) in hyps.enumerated() {
            let stamp = Int32(img)
            // maximum count of every n-gram in any one reference
            var lengths: [Int] = []
            for r in refs[img] {
                lengths.append(r.length)
                refSerial += 1
                for g in r.ngrams {
                    if refCountStamp[Int(g)] != refSerial { refCountStamp[Int(g)] = refSerial; refCount[Int(g)] = 0 }
                    refCount[Int(g)] += 1
                    let c = refCount[Int(g)]
                    if refStamp[Int(g)] != stamp { refStamp[Int(g)] = stamp; refMax[Int(g)] = c } else if c > refMax[Int(g)] { refMax[Int(g)] = c }
                }
            }
            var c = Counts(guess: [Int](repeating: 0, count: n), correct: [Int](repeating: 0, count: n))
            c.testLength = hyp.length
            // closest reference length, ties to the shorter: min over (|l − testlen|, l)
            var best = (Int.max, Int.max)
            for l in lengths {
                let cand = (abs(l - hyp.length), l)
                if cand < best { best = cand }
            }
            c.referenceLength = lengths.isEmpty ? 0 : best.1
            for k in 0..<n { c.guess[k] = max(0, hyp.length - k) }
            for g in hyp.ngrams {
                if hypStamp[Int(g)] != stamp { hypStamp[Int(g)] = stamp; hypCount[Int(g)] = 0 }
                hypCount[Int(g)] += 1
                // each extra occurrence is a match while the hypothesis count stays within the reference maximum
                if refStamp[Int(g)] == stamp, hypCount[Int(g)] <= refMax[Int(g)] {
                    c.correct[Int(index.order[Int(g)]) - 1] += 1
                }
            }
            perImage.append(bleu(c, maxOrder: n))
            total.testLength += c.testLength
            total.referenceLength += c.referenceLength
            for k in 0..<n { total.guess[k] += c.guess[k]; total.correct[k] += c.correct[k] }
        }
        return (bleu(total, maxOrder: n), perImage)
    }

    /// `compute_score`'s expression for one set of counts.
    static func bleu(_ c: Counts, maxOrder n: Int) -> [Double] {
        var out: [Double] = []
        var b = 1.0
        for k in 0..<n {
            b *= (Double(c.correct[k]) + tiny) / (Double(c.guess[k]) + small)
            out.append(pow(b, 1.0 / Double(k + 1)))
        }
        let ratio = (Double(c.testLength) + tiny) / (Double(c.referenceLength) + small)
        if ratio < 1 {
            let penalty = exp(1 - 1 / ratio)
            for k in 0..<n { out[k] *= penalty }
        }
        return out
    }
}

/// A sentence's length and its n-gram ids in `precook` order.
struct NGramSentence: Sendable {
    var length: Int
    var ngrams: [Int32]
}

extension NGramIndex {
    mutating func ngramSentence(_ words: [Int32], maxOrder: Int = NGramIndex.maxOrder) -> NGramSentence {
        NGramSentence(length: words.count, ngrams: ngrams(words, maxOrder: maxOrder))
    }
}
