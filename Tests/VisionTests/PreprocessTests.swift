import XCTest
import Foundation
import ImageCodecs
import SafeTensors
import Tensors
@testable import Vision

private func image(_ f: SafeTensorsFile, _ name: String) throws -> RGBImage {
    let s = try f.shape(name)
    return RGBImage(width: s[1], height: s[0], pixels: try f.uint8s(name))
}

/// Number of differing bytes and the largest difference.
private func byteDiff(_ a: RGBImage, _ b: RGBImage) -> (count: Int, max: Int) {
    var n = 0, m = 0
    for (x, y) in zip(a.pixels, b.pixels) where x != y { n += 1; m = max(m, abs(Int(x) - Int(y))) }
    return (n, m)
}

final class PreprocessTests: XCTestCase {
    func goldens() throws -> SafeTensorsFile {
        guard let shared = sharedDirectory() else { throw XCTSkip("../shared not found: skipping the preprocessing goldens") }
        return try SafeTensorsFile(contentsOf: shared + "/weights/golden/photo_preprocess.safetensors")
    }

    func testEveryStageIsBitExactToTorchvision() throws {
        let g = try goldens()
        let decoded = try image(g, "decoded_rgb")
        XCTAssertEqual(decoded.width, 640); XCTAssertEqual(decoded.height, 427)
        let size = resizedSize(width: decoded.width, height: decoded.height, shortSide: 256)
        XCTAssertEqual(size.width, 383); XCTAssertEqual(size.height, 256)

        let horizontal = resizeBilinearAntialiasedHorizontal(decoded, width: size.width)
        let hGold = try image(g, "resized_horizontal_rgb")
        XCTAssertEqual(horizontal.width, hGold.width); XCTAssertEqual(horizontal.height, hGold.height)
        let dh = byteDiff(horizontal, hGold)
        print("preprocess: horizontal pass differs in \(dh.count) bytes (max \(dh.max))")
        XCTAssertEqual(dh.count, 0)

        let resized = resizeBilinearAntialiased(decoded, width: size.width, height: size.height)
        let rGold = try image(g, "resized_rgb")
        let dr = byteDiff(resized, rGold)
        print("preprocess: Resize(256) differs in \(dr.count) bytes (max \(dr.max))")
        XCTAssertEqual(resized, rGold)

        let cropped = centerCrop(resized, size: 224)
        XCTAssertEqual(cropped, crop(rGold, left: 80, top: 16, width: 224, height: 224))
        XCTAssertEqual(cropped, try image(g, "cropped_rgb"))

        XCTAssertEqual(PixelTables.toTensor, try g.floats("to_tensor_lut"), "ToTensor LUT")
        XCTAssertEqual(PixelTables.imagenet.flatMap { $0 }, try g.floats("normalize_lut"), "Normalize LUT")

        let input = preprocess(decoded, .imagenet)
        let gold = Tensor(shape: [3, 224, 224], try g.floats("normalized"))
        print("preprocess: imagenet input max |diff| \(input.maxAbsDifference(gold))")
        XCTAssertEqual(input, gold, "normalized must be bit-identical")
    }

    func testMobileNetInputIsBitExact() throws {
        let g = try goldens()
        guard let shared = sharedDirectory() else { return }
        let m = try SafeTensorsFile(contentsOf: shared + "/weights/pretrained/golden/mobilenet_v2_golden.safetensors")
        let decoded = try image(g, "decoded_rgb")
        XCTAssertEqual(preprocessedPixels(decoded, .mobilenet), try image(m, "photo/crop_rgb"))
        let input = preprocess(decoded, .mobilenet)
        let gold = Tensor(shape: [3, 224, 224], try m.floats("photo/input"))
        print("preprocess: mobilenet input max |diff| \(input.maxAbsDifference(gold))")
        XCTAssertEqual(input, gold)
        // The README's equivalences: p/127.5 - 1 is the same table, (p - 127.5)/127.5 is not.
        XCTAssertEqual(PixelTables.symmetric, (0..<256).map { Float($0) / 127.5 - 1 })
        XCTAssertNotEqual(PixelTables.symmetric, (0..<256).map { (Float($0) - 127.5) / 127.5 })
    }

