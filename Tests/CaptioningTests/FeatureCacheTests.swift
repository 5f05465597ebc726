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
