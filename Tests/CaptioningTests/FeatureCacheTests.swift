import XCTest
import Foundation
@testable import Captioning

final class FeatureCacheTests: XCTestCase {
    func testEncodesOnceThenReadsTheCache() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fc-\(UUID().uuidString)/nested").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = FeatureCache(directory: dir)
        let images = (0..<5).map { "img\($0).jpg" }
        var calls = 0
        func encode(_ names: [String]) -> [Float] {
            calls += names.count
            return names.flatMap { n in (0..<6).map { Float(n.count) + Float($0) * 0.1 } }
        }
        let first = try cache.features(encoderKey: "toy/v1", images: images, regions: 2, channels: 3, chunk: 2, encode: encode)
        XCTAssertEqual(calls, 5)
        let second = try cache.features(encoderKey: "toy/v1", images: images, regions: 2, channels: 3, encode: encode)
        XCTAssertEqual(calls, 5, "second run reads the cache")
        XCTAssertEqual(first, second)
        _ = try cache.features(encoderKey: "toy/v2", images: images, regions: 2, channels: 3, encode: encode)
        XCTAssertEqual(calls, 10, "another encoder key is another cache entry")
        _ = try cache.features(encoderKey: "toy/v1", images: Array(images.reversed()), regions: 2, channels: 3, encode: encode)
        XCTAssertEqual(calls, 15, "another image list is another cache entry")
    }
}

final class FeatureCacheResumeTests: XCTestCase {
    struct Stop: Error {}

    func testAnInterruptedExtractionContinuesWhereItStopped() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("fcr-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let images = (0..<7).map { "img\($0).jpg" }
        func values(_ n: String) -> [Float] { (0..<6).map { Float(n.count) * 0.37 + Float($0) * 0.1 + Float(n.utf8.last!) } }
        // Reference: one uninterrupted extraction.
        let reference = try FeatureCache(directory: base + "/ref").halfFeatures(encoderKey: "toy", images: images, shape: [2, 3], chunk: 1) {
            $0.flatMap(values)
        }
        let cache = FeatureCache(directory: base + "/run", saveEvery: 2)
        var encoded: [String] = []
        // Interrupted (as SIGINT does: the encode callback throws) while encoding the fourth image.
        XCTAssertThrowsError(try cache.halfFeatures(encoderKey: "toy", images: images, shape: [2, 3], chunk: 1) { names in
            if encoded.count == 3 { throw Stop() }
            encoded += names
            return names.flatMap(values)
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(encoded, ["img0.jpg", "img1.jpg", "img2.jpg"])
        let file = cache.path(encoderKey: "toy", images: images)
        let partial = FeatureCache.partialDirectory(file)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file), "no cache file before the extraction completes")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: partial).sorted(),
                       ["part-000000000.safetensors", "part-000000002.safetensors"], "pieces saved atomically")
        // A leftover temporary file of a killed writer is ignored.
        FileManager.default.createFile(atPath: partial + "/.part-000000003.safetensors.tmp-1", contents: Data([1, 2, 3]))
        // The next run encodes only the remaining images and gives the same values as the uninterrupted run.
        encoded = []
        var resumedAt = -1
        let second = try cache.halfFeatures(encoderKey: "toy", images: images, shape: [2, 3], chunk: 1, resumed: { resumedAt = $0 }) { names in
            encoded += names
            return names.flatMap(values)
        }
        XCTAssertEqual(resumedAt, 3)
        XCTAssertEqual(encoded, ["img3.jpg", "img4.jpg", "img5.jpg", "img6.jpg"])
        XCTAssertEqual(second, reference)
        XCTAssertTrue(FileManager.default.fileExists(atPath: file))
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial), "pieces removed once joined")
        // A damaged piece (as after a crash of the disk, not of the atomic write) is re-encoded from there.
        let other = Array(images.reversed())
        XCTAssertThrowsError(try cache.halfFeatures(encoderKey: "toy", images: other, shape: [2, 3], chunk: 1) { names in
            if names == ["img2.jpg"] { throw Stop() }
            return names.flatMap(values)
        })
        let otherPartial = FeatureCache.partialDirectory(cache.path(encoderKey: "toy", images: other))
        try Data([0, 1]).write(to: URL(fileURLWithPath: otherPartial + "/part-000000002.safetensors"))
        encoded = []
        let third = try cache.halfFeatures(encoderKey: "toy", images: other, shape: [2, 3], chunk: 1) { names in
            encoded += names
            return names.flatMap(values)
        }
        XCTAssertEqual(encoded, ["img4.jpg", "img3.jpg", "img2.jpg", "img1.jpg", "img0.jpg"])
        XCTAssertEqual(third, try FeatureCache(directory: base + "/ref").halfFeatures(encoderKey: "toy", images: other, shape: [2, 3]) { $0.flatMap(values) })
    }
}