    func testCenterCropRoundsHalfToEven() {
        XCTAssertEqual(roundHalfEvenHalf(159), 80)  // 79.5 -> 80
        XCTAssertEqual(roundHalfEvenHalf(161), 80)  // 80.5 -> 80
        XCTAssertEqual(roundHalfEvenHalf(163), 82)  // 81.5 -> 82
        XCTAssertEqual(roundHalfEvenHalf(32), 16)
        XCTAssertEqual(roundHalfEvenHalf(1), 0)     // 0.5 -> 0
        XCTAssertEqual(roundHalfEvenHalf(3), 2)     // 1.5 -> 2
        XCTAssertEqual(resizedSize(width: 451, height: 300, shortSide: 256).width, 384)
        XCTAssertEqual(resizedSize(width: 300, height: 451, shortSide: 256).height, 384)
        let px = (0..<(5 * 4 * 3)).map { UInt8($0) }
        let small = RGBImage(width: 5, height: 4, pixels: px)
        let c = centerCrop(small, size: 6)  // padded: 0 left / 1 right, 1 top / 1 bottom
        XCTAssertEqual(c.width, 6); XCTAssertEqual(c.height, 6)
        XCTAssertEqual(Array(c.pixels[0..<18]), [UInt8](repeating: 0, count: 18))
        XCTAssertEqual(Array(c.pixels[18..<21]), [0, 1, 2])
    }

    func testAugmentationIsSeededAndFlips() {
        var rng = SeededRandom(seed: 3)
        let px = (0..<(40 * 30 * 3)).map { _ in UInt8(rng.int(below: 256)) }
        let img = RGBImage(width: 40, height: 30, pixels: px)
        var a = Augmentation(seed: 7), b = Augmentation(seed: 7)
        for _ in 0..<4 { XCTAssertEqual(a(img, .imagenet, size: 16), b(img, .imagenet, size: 16)) }
        // Always flipping and never moving the crop: the mirror image of the centre crop.
        var flip = Augmentation(seed: 1, flipProbability: 1, randomCrop: false)
        let f = flip(img, .mobilenet, size: 16)
        let e = preprocess(img, .mobilenet, size: 16)
        XCTAssertEqual(f.shape, [3, 16, 16])
        for c in 0..<3 { for y in 0..<16 { for x in 0..<16 { XCTAssertEqual(f[c, y, x], e[c, y, 15 - x]) } } }
        var d = Augmentation(seed: 9)
        XCTAssertEqual(d(img, .direct, size: 16).shape, [3, 16, 16])
        // Crops vary with the seed.
        var seen = Set<[Int]>()
        var r = Augmentation(seed: 11, flipProbability: 0)
        for _ in 0..<10 { let o = r.draw(width: 40, height: 30, size: 16); seen.insert([o.left, o.top]) }
        XCTAssertGreaterThan(seen.count, 3)
    }
}

/// Against Pillow on an image made by `Fixtures/make_pillow_resize.py` (down, up, one-axis resizes).
final class PillowResizeFixtureTests: XCTestCase {
    func testResizesMatchPillowExactly() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pillow_resize.safetensors").path
        let f = try SafeTensorsFile(contentsOf: path)
        let src = try image(f, "source")
        var checked = 0
        for name in f.names where name.hasPrefix("resize_") {
            let gold = try image(f, name)
            let out = resizeBilinearAntialiased(src, width: gold.width, height: gold.height)
            let d = byteDiff(out, gold)
            XCTAssertEqual(d.count, 0, "\(name): \(d.count) bytes differ (max \(d.max))")
            checked += 1
        }
        XCTAssertEqual(checked, 14)
        // Resize(32) + CenterCrop(28): upscaling and a half-to-even left offset (11.5 -> 12).
        let recipe = try image(f, "recipe_crop")
        XCTAssertEqual(preprocessedPixels(src, .imagenet, size: 28), recipe)
        XCTAssertEqual(preprocess(src, .mobilenet, size: 28), imageTensor(recipe, tables: PixelTables.tables(.mobilenet)))
        XCTAssertEqual(preprocessedPixels(src, .direct, size: 28), try image(f, "resize_28x28"))
        // Portrait images at Pillow 13's pass-order boundary (horizontal first for 40x80, vertical first for 40x85).
        for name in ["tall_40x80", "tall_40x85"] {
            let s = try image(f, name + "_source"), gold = try image(f, name + "_resized")
            let size = resizedSize(width: s.width, height: s.height, shortSide: 32)
            XCTAssertEqual(size.width, gold.width); XCTAssertEqual(size.height, gold.height)
            let d = byteDiff(resizeBilinearAntialiased(s, width: size.width, height: size.height), gold)
            XCTAssertEqual(d.count, 0, "\(name): \(d.count) bytes differ (max \(d.max))")
        }
    }
}
