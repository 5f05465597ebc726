import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// CIDEr-D as pycocoevalcap's `Cider()` computes it: tf-idf vectors of 1…4-grams with document frequencies
/// taken from the references of the images being scored, the hypothesis' tf-idf clipped by the reference's,
/// a Gaussian length penalty (σ = 6) on the difference in bigram counts (pycocoevalcap's `length`), the
/// mean over n and over references, times 10. The corpus score is the mean of the images' scores.
public enum CIDErD {
    public static let sigma = 6.0

    /// Corpus and per-image CIDEr-D of tokenized captions (image i: `hypotheses[i]`, `references[i]`).
    public static func score(hypotheses: [[String]], references: [[[String]]]) -> (corpus: Double, perImage: [Double]) {
        var index = NGramIndex()
        let hyps = hypotheses.map { index.ngramSentence(index.words($0)) }
        let refs = references.map { $0.map { index.ngramSentence(index.words($0)) } }
        return score(hyps, refs, index: index)
    }

    static func score(_ hyps: [NGramSentence], _ refs: [[NGramSentence]], index: NGramIndex) -> (corpus: Double, perImage: [Double]) {
        let m = index.count
        // document frequency: in how many images' references each n-gram occurs
        var df = [Int32](repeating: 0, count: m)
        var seen = [Int32](repeating: -1, count: m)
        for (img, rs) in refs.enumerated() {
            for r in rs { for g in r.ngrams where seen[Int(g)] != Int32(img) { seen[Int(g)] = Int32(img); df[Int(g)] += 1 } }
        }
        let refLength = log(Double(refs.count))
        // idf term (refLength − log(max(1, df))) per n-gram
        var weight = [Double](repeating: 0, count: m)
        for g in 0..<m { weight[g] = refLength - log(max(1.0, Double(df[g]))) }
        let order = index.order

        var slot = [Int32](repeating: -1, count: m)   // position of an n-gram in the current vector
        var slotOwner = [Int32](repeating: -1, count: m)
        var refValue = [Double](repeating: 0, count: m)
        var refOwner = [Int32](repeating: -1, count: m)
        var serial: Int32 = 0
        let penaltyScale = 2 * sigma * sigma

        // counts2vec: distinct n-grams in first-occurrence order with their tf-idf values, norms, bigram count
        func vector(_ s: NGramSentence, ids: inout [Int32], values: inout [Double]) -> (norm: [Double], length: Int) {
            serial += 1
            ids.removeAll(keepingCapacity: true)
            var tf: [Int] = []
            for g in s.ngrams {
                if slotOwner[Int(g)] != serial { slotOwner[Int(g)] = serial; slot[Int(g)] = Int32(ids.count); ids.append(g); tf.append(0) }
                tf[Int(slot[Int(g)])] += 1
            }
            values.removeAll(keepingCapacity: true)
            var norm = [Double](repeating: 0, count: 4)
            var length = 0
            for (k, g) in ids.enumerated() {
                let v = Double(tf[k]) * weight[Int(g)]
                values.append(v)
                let n = Int(order[Int(g)]) - 1
                norm[n] += v * v
                if n == 1 { length += tf[k] }
            }
            return (norm.map { $0.squareRoot() }, length)
        }

        var perImage: [Double] = []
        perImage.reserveCapacity(hyps.count)
        var hypIds: [Int32] = [], hypValues: [Double] = []
        var refIds: [Int32] = [], refValues: [Double] = []
        for (img, hyp) in hyps.enumerated() {
            let (hypNorm, hypLength) = vector(hyp, ids: &hypIds, values: &hypValues)
            var score = [Double](repeating: 0, count: 4)
            for r in refs[img] {
                let (refNorm, refLen) = vector(r, ids: &refIds, values: &refValues)
                let owner = serial
                for (k, g) in refIds.enumerated() { refOwner[Int(g)] = owner; refValue[Int(g)] = refValues[k] }
                let delta = Double(hypLength - refLen)
                var val = [Double](repeating: 0, count: 4)
                for (k, g) in hypIds.enumerated() {
                    let vr = refOwner[Int(g)] == owner ? refValue[Int(g)] : 0
                    val[Int(order[Int(g)]) - 1] += min(hypValues[k], vr) * vr
                }
                let penalty = pow(M_E, -(delta * delta) / penaltyScale)
                for n in 0..<4 {
                    if hypNorm[n] != 0, refNorm[n] != 0 { val[n] /= hypNorm[n] * refNorm[n] }
                    val[n] *= penalty
                    score[n] += val[n]
                }
            }
            var avg = numpyMean(score)
            avg /= Double(refs[img].count)
            avg *= 10.0
            perImage.append(avg)
        }
        return (numpyMean(perImage), perImage)
    }
}
