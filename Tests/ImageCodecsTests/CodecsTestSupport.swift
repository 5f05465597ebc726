import Foundation
import XCTest

/// `<repository>/../shared`, or nil (tests that need it skip with a message).
func codecsSharedDirectory() -> String? {
    if let env = ProcessInfo.processInfo.environment["CAPTION_SHARED"] { return env }
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = repo.deletingLastPathComponent().appendingPathComponent("shared").path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// `Tests/ImageCodecsTests/Fixtures/<sub>`.
func codecsFixtures(_ sub: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(sub).path
}

func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Largest absolute difference of two equal-length byte arrays (Int.max if the lengths differ).
func largestDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
    guard a.count == b.count else { return Int.max }
    var m = 0
    for i in 0..<a.count { m = max(m, abs(Int(a[i]) - Int(b[i]))) }
    return m
}

/// Asserts two byte arrays are equal, reporting sizes or the first difference and the largest one (not the arrays).
func assertBytesEqual(_ a: [UInt8], _ b: [UInt8], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
    guard a.count == b.count else {
        XCTFail("\(message): \(a.count) bytes, expected \(b.count)", file: file, line: line)
        return
    }
    guard let first = a.indices.first(where: { a[$0] != b[$0] }) else { return }
    XCTFail("\(message): first difference at byte \(first) (\(a[first]) vs \(b[first])), max difference \(largestDifference(a, b))", file: file, line: line)
}
