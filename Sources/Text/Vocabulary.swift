import SafeTensors

/// A word ↔ id mapping with the four special tokens first (`<pad>` 0, `<start>` 1, `<end>` 2, `<unk>` 3),
/// then the training words by descending count (ties by word, byte order), with their training-split counts.
///
/// JSON form (DESIGN.md, `Vocab/`):
/// `{"special_tokens": ["<pad>","<start>","<end>","<unk>"], "min_count": 5, "words": ["<pad>", …, "a", "dog", …],
///   "counts": [0, 0, 0, 0, 40000, 8000, …]}` — `words` is in id order and starts with the specials,
/// `counts` runs parallel to it (0 for the specials), `min_count` is optional.
public struct Vocabulary: Sendable, Equatable {
    public static let pad: Int32 = 0, start: Int32 = 1, end: Int32 = 2, unknown: Int32 = 3
    public static let specialTokens = ["<pad>", "<start>", "<end>", "<unk>"]

    /// Every token in id order, the specials first.
    public private(set) var words: [String]
    /// Training-split count of each token (0 for the specials).
    public private(set) var counts: [Int]
    /// The minimum count the vocabulary was built with, when known.
    public private(set) var minCount: Int?
    private var ids: [String: Int32]

    /// Number of tokens, specials included (the decoders' output size).
    public var count: Int { words.count }

    /// Builds a vocabulary from tokenized training captions, keeping words seen at least `minCount` times
    /// (`minCount` below 1 counts as 1). Words equal to a special token are not counted.
    public init(counting captions: [[String]], minCount: Int) {
        var tally: [String: Int] = [:]
        for caption in captions { for w in caption { tally[w, default: 0] += 1 } }
        for s in Vocabulary.specialTokens { tally[s] = nil }
        let threshold = max(1, minCount)
        let kept = tally.filter { $0.value >= threshold }.sorted { a, b in
            a.value != b.value ? a.value > b.value : a.key.utf8.lexicographicallyPrecedes(b.key.utf8)
        }
        words = Vocabulary.specialTokens + kept.map(\.key)
        counts = Array(repeating: 0, count: Vocabulary.specialTokens.count) + kept.map(\.value)
        self.minCount = minCount
        ids = Vocabulary.index(words)
    }

    /// A vocabulary from its words in id order (the specials first) and their counts.
    public init(words: [String], counts: [Int], minCount: Int? = nil) throws(VocabularyError) {
        guard words.count == counts.count else {
            throw VocabularyError("vocabulary has \(words.count) words but \(counts.count) counts")
        }
        guard words.count >= Vocabulary.specialTokens.count,
              Array(words.prefix(Vocabulary.specialTokens.count)) == Vocabulary.specialTokens else {
            throw VocabularyError("vocabulary words must start with the special tokens \(Vocabulary.specialTokens.joined(separator: " "))")
        }
        var seen: [String: Int32] = [:]
        for (i, w) in words.enumerated() {
            if w.isEmpty { throw VocabularyError("vocabulary word \(i) is empty") }
            if let first = seen[w] { throw VocabularyError("vocabulary word '\(w)' appears twice (ids \(first) and \(i))") }
            seen[w] = Int32(i)
        }
        if let bad = counts.firstIndex(where: { $0 < 0 }) {
            throw VocabularyError("vocabulary count of '\(words[bad])' is negative")
        }
        self.words = words
        self.counts = counts
        self.minCount = minCount
        ids = seen
    }

