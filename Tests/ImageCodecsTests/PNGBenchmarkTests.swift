import Foundation
import XCTest
@testable import ImageCodecs

/// Opt-in (CAPTION_BENCH=1) decode timing of the PNG photos in ../shared, to compare with
/// `python3 Tests/ImageCodecsTests/Fixtures/png/bench_pillow.py` run at the same time.
final class PNGBenchmarkTests: XCTestCase {
    func testDecodeSpeed() throws {
        guard ProcessInfo.processInfo.environment["CAPTION_BENCH"] == "1" else { throw XCTSkip("set CAPTION_BENCH=1 to time PNG decoding") }
        guard let shared = codecsSharedDirectory() else { throw XCTSkip("../shared not found: skipping PNG timing") }
        for name in ["chelsea.png", "coffee.png"] {
            let bytes = try fileBytes(shared + "/weights/pretrained/photos/" + name)
            let image = try decodeImage(bytes)
            XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
            let ms = try imageDecodeBenchmark(bytes, iterations: 200)
            XCTAssertLessThan(ms, 1000)
            print(String(format: "PNG decode %@ (%dx%d): min %.2f ms", name, image.width, image.height, ms))
        }
    }
}
