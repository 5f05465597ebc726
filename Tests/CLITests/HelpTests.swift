import XCTest

final class HelpTests: XCTestCase {
    func testTopLevelHelpListsEveryCommand() throws {
        let r = try CLIRunner.run(["--help"])
        XCTAssertEqual(r.status, 0)
        for name in ["describe", "eval", "score", "train", "vocab", "classify", "summary", "distill", "features", "bench"] {
            XCTAssertTrue(r.stdout.contains("\n  \(name) "), "--help does not list \(name)")
        }
        XCTAssertTrue(r.stderr.isEmpty)
    }

    func testVersion() throws {
        let r = try CLIRunner.run(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.hasPrefix("caption "), r.stdout)
    }

    func testEveryCommandHasHelp() throws {
        for name in ["describe", "eval", "score", "train", "vocab", "classify", "summary", "distill", "features", "bench"] {
            let r = try CLIRunner.run([name, "--help"])
            XCTAssertEqual(r.status, 0, name)
            XCTAssertTrue(r.stdout.contains("usage: caption \(name)"), "\(name) --help: \(r.stdout)")
        }
    }

    /// In every command's option list, a description's continuation lines start no further left than the
    /// descriptions do (a wrapped line must not drift into the option names' column).
    func testOptionDescriptionsWrapAtTheirColumn() throws {
        for name in ["describe", "eval", "score", "train", "vocab", "classify", "summary", "distill", "features", "bench", "export"] {
            let lines = try CLIRunner.run([name, "--help"]).stdout.components(separatedBy: "\n")
            func indent(_ l: String) -> Int { l.prefix { $0 == " " }.count }
            // Option lines: two spaces, the option, two or more spaces, its description.
            var columns: [Int] = []
            var inOption = Array(repeating: false, count: lines.count)
            for (i, l) in lines.enumerated() where l.hasPrefix("  -") {
                let chars = Array(l)
                var j = 3
                while j + 1 < chars.count && !(chars[j] == " " && chars[j + 1] == " ") { j += 1 }
                while j < chars.count && chars[j] == " " { j += 1 }
                if j < chars.count { columns.append(j); inOption[i] = true }
            }
            guard let column = columns.min() else { continue }
            for i in 1..<lines.count where !inOption[i] && indent(lines[i]) > 2 && !lines[i].trimmingCharacters(in: .whitespaces).isEmpty {
                var k = i - 1
                while k > 0 && !inOption[k] && indent(lines[k]) > 2 { k -= 1 }
                guard inOption[k] else { continue }
                XCTAssertGreaterThanOrEqual(indent(lines[i]), column, "\(name) --help line \(i + 1) wraps left of column \(column): '\(lines[i])'")
            }
        }
    }

    func testUnknownCommandIsOneErrorLine() throws {
        let r = try CLIRunner.run(["frobnicate"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].hasPrefix("error: "), r.stderr)
    }
}
