import Foundation
import XCTest
@testable import ImageCodecs

/// Hostile input: every corpus file, truncations at every length, byte flips (with and without repaired CRCs), a
/// zlib bomb and oversized dimensions must give one thrown error (or, for a flip that leaves a valid file, an image
/// of the declared size): no crash, no hang, and no allocation beyond the pixel cap.
final class HostileImageTests: XCTestCase {
    func testCorpusThrows() throws {
        let dir = codecsFixtures("hostile")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix(".py") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 50)
        let start = Date()
        for name in names {
            let path = "\(dir)/\(name)"
            XCTAssertThrowsError(try loadImage(path: path), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(path + ": "), message)
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "the corpus must be rejected quickly")
    }

    func testSpecificMessages() throws {
        let dir = codecsFixtures("hostile")
        func message(_ name: String) -> String {
            do { _ = try decodeImage(try fileBytes("\(dir)/\(name)")); return "decoded" } catch { return "\(error)" }
        }
        XCTAssertEqual(message("png_65535x65535.png"), "image of 65535x65535 pixels is above the limit of \(maximumImagePixels) pixels")
        XCTAssertEqual(message("png_zero_width.png"), "invalid PNG dimensions 0x3")
        XCTAssertEqual(message("png_bad_crc_ihdr.png"), "corrupt PNG data (bad CRC in IHDR chunk)")
        XCTAssertEqual(message("png_bad_crc_idat.png"), "corrupt PNG data (bad CRC in IDAT chunk)")
        XCTAssertEqual(message("png_zlib_bomb_64MiB.png"), "corrupt PNG data (image data inflates to more than the 784 bytes a 16x16 image holds)")
        XCTAssertEqual(message("png_bad_adler.png"), "corrupt PNG data (Adler-32 checksum mismatch)")
        XCTAssertEqual(message("png_image_data_short.png"), "truncated PNG data (image data ends after 20 of 39 bytes)")
        XCTAssertEqual(message("png_bad_filter_type.png"), "corrupt PNG data (invalid filter type 7)")
        XCTAssertEqual(message("png_distance_too_far.png"), "corrupt PNG data (distance too far back)")
        XCTAssertTrue(message("png_huge_chunk_length.png").hasPrefix("truncated PNG data (IDAT chunk of 2147483632 bytes"))
        XCTAssertTrue(message("png_chunk_length_ffffffff.png").contains("exceeds the PNG limit"))
        XCTAssertEqual(message("gif89a.gif"), "GIF images are not supported (supported: JPEG, PNG, PPM/PGM/PBM, BMP)")
        XCTAssertEqual(message("webp.webp"), "WebP images are not supported (supported: JPEG, PNG, PPM/PGM/PBM, BMP)")
        XCTAssertEqual(message("heic.heic"), "HEIC images are not supported (supported: JPEG, PNG, PPM/PGM/PBM, BMP)")
        XCTAssertEqual(message("bmp_rle8.bmp"), "RLE-compressed BMP images are not supported")
        XCTAssertTrue(message("ppm_huge.ppm").contains("above the limit of \(maximumImagePixels) pixels"))
    }

    /// A 16x16 PNG whose IDAT would inflate to 1 GiB (built here: a stored byte, then a dynamic block whose every
    /// two bits are a 258-byte match) is rejected after inflating no more than the image's 784 bytes.
    func testGigabyteBombStopsAtTheDeclaredSize() throws {
        var bits = BitWriter()
        bits.write(0, 1); bits.write(0, 2); bits.align() // non-final stored block holding one zero byte
        bits.bytes += [1, 0, 0xFE, 0xFF, 0]
        bits.write(1, 1); bits.write(2, 2) // final dynamic block
        bits.write(29, 5); bits.write(0, 5); bits.write(14, 4) // HLIT 286, HDIST 1, HCLEN 18
        // Code-length code: symbols 1 and 18, one bit each (1 -> 0, 18 -> 1); written in the stored order.
        var cl = [UInt8](repeating: 0, count: 19)
        cl[1] = 1; cl[18] = 1
        for i in 0..<18 { bits.write(UInt32(cl[Inflater.codeLengthOrder[i]]), 3) }
        // Literal/length lengths: 256 zeros, 256 -> 1, 28 zeros, 285 -> 1; distance 0 -> 1.
        bits.write(1, 1); bits.write(127, 7) // 138 zeros
        bits.write(1, 1); bits.write(107, 7) // 118 zeros
        bits.write(0, 1)                      // 256: length 1
        bits.write(1, 1); bits.write(17, 7)  // 28 zeros
        bits.write(0, 1)                      // 285: length 1
        bits.write(0, 1)                      // distance 0: length 1
        // Codes: 256 -> 0, 285 -> 1, distance 0 -> 0. A match of 258 at distance 1 is the bits 1, 0.
        let repeats = (1 << 30) / 258
        for _ in 0..<(repeats / 16) { bits.write(0x5555_5555, 32) }
        bits.write(0, 1) // end of block
        bits.align()
        let z: [UInt8] = [0x78, 0x01] + bits.bytes + [0, 0, 0, 0]
        XCTAssertLessThan(z.count, 1_100_000)
        var png = pngSignature
        appendChunk(&png, "IHDR", [0, 0, 0, 16, 0, 0, 0, 16, 8, 2, 0, 0, 0])
        appendChunk(&png, "IDAT", z)
        appendChunk(&png, "IEND", [])
        let start = Date()
        XCTAssertThrowsError(try decodePNG(png)) {
            XCTAssertEqual("\($0)", "corrupt PNG data (image data inflates to more than the 784 bytes a 16x16 image holds)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        // The stream really is a bomb: 16 MiB of output are not enough either, and what it makes is zeros.
        XCTAssertThrowsError(try zlibDecompress(z, size: 16 << 20)) { XCTAssertEqual($0 as? InflateError, .tooLarge) }
        var out = [UInt8](repeating: 1, count: 1 << 16)
        let partial: InflateError? = z.withUnsafeBufferPointer { i -> InflateError? in
            out.withUnsafeMutableBufferPointer { o -> InflateError? in
                do throws(InflateError) { try zlibInflate(i, into: o) } catch { return error }
                return nil
            }
        }
        XCTAssertEqual(partial, .tooLarge)
        // It stops before the match that would overflow, so the last (65535 % 258) bytes stay untouched.
        XCTAssertEqual(out[0..<(1 + 254 * 258)].max(), 0, "matches copy the zero byte of the stored block")
    }

    /// Truncation at every length of small PNG, PPM and BMP files: an error, except after the last IDAT chunk
    /// (IEND and trailing chunks are not needed, as in Pillow) where the image must be the full one.
    func testTruncationAtEveryLength() throws {
        for path in ["png/p4ti.png", "png/rgba16i.png", "png/g1.png", "png/rgb8_split.png", "pnm/rgb_65535.ppm", "bmp/rgb24.bmp", "pnm/g_1000.pgm"] {
            let file = try fileBytes(codecsFixtures("") + "/" + path)
            let full = try decodeImage(file)
            var endOfData = file.count
            if path.hasSuffix(".png") {
                // After the last IDAT chunk.
                let idat = Array("IDAT".utf8)
                var last = 0
                for i in 0..<(file.count - 4) where Array(file[i..<(i + 4)]) == idat { last = i }
                let length = Int(file[last - 4]) << 24 | Int(file[last - 3]) << 16 | Int(file[last - 2]) << 8 | Int(file[last - 1])
                endOfData = last + 4 + length + 4
            }
            for n in 0..<file.count {
                let cut = Array(file[0..<n])
                if n < endOfData {
                    XCTAssertThrowsError(try decodeImage(cut), "\(path) cut at \(n)")
                } else if let image = try? decodeImage(cut) {
                    XCTAssertEqual(image, full, "\(path) cut at \(n)")
                }
            }
        }
    }

    /// Random byte flips in PNG files: with the CRCs left alone (caught by the CRC check), and with the CRCs
    /// repaired so that the flips reach the inflater, the filters and the header checks.
    func testRandomFlips() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        var decoded = 0, rejected = 0
        let start = Date()
        for name in ["rgb8.png", "p2ti.png", "rgba16.png", "g16i.png", "ga8i.png", "rgb8_stored.png", "rgb8_wide.png"] {
            let file = try fileBytes(codecsFixtures("png") + "/" + name)
            for trial in 0..<150 {
                var bytes = file
                for _ in 0..<(1 + random(4)) {
                    let i = 8 + random(bytes.count - 8)
                    bytes[i] ^= UInt8(1 << random(8))
                }
                if trial % 2 == 1 { repairCRCs(&bytes) }
                do {
                    let image = try decodeImage(bytes)
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                    decoded += 1
                } catch {
                    XCTAssertFalse("\(error)".isEmpty)
                    rejected += 1
                }
            }
        }
        XCTAssertGreaterThan(rejected, 500)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertGreaterThan(decoded, 10, "flips in ancillary chunks leave a valid image")
        print("random flips: \(decoded) decoded, \(rejected) rejected")
    }

    /// Recomputes every chunk CRC whose length field still fits the file.
    func repairCRCs(_ b: inout [UInt8]) {
        var pos = 8
        while pos + 12 <= b.count {
            let n = Int(b[pos]) << 24 | Int(b[pos + 1]) << 16 | Int(b[pos + 2]) << 8 | Int(b[pos + 3])
            guard n <= b.count - pos - 12 else { return }
            let crc = CRC32.checksum(b[(pos + 4)..<(pos + 8 + n)])
            b[pos + 8 + n] = UInt8(crc >> 24); b[pos + 9 + n] = UInt8((crc >> 16) & 0xFF)
            b[pos + 10 + n] = UInt8((crc >> 8) & 0xFF); b[pos + 11 + n] = UInt8(crc & 0xFF)
            pos += 12 + n
        }
    }

    func testPixelCapIsCheckedBeforeAllocation() throws {
        // 20000 x 20000 RGBA 16-bit would need 3.2 GB of scanlines; the cap rejects it from the header alone.
        var png = pngSignature
        appendChunk(&png, "IHDR", [0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 16, 6, 0, 0, 0])
        appendChunk(&png, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
        XCTAssertThrowsError(try decodePNG(png)) {
            XCTAssertEqual("\($0)", "image of 20000x20000 pixels is above the limit of \(maximumImagePixels) pixels")
        }
        XCTAssertThrowsError(try readPNGHeader(png))
    }
}
