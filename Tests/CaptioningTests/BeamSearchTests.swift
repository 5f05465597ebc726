import XCTest
@testable import Captioning

/// A toy language model: the next-token distribution is a pseudo-random function of (image, whole prefix),
/// so beam search has no shortcut and exhaustive enumeration is the ground truth.
struct ToyDecoder: StepDecoder {
    let vocabularySize: Int
    var rows: [(image: Int, history: [Int])]
    var neverEnd = false
    let endToken: Int
    var stepsTaken = 0

    init(images: [Int], vocabularySize: Int = 5, endToken: Int = 0) {
        self.vocabularySize = vocabularySize
        self.endToken = endToken
        rows = images.map { ($0, []) }
    }

    func logProbabilities(image: Int, history: [Int]) -> [Float] {
        var h: UInt64 = 0xcbf29ce484222325 &+ UInt64(image) &* 0x100000001b3
        for t in history { h = (h ^ UInt64(t &+ 7)) &* 0x100000001b3 }
        var logits: [Double] = []
        for v in 0..<vocabularySize {
            var z = h &+ UInt64(v) &* 0x9E3779B97F4A7C15
            z = (z ^ (z >> 31)) &* 0xBF58476D1CE4E5B9
            z ^= z >> 29
            logits.append(Double(z % 10_000) / 1500.0)
        }
        if neverEnd { logits[endToken] = -1e9 }
        let m = logits.max()!
        let lse = m + log(logits.map { exp($0 - m) }.reduce(0, +))
        return logits.map { Float($0 - lse) }
    }

    mutating func step(lastTokens: [Int]) -> (logProbabilities: [Float], attention: [Float]?) {
        precondition(lastTokens.count == rows.count)
        stepsTaken += 1
        var out: [Float] = []
        var att: [Float] = []
        for i in rows.indices {
            rows[i].history.append(lastTokens[i])
            out += logProbabilities(image: rows[i].image, history: rows[i].history)
            att += [Float(rows[i].history.count), 1]
        }
        return (out, att)
    }

    mutating func select(rows parents: [Int]) {
        rows = parents.map { rows[$0] }
    }
}

final class BeamSearchTests: XCTestCase {
    let start = 1

    /// Every caption of at most `maxLength - 1` words followed by <end>, with its exact log-probability.
    func enumerate(image: Int, maxLength: Int, options: BeamSearchOptions) -> [Hypothesis] {
        let model = ToyDecoder(images: [image])
        var out: [Hypothesis] = []
        func walk(_ words: [Int], _ lp: Double) {
            let dist = model.logProbabilities(image: image, history: [start] + words)
            if words.count >= options.minLength {
                let total = lp + Double(dist[0])
                out.append(Hypothesis(tokens: words, logProbability: total,
                                      score: options.lengthPenalty.normalise(total, length: words.count + 1), finished: true, attention: []))
            }
            guard words.count + 1 < maxLength else { return }
            for v in 1..<5 where !options.suppressedTokens.contains(v) { walk(words + [v], lp + Double(dist[v])) }
        }
        walk([], 0)
        return out.sorted { $0.score > $1.score }
    }

    func testWideBeamEqualsExhaustiveSearch() {
        for penalty in [LengthPenalty.none, .average(alpha: 0.7), .gnmt(alpha: 1.0)] {
            for image in 0..<3 {
                let o = BeamSearchOptions(beamWidth: 125, maxLength: 4, lengthPenalty: penalty, nBest: 10,
                                          startToken: start, endToken: 0, suppressedTokens: [start])
                var d = ToyDecoder(images: [image])
                let got = beamSearch(&d, imageCount: 1, options: o)[0]
                let want = Array(enumerate(image: image, maxLength: 4, options: o).prefix(10))
                XCTAssertEqual(got.map(\.tokens), want.map(\.tokens), "penalty \(penalty) image \(image)")
                for (g, w) in zip(got, want) {
                    XCTAssertEqual(g.logProbability, w.logProbability, accuracy: 1e-9)
                    XCTAssertEqual(g.score, w.score, accuracy: 1e-9)
                    XCTAssertTrue(g.finished)
                    XCTAssertEqual(g.attention.count, g.tokens.count + 1, "one attention row per generated token incl. <end>")
                }
            }
        }
    }