    /// Parses the JSON form; every problem is a one-line `VocabularyError`.
    public init(json: String) throws(VocabularyError) {
        let root: JSONValue
        do { root = try JSONValue.parse(json) } catch { throw VocabularyError("vocabulary: \(error.description)") }
        guard case .object(let members) = root else { throw VocabularyError("vocabulary JSON must be an object") }
        var keys = Set<String>()
        for (k, _) in members where !keys.insert(k).inserted {
            throw VocabularyError("vocabulary JSON has the key '\(k)' twice")
        }
        guard let specialsValue = root["special_tokens"] else { throw VocabularyError("vocabulary JSON lacks \"special_tokens\"") }
        guard let specials = specialsValue.arrayValue?.compactMap(\.stringValue), specials.count == specialsValue.arrayValue?.count else {
            throw VocabularyError("vocabulary \"special_tokens\" must be an array of strings")
        }
        guard specials == Vocabulary.specialTokens else {
            throw VocabularyError("vocabulary \"special_tokens\" must be \(Vocabulary.specialTokens.joined(separator: " ")), got \(specials.joined(separator: " "))")
        }
        guard let wordsValue = root["words"] else { throw VocabularyError("vocabulary JSON lacks \"words\"") }
        guard let wordItems = wordsValue.arrayValue else { throw VocabularyError("vocabulary \"words\" must be an array") }
        var words: [String] = []
        words.reserveCapacity(wordItems.count)
        for (i, v) in wordItems.enumerated() {
            guard let s = v.stringValue else { throw VocabularyError("vocabulary word \(i) is not a string") }
            words.append(s)
        }
        guard let countsValue = root["counts"] else { throw VocabularyError("vocabulary JSON lacks \"counts\"") }
        guard let countItems = countsValue.arrayValue else { throw VocabularyError("vocabulary \"counts\" must be an array") }
        var counts: [Int] = []
        counts.reserveCapacity(countItems.count)
        for (i, v) in countItems.enumerated() {
            guard let c = v.intValue else { throw VocabularyError("vocabulary count \(i) is not an integer") }
            counts.append(c)
        }
        var minCount: Int? = nil
        if let m = root["min_count"], m != .null {
            guard let v = m.intValue else { throw VocabularyError("vocabulary \"min_count\" must be an integer") }
            minCount = v
        }
        try self.init(words: words, counts: counts, minCount: minCount)
    }

    /// The JSON form: one word and one count a line, so that a vocabulary diffs well in git.
    public func json() -> String {
        var s = "{\n  \"special_tokens\": " + JSONValue.array(Vocabulary.specialTokens.map { .string($0) }).serialized() + ",\n"
        if let minCount { s += "  \"min_count\": \(minCount),\n" }
        s += "  \"words\": [\n"
        for (i, w) in words.enumerated() {
            s += "    " + JSONValue.string(w).serialized() + (i + 1 < words.count ? ",\n" : "\n")
        }
        s += "  ],\n  \"counts\": [\n"
        for (i, c) in counts.enumerated() {
            s += "    \(c)" + (i + 1 < counts.count ? ",\n" : "\n")
        }
        s += "  ]\n}\n"
        return s
    }

    /// The id of `word`, or `Vocabulary.unknown`.
    public func id(_ word: String) -> Int32 { ids[word] ?? Vocabulary.unknown }

    /// Whether `word` has an id of its own.
    public func contains(_ word: String) -> Bool { ids[word] != nil }

    /// Ids of `words` (no `<start>`/`<end>` added); `unknown` lists the words mapped to `<unk>`, each once,
    /// in order of first appearance.
    public func encode(_ words: [String]) -> (ids: [Int32], unknown: [String]) {
        var out: [Int32] = []
        out.reserveCapacity(words.count)
        var unknown: [String] = []
        var reported = Set<String>()
        for w in words {
            if let i = ids[w] {
                out.append(i)
            } else {
                out.append(Vocabulary.unknown)
                if reported.insert(w).inserted { unknown.append(w) }
            }
        }
        return (out, unknown)
    }

    /// Words of `ids` up to the first `<end>`, skipping `<pad>` and `<start>`; ids out of range read as `<unk>`.
    public func decode(_ ids: [Int32]) -> [String] {
        var out: [String] = []
        for i in ids {
            if i == Vocabulary.end { break }
            if i == Vocabulary.pad || i == Vocabulary.start { continue }
            out.append(i >= 0 && Int(i) < words.count ? words[Int(i)] : Vocabulary.specialTokens[Int(Vocabulary.unknown)])
        }
        return out
    }

    /// `decode(ids)` joined by single spaces.
    public func caption(_ ids: [Int32]) -> String { decode(ids).joined(separator: " ") }

    private static func index(_ words: [String]) -> [String: Int32] {
        var d: [String: Int32] = [:]
        d.reserveCapacity(words.count)
        for (i, w) in words.enumerated() { d[w] = Int32(i) }
        return d
    }

    public static func == (a: Vocabulary, b: Vocabulary) -> Bool {
        a.words == b.words && a.counts == b.counts && a.minCount == b.minCount
    }
}

/// A malformed vocabulary (file or arguments), as one line.
public struct VocabularyError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
