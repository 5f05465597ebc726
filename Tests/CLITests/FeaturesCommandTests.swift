import XCTest
import Foundation

// MARK: Helpers shared by the features / classify / distill CLI tests

/// `<repo>/../shared`, or nil when absent.
func encoderTestsSharedDirectory() -> String? {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = repo.deletingLastPathComponent().appendingPathComponent("shared").path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// The pretrained MobileNetV2 directory of ../shared, or a skip.
func pretrainedDirectory() throws -> String {
    guard let shared = encoderTestsSharedDirectory() else { throw XCTSkip("../shared not found: skipping tests that need the MobileNetV2 weights") }
    return shared + "/weights/pretrained"
}

/// A fresh temporary directory.
func makeTemporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("caption-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes a binary PPM (P6) of seeded pseudo-random smooth colours.
func writePPM(_ path: String, width: Int, height: Int, seed: Int) throws {
    var bytes = Array("P6\n\(width) \(height)\n255\n".utf8)
    var state = UInt64(seed &* 2654435761 &+ 12345)
    func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
    let base = (next() % 200, next() % 200, next() % 200)
    for y in 0..<height {
        for x in 0..<width {
            bytes.append(UInt8((base.0 + x * 3 + next() % 40) % 256))
            bytes.append(UInt8((base.1 + y * 2 + next() % 40) % 256))
            bytes.append(UInt8((base.2 + (x ^ y) + next() % 40) % 256))
        }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// A minimal, independent safetensors reader (Foundation's JSON parser; F32 tensors only).
struct TestSafeTensors {
    var tensors: [String: (shape: [Int], values: [Float])] = [:]
    var metadata: [String: String] = [:]

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count >= 8 else { throw NSError(domain: "safetensors", code: 1) }
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + Int(n)))) as? [String: Any] ?? [:]
        let body = data.subdata(in: (8 + Int(n))..<data.count)
        for (name, v) in header {
            if name == "__metadata__" { metadata = v as? [String: String] ?? [:]; continue }
            guard let d = v as? [String: Any], let dtype = d["dtype"] as? String, let shape = d["shape"] as? [Int],
                  let offsets = d["data_offsets"] as? [Int], offsets.count == 2 else { continue }
            guard dtype == "F32" else { tensors[name] = (shape, []); continue }
            let raw = body.subdata(in: offsets[0]..<offsets[1])
            let values = raw.withUnsafeBytes { p in (0..<(raw.count / 4)).map { Float(bitPattern: p.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self).littleEndian) } }
            tensors[name] = (shape, values)
        }
    }
}

/// Asserts exit status non-zero, nothing on stdout and exactly one `error:` line containing `mentioning`.
/// `r` failed with exactly one `error:` line (warnings aside) that mentions every string; with `silent`, nothing on stdout.
func assertOneErrorLine(_ r: CLIResult, mentioning: String..., silent: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertNotEqual(r.status, 0, "expected failure; stderr: \(r.stderr)", file: file, line: line)
    if silent { XCTAssertTrue(r.stdout.isEmpty, "stdout: \(r.stdout)", file: file, line: line) }
    let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("warning:") }
    XCTAssertEqual(lines.count, 1, "expected one error line, got: \(r.stderr)", file: file, line: line)
    XCTAssertTrue(lines.first?.hasPrefix("error: ") ?? false, r.stderr, file: file, line: line)
    for m in mentioning { XCTAssertTrue(r.stderr.contains(m), "error does not mention '\(m)': \(r.stderr)", file: file, line: line) }
}

// MARK: caption features