    func testBeamOneIsGreedy() {
        for image in 0..<6 {
            let model = ToyDecoder(images: [image])
            var words: [Int] = []
            var lp = 0.0
            while words.count < 12 {
                let dist = model.logProbabilities(image: image, history: [start] + words)
                let best = (0..<5).filter { $0 != start }.max { dist[$0] < dist[$1] }!
                lp += Double(dist[best])
                if best == 0 { break }
                words.append(best)
            }
            var d = ToyDecoder(images: [image])
            let o = BeamSearchOptions(beamWidth: 1, maxLength: 12, startToken: start, endToken: 0, suppressedTokens: [start])
            let got = beamSearch(&d, imageCount: 1, options: o)[0][0]
            XCTAssertEqual(got.tokens, words)
            XCTAssertEqual(got.logProbability, lp, accuracy: 1e-9)
        }
    }

    func testBatchedEqualsOneImageAtATime() {
        let o = BeamSearchOptions(beamWidth: 3, maxLength: 9, lengthPenalty: .average(alpha: 0.5), nBest: 3,
                                  noRepeatNgram: 2, startToken: start, endToken: 0, suppressedTokens: [start])
        let images = [4, 9, 2, 7, 11]
        var batch = ToyDecoder(images: images)
        let together = beamSearch(&batch, imageCount: images.count, options: o)
        for (k, image) in images.enumerated() {
            var one = ToyDecoder(images: [image])
            XCTAssertEqual(beamSearch(&one, imageCount: 1, options: o)[0], together[k], "image \(image)")
        }
    }

    func testNBestIsSortedAndUnique() {
        let o = BeamSearchOptions(beamWidth: 5, maxLength: 8, lengthPenalty: .average(alpha: 1), nBest: 5,
                                  startToken: start, endToken: 0, suppressedTokens: [start])
        var d = ToyDecoder(images: [3, 5])
        for list in beamSearch(&d, imageCount: 2, options: o) {
            XCTAssertEqual(list.count, 5)
            XCTAssertEqual(Set(list.map(\.tokens)).count, list.count)
            XCTAssertEqual(list.map(\.score), list.map(\.score).sorted(by: >))
        }
    }

    func testModelThatNeverEndsStillReturnsAMaximumLengthCaption() {
        for width in [1, 3] {
            var d = ToyDecoder(images: [0, 1])
            d.neverEnd = true
            let o = BeamSearchOptions(beamWidth: width, maxLength: 7, startToken: start, endToken: 0, suppressedTokens: [start])
            let r = beamSearch(&d, imageCount: 2, options: o)
            for list in r {
                XCTAssertEqual(list.count, 1)
                XCTAssertEqual(list[0].tokens.count, 7)
                XCTAssertFalse(list[0].finished)
            }
        }
    }

    func testNoRepeatNgramAndMinimumLength() {
        let o = BeamSearchOptions(beamWidth: 4, maxLength: 15, minLength: 5, nBest: 4, noRepeatNgram: 2,
                                  startToken: start, endToken: 0, suppressedTokens: [start])
        var d = ToyDecoder(images: [1, 2, 3])
        for list in beamSearch(&d, imageCount: 3, options: o) {
            for h in list {
                if h.finished { XCTAssertGreaterThanOrEqual(h.tokens.count, 5) }
                let bigrams = zip(h.tokens, h.tokens.dropFirst()).map { [$0, $1] }
                XCTAssertEqual(Set(bigrams).count, bigrams.count, "repeated bigram in \(h.tokens)")
                XCTAssertFalse(h.tokens.contains(start))
            }
        }
        XCTAssertEqual(bannedTokens([5, 6, 5], n: 2), [6])
        XCTAssertEqual(bannedTokens([5, 6, 7, 5, 6], n: 3), [7])
        XCTAssertEqual(bannedTokens([5, 6], n: 1), [5, 6])
    }

    func testFinishedImagesStopConsumingDecoderRows() {
        // With beam 1 and no length penalty, an image is done as soon as its best extension is <end>.
        var d = ToyDecoder(images: [0, 1, 2, 3])
        let o = BeamSearchOptions(beamWidth: 1, maxLength: 50, startToken: start, endToken: 0, suppressedTokens: [start])
        let r = beamSearch(&d, imageCount: 4, options: o)
        let longest = r.map { $0[0].tokens.count }.max()!
        XCTAssertLessThanOrEqual(d.stepsTaken, longest + 1)
    }
}
