import XCTest
@testable import ImageCodecs

final class OrientationTests: XCTestCase {
    /// Expected layouts from Pillow 13: `Image.transpose` as `ImageOps.exif_transpose` uses it, on a 3x2 grey image
    /// whose pixel (x, y) is (3y + x) * 10.
    static let pillow: [Int: (Int, Int, [UInt8])] = [
        2: (3, 2, [20, 10, 0, 50, 40, 30]), 3: (3, 2, [50, 40, 30, 20, 10, 0]), 4: (3, 2, [30, 40, 50, 0, 10, 20]),
        5: (2, 3, [0, 30, 10, 40, 20, 50]), 6: (2, 3, [30, 0, 40, 10, 50, 20]), 7: (2, 3, [50, 20, 40, 10, 30, 0]),
        8: (2, 3, [20, 50, 10, 40, 0, 30]),
    ]

    func image(orientation: Int) -> RGBImage {
        let grey: [UInt8] = (0..<6).map { UInt8($0 * 10) }
        return RGBImage(width: 3, height: 2, pixels: grey.flatMap { [$0, $0 &+ 1, $0 &+ 2] }, orientation: orientation)
    }

    func testEveryOrientationMatchesPillowsExifTranspose() {
        for (o, (w, h, grey)) in Self.pillow {
            let r = image(orientation: o).oriented()
            XCTAssertEqual(r.width, w, "orientation \(o)")
            XCTAssertEqual(r.height, h, "orientation \(o)")
            XCTAssertEqual(r.orientation, 1)
            XCTAssertEqual(r.pixels, grey.flatMap { [$0, $0 &+ 1, $0 &+ 2] }, "orientation \(o)")
        }
    }

    func testUprightAndInvalidOrientationsAreUnchanged() {
        for o in [1, 0, 9, -3] {
            let im = image(orientation: o)
            XCTAssertEqual(im.oriented(), im)
        }
    }
}
