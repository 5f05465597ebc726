import Foundation
import XCTest
@testable import ImageCodecs

final class PNMTests: XCTestCase {
    /// Every fixture against Pillow's convert("RGB") (see Fixtures/pnm/make_fixtures.py for the one exception).
    func testFixturesMatchPillow() throws {
        let dir = codecsFixtures("pnm")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { [".ppm", ".pgm", ".pbm"].contains(String($0.suffix(4))) }
        XCTAssertGreaterThanOrEqual(names.count, 16)
        for name in names.sorted() {
            let image = try loadImage(path: "\(dir)/\(name)")
            assertBytesEqual(image.pixels, try fileBytes("\(dir)/\(name).rgb"), name)
            XCTAssertEqual(image.width, name.hasSuffix(".pbm") ? 10 : 7, name)
            XCTAssertEqual(image.height, 5, name)
            let format = detectImageFormat(try fileBytes("\(dir)/\(name)"))
            XCTAssertEqual(format, name.hasSuffix(".ppm") ? .ppm : name.hasSuffix(".pgm") ? .pgm : .pbm, name)
        }
    }

    func testHeaderCommentsAndChannels() throws {
        let p = decodeBytes("P5\n# comment\n2 # w\n1\n# more\n255\n") + [10, 250]
        let grey = try decodePNMPixels(p)
        XCTAssertEqual(grey, PixelImage(width: 2, height: 1, channels: 1, pixels: [10, 250]))
        XCTAssertEqual(try decodePNM(p).pixels, [10, 10, 10, 250, 250, 250])
        // maxval 2: 1 -> round(127.5) = 128 (ties to even, as Python's round), 2 -> 255
        let q = decodeBytes("P6 1 1 2\n") + [0, 1, 2]
        XCTAssertEqual(try decodePNM(q).pixels, [0, 128, 255])
        // maxval 10, a sample above maxval is clamped to 255 (Pillow's min(255, …))
        XCTAssertEqual(try decodePNM(decodeBytes("P5 2 1 10\n") + [5, 11]).pixels, [128, 128, 128, 255, 255, 255])
    }

    func testMalformedHeadersThrow() {
        let bad: [(String, [UInt8])] = [
            ("zero width", decodeBytes("P6 0 1 255\n") + [1, 2, 3]),
            ("maxval 0", decodeBytes("P5 1 1 0\n") + [0]),
            ("maxval 65536", decodeBytes("P5 1 1 65536\n") + [0, 0]),
            ("letters", decodeBytes("P5 x 1 255\n")),
            ("huge", decodeBytes("P5 99999999999 1 255\n")),
            ("over the pixel cap", decodeBytes("P5 65535 65535 255\n")),
            ("truncated raster", decodeBytes("P6 2 2 255\n") + [1, 2, 3]),
            ("truncated 16-bit raster", decodeBytes("P5 1 1 65535\n") + [1]),
            ("header only", decodeBytes("P6 2 2")),
            ("ascii value above maxval", decodeBytes("P2 1 1 10\n11\n")),
            ("ascii truncated", decodeBytes("P3 1 1 255\n1 2\n")),
            ("pbm bad char", decodeBytes("P1 2 1\n0 2\n")),
        ]
        for (what, bytes) in bad {
            XCTAssertThrowsError(try decodeImage(bytes), what) { error in
                XCTAssertFalse((error as? ImageError)?.description.isEmpty ?? true, what)
            }
        }
        XCTAssertThrowsError(try decodePNM(decodeBytes("P5 65535 65535 255\n"))) {
            XCTAssertTrue("\($0)".contains("\(maximumImagePixels)"), "the error names the limit: \($0)")
        }
    }

    func decodeBytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}
