import XCTest
@testable import Text

final class VocabularyTests: XCTestCase {
    let captions = [["a", "dog", "runs"], ["a", "cat", "sits"], ["the", "dog", "sits"], ["a", "zebra"]]

    func testCountingOrderAndMinCount() {
        let v = Vocabulary(counting: captions, minCount: 2)
        // a:3, then dog:2 and sits:2 tied → by word.
        XCTAssertEqual(v.words, ["<pad>", "<start>", "<end>", "<unk>", "a", "dog", "sits"])
        XCTAssertEqual(v.counts, [0, 0, 0, 0, 3, 2, 2])
        XCTAssertEqual(v.count, 7)
        let all = Vocabulary(counting: captions, minCount: 1)
        XCTAssertEqual(Array(all.words.dropFirst(4)), ["a", "dog", "sits", "cat", "runs", "the", "zebra"])
        // Counting is independent of caption order.
        XCTAssertEqual(Vocabulary(counting: captions.reversed(), minCount: 1), all)
    }

    func testSpecialIds() {
        XCTAssertEqual(Vocabulary.specialTokens[Int(Vocabulary.pad)], "<pad>")
        XCTAssertEqual(Vocabulary.specialTokens[Int(Vocabulary.start)], "<start>")
        XCTAssertEqual(Vocabulary.specialTokens[Int(Vocabulary.end)], "<end>")
        XCTAssertEqual(Vocabulary.specialTokens[Int(Vocabulary.unknown)], "<unk>")
        let v = Vocabulary(counting: [["<unk>", "<pad>", "dog"]], minCount: 1)
        XCTAssertEqual(v.words, Vocabulary.specialTokens + ["dog"])
    }

    func testEncodeDecodeAndUnknownWords() {
        let v = Vocabulary(counting: captions, minCount: 2)
        let (ids, unknown) = v.encode(["a", "cat", "dog", "cat", "sits", "zebra"])
        XCTAssertEqual(ids, [4, 3, 5, 3, 6, 3])
        XCTAssertEqual(unknown, ["cat", "zebra"])
        XCTAssertEqual(v.id("dog"), 5)
        XCTAssertEqual(v.id("nope"), Vocabulary.unknown)
        XCTAssertEqual(v.decode([1, 4, 5, 0, 6, 2, 4, 4]), ["a", "dog", "sits"])
        XCTAssertEqual(v.decode([4, 3, 99, -1]), ["a", "<unk>", "<unk>", "<unk>"])
        XCTAssertEqual(v.caption([Vocabulary.start, 4, 5, Vocabulary.end]), "a dog")
        XCTAssertEqual(v.caption([]), "")
    }

    func testJSONRoundTrip() throws {
        let v = Vocabulary(counting: captions + [["naïve", "\"quoted\"", "back\\slash"], ["naïve"]], minCount: 1)
        let text = v.json()
        let back = try Vocabulary(json: text)
        XCTAssertEqual(back, v)
        XCTAssertEqual(back.minCount, 1)
        XCTAssertEqual(back.id("naïve"), v.id("naïve"))
        XCTAssertEqual(back.json(), text)
        XCTAssertTrue(text.contains("\"special_tokens\": [\"<pad>\",\"<start>\",\"<end>\",\"<unk>\"]"), text)
    }

    func testParsesHandWrittenJSON() throws {
        let v = try Vocabulary(json: #"{"special_tokens":["<pad>","<start>","<end>","<unk>"],"words":["<pad>","<start>","<end>","<unk>","a","dog"],"counts":[0,0,0,0,7,3]}"#)
        XCTAssertEqual(v.words.last, "dog")
        XCTAssertEqual(v.counts, [0, 0, 0, 0, 7, 3])
        XCTAssertNil(v.minCount)
        XCTAssertEqual(v.id("dog"), 5)
    }

    func testBadJSON() {
        let specials = #""special_tokens":["<pad>","<start>","<end>","<unk>"]"#
        let cases: [(String, String)] = [
            ("", "invalid JSON"),
            ("[1,2]", "must be an object"),
            (#"{"words":[],"counts":[]}"#, "lacks \"special_tokens\""),
            (#"{"special_tokens":["<pad>","<start>","<end>"],"words":[],"counts":[]}"#, "must be <pad> <start> <end> <unk>"),
            (#"{"special_tokens":[1,2,3,4],"words":[],"counts":[]}"#, "array of strings"),
            ("{\(specials),\"counts\":[]}", "lacks \"words\""),
            ("{\(specials),\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"<unk>\"]}", "lacks \"counts\""),
            ("{\(specials),\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"<unk>\",\"a\",\"a\"],\"counts\":[0,0,0,0,1,1]}", "'a' appears twice"),
            ("{\(specials),\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"a\"],\"counts\":[0,0,0,1]}", "must start with the special tokens"),
            ("{\(specials),\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"<unk>\",5],\"counts\":[0,0,0,0,1]}", "word 4 is not a string"),
            ("{\(specials),\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"<unk>\",\"a\"],\"counts\":[0,0,0,0,\"1\"]}", "count 4 is not an integer"),
            ("{\(specials),\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"<unk>\",\"a\"],\"counts\":[0,0,0,0,1.5]}", "count 4 is not an integer"),
            ("{\(specials),\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"<unk>\",\"a\"],\"counts\":[0,0,0,0]}", "5 words but 4 counts"),
            ("{\(specials),\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"<unk>\",\"a\"],\"counts\":[0,0,0,0,-1]}", "negative"),
            ("{\(specials),\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"<unk>\",\"\"],\"counts\":[0,0,0,0,1]}", "empty"),
            ("{\(specials),\"words\":\"a\",\"counts\":[]}", "\"words\" must be an array"),
            ("{\(specials),\(specials),\"words\":[],\"counts\":[]}", "key 'special_tokens' twice"),
            ("{\(specials),\"min_count\":\"5\",\"words\":[\"<pad>\",\"<start>\",\"<end>\",\"<unk>\"],\"counts\":[0,0,0,0]}", "min_count"),
        ]
        for (text, expected) in cases {
            do {
                _ = try Vocabulary(json: text)
                XCTFail("accepted: \(text)")
            } catch {
                XCTAssertTrue(error.description.contains(expected), "\(text): \(error.description)")
                XCTAssertFalse(error.description.contains("\n"), error.description)
            }
        }
    }
}
