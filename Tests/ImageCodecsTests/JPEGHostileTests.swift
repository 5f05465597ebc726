import Foundation
import XCTest
@testable import ImageCodecs

/// Hostile JPEG input: every case must end in one `ImageError` (or, for byte flips that leave the file
/// decodable, a well-formed image), never a crash or a hang.
final class JPEGHostileTests: XCTestCase {
    let sources = ["baseline_420_33x17", "progressive_420_37x29", "restart_420_50x34",
                   "restart_progressive_40x24", "gray_31x15", "ycck_21x13", "baseline_440_33x17"]

    func fixture(_ name: String) throws -> [UInt8] { try readBytes(jpegFixtures + "/\(name).jpg") }

    /// Offset of the first byte after marker 0xFF `code`'s two length bytes, i.e. its payload.
    func payload(of code: UInt8, in d: [UInt8]) -> Int? {
        var i = 2
        while i + 4 <= d.count, d[i] == 0xFF {
            if d[i + 1] == code { return i + 4 }
            if d[i + 1] == 0xDA { return nil }
            i += 2 + (Int(d[i + 2]) << 8 | Int(d[i + 3]))
        }
        return nil
    }

    func assertThrows(_ d: [UInt8], _ what: String, contains: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let im = try decodeJPEG(d)
            XCTFail("\(what): decoded \(im.width)x\(im.height) instead of throwing", file: file, line: line)
        } catch {
            XCTAssertFalse(error.description.contains("\n"), "\(what): multi-line error", file: file, line: line)
            if let contains {
                XCTAssertTrue(error.description.contains(contains), "\(what): '\(error)' lacks '\(contains)'", file: file, line: line)
            }
        }
    }

    /// Every proper prefix of each file is rejected (Pillow raises "image file is truncated" too).
    func testTruncationAtEveryLength() throws {
        for name in sources {
            let d = try fixture(name)
            for n in 0..<d.count { assertThrows(Array(d[0..<n]), "\(name) cut at \(n)") }
        }
    }

    /// Seeded random byte changes: decode or throw, quickly.
    func testRandomByteFlips() throws {
        var rng = SplitMix64(seed: 0x5EED_0005)
        let start = Date()
        var thrown = 0, decoded = 0
        for name in sources {
            let original = try fixture(name)
            for _ in 0..<1500 {
                var d = original
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(d.count))
                    d[i] ^= UInt8(1 + rng.next() % 255)
                }
                do {
                    let im = try decodeJPEG(d)
                    XCTAssertEqual(im.pixels.count, im.width * im.height * 3)
                    decoded += 1
                } catch {
                    XCTAssertFalse(error.description.isEmpty)
                    thrown += 1
                }
            }
        }
        XCTAssertGreaterThan(thrown, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "byte flips took too long")
    }

    func testHugeAndZeroDimensions() throws {
        let d = try fixture("baseline_420_33x17")
        let sof = try XCTUnwrap(payload(of: 0xC0, in: d))
        var huge = d
        huge[sof + 1] = 0xFF; huge[sof + 2] = 0xFF; huge[sof + 3] = 0xFF; huge[sof + 4] = 0xFF
        assertThrows(huge, "65535x65535", contains: "too large")
        var zeroH = d
        zeroH[sof + 1] = 0; zeroH[sof + 2] = 0
        assertThrows(zeroH, "zero height", contains: "zero dimensions")
        var zeroW = d
        zeroW[sof + 3] = 0; zeroW[sof + 4] = 0
        assertThrows(zeroW, "zero width", contains: "zero dimensions")
    }

    func testMissingAndBadTables() throws {
        let d = try fixture("baseline_420_33x17")
        // Quantisation table selector 3 is never defined.
        let sof = try XCTUnwrap(payload(of: 0xC0, in: d))
        var noQuant = d
        noQuant[sof + 6 + 2] = 3
        assertThrows(noQuant, "undefined quantisation table", contains: "quantisation table 3")
        // Scan uses Huffman tables 2/2 (never defined; only slots 0 and 1 get libjpeg's defaults).
        let sos = try XCTUnwrap(d.indices.first { d[$0] == 0xFF && d[$0 + 1] == 0xDA }) + 4
        var noHuff = d
        noHuff[sos + 2] = 0x22
        assertThrows(noHuff, "undefined Huffman table", contains: "Huffman table")
        // A DHT whose code lengths overflow the code space.
        let dht = try XCTUnwrap(payload(of: 0xC4, in: d))
        var bad = d
        bad[dht + 1] = 3  // three 1-bit codes
        assertThrows(bad, "overfull Huffman table", contains: "Huffman")
        // Bad marker segment length.
        var badLength = d
        badLength[sof - 2] = 0; badLength[sof - 1] = 1
        assertThrows(badLength, "segment length 1")
    }

    func testUnsupportedVariantsAndGarbage() throws {
        let d = try fixture("baseline_420_33x17")
        let sofMarker = try XCTUnwrap(payload(of: 0xC0, in: d)) - 3
        for (code, text) in [(UInt8(0xC3), "lossless"), (0xC9, "arithmetic"), (0xC5, "hierarchical")] {
            var v = d
            v[sofMarker] = code
            assertThrows(v, "SOF \(code)", contains: text)
        }
        var twelveBit = d
        twelveBit[sofMarker + 3] = 12
        assertThrows(twelveBit, "12-bit", contains: "precision")
        assertThrows(try fixture("unsupported_arithmetic_16x16"), "arithmetic (cjpeg)", contains: "arithmetic")
        assertThrows([0xFF, 0xD8], "SOI only")
        assertThrows([0xFF, 0xD8, 0xFF, 0xD9], "no image", contains: "no image")
        var rng = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let junk = [0xFF, 0xD8] + (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? decodeJPEG(junk)
        }
    }

    /// Restart markers removed or out of order.
    func testBrokenRestartMarkers() throws {
        let d = try fixture("restart_420_50x34")
        let rst = try XCTUnwrap(d.indices.first { d[$0] == 0xFF && (0xD0...0xD7).contains(d[$0 + 1]) })
        var wrong = d
        wrong[rst + 1] = 0xD5
        assertThrows(wrong, "RST out of order", contains: "restart")
        let removed = Array(d[0..<rst] + d[(rst + 2)...])
        assertThrows(removed, "RST removed")
    }

    /// A progressive file with hundreds of repeated scans is refused instead of taking unbounded time.
    func testTooManyScans() throws {
        let d = try fixture("progressive_420_37x29")
        let firstSOS = try XCTUnwrap(d.indices.first { d[$0] == 0xFF && d[$0 + 1] == 0xDA })
        let secondSOS = try XCTUnwrap(d.indices.first { $0 > firstSOS && d[$0] == 0xFF && d[$0 + 1] == 0xDA })
        let scan = Array(d[firstSOS..<secondSOS])
        var many = Array(d[0..<firstSOS])
        for _ in 0..<600 { many += scan }
        many += [0xFF, 0xD9]
        assertThrows(many, "600 scans", contains: "scans")
    }
}

