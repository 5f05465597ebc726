import Foundation
import XCTest
@testable import ImageCodecs

final class ImageFormatTests: XCTestCase {
    func testDetection() {
        let cases: [([UInt8], ImageFormat)] = [
            ([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], .jpeg),
            (pngSignature + [0, 0, 0, 13], .png),
            (Array("P6\n1 1\n255\n".utf8), .ppm),
            (Array("P3 1 1 255 ".utf8), .ppm),
            (Array("P5 1 1 255 ".utf8), .pgm),
            (Array("P2\n".utf8), .pgm),
            (Array("P4 1 1 ".utf8), .pbm),
            (Array("GIF89a".utf8) + [1, 0, 1, 0], .gif),
            (Array("GIF87a".utf8), .gif),
            (Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8), .webp),
            (Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVEfmt ".utf8), .unknown),
            (Array("BM".utf8) + [UInt8](repeating: 0, count: 30), .bmp),
            ([0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0], .tiff),
            ([0x4D, 0x4D, 0x00, 0x2A], .tiff),
            ([0, 0, 0, 0x18] + Array("ftypheic".utf8) + [0, 0, 0, 0], .heic),
            ([0, 0, 0, 0x18] + Array("ftypmif1".utf8), .heic),
            ([0, 0, 0, 0x18] + Array("ftypavif".utf8), .avif),
            ([0, 0, 0, 0x18] + Array("ftypisom".utf8), .unknown),
            (Array("P7 1 1".utf8), .unknown),
            (Array("P6".utf8), .unknown),
            ([], .unknown),
            ([0xFF, 0xD8], .unknown),
        ]
        for (bytes, format) in cases { XCTAssertEqual(detectImageFormat(bytes), format, "\(bytes.prefix(12))") }
    }

    func testUnsupportedFormatsAreNamed() {
        let gif = Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0]
        let webp = Array("RIFF".utf8) + [26, 0, 0, 0] + Array("WEBPVP8L".utf8) + [0, 0, 0, 0]
        let heic = [0, 0, 0, 0x18] + Array("ftypheic".utf8) + [0, 0, 0, 0]
        let tiff: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0]
        for (bytes, name) in [(gif, "GIF"), (webp, "WebP"), (heic, "HEIC"), (tiff, "TIFF")] {
            XCTAssertThrowsError(try decodeImage(bytes)) {
                XCTAssertEqual("\($0)", "\(name) images are not supported (supported: JPEG, PNG, PPM/PGM/PBM, BMP)")
            }
        }
        XCTAssertThrowsError(try decodeImage(Array("hello world".utf8))) { XCTAssertTrue("\($0)".hasPrefix("unrecognised image format")) }
        XCTAssertThrowsError(try decodeImage([])) { XCTAssertEqual("\($0)", "empty file") }
    }

    func testDecodeImageDispatches() throws {
        let png = try fileBytes(codecsFixtures("png") + "/rgb8.png")
        XCTAssertEqual(try decodeImage(png), try decodePNG(png))
        let ppm = try fileBytes(codecsFixtures("pnm") + "/rgb_255.ppm")
        XCTAssertEqual(try decodeImage(ppm), try decodePNM(ppm))
    }

    func testBMPFixturesMatchPillow() throws {
        let dir = codecsFixtures("bmp")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".bmp") }
        XCTAssertEqual(names.count, 6)
        for name in names.sorted() {
            let image = try loadImage(path: "\(dir)/\(name)")
            XCTAssertEqual([image.width, image.height], [5, 3], name)
            assertBytesEqual(image.pixels, try fileBytes("\(dir)/\(name).rgb"), name)
        }
    }

    func testLoadImageErrorsNameThePath() throws {
        let dir = NSTemporaryDirectory() + "imagecodecs-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = dir + "/missing.png"
        XCTAssertThrowsError(try loadImage(path: missing)) {
            XCTAssertEqual("\($0)", "\(missing): cannot open file: No such file or directory")
        }
        XCTAssertThrowsError(try loadImage(path: dir)) { XCTAssertEqual("\($0)", "\(dir): is a directory, not an image file") }
        let empty = dir + "/empty.jpg"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertThrowsError(try loadImage(path: empty)) { XCTAssertEqual("\($0)", "\(empty): empty file") }
        // A PNG named .jpg is decoded as what it is; a truncated one names the path and the problem.
        let png = try fileBytes(codecsFixtures("png") + "/rgb8.png")
        let photo = dir + "/photo.jpg"
        _ = FileManager.default.createFile(atPath: photo, contents: Data(png))
        XCTAssertEqual(try loadImage(path: photo), try decodePNG(png))
        _ = FileManager.default.createFile(atPath: photo, contents: Data(png[0..<(png.count / 2)]))
        XCTAssertThrowsError(try loadImage(path: photo)) { XCTAssertTrue("\($0)".hasPrefix("\(photo): truncated PNG data"), "\($0)") }
        if getuid() != 0 {
            let locked = dir + "/locked.png"
            _ = FileManager.default.createFile(atPath: locked, contents: Data(png), attributes: [.posixPermissions: 0])
            XCTAssertThrowsError(try loadImage(path: locked)) { XCTAssertEqual("\($0)", "\(locked): cannot open file: Permission denied") }
        }
    }
}