final class FeaturesCommandTests: XCTestCase {
    /// MobileNetV2's `features.18` of chelsea.png against the float32 PyTorch golden (abs 1e-3, the README's tolerance).
    func testMobileNetFeaturesMatchPyTorchGolden() throws {
        let dir = try pretrainedDirectory()
        let tmp = try makeTemporaryDirectory("features")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("f.safetensors").path
        let r = try CLIRunner.run(["features", "--encoder", "mobilenet_v2", "--encoder-weights", dir + "/mobilenet_v2_1.0_224_dequant.safetensors",
                                   dir + "/photos/chelsea.png", dir + "/photos/coffee.png", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let f = try TestSafeTensors(path: out)
        XCTAssertEqual(Set(f.tensors.keys), ["chelsea.png", "coffee.png"])
        XCTAssertEqual(f.metadata["encoder"], "mobilenet_v2")
        let golden = try TestSafeTensors(path: dir + "/golden/mobilenet_v2_golden.safetensors")
        let ref = try XCTUnwrap(golden.tensors["chelsea/features.18"])
        let got = try XCTUnwrap(f.tensors["chelsea.png"])
        XCTAssertEqual(got.shape, [1280, 7, 7])
        XCTAssertEqual(got.values.count, ref.values.count)
        let diff = zip(got.values, ref.values).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(diff, 1e-3, "max |ours - PyTorch| = \(diff)")
    }

    /// A directory argument expands to its images; names are file names; batching does not change the values.
    func testDirectoryBatchingAndNames() throws {
        let tmp = try makeTemporaryDirectory("features-dir")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let images = tmp.appendingPathComponent("imgs")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for i in 0..<3 { try writePPM(images.appendingPathComponent("p\(i).ppm").path, width: 40 + i * 7, height: 33, seed: i) }
        try Data("not an image".utf8).write(to: images.appendingPathComponent("notes.txt"))
        let student = try DistillCommandTests.makeStudent(in: tmp)
        let a = tmp.appendingPathComponent("a.safetensors").path, b = tmp.appendingPathComponent("b.safetensors").path
        var r = try CLIRunner.run(["features", "--encoder", "small", "--encoder-weights", student, images.path, "--out", a, "--batch-size", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try CLIRunner.run(["features", "--encoder", "small", "--encoder-weights", student, images.path + "/p2.ppm", images.path + "/p0.ppm",
                               images.path + "/p1.ppm", "--out", b, "--batch-size", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let fa = try TestSafeTensors(path: a), fb = try TestSafeTensors(path: b)
        XCTAssertEqual(Set(fa.tensors.keys), ["p0.ppm", "p1.ppm", "p2.ppm"])
        for k in fa.tensors.keys {
            let x = try XCTUnwrap(fa.tensors[k]), y = try XCTUnwrap(fb.tensors[k])
            XCTAssertEqual(x.shape, [1280, 7, 7])
            let d = zip(x.values, y.values).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThan(d, 1e-4, "\(k): batch of 3 vs 1 differ by \(d)")
        }
        XCTAssertNotEqual(fa.tensors["p0.ppm"]?.values, fa.tensors["p1.ppm"]?.values)
    }

    func testBadInputsAreOneLineAndLeaveNoOutput() throws {
        let tmp = try makeTemporaryDirectory("features-bad")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let good = tmp.appendingPathComponent("good.ppm").path
        try writePPM(good, width: 30, height: 30, seed: 1)
        let bad = tmp.appendingPathComponent("broken.png").path
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]).write(to: URL(fileURLWithPath: bad))
        let sub = tmp.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try writePPM(sub.appendingPathComponent("good.ppm").path, width: 30, height: 30, seed: 2)
        let student = try DistillCommandTests.makeStudent(in: tmp)
        let out = tmp.appendingPathComponent("out.safetensors").path

        assertOneErrorLine(try CLIRunner.run(["features", "--encoder", "vgg16", good, "--out", out]), mentioning: "vgg16")
        assertOneErrorLine(try CLIRunner.run(["features", "--encoder", "resnet18", "--encoder-weights", tmp.path + "/missing.safetensors", good, "--out", out]),
                           mentioning: "missing.safetensors")
        assertOneErrorLine(try CLIRunner.run(["features", "--encoder", "resnet18", good, "--out", out]), mentioning: "--encoder-weights")
        // A small CNN file given as MobileNetV2 / ResNet weights: the first mismatched key is named.
        assertOneErrorLine(try CLIRunner.run(["features", "--encoder", "mobilenet_v2", "--encoder-weights", student, good, "--out", out]),
                           mentioning: "features.0.0.weight")
        assertOneErrorLine(try CLIRunner.run(["features", "--encoder", "resnet18", "--encoder-weights", student, good, "--out", out]),
                           mentioning: "conv1.weight")
        assertOneErrorLine(try CLIRunner.run(["features", "--encoder", "small", "--encoder-weights", student, good, bad, "--out", out]),
                           mentioning: "broken.png")
        assertOneErrorLine(try CLIRunner.run(["features", "--encoder", "small", "--encoder-weights", student, good, "--out", tmp.path + "/nodir/out.safetensors"]),
                           mentioning: "nodir")
        assertOneErrorLine(try CLIRunner.run(["features", "--encoder", "small", "--encoder-weights", student, good, sub.path, "--out", out]),
                           mentioning: "good.ppm")
        assertOneErrorLine(try CLIRunner.run(["features", "--encoder", "small", "--encoder-weights", student, tmp.path + "/nothere.jpg", "--out", out]),
                           mentioning: "nothere.jpg")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a failed run left \(out)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.contains("out.safetensors") }
        XCTAssertEqual(leftovers, [])
    }
}
