import Foundation
import XCTest
@testable import Metrics

final class PTBTokenizerTests: XCTestCase {
    /// §4 of ../shared/metrics/README.md: the real jar's outputs, after pycocoevalcap's filter.
    func testReadmeRows() {
        let rows: [(String, String)] = [
            ("A dog, running.", "a dog running"),
            ("The man's colour T-shirt is grey (and red)!", "the man 's colour t-shirt is grey -lrb- and red -rrb-"),
            ("It's 3:30 -- isn't it?", "it 's 3:30 is n't it"),
            ("Two kids don't like cats; they can't sit: ok?", "two kids do n't like cats they ca n't sit ok"),
            ("The U.S. flag, e.g. Mr. Smith's cannot gonna see 1,000 people for $5 at 50% off #1 @home.",
             "the u.s. flag e.g. mr. smith 's can not gon na see 1,000 people for $ 5 at 50 % off # 1 @home"),
            ("He said \"hello\" -- twice... on 3/4 of the 2.5 km road & it's \"fun\".",
             "he said hello twice on 3/4 of the 2.5 km road & it 's fun"),
            ("She said 'hi' and \u{201C}quoted\u{201D} text with \u{2019}s apostrophe\u{2019}s",
             "she said hi and quoted text with 's apostrophe 's"),
            ("[near] {the} wall/door * star", "-lsb- near -rsb- -lcb- the -rcb- wall/door * star"),
            ("Dogs' toys aren't here ... well...", "dogs toys are n't here well"),
            ("Un café à Paris , naïve résumé", "un café à paris naïve résumé"),
            ("", ""),
            ("A brown dog is running on grass.", "a brown dog is running on grass"),
            ("A man on a bike!", "a man on a bike"),
        ]
        for (input, expected) in rows {
            XCTAssertEqual(PTBTokenizer.scoringString(input), expected, input)
        }
        // The raw PTB tokens of README rows (before the filter), where the form is fixed.
        XCTAssertEqual(PTBTokenizer.ptbTokens("It's 3:30 -- isn't it?"), ["it", "'s", "3:30", "--", "is", "n't", "it", "?"])
        XCTAssertEqual(PTBTokenizer.ptbTokens("A dog, running."), ["a", "dog", ",", "running", "."])
        XCTAssertEqual(PTBTokenizer.tokenize(""), [])
        XCTAssertEqual(PTBTokenizer.tokenize("   "), [])
    }

    /// Every row of Fixtures/ptb_tokens.tsv (made by make_ptb_fixture.py with the real jar).
    func testJarFixture() throws {
        let text = try String(contentsOf: fixtureURL("ptb_tokens.tsv"), encoding: .utf8)
        var rows = 0, failures: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard cols.count == 3 else { XCTFail("bad fixture row: \(line)"); continue }
            rows += 1
            let got = PTBTokenizer.scoringString(cols[0])
            if got != cols[2] { failures.append("\(cols[0])\n   jar: \(cols[2])\n  ours: \(got)") }
        }
        XCTAssertGreaterThan(rows, 150)
        XCTAssertTrue(failures.isEmpty, "\(failures.count) of \(rows) rows differ:\n" + failures.joined(separator: "\n"))
    }
}