/// A small deterministic generator (SplitMix64) for reproducible fuzzing.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class JPEGToleranceTests: XCTestCase {
    /// Without DHT segments (Motion-JPEG style) libjpeg uses the standard tables for slots 0 and 1;
    /// Pillow's default (non-optimised) encoder writes exactly those, so the pixels must not change.
    func testMissingHuffmanTablesUseTheStandardOnes() throws {
        let d = try readBytes(jpegFixtures + "/baseline_420_33x17.jpg")
        var stripped: [UInt8] = [0xFF, 0xD8]
        var i = 2
        while i + 4 <= d.count, d[i] == 0xFF, d[i + 1] != 0xDA {
            let len = Int(d[i + 2]) << 8 | Int(d[i + 3])
            if d[i + 1] != 0xC4 { stripped += d[i..<(i + 2 + len)] }
            i += 2 + len
        }
        stripped += d[i...]
        XCTAssertLessThan(stripped.count, d.count - 100)
        XCTAssertEqual(try decodeJPEG(stripped), try decodeJPEG(d))
    }

    /// Fill bytes before markers, unknown APPn and COM segments, garbage between segments and data
    /// after EOI are all skipped, as libjpeg does.
    func testFillBytesUnknownSegmentsAndTrailingData() throws {
        let d = try readBytes(jpegFixtures + "/progressive_420_37x29.jpg")
        let reference = try decodeJPEG(d)
        let app9: [UInt8] = [0xFF, 0xE9, 0, 6, 1, 2, 3, 4]
        let com: [UInt8] = [0xFF, 0xFE, 0, 5] + Array("hi!".utf8)
        var v: [UInt8] = Array(d[0..<2]) + [0xFF, 0xFF, 0xFF] + app9 + com + [0xFF] + Array(d[2...]) + Array("trailing".utf8)
        XCTAssertEqual(try decodeJPEG(v), reference)
        // Fill bytes before every SOS marker.
        v = []
        for (j, b) in d.enumerated() {
            if b == 0xFF && j + 1 < d.count && d[j + 1] == 0xDA { v += [0xFF, 0xFF] }
            v.append(b)
        }
        XCTAssertEqual(try decodeJPEG(v), reference)
    }
}
