import XCTest
import Tensors

final class Float16Tests: XCTestCase {
    /// Every half bit pattern widens exactly and narrows back to itself (NaNs stay NaN).
    func testAllHalfPatternsRoundTrip() {
        let bits = (0...0xFFFF).map { UInt16($0) }
        let f = HalfConversion.toFloat(bits)
        let back = HalfConversion.toHalf(f)
        for i in 0...0xFFFF {
            let h = UInt16(i)
            let exp = (h >> 10) & 0x1F, mant = h & 0x3FF
            if exp == 0x1F && mant != 0 { XCTAssertTrue(f[i].isNaN); continue }
            // Reference widening computed from the bit fields.
            let sign: Float = h & 0x8000 != 0 ? -1 : 1
            let ref: Float = exp == 0 ? sign * Float(mant) * 0x1p-24 : exp == 0x1F ? sign * .infinity
                : sign * (1 + Float(mant) / 1024) * Float(sign: .plus, exponent: Int(exp) - 15, significand: 1)
            XCTAssertEqual(f[i], ref, "pattern \(i)")
            XCTAssertEqual(back[i], h, "pattern \(i)")
        }
    }

    func testNarrowingRoundsToNearestEven() {
        let xs: [Float] = [1 + 0x1p-11, 1 + 3 * 0x1p-11, 65520, 65519, 0x1p-25, 0x1p-24 * 1.5, -0.0, 1e-10]
        let expect: [UInt16] = [0x3C00, 0x3C02, 0x7C00, 0x7BFF, 0x0000, 0x0002, 0x8000, 0x0000]
        // Pad to more than 8 values so both the vector and the scalar path run.
        let h = HalfConversion.toHalf(xs + xs)
        XCTAssertEqual(Array(h[0..<8]), expect)
        XCTAssertEqual(Array(h[8..<16]), expect)
        let t = Tensor(shape: [2], halfBits: [0x3C00, 0xC000])
        XCTAssertEqual(t.scalars, [1, -2])
        XCTAssertEqual(t.halfBits, [0x3C00, 0xC000])
    }
}
