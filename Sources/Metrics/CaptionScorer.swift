/// Corpus scores of a set of captions, each on a 0–1 scale except CIDEr-D (0–10 in principle, 10× scale).
public struct CaptionScores: Sendable, Equatable {
    /// BLEU-1…4.
    public var bleu: [Double]
    /// CIDEr-D (pycocoevalcap's `Cider`).
    public var cider: Double
    /// ROUGE-L (β = 1.2).
    public var rougeL: Double
    /// Number of images scored.
    public var images: Int

    public init(bleu: [Double], cider: Double, rougeL: Double, images: Int) {
        self.bleu = bleu
        self.cider = cider
        self.rougeL = rougeL
        self.images = images
    }
}

/// The scores of one image (BLEU from that image's own counts, as pycocoevalcap's second return value).
public struct ImageScores: Sendable, Equatable {
    public var image: String
    public var bleu: [Double]
    public var cider: Double
    public var rougeL: Double
}

/// Bad scoring input, as one line.
public struct MetricsError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Scores raw captions the way pycocoevalcap's COCOEvalCap does: PTB-tokenize (see `PTBTokenizer`), then
/// BLEU-1…4, CIDEr-D and ROUGE-L over the images, in order of image id.
public enum CaptionScorer {
    /// Raw captions in; PTB-tokenized inside, pycocoevalcap protocol. Keys are image ids. Every image needs a
    /// hypothesis and at least one reference: otherwise the error names the first such image.
    public static func score(hypotheses: [String: String], references: [String: [String]]) throws(MetricsError) -> CaptionScores {
        try scoreImages(hypotheses: hypotheses, references: references).corpus
    }

    /// As `score`, plus every image's scores, sorted by image id.
    public static func scoreImages(hypotheses: [String: String], references: [String: [String]]) throws(MetricsError)
        -> (corpus: CaptionScores, images: [ImageScores]) {
        let ids = try imageOrder(hypotheses: hypotheses, references: references)
        let hyps = ids.map { PTBTokenizer.tokenize(hypotheses[$0] ?? "") }
        let refs = ids.map { (references[$0] ?? []).map(PTBTokenizer.tokenize) }
        return scoreTokenized(images: ids, hypotheses: hyps, references: refs)
    }

    /// Scores captions that are already scoring tokens (`PTBTokenizer.tokenize` output), image i being
    /// `images[i]`. For callers that tokenize once and score many times.
    public static func scoreTokenized(images: [String], hypotheses: [[String]], references: [[[String]]])
        -> (corpus: CaptionScores, images: [ImageScores]) {
        var index = NGramIndex()
        // BLEU and CIDEr split with Python's str.split(), which also splits at the non-breaking spaces the
        // PTB tokenizer puts inside tokens like `1 1/2`; ROUGE splits at spaces only.
        func pythonSplit(_ tokens: [String]) -> [String] {
            guard tokens.contains(where: { $0.unicodeScalars.contains("\u{00A0}") }) else { return tokens }
            return tokens.flatMap { $0.split(separator: "\u{00A0}").map(String.init) }
        }
        var hypWords: [[Int32]] = [], refWords: [[[Int32]]] = []
        var hypRouge: [[Int32]] = [], refRouge: [[[Int32]]] = []
        hypWords.reserveCapacity(images.count); hypRouge.reserveCapacity(images.count)
        for (h, rs) in zip(hypotheses, references) {
            hypWords.append(index.words(pythonSplit(h)))
            hypRouge.append(index.words(h.isEmpty ? [""] : h))
            refWords.append(rs.map { index.words(pythonSplit($0)) })
            refRouge.append(rs.map { index.words($0.isEmpty ? [""] : $0) })
        }
        let hypGrams = hypWords.map { index.ngramSentence($0) }
        let refGrams = refWords.map { $0.map { index.ngramSentence($0) } }
        let bleu = BLEU.score(hypGrams, refGrams, index: index, maxOrder: 4)
        let cider = CIDErD.score(hypGrams, refGrams, index: index)
        let rouge = ROUGEL.score(hypRouge, refRouge)
        let corpus = CaptionScores(bleu: bleu.corpus, cider: cider.corpus, rougeL: rouge.corpus, images: images.count)
        var per: [ImageScores] = []
        per.reserveCapacity(images.count)
        for i in images.indices {
            per.append(ImageScores(image: images[i], bleu: bleu.perImage[i], cider: cider.perImage[i], rougeL: rouge.perImage[i]))
        }
        return (corpus, per)
    }

    /// The images in id order, after checking that both sides have the same images.
    static func imageOrder(hypotheses: [String: String], references: [String: [String]]) throws(MetricsError) -> [String] {
        guard !hypotheses.isEmpty || !references.isEmpty else { throw MetricsError("nothing to score: no hypotheses and no references") }
        let ids = hypotheses.keys.sorted(by: imageIdPrecedes)
        if let missing = ids.first(where: { references[$0] == nil }) {
            throw MetricsError("image \(missing) has a hypothesis but no references")
        }
        if let extra = references.keys.sorted(by: imageIdPrecedes).first(where: { hypotheses[$0] == nil }) {
            throw MetricsError("image \(extra) has references but no hypothesis")
        }
        if let empty = ids.first(where: { references[$0]?.isEmpty ?? true }) {
            throw MetricsError("image \(empty) has an empty list of references")
        }
        return ids
    }

    /// Image ids in natural order: numerically when both are integers (COCO ids), else by bytes.
    public static func imageIdPrecedes(_ a: String, _ b: String) -> Bool {
        if let x = Int(a), let y = Int(b), x != y { return x < y }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
