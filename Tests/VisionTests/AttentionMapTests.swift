import XCTest
import ImageCodecs
@testable import Vision

final class AttentionMapTests: XCTestCase {
    func grey(_ w: Int, _ h: Int, _ v: UInt8 = 200) -> RGBImage {
        RGBImage(width: w, height: h, pixels: [UInt8](repeating: v, count: w * h * 3))
    }

    func testGridSizeFollowsWordCount() {
        let img = grey(50, 40)
        let w = [Float](repeating: 1.0 / 49, count: 49)
        let out = AttentionMap.render(image: img, words: ["a", "dog", "runs", "on", "grass", "<end>", "x"],
                                      weights: Array(repeating: w, count: 7), gridHeight: 7, gridWidth: 7, tile: 64, columns: 5)
        let label = BitmapFont.glyphHeight * 2 + 8
        XCTAssertEqual(out.width, 5 * 64)
        XCTAssertEqual(out.height, 2 * (64 + label))
        XCTAssertEqual(out.pixels.count, out.width * out.height * 3)
    }

    func testAttendedRegionIsBrighter() {
        let img = grey(64, 64)
        var w = [Float](repeating: 0, count: 49)
        w[0] = 1  // top-left region only
        let out = AttentionMap.render(image: img, words: ["dog"], weights: [w], gridHeight: 7, gridWidth: 7, tile: 70, columns: 1)
        func px(_ x: Int, _ y: Int) -> UInt8 { out.pixels[(y * out.width + x) * 3] }
        XCTAssertGreaterThan(px(3, 3), px(66, 66))
        let tilePixels = (0..<70).flatMap { y in (0..<70).map { x in px(x, y) } }
        XCTAssertEqual(tilePixels.max(), 200, "the most attended pixel keeps its value")
        XCTAssertEqual(px(66, 66), 40, "no attention darkens to 20 %")
    }

    func testUpsampledAttentionIsNormalised() {
        let w: [Float] = [0.1, 0.2, 0.3, 0.4]
        let m = AttentionMap.upsampledAttention(w, gridHeight: 2, gridWidth: 2, size: 16)
        XCTAssertEqual(m.min()!, 0, accuracy: 1e-6)
        XCTAssertEqual(m.max()!, 1, accuracy: 1e-6)
        XCTAssertGreaterThan(m[15 * 16 + 15], m[0])
        // Uniform attention: every pixel equally weighted, no division by zero.
        let u = AttentionMap.upsampledAttention([0.25, 0.25, 0.25, 0.25], gridHeight: 2, gridWidth: 2, size: 8)
        XCTAssertTrue(u.allSatisfy { $0 == 1 })
    }

    func testWordIsDrawnUnderItsTile() {
        let img = grey(32, 32)
        let w = [Float](repeating: 1, count: 4)
        let out = AttentionMap.render(image: img, words: ["I"], weights: [w], gridHeight: 2, gridWidth: 2, tile: 40, columns: 1)
        // Glyph "I" is 01110 in its top row: at scale 2 its top-left ink pixel is column 2*1 of the glyph box.
        let textW = BitmapFont.width(of: "I", scale: 2)
        let x0 = (40 - textW) / 2, y0 = 40 + 4
        func dark(_ x: Int, _ y: Int) -> Bool { out.pixels[(y * out.width + x) * 3] == 0 }
        let rows = BitmapFont.glyph("I")
        for r in 0..<BitmapFont.glyphHeight { for c in 0..<BitmapFont.glyphWidth {
            let ink = rows[r] & (1 << (BitmapFont.glyphWidth - 1 - c)) != 0
            XCTAssertEqual(dark(x0 + c * 2, y0 + r * 2), ink, "glyph pixel \(r),\(c)")
        } }
        XCTAssertEqual(BitmapFont.glyph("é"), BitmapFont.box, "unknown characters draw a box")
    }
}
