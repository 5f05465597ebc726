// The 8x8 "islow" integer inverse DCT of libjpeg (jidctint.c: CONST_BITS 13, PASS1_BITS 2), with
// dequantisation. Output is clamped to 0...255 (libjpeg-turbo's SIMD version saturates the same way).

private let fix_0_298631336: Int32 = 2446
private let fix_0_390180644: Int32 = 3196
private let fix_0_541196100: Int32 = 4433
private let fix_0_765366865: Int32 = 6270
private let fix_0_899976223: Int32 = 7373
private let fix_1_175875602: Int32 = 9633
private let fix_1_501321110: Int32 = 12299
private let fix_1_847759065: Int32 = 15137
private let fix_1_961570560: Int32 = 16069
private let fix_2_053119869: Int32 = 16819
private let fix_2_562915447: Int32 = 20995
private let fix_3_072711026: Int32 = 25172

typealias IDCTVector = SIMD8<Int32>

/// One 1-D islow pass on eight vectors (each lane an independent column or row).
/// Returns the eight outputs before descaling: out[i] = even[i] +- odd[i].
@inline(__always)
private func idct1D(_ i0: IDCTVector, _ i1: IDCTVector, _ i2: IDCTVector, _ i3: IDCTVector,
                    _ i4: IDCTVector, _ i5: IDCTVector, _ i6: IDCTVector, _ i7: IDCTVector,
                    rounding: Int32, shift: Int32) -> (IDCTVector, IDCTVector, IDCTVector, IDCTVector,
                                                     IDCTVector, IDCTVector, IDCTVector, IDCTVector) {
    // Even part.
    var z2 = i2, z3 = i6
    var z1 = (z2 &+ z3) &* fix_0_541196100
    var tmp2 = z1 &+ z3 &* (-fix_1_847759065)
    var tmp3 = z1 &+ z2 &* fix_0_765366865
    z2 = i0; z3 = i4
    var tmp0 = (z2 &+ z3) &<< 13
    var tmp1 = (z2 &- z3) &<< 13
    let tmp10 = tmp0 &+ tmp3 &+ rounding
    let tmp13 = tmp0 &- tmp3 &+ rounding
    let tmp11 = tmp1 &+ tmp2 &+ rounding
    let tmp12 = tmp1 &- tmp2 &+ rounding
    // Odd part.
    tmp0 = i7; tmp1 = i5; tmp2 = i3; tmp3 = i1
    z1 = tmp0 &+ tmp3
    z2 = tmp1 &+ tmp2
    z3 = tmp0 &+ tmp2
    var z4 = tmp1 &+ tmp3
    let z5 = (z3 &+ z4) &* fix_1_175875602
    tmp0 = tmp0 &* fix_0_298631336
    tmp1 = tmp1 &* fix_2_053119869
    tmp2 = tmp2 &* fix_3_072711026
    tmp3 = tmp3 &* fix_1_501321110
    z1 = z1 &* (-fix_0_899976223)
    z2 = z2 &* (-fix_2_562915447)
    z3 = z3 &* (-fix_1_961570560)
    z4 = z4 &* (-fix_0_390180644)
    z3 = z3 &+ z5
    z4 = z4 &+ z5
    tmp0 = tmp0 &+ z1 &+ z3
    tmp1 = tmp1 &+ z2 &+ z4
    tmp2 = tmp2 &+ z2 &+ z3
    tmp3 = tmp3 &+ z1 &+ z4
    let s = IDCTVector(repeating: shift)
    return ((tmp10 &+ tmp3) &>> s, (tmp11 &+ tmp2) &>> s, (tmp12 &+ tmp1) &>> s, (tmp13 &+ tmp0) &>> s,
            (tmp13 &- tmp0) &>> s, (tmp12 &- tmp1) &>> s, (tmp11 &- tmp2) &>> s, (tmp10 &- tmp3) &>> s)
}

/// Dequantises and inverse-transforms one block into `out` (8 rows of 8 samples, `stride` apart).
@inline(__always)
func jpegIDCTBlock(_ coef: UnsafePointer<Int16>, _ quant: UnsafePointer<Int32>,
                   _ out: UnsafeMutablePointer<UInt8>, _ stride: Int) {
    // Blocks with only a DC coefficient (very common) are flat.
    var acOr: Int16 = 0
    for i in 1..<64 { acOr |= coef[i] }
    if acOr == 0 {
        let dc = Int32(coef[0]) &* quant[0]
        let v = (((dc &<< 2) &+ 16) &>> 5) &+ 128
        let b = UInt8(clamping: v)
        for y in 0..<8 {
            let row = out + y * stride
            for x in 0..<8 { row[x] = b }
        }
        return
    }
    @inline(__always) func load(_ r: Int) -> IDCTVector {
        var v = IDCTVector()
        for x in 0..<8 { v[x] = Int32(coef[r * 8 + x]) &* quant[r * 8 + x] }
        return v
    }
    // Pass 1: columns (each lane one column), rows of the block are the eight inputs.
    let c = idct1D(load(0), load(1), load(2), load(3), load(4), load(5), load(6), load(7),
                   rounding: 1 << 10, shift: 11)
    // Transpose so that lanes become rows.
    @inline(__always) func col(_ x: Int) -> IDCTVector {
        IDCTVector(c.0[x], c.1[x], c.2[x], c.3[x], c.4[x], c.5[x], c.6[x], c.7[x])
    }
    // Pass 2: rows (each lane one row), the eight columns are the inputs.
    let r = idct1D(col(0), col(1), col(2), col(3), col(4), col(5), col(6), col(7),
                   rounding: 1 << 17, shift: 18)
    @inline(__always) func store(_ v: IDCTVector, _ x: Int) {
        let b = SIMD8<UInt8>(truncatingIfNeeded: (v &+ 128).clamped(lowerBound: .zero, upperBound: IDCTVector(repeating: 255)))
        for y in 0..<8 { out[y * stride + x] = b[y] }
    }
    store(r.0, 0); store(r.1, 1); store(r.2, 2); store(r.3, 3)
    store(r.4, 4); store(r.5, 5); store(r.6, 6); store(r.7, 7)
}
