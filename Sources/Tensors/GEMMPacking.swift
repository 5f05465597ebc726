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
                // op(A)(r, p) = a[r * ld + p]: rows are contiguous; interleave them.
                if h == mr && mr == 6 {
                    interleave6(a.pointer + (row0 + i) * a.ld + col0, a.ld, kc, out)
                } else {
                    for r in 0..<h {
                        let src = a.pointer + (row0 + i + r) * a.ld + col0
                        for p in 0..<kc { out[p * mr + r] = src[p] }
                    }
                    if h < mr { for p in 0..<kc { (out + p * mr + h).update(repeating: 0, count: mr - h) } }
                }
            }
            out += mr * kc
            i += mr
        }
    }

    /// Six contiguous rows (stride `ld`) into `kc` steps of 6 floats.
    @inline(__always)
    private static func interleave6(_ src: UnsafePointer<Float>, _ ld: Int, _ kc: Int, _ out: UnsafeMutablePointer<Float>) {
        let r0 = src, r1 = src + ld, r2 = src + 2 * ld, r3 = src + 3 * ld, r4 = src + 4 * ld, r5 = src + 5 * ld
        for p in 0..<kc {
            let d = out + p * 6
            d[0] = r0[p]; d[1] = r1[p]; d[2] = r2[p]; d[3] = r3[p]; d[4] = r4[p]; d[5] = r5[p]
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

/// Transpose of an 8x8 block given as its rows (unpack / shuffle / lane permute, as in AVX2 code).
@inline(__always)
func transpose8x8(_ r0: SIMD8<Float>, _ r1: SIMD8<Float>, _ r2: SIMD8<Float>, _ r3: SIMD8<Float>,
                  _ r4: SIMD8<Float>, _ r5: SIMD8<Float>, _ r6: SIMD8<Float>, _ r7: SIMD8<Float>)
    -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    // Column q of the result is (r0[q], r1[q], ..., r7[q]).
    @inline(__always) func col(_ q: Int) -> SIMD8<Float> {
        SIMD8(r0[q], r1[q], r2[q], r3[q], r4[q], r5[q], r6[q], r7[q])
    }
    return (col(0), col(1), col(2), col(3), col(4), col(5), col(6), col(7))
}
