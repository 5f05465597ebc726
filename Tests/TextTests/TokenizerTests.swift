import XCTest
@testable import Text

final class TokenizerTests: XCTestCase {
    func testLowerCasesAndDropsPunctuation() {
        XCTAssertEqual(CaptionTokenizer.words("A dog, running."), ["a", "dog", "running"])
        XCTAssertEqual(CaptionTokenizer.words("  Two   DOGS!!  play?? "), ["two", "dogs", "play"])
        XCTAssertEqual(CaptionTokenizer.words(""), [])
        XCTAssertEqual(CaptionTokenizer.words(" .,;!? -- ... "), [])
    }

    func testKeepsIntraWordJoiners() {
        XCTAssertEqual(CaptionTokenizer.words("The man's T-shirt"), ["the", "man's", "t-shirt"])
        XCTAssertEqual(CaptionTokenizer.words("a 10-year-old at 3:30 o'clock"), ["a", "10-year-old", "at", "3:30", "o'clock"])
        XCTAssertEqual(CaptionTokenizer.words("1,000 people, 2.5 km, 3/4 done"), ["1,000", "people", "2.5", "km", "3/4", "done"])
        XCTAssertEqual(CaptionTokenizer.words("the man’s hat"), ["the", "man's", "hat"])
    }

    func testDropsLeadingAndTrailingJoiners() {
        XCTAssertEqual(CaptionTokenizer.words("Dogs' toys -fast- 'quoted'"), ["dogs", "toys", "fast", "quoted"])
        XCTAssertEqual(CaptionTokenizer.words("wall/door (and red) \"hi\""), ["wall", "door", "and", "red", "hi"])
        XCTAssertEqual(CaptionTokenizer.words("end. Next"), ["end", "next"])
        XCTAssertEqual(CaptionTokenizer.words("a-b--c"), ["a-b", "c"])
    }

    func testNonASCIILetters() {
        XCTAssertEqual(CaptionTokenizer.words("Un café à Paris, naïve RÉSUMÉ"), ["un", "café", "à", "paris", "naïve", "résumé"])
        // Decomposed é (e + combining acute) stays inside the word.
        XCTAssertEqual(CaptionTokenizer.words("Cafe\u{301} noir").count, 2)
    }
}
