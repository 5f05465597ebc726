/// AVX2/FMA kernel for few-row products against a weight stored as 16-column panels (`PanelWeights`): the
/// panel is one sequential stream of `k x 16` floats, each step of it multiplied by up to six broadcast
/// elements of A.

@inline(__always)
private func load8(_ p: UnsafeRawPointer, _ byteOffset: Int) -> SIMD8<Float> {
    p.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Float>.self)
}

/// `C[r, j] (+)= sum_p A[r * lda + p] * panel[p * 16 + j]` for `r < rows` (1...6), `j < cols` (1...16);
/// `accumulate == false` does not read `C`. Each row's sums run over `p` in order, independently of `rows`.
@inline(never)
func sgemmPanel16AVX2(_ rows: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ panel: UnsafePointer<Float>,
                      _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool) {
    panelRows16(UnitStep.self, rows, k, a, lda, 1, panel, c, ldc, cols, accumulate)
}

/// `sgemmPanel16AVX2` with A stored by columns: `C[r, j] (+)= sum_p A[p * lda + r] * panel[p * 16 + j]` (an
/// im2col matrix `[k, pixels]` read as pixel rows).
@inline(never)
func sgemmPanel16AVX2ColumnA(_ rows: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ panel: UnsafePointer<Float>,
                             _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool) {
    panelRows16(AnyStep.self, rows, k, a, 1, lda, panel, c, ldc, cols, accumulate)
}

/// Row `r`, step `p` of A at `a[r * rowStride + p * step]`.
@inline(__always)
private func panelRows16<S: PanelStep>(_: S.Type, _ rows: Int, _ k: Int, _ a: UnsafePointer<Float>, _ rowStride: Int, _ step: Int, _ panel: UnsafePointer<Float>,
                         _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool) {
    switch rows {
    case 1: panelBody16(PanelRows161.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 2: panelBody16(PanelRows162.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 3: panelBody16(PanelRows163.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 4: panelBody16(PanelRows164.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 5: panelBody16(PanelRows165.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    default: panelBody16(PanelRows166.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    }
}

/// The kernel for a row count fixed by the type `N` (specialised per count: the unused accumulators and the
/// tests of `R` disappear from the loop).
@inline(__always)
private func panelBody16<N: PanelRows16, S: PanelStep>(_: N.Type, _: S.Type, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ step: Int, _ panel: UnsafePointer<Float>,
                         _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool) {
    let R = N.count
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
    let a0 = a, a1 = a + (R > 1 ? lda : 0), a2 = a + (R > 2 ? 2 * lda : 0), a3 = a + (R > 3 ? 3 * lda : 0)
    let a4 = a + (R > 4 ? 4 * lda : 0), a5 = a + (R > 5 ? 5 * lda : 0)
    var w = UnsafeRawPointer(panel)
    var p = 0
    for _ in 0..<k {
        let y0 = load8(w, 0), y1 = load8(w, 32)
        var x = SIMD8<Float>(repeating: a0[p]); c00 = c00.addingProduct(x, y0); c01 = c01.addingProduct(x, y1)
        if R > 1 { x = SIMD8<Float>(repeating: a1[p]); c10 = c10.addingProduct(x, y0); c11 = c11.addingProduct(x, y1) }
        if R > 2 { x = SIMD8<Float>(repeating: a2[p]); c20 = c20.addingProduct(x, y0); c21 = c21.addingProduct(x, y1) }
        if R > 3 { x = SIMD8<Float>(repeating: a3[p]); c30 = c30.addingProduct(x, y0); c31 = c31.addingProduct(x, y1) }
        if R > 4 { x = SIMD8<Float>(repeating: a4[p]); c40 = c40.addingProduct(x, y0); c41 = c41.addingProduct(x, y1) }
        if R > 5 { x = SIMD8<Float>(repeating: a5[p]); c50 = c50.addingProduct(x, y0); c51 = c51.addingProduct(x, y1) }
        w += 64; p = S.advance(p, step)
    }
    put16(c, cols, accumulate, c00, c01)
    if R > 1 { put16(c + ldc, cols, accumulate, c10, c11) }
    if R > 2 { put16(c + 2 * ldc, cols, accumulate, c20, c21) }
    if R > 3 { put16(c + 3 * ldc, cols, accumulate, c30, c31) }
    if R > 4 { put16(c + 4 * ldc, cols, accumulate, c40, c41) }
    if R > 5 { put16(c + 5 * ldc, cols, accumulate, c50, c51) }
}

/// Stores (or adds) the first `cols` of the 16 sums `v0 ++ v1` at `o`.
@inline(__always)
private func put16(_ o: UnsafeMutablePointer<Float>, _ cols: Int, _ accumulate: Bool, _ v0: SIMD8<Float>, _ v1: SIMD8<Float>) {
    let raw = UnsafeMutableRawPointer(o)
    if cols == 16 {
        var s0 = v0, s1 = v1
        if accumulate {
            s0 += raw.loadUnaligned(fromByteOffset: 0, as: SIMD8<Float>.self)
            s1 += raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        }
        raw.storeBytes(of: s0, toByteOffset: 0, as: SIMD8<Float>.self)
        raw.storeBytes(of: s1, toByteOffset: 32, as: SIMD8<Float>.self)
        return
    }
    for j in 0..<min(cols, 8) { o[j] = accumulate ? o[j] + v0[j] : v0[j] }
    if cols > 8 { for j in 8..<cols { o[j] = accumulate ? o[j] + v1[j - 8] : v1[j - 8] } }
}

/// A row count as a type, so that `panelBody16` is compiled once per count.
private protocol PanelRows16 { static var count: Int { get } }
private enum PanelRows161: PanelRows16 { static var count: Int { 1 } }
private enum PanelRows162: PanelRows16 { static var count: Int { 2 } }
private enum PanelRows163: PanelRows16 { static var count: Int { 3 } }
private enum PanelRows164: PanelRows16 { static var count: Int { 4 } }
private enum PanelRows165: PanelRows16 { static var count: Int { 5 } }
private enum PanelRows166: PanelRows16 { static var count: Int { 6 } }

/// How the step index of A advances: by 1 (rows stored contiguously; the constant keeps the loop as it was) or by
/// a stride (A stored by columns).
private protocol PanelStep { static func advance(_ p: Int, _ step: Int) -> Int }
private enum UnitStep: PanelStep { @inline(__always) static func advance(_ p: Int, _ step: Int) -> Int { p &+ 1 } }
private enum AnyStep: PanelStep { @inline(__always) static func advance(_ p: Int, _ step: Int) -> Int { p &+ step } }
