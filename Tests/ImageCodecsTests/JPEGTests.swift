import Foundation
import XCTest
@testable import ImageCodecs
import SafeTensors

/// `<repo>/../shared`, or nil (tests that need it skip).
private func jpegSharedDirectory() -> String? {
    if let env = ProcessInfo.processInfo.environment["CAPTION_SHARED"] { return env }
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = repo.deletingLastPathComponent().appendingPathComponent("shared").path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// The committed JPEG fixtures (made by make_fixtures.py beside them).
let jpegFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/jpeg").path

func jpegReadBytes(_ path: String) throws -> [UInt8] { try FileBytes.read(path) }

/// Largest absolute difference between two pixel arrays of the same size (Int.max if sizes differ).
func jpegMaxDifference(_ a: [UInt8], _ b: some Collection<UInt8>) -> Int {
    guard a.count == b.count else { return Int.max }
    var m = 0
    for (x, y) in zip(a, b) { m = max(m, abs(Int(x) - Int(y))) }
    return m
}

final class JPEGTests: XCTestCase {
    /// Every fixture decodes to exactly the pixels Pillow gives, with Pillow's EXIF orientation.
    func testFixturesMatchPillowExactly() throws {
        let expected = try SafeTensorsFile(contentsOf: jpegFixtures + "/expected.safetensors")
        XCTAssertGreaterThanOrEqual(expected.names.count, 20)
        for name in expected.names {
            let data = try jpegReadBytes(jpegFixtures + "/\(name).jpg")
            let image: RGBImage
            do { image = try decodeJPEG(data) } catch { XCTFail("\(name): \(error)"); continue }
            let shape = try expected.shape(name)
            XCTAssertEqual([image.height, image.width, 3], shape, name)
            let want = try expected.rawBytes(name)
            let diff = jpegMaxDifference(image.pixels, want)
            XCTAssertEqual(diff, 0, "\(name): max difference \(diff) from Pillow")
            let meta = try JSONValue.parse(expected.metadata[name] ?? "{}")
            XCTAssertEqual(image.orientation, meta["orientation"]?.intValue, "\(name): orientation")
        }
    }

    /// The golden photo (4:4:4 baseline) and its 4:2:0 baseline and progressive re-encodes.
    func testGoldenPhotosMatchPillowExactly() throws {
        guard let shared = jpegSharedDirectory() else { throw XCTSkip("../shared not found: skipping golden photo test") }
        let golden = try SafeTensorsFile(contentsOf: shared + "/weights/golden/photo_preprocess.safetensors")
        for (file, tensor) in [("photo.jpg", "decoded_rgb"), ("photo_420.jpg", "photo_420_decoded_rgb"),
                               ("photo_420_progressive.jpg", "photo_420_decoded_rgb")] {
            let image = try decodeJPEG(try jpegReadBytes(shared + "/weights/golden/" + file))
            XCTAssertEqual([image.height, image.width, 3], try golden.shape(tensor), file)
            let diff = jpegMaxDifference(image.pixels, try golden.rawBytes(tensor))
            XCTAssertEqual(diff, 0, "\(file): max difference \(diff) from Pillow")
        }
    }

    /// rocket.jpg: FNV-1a 64 of Pillow's `convert("RGB")` pixels (computed with Python).
    func testRocketMatchesPillowHash() throws {
        guard let shared = jpegSharedDirectory() else { throw XCTSkip("../shared not found: skipping rocket.jpg test") }
        let image = try decodeJPEG(try jpegReadBytes(shared + "/weights/pretrained/photos/rocket.jpg"))
        XCTAssertEqual(image.width, 640)
        XCTAssertEqual(image.height, 427)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in image.pixels { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        XCTAssertEqual(String(h, radix: 16), "34b9b35d9b0edb19")
    }

    func testNotAJPEG() {
        XCTAssertThrowsError(try decodeJPEG([0x89, 0x50, 0x4E, 0x47])) { e in
            XCTAssertEqual((e as? ImageError)?.description, "not a JPEG file (no SOI marker)")
        }
        XCTAssertThrowsError(try decodeJPEG([]))
    }
}

/// Timing, only when JPEG_BENCH names a folder of .jpg files: `JPEG_BENCH=/tmp/bench swift test -c release ...`.
final class JPEGBenchmarkTests: XCTestCase {
    func testBenchmark() throws {
        guard let dir = ProcessInfo.processInfo.environment["JPEG_BENCH"] else { throw XCTSkip("JPEG_BENCH not set") }
        for f in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where f.hasSuffix(".jpg") {
            let ms = try imageDecodeBenchmark(try jpegReadBytes(dir + "/" + f), iterations: 30)
            print("jpeg bench \(f): \(String(format: "%.2f", ms)) ms")
        }
    }
}

final class JPEGExifTests: XCTestCase {
    /// An APP1 EXIF segment holding IFD0 with one orientation entry of the given TIFF type.
    func exif(_ orientation: Int, type: Int = 3, bigEndian: Bool = false) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 255)] : [UInt8(v & 255), UInt8(v >> 8)] }
        func u32(_ v: Int) -> [UInt8] { bigEndian ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16) }
        let value: [UInt8] = type == 4 ? u32(orientation) : u16(orientation) + [0, 0]
        let tiff: [UInt8] = (bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]) + u16(42) + u32(8) + u16(1)
            + u16(0x0112) + u16(type) + u32(1) + value + u32(0)
        let body: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        return [0xFF, 0xE1, UInt8((body.count + 2) >> 8), UInt8((body.count + 2) & 255)] + body
    }

    func withSegments(_ segments: [[UInt8]]) throws -> [UInt8] {
        let d = try jpegReadBytes(jpegFixtures + "/baseline_420_33x17.jpg")
        return Array(d[0..<2]) + segments.flatMap { $0 } + Array(d[2...])
    }

    func testOrientationTypesAndByteOrders() throws {
        XCTAssertEqual(try decodeJPEG(try withSegments([exif(8)])).orientation, 8)
        XCTAssertEqual(try decodeJPEG(try withSegments([exif(5, bigEndian: true)])).orientation, 5)
        XCTAssertEqual(try decodeJPEG(try withSegments([exif(7, type: 4, bigEndian: true)])).orientation, 7)
        XCTAssertEqual(try decodeJPEG(try withSegments([exif(0)])).orientation, 1, "invalid value")
        XCTAssertEqual(try decodeJPEG(try withSegments([exif(2), exif(6)])).orientation, 2, "first EXIF segment wins")
        let broken: [UInt8] = [0xFF, 0xE1, 0, 12] + Array("Exif".utf8) + [0, 0, 0x49, 0x49, 42, 0]
        XCTAssertEqual(try decodeJPEG(try withSegments([broken, exif(6)])).orientation, 1, "Pillow reads only the first")
    }
}

/// Differential check against a folder of `NAME.jpg` + `NAME.rgb` (Pillow's pixels), only when
/// JPEG_DIFF names it (made by a throwaway generator; not run in CI).
final class JPEGDifferentialTests: XCTestCase {
    func testFolderMatchesPillow() throws {
        guard let dir = ProcessInfo.processInfo.environment["JPEG_DIFF"] else { throw XCTSkip("JPEG_DIFF not set") }
        var checked = 0
        for f in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where f.hasSuffix(".jpg") {
            let base = dir + "/" + f.dropLast(4)
            let want = try jpegReadBytes(base + ".rgb")
            do {
                let im = try decodeJPEG(try jpegReadBytes(dir + "/" + f))
                let diff = jpegMaxDifference(im.pixels, want)
                let args = (try? String(contentsOfFile: base + ".txt", encoding: .utf8)) ?? ""
                XCTAssertEqual(diff, 0, "\(f) (\(args.dropLast())): max difference \(diff)")
            } catch {
                XCTFail("\(f): \(error)")
            }
            checked += 1
        }
        print("checked \(checked) files")
    }
}
