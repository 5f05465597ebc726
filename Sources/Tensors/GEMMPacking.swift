/// Packing of GEMM operands into the panel layouts the micro-kernels stream through.
///
/// A block of `op(A)` becomes `mr`-row panels, each `kc` steps of `mr` consecutive floats; a block of
/// `op(B)` becomes `nr`-column panels, each `kc` steps of `nr` consecutive floats. Rows or columns past
/// the matrix edge are zero, so the kernels always compute full tiles.
enum GEMMPacking {
    /// Packs `op(A)[row0 ..< row0 + rows, col0 ..< col0 + kc]`.
    static func packA(_ a: GEMMOperand, row0: Int, col0: Int, rows: Int, kc: Int, mr: Int,
                      into dst: UnsafeMutablePointer<Float>) {
        var i = 0
        var out = dst
        while i < rows {
            let h = min(mr, rows - i)
            if a.transposed {
                // op(A)(r, p) = a[p * ld + r]: each step is a contiguous run of rows.
                for p in 0..<kc {
                    let src = a.pointer + (col0 + p) * a.ld + row0 + i
                    let d = out + p * mr
                    if h == mr { d.update(from: src, count: mr) }
                    else {
                        d.update(from: src, count: h)
                        (d + h).update(repeating: 0, count: mr - h)
                    }
                }
            } else {
                // op(A)(r, p) = a[r * ld + p]: rows are contiguous; transpose them in 4x8 / 8x8 blocks.
                let src = a.pointer + (row0 + i) * a.ld + col0
                if h == mr && (mr == 6 || mr == 12) {
                    transposeRows(src, a.ld, rows: mr, kc: kc, out)
                } else {
                    for r in 0..<h {
                        let s = src + r * a.ld
                        for p in 0..<kc { out[p * mr + r] = s[p] }
                    }
                    if h < mr { for p in 0..<kc { (out + p * mr + h).update(repeating: 0, count: mr - h) } }
                }
            }
            out += mr * kc
            i += mr
        }
    }

    /// `rows` (6 or 12) rows of stride `ld` into `kc` steps of `rows` consecutive floats.
    @inline(__always)
    private static func transposeRows(_ src: UnsafePointer<Float>, _ ld: Int, rows: Int, kc: Int, _ out: UnsafeMutablePointer<Float>) {
        let o = UnsafeMutableRawPointer(out)
        @inline(__always) func row(_ r: Int, _ p: Int) -> SIMD8<Float> {
            UnsafeRawPointer(src + r * ld + p).loadUnaligned(as: SIMD8<Float>.self)
        }
        var p = 0
        while p + 8 <= kc {
            // Rows 0..<4 (and 4..<8 for 12 rows) as 4x8 blocks: low half = step p + q, high half = step p + q + 4.
            var g = 0
            while g + 4 <= rows {
                let t = transpose4x8(row(g, p), row(g + 1, p), row(g + 2, p), row(g + 3, p))
                @inline(__always) func put(_ v: SIMD8<Float>, _ q: Int) {
                    o.storeBytes(of: v.lowHalf, toByteOffset: ((p + q) &* rows &+ g) &* 4, as: SIMD4<Float>.self)
                    o.storeBytes(of: v.highHalf, toByteOffset: ((p + q + 4) &* rows &+ g) &* 4, as: SIMD4<Float>.self)
                }
                put(t.0, 0); put(t.1, 1); put(t.2, 2); put(t.3, 3)
                g += 4
            }
            if g < rows {
                // The last two rows of six: pairs.
                let r0 = row(g, p), r1 = row(g + 1, p)
                for q in 0..<8 {
                    o.storeBytes(of: SIMD2(r0[q], r1[q]), toByteOffset: ((p + q) * rows + g) * 4, as: SIMD2<Float>.self)
                }
            }
            p += 8
        }
        while p < kc {
            for r in 0..<rows { out[p * rows + r] = src[r * ld + p] }
            p += 1
        }
    }

