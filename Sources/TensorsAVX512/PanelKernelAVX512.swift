/// AVX-512 kernel for few-row products against a weight stored as 32-column panels (`PanelWeights` in
/// Tensors): the panel is one sequential stream of `k x 32` floats, each step of it multiplied by up to
/// eight broadcast elements of A. Call only when the CPU has AVX-512F: this module is compiled for it.

@inline(__always)
private func load16(_ p: UnsafeRawPointer, _ byteOffset: Int) -> SIMD16<Float> {
    p.loadUnaligned(fromByteOffset: byteOffset, as: SIMD16<Float>.self)
}

/// `C[r, j] (+)= sum_p A[r * lda + p] * panel[p * 32 + j]` for `r < rows` (1...8), `j < cols` (1...32);
/// `accumulate == false` does not read `C`. Each row's sums run over `p` in order, independently of `rows`.
@inline(never)
public func sgemmPanel32AVX512(_ rows: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ panel: UnsafePointer<Float>,
                               _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool) {
    panelRows(UnitStep.self, rows, k, a, lda, 1, panel, c, ldc, cols, accumulate)
}

/// `sgemmPanel32AVX512` with A stored by columns: `C[r, j] (+)= sum_p A[p * lda + r] * panel[p * 32 + j]` (an
/// im2col matrix `[k, pixels]` read as pixel rows: `rows` consecutive pixels, one broadcast each per step).
@inline(never)
public func sgemmPanel32AVX512ColumnA(_ rows: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ panel: UnsafePointer<Float>,
                                      _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool) {
    panelRows(AnyStep.self, rows, k, a, 1, lda, panel, c, ldc, cols, accumulate)
}

/// Row `r`, step `p` of A at `a[r * rowStride + p * step]`.
@inline(__always)
private func panelRows<S: PanelStep>(_: S.Type, _ rows: Int, _ k: Int, _ a: UnsafePointer<Float>, _ rowStride: Int, _ step: Int, _ panel: UnsafePointer<Float>,
                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool) {
    switch rows {
    case 1: panelBody(PanelRows1.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 2: panelBody(PanelRows2.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 3: panelBody(PanelRows3.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 4: panelBody(PanelRows4.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 5: panelBody(PanelRows5.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 6: panelBody(PanelRows6.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    case 7: panelBody(PanelRows7.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    default: panelBody(PanelRows8.self, S.self, k, a, rowStride, step, panel, c, ldc, cols, accumulate)
    }
}

/// The kernel for a row count fixed by the type `N` (specialised per count: the unused accumulators and the
/// tests of `R` disappear from the loop).
@inline(__always)
private func panelBody<N: PanelRows, S: PanelStep>(_: N.Type, _: S.Type, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ step: Int, _ panel: UnsafePointer<Float>,
                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool) {
    let R = N.count
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
    let a0 = a, a1 = a + (R > 1 ? lda : 0), a2 = a + (R > 2 ? 2 * lda : 0), a3 = a + (R > 3 ? 3 * lda : 0)
    let a4 = a + (R > 4 ? 4 * lda : 0), a5 = a + (R > 5 ? 5 * lda : 0), a6 = a + (R > 6 ? 6 * lda : 0)
    let a7 = a + (R > 7 ? 7 * lda : 0)
    var w = UnsafeRawPointer(panel)
    var p = 0
    for _ in 0..<k {
        let y0 = load16(w, 0), y1 = load16(w, 64)
        var x = SIMD16<Float>(repeating: a0[p]); c00 = c00.addingProduct(x, y0); c01 = c01.addingProduct(x, y1)
        if R > 1 { x = SIMD16<Float>(repeating: a1[p]); c10 = c10.addingProduct(x, y0); c11 = c11.addingProduct(x, y1) }
        if R > 2 { x = SIMD16<Float>(repeating: a2[p]); c20 = c20.addingProduct(x, y0); c21 = c21.addingProduct(x, y1) }
        if R > 3 { x = SIMD16<Float>(repeating: a3[p]); c30 = c30.addingProduct(x, y0); c31 = c31.addingProduct(x, y1) }
        if R > 4 { x = SIMD16<Float>(repeating: a4[p]); c40 = c40.addingProduct(x, y0); c41 = c41.addingProduct(x, y1) }
        if R > 5 { x = SIMD16<Float>(repeating: a5[p]); c50 = c50.addingProduct(x, y0); c51 = c51.addingProduct(x, y1) }
        if R > 6 { x = SIMD16<Float>(repeating: a6[p]); c60 = c60.addingProduct(x, y0); c61 = c61.addingProduct(x, y1) }
        if R > 7 { x = SIMD16<Float>(repeating: a7[p]); c70 = c70.addingProduct(x, y0); c71 = c71.addingProduct(x, y1) }
        w += 128; p = S.advance(p, step)
    }
    put(c, cols, accumulate, c00, c01)
    if R > 1 { put(c + ldc, cols, accumulate, c10, c11) }
    if R > 2 { put(c + 2 * ldc, cols, accumulate, c20, c21) }
    if R > 3 { put(c + 3 * ldc, cols, accumulate, c30, c31) }
    if R > 4 { put(c + 4 * ldc, cols, accumulate, c40, c41) }
    if R > 5 { put(c + 5 * ldc, cols, accumulate, c50, c51) }
    if R > 6 { put(c + 6 * ldc, cols, accumulate, c60, c61) }
    if R > 7 { put(c + 7 * ldc, cols, accumulate, c70, c71) }
}

/// Stores (or adds) the first `cols` of the 32 sums `v0 ++ v1` at `o`.
@inline(__always)
private func put(_ o: UnsafeMutablePointer<Float>, _ cols: Int, _ accumulate: Bool, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
    let raw = UnsafeMutableRawPointer(o)
    if cols == 32 {
        var s0 = v0, s1 = v1
        if accumulate {
            s0 += raw.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)
            s1 += raw.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        }
        raw.storeBytes(of: s0, toByteOffset: 0, as: SIMD16<Float>.self)
        raw.storeBytes(of: s1, toByteOffset: 64, as: SIMD16<Float>.self)
        return
    }
    for j in 0..<min(cols, 16) { o[j] = accumulate ? o[j] + v0[j] : v0[j] }
    if cols > 16 { for j in 16..<cols { o[j] = accumulate ? o[j] + v1[j - 16] : v1[j - 16] } }
}

/// A row count as a type, so that `panelBody` is compiled once per count.
private protocol PanelRows { static var count: Int { get } }
private enum PanelRows1: PanelRows { static var count: Int { 1 } }
private enum PanelRows2: PanelRows { static var count: Int { 2 } }
private enum PanelRows3: PanelRows { static var count: Int { 3 } }
private enum PanelRows4: PanelRows { static var count: Int { 4 } }
private enum PanelRows5: PanelRows { static var count: Int { 5 } }
private enum PanelRows6: PanelRows { static var count: Int { 6 } }
private enum PanelRows7: PanelRows { static var count: Int { 7 } }
private enum PanelRows8: PanelRows { static var count: Int { 8 } }

/// How the step index of A advances: by 1 (rows stored contiguously; the constant keeps the loop as it was) or by
/// a stride (A stored by columns).
private protocol PanelStep { static func advance(_ p: Int, _ step: Int) -> Int }
private enum UnitStep: PanelStep { @inline(__always) static func advance(_ p: Int, _ step: Int) -> Int { p &+ 1 } }
private enum AnyStep: PanelStep { @inline(__always) static func advance(_ p: Int, _ step: Int) -> Int { p &+ step } }
