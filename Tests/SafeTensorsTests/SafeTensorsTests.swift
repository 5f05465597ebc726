import XCTest
import Foundation
import SafeTensors

/// `<repository>/../shared`, or nil (tests that need it skip with a message).
func sharedDirectory() -> String? {
    if let env = ProcessInfo.processInfo.environment["CAPTION_SHARED"] { return env }
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = repo.deletingLastPathComponent().appendingPathComponent("shared").path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

final class SafeTensorsTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    func testReadsAFileWrittenByPythonSafetensors() throws {
        let f = try SafeTensorsFile(contentsOf: fixtures + "/python_written.safetensors")
        XCTAssertEqual(f.names, ["bytes", "half", "ids", "weight"])
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "caf\u{e9} \"quoted\""])
        XCTAssertEqual(try f.shape("weight"), [2, 3])
        XCTAssertEqual(try f.floats("weight"), [1.5, -2.25, 3.0, 0.0, 1e-8, -0.0])
        let half = try f.floats("half")
        let expected: [Float16] = [1.0, 6.1e-5, 5.96e-8, -65504.0, 0.33325]
        XCTAssertEqual(half, expected.map { Float($0) })
        XCTAssertGreaterThan(half[2], 0, "the subnormal must widen to a positive value")
        XCTAssertEqual(try f.int64s("ids"), [0, -1, 1 << 40, 7])
        XCTAssertEqual(try f.uint8s("bytes"), [0, 255, 17, 128])
        XCTAssertThrowsError(try f.floats("ids"))
        XCTAssertThrowsError(try f.floats("missing"))
    }

    func testRoundTripEveryWrittenType() throws {
        var w = SafeTensorsWriter()
        let values: [Float] = (0..<24).map { Float($0) * 0.37 - 3 }
        try w.add(name: "a.weight", floats: values, shape: [2, 3, 4])
        try w.add(name: "b", floats: [1, 0.5, -2, 65504, 1e-7], shape: [5], dtype: .f16)
        try w.add(name: "steps", int64s: [3, -9], shape: [2])
        try w.add(name: "empty", floats: [], shape: [0, 4])
        let bytes = w.serialized(metadata: ["config": "{\"x\": [1, 2]}", "b": "\n\t\u{1}"])
        let header = Int(bytes[0]) | Int(bytes[1]) << 8
        XCTAssertEqual(header % 8, 0, "header is padded to 8 bytes")
        let f = try SafeTensorsFile(bytes: bytes)
        XCTAssertEqual(try f.floats("a.weight"), values)
        XCTAssertEqual(try f.shape("a.weight"), [2, 3, 4])
        XCTAssertEqual(try f.floats("b"), [1, 0.5, -2, 65504, Float(Float16(Float(1e-7)))])
        XCTAssertEqual(try f.int64s("steps"), [3, -9])
        XCTAssertEqual(try f.floats("empty"), [])
        XCTAssertEqual(f.metadata["config"], "{\"x\": [1, 2]}")
        XCTAssertEqual(f.metadata["b"], "\n\t\u{1}")
        // Deterministic output.
        XCTAssertEqual(bytes, w.serialized(metadata: ["b": "\n\t\u{1}", "config": "{\"x\": [1, 2]}"]))
    }

    func testWriterRejectsMismatchedShapesAndDuplicates() throws {
        var w = SafeTensorsWriter()
        XCTAssertThrowsError(try w.add(name: "x", floats: [1, 2, 3], shape: [2, 2]))
        try w.add(name: "x", floats: [1], shape: [1])
        XCTAssertThrowsError(try w.add(name: "x", floats: [1], shape: [1]))
        XCTAssertThrowsError(try w.add(name: "__metadata__", floats: [1], shape: [1]))
    }

    func testAtomicWriteReplacesAndLeavesNoTemporaryFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("m.safetensors").path
        var w = SafeTensorsWriter()
        try w.add(name: "v", floats: [1, 2], shape: [2])
        try w.write(to: path, metadata: ["k": "1"])
        try w.write(to: path, metadata: ["k": "2"])
        XCTAssertEqual(try SafeTensorsFile(contentsOf: path).metadata["k"], "2")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["m.safetensors"])
        XCTAssertThrowsError(try w.write(to: dir.path + "/missing/x.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("does not exist"), "\(e)")
        }
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: dir.path)) { e in
            XCTAssertTrue("\(e)".contains("is a directory"), "\(e)")
        }
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: dir.path + "/nope"))
    }

    /// Every prefix of a valid file is rejected with an error, never a crash.
    func testEveryTruncationIsAnError() throws {
        var w = SafeTensorsWriter()
        try w.add(name: "w", floats: [1, 2, 3, 4], shape: [2, 2])
        try w.add(name: "h", floats: [1, 2], shape: [2], dtype: .f16)
        let bytes = w.serialized(metadata: ["a": "b"])
        for n in 0..<bytes.count {
            XCTAssertThrowsError(try SafeTensorsFile(bytes: Array(bytes[0..<n])), "prefix \(n)")
        }
        XCTAssertNoThrow(try SafeTensorsFile(bytes: bytes))
        XCTAssertThrowsError(try SafeTensorsFile(bytes: bytes + [0]), "trailing bytes are unindexed")
    }

    private func file(header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = []
        var n = UInt64(h.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xFF)); n >>= 8 }
        return out + h + data
    }

    func testHostileHeadersGiveOneLineErrors() throws {
        let cases: [(String, [UInt8], String)] = [
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, [UInt8](repeating: 0, count: 8), "overlaps"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, [UInt8](repeating: 0, count: 8), "hole"),
            (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8), "expected 12"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}}"#, [UInt8](repeating: 0, count: 8), "outside"),
            (#"{"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8), "unsupported dtype"),
            (#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8), "does not fit"),
            (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8), "invalid dimension"),
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, [UInt8](repeating: 0, count: 8), "invalid JSON"),
            (#"[1,2]"#, [], "not a JSON object"),
            (#"{"__metadata__":{"a":1}}"#, [], "not a string"),
            (String(repeating: "[", count: 500), [], "nesting"),
        ]
        for (header, data, expected) in cases {
            XCTAssertThrowsError(try SafeTensorsFile(bytes: file(header: header, data: data))) { e in
                let m = "\(e)"
                XCTAssertTrue(m.contains(expected), "\(header.prefix(60)): \(m)")
                XCTAssertFalse(m.contains("\n"), m)
            }
        }
        // A header length far beyond the file or the limit is rejected before any allocation.
        var huge: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        huge += Array("{}".utf8)
        XCTAssertThrowsError(try SafeTensorsFile(bytes: huge)) { e in XCTAssertTrue("\(e)".contains("exceeds the limit"), "\(e)") }
        let long: [UInt8] = [0x00, 0x10, 0, 0, 0, 0, 0, 0] + Array("{}".utf8)
        XCTAssertThrowsError(try SafeTensorsFile(bytes: long)) { e in XCTAssertTrue("\(e)".contains("truncated"), "\(e)") }
    }

    func testSeededRandomCorruptionNeverCrashes() throws {
        var w = SafeTensorsWriter()
        try w.add(name: "layer.weight", floats: (0..<64).map { Float($0) }, shape: [8, 8])
        try w.add(name: "layer.bias", floats: (0..<8).map { Float($0) }, shape: [8], dtype: .f16)
        let good = w.serialized(metadata: ["config": "{}"])
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 { state &+= 0x9E3779B97F4A7C15; var z = state; z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) &* 0x94D049BB133111EB; return z ^ (z >> 31) }
        var accepted = 0
        for _ in 0..<2000 {
            var b = good
            for _ in 0..<(1 + Int(next() % 4)) {
                b[Int(next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: next())
            }
            if let f = try? SafeTensorsFile(bytes: b) {
                accepted += 1
                for n in f.names { _ = try? f.floats(n) }
            }
        }
        XCTAssertLessThan(accepted, 2000)
    }

    func testReadsTheSyntheticResNet18Weights() throws {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared not found: skipping the ResNet-18 weights test") }
        let f = try SafeTensorsFile(contentsOf: shared + "/weights/synthetic/resnet18_synthetic_f16.safetensors")
        XCTAssertEqual(f.names.count, 102)
        XCTAssertEqual(f.metadata["pretrained"], "false")
        XCTAssertEqual(try f.shape("conv1.weight"), [64, 3, 7, 7])
        XCTAssertEqual(try f.shape("fc.weight"), [1000, 512])
        var total = 0, subnormal = 0
        for n in f.names {
            let v = try f.floats(n)
            total += v.count
            subnormal += v.filter { $0 != 0 && abs($0) < Float(Float16.leastNormalMagnitude) }.count
        }
        XCTAssertEqual(total, 11_699_112)
        XCTAssertEqual(subnormal, 24_361, "float16 subnormals must widen to nonzero float32 values")
    }
}

final class JSONTests: XCTestCase {
    func testParsesAndSerialisesRoundTrip() throws {
        let text = #"{"a":[1,-2.5e3,true,false,null],"b":"\u00e9\ud83d\ude00\n\"","c":{}}"#
        let v = try JSONValue.parse(text)
        XCTAssertEqual(v["a"]?.arrayValue?.count, 5)
        XCTAssertEqual(v["a"]?.arrayValue?[1].doubleValue, -2500)
        XCTAssertEqual(v["b"]?.stringValue, "\u{e9}\u{1F600}\n\"")
        XCTAssertEqual(try JSONValue.parse(v.serialized()), v)
        XCTAssertEqual(try JSONValue.parse("18446744073709551617"), .number("18446744073709551617"))
    }

    func testRejectsMalformedDocuments() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "\"\u{1}\"", "tru", "{} x", "\"\\ud800\"", "[1 2]"] {
            XCTAssertThrowsError(try JSONValue.parse(bad), bad)
        }
    }
}