    /// Packs `op(B)[row0 ..< row0 + kc, col0 ..< col0 + cols]` into `ceil(cols / nr)` panels.
    static func packB(_ b: GEMMOperand, row0: Int, col0: Int, kc: Int, cols: Int, nr: Int,
                      into dst: UnsafeMutablePointer<Float>) {
        var j = 0
        var out = dst
        while j < cols {
            let w = min(nr, cols - j)
            if !b.transposed {
                // op(B)(p, q) = b[p * ld + q]: each step is a contiguous run of columns.
                let base = b.pointer + row0 * b.ld + col0 + j
                if w == nr {
                    let o = UnsafeMutableRawPointer(out)
                    if nr == 16 {
                        for p in 0..<kc {
                            let s = UnsafeRawPointer(base + p * b.ld)
                            o.storeBytes(of: s.loadUnaligned(as: SIMD16<Float>.self), toByteOffset: p * 64, as: SIMD16<Float>.self)
                        }
                    } else if nr == 32 {
                        for p in 0..<kc {
                            let s = UnsafeRawPointer(base + p * b.ld)
                            o.storeBytes(of: s.loadUnaligned(as: SIMD16<Float>.self), toByteOffset: p * 128, as: SIMD16<Float>.self)
                            o.storeBytes(of: s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self),
                                         toByteOffset: p * 128 + 64, as: SIMD16<Float>.self)
                        }
                    } else {
                        for p in 0..<kc { (out + p * nr).update(from: base + p * b.ld, count: nr) }
                    }
                } else {
                    for p in 0..<kc {
                        (out + p * nr).update(from: base + p * b.ld, count: w)
                        (out + p * nr + w).update(repeating: 0, count: nr - w)
                    }
                }
            } else {
                // op(B)(p, q) = b[q * ld + p]: columns of op(B) are contiguous rows of b.
                if w == nr && nr % 8 == 0 {
                    transposeInto(b.pointer + (col0 + j) * b.ld + row0, b.ld, kc, nr, out)
                } else {
                    for q in 0..<w {
                        let src = b.pointer + (col0 + j + q) * b.ld + row0
                        for p in 0..<kc { out[p * nr + q] = src[p] }
                    }
                    if w < nr { for p in 0..<kc { (out + p * nr + w).update(repeating: 0, count: nr - w) } }
                }
            }
            out += nr * kc
            j += nr
        }
    }

    /// `out[p * nr + q] = src[q * ld + p]` for `q < nr`, `p < kc`, by 8x8 blocks in registers.
    @inline(__always)
    private static func transposeInto(_ src: UnsafePointer<Float>, _ ld: Int, _ kc: Int, _ nr: Int,
                                      _ out: UnsafeMutablePointer<Float>) {
        var p = 0
        let o = UnsafeMutableRawPointer(out)
        while p + 8 <= kc {
            var q = 0
            while q < nr {
                let s = UnsafeRawPointer(src + q * ld + p)
                let t = transpose8x8(
                    s.loadUnaligned(as: SIMD8<Float>.self),
                    s.loadUnaligned(fromByteOffset: ld * 4, as: SIMD8<Float>.self),
                    s.loadUnaligned(fromByteOffset: 2 * ld * 4, as: SIMD8<Float>.self),
                    s.loadUnaligned(fromByteOffset: 3 * ld * 4, as: SIMD8<Float>.self),
                    s.loadUnaligned(fromByteOffset: 4 * ld * 4, as: SIMD8<Float>.self),
                    s.loadUnaligned(fromByteOffset: 5 * ld * 4, as: SIMD8<Float>.self),
                    s.loadUnaligned(fromByteOffset: 6 * ld * 4, as: SIMD8<Float>.self),
                    s.loadUnaligned(fromByteOffset: 7 * ld * 4, as: SIMD8<Float>.self))
                let base = (p * nr + q) * 4
                o.storeBytes(of: t.0, toByteOffset: base, as: SIMD8<Float>.self)
                o.storeBytes(of: t.1, toByteOffset: base + nr * 4, as: SIMD8<Float>.self)
                o.storeBytes(of: t.2, toByteOffset: base + 2 * nr * 4, as: SIMD8<Float>.self)
                o.storeBytes(of: t.3, toByteOffset: base + 3 * nr * 4, as: SIMD8<Float>.self)
                o.storeBytes(of: t.4, toByteOffset: base + 4 * nr * 4, as: SIMD8<Float>.self)
                o.storeBytes(of: t.5, toByteOffset: base + 5 * nr * 4, as: SIMD8<Float>.self)
                o.storeBytes(of: t.6, toByteOffset: base + 6 * nr * 4, as: SIMD8<Float>.self)
                o.storeBytes(of: t.7, toByteOffset: base + 7 * nr * 4, as: SIMD8<Float>.self)
                q += 8
            }
            p += 8
        }
        while p < kc {
            for q in 0..<nr { out[p * nr + q] = src[q * ld + p] }
            p += 1
        }
    }
}

/// `_mm256_unpacklo_ps` / `_mm256_unpackhi_ps`: interleave the low (high) pairs of each 128-bit half.
@inline(__always) func unpackLow(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5])
}
@inline(__always) func unpackHigh(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7])
}
/// `_mm256_shuffle_ps(a, b, 0x44)` / `(a, b, 0xEE)`: low (high) pair of `a` then of `b`, per half.
@inline(__always) func shuffleLow(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[0], a[1], b[0], b[1], a[4], a[5], b[4], b[5])
}
@inline(__always) func shuffleHigh(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[2], a[3], b[2], b[3], a[6], a[7], b[6], b[7])
}

/// Four rows of 8 -> `u[q]` holds (r0[q], r1[q], r2[q], r3[q]) in its low half and column `q + 4` in its high half.
@inline(__always)
func transpose4x8(_ r0: SIMD8<Float>, _ r1: SIMD8<Float>, _ r2: SIMD8<Float>, _ r3: SIMD8<Float>)
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let t0 = unpackLow(r0, r1), t1 = unpackHigh(r0, r1), t2 = unpackLow(r2, r3), t3 = unpackHigh(r2, r3)
    return (shuffleLow(t0, t2), shuffleHigh(t0, t2), shuffleLow(t1, t3), shuffleHigh(t1, t3))
}

/// Transpose of an 8x8 block given as its rows: result `q` is column `q`.
@inline(__always)
func transpose8x8(_ r0: SIMD8<Float>, _ r1: SIMD8<Float>, _ r2: SIMD8<Float>, _ r3: SIMD8<Float>,
                  _ r4: SIMD8<Float>, _ r5: SIMD8<Float>, _ r6: SIMD8<Float>, _ r7: SIMD8<Float>)
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let a = transpose4x8(r0, r1, r2, r3), b = transpose4x8(r4, r5, r6, r7)
    return (SIMD8(lowHalf: a.0.lowHalf, highHalf: b.0.lowHalf), SIMD8(lowHalf: a.1.lowHalf, highHalf: b.1.lowHalf),
            SIMD8(lowHalf: a.2.lowHalf, highHalf: b.2.lowHalf), SIMD8(lowHalf: a.3.lowHalf, highHalf: b.3.lowHalf),
            SIMD8(lowHalf: a.0.highHalf, highHalf: b.0.highHalf), SIMD8(lowHalf: a.1.highHalf, highHalf: b.1.highHalf),
            SIMD8(lowHalf: a.2.highHalf, highHalf: b.2.highHalf), SIMD8(lowHalf: a.3.highHalf, highHalf: b.3.highHalf))
}
