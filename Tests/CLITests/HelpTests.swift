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

    func testUnknownCommandIsOneErrorLine() throws {
        let r = try CLIRunner.run(["frobnicate"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].hasPrefix("error: "), r.stderr)
    }
}
