#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import TensorsAVX512

/// Convolutions with few output pixels (ResNet's 14x14 and 7x7 stages at batch 1) computed transposed:
/// `Cᵀ [pixels, channels] = Bᵀ · Wᵀ`, with the pixels as the rows of 7- or 8-row tiles and the weights as
/// 32-channel panels (`PanelWeights`). The usual orientation puts the pixels in 32-column tiles, so 49 pixels
/// cost 64 columns of work (77 % useful) and 196 cost 224 (88 %); as rows, 49 = 7 x 7 and 196 = 28 x 7 waste
/// nothing. AVX2 uses 6-row tiles against 16-channel panels (a 7 x 16 tile would need 17 of its 16 registers):
/// 49 pixels then cost 54 rows.
extension ConvolutionGEMM {
    /// Whether `runPixelRows` is the faster way to a product with `n` pixels (columns of `C`) and depth `k` for
    /// the current kernel family: with `ConvolutionTiling.mode` `.automatic`, an im2col matrix of at most 4 M
    /// floats and at most 256 pixels, or on AVX-512 also at most 1024 pixels with a depth of at least 1024
    /// (where the transposed epilogue costs little against the product); always or never as the mode forces.
    /// Measured per ResNet-50 layer at batch 1, time against the pixel-column tiles: AVX-512 0.56-0.84 at 49
    /// and 196 pixels, 0.78-0.94 for the 3x3 layers at 784, 1.04-1.38 for the 1x1 layers at 784 (depth
    /// 128-512); AVX2 0.65-0.94 at 49 and 196 pixels, 1.26-1.29 for the 3x3 layers at 784.
    public static func prefersPixelRows(n: Int, k: Int) -> Bool {
        guard n > 0, k > 0 else { return false }
        switch ConvolutionTiling.mode {
        case .pixelRows: return true
        case .pixelColumns: return false
        case .automatic:
            guard n * k <= 1 << 22 else { return false }
            if GEMMConfiguration.resolvedKernel == .avx512 { return n <= 256 || (n <= 1024 && k >= 1024) }
            return n <= 256
        }
    }

    /// `C[i, j] = act(sum_p W[i, p] B[p, j] + bias[i] + residual[i * ldr + j])` for `i < w.n`, `j < n`, as
    /// `run` computes it, from the weights in panels (either kernel family). The im2col matrix of a
    /// lowered source is made once, whole, its rows split between the threads; each thread then takes runs of
    /// weight panels, multiplies every pixel tile by them block by block over `k` (a 256-step block of a panel,
    /// 32 KB on AVX-512, stays in L1 across the tiles), and writes its channels of `C` through the epilogue.
    /// Each output is one in-order sum per 256-step block, whatever the threads.
    public static func runPixelRows(_ w: PanelWeights, n: Int, source: Source, bias: UnsafePointer<Float>?,
                                    residual: UnsafePointer<Float>?, ldr: Int, relu: Bool,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, threads requested: Int? = nil) {
        let m = w.n, k = w.k
        if m <= 0 || n <= 0 { return }
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let threads = max(1, requested ?? (flops < GEMMConfiguration.parallelThresholdFlops ? 1 : ThreadPool.shared.threadCount))
        switch source {
        case .matrix(let b, let ldb):
            pixelRowProduct(w, n: n, b: b, ldb: ldb, bias: bias, residual: residual, ldr: ldr, relu: relu, c: c, ldc: ldc, threads: threads)
        case .lowered(let lower):
            withLoweredMatrix(lower, k: k, n: n, threads: threads) { full, ldFull in
                pixelRowProduct(w, n: n, b: full, ldb: ldFull, bias: bias, residual: residual, ldr: ldr,
                                relu: relu, c: c, ldc: ldc, threads: threads)
            }
        }
    }

    private static func pixelRowProduct(_ w: PanelWeights, n: Int, b: UnsafePointer<Float>, ldb: Int, bias: UnsafePointer<Float>?,
                                        residual: UnsafePointer<Float>?, ldr: Int, relu: Bool,
                                        c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        let m = w.n, k = w.k, nr = w.nr, panels = w.panels, kBlock = 256
        // AVX-512: 7-row tiles when they divide the pixels and 8-row ones do not (7x7 and 14x14 maps), else 8 rows.
        // AVX2: 6 rows (its 16 registers hold 6 x 2 accumulators, 2 panel vectors and a broadcast).
        let avx512 = w.kernel == .avx512
        let tileRows = !avx512 ? 6 : n % 8 != 0 && n % 7 == 0 ? 7 : 8
        let perItem = max(1, panels / (2 * threads))
        let items = (panels + perItem - 1) / perItem
        let (weights, out) = (UnsafePointer(w.data), SendablePointer(p: c))
        // Cᵀ [n, m] with rows 16 floats longer than m: the epilogue reads its columns, and a power-of-two row
        // length (m = 512, 1024, 2048) would put all of them in one L1 set.
        let ldt = m + 16
        withScratchBuffer(count: n * ldt) { transposed in
            let ct = SendablePointer(p: transposed)
            ThreadPool.shared.parallelFor(items, maxThreads: threads) { item, _ in
                let q0 = item * perItem, q1 = min(panels, q0 + perItem)
                var k0 = 0
                while k0 < k {
                    let kc = min(kBlock, k - k0)
                    for q in q0..<q1 {
                        let panel = weights + (q * k + k0) * nr, cols = min(nr, m - q * nr)
                        var r = 0
                        while r < n {
                            let rows = min(tileRows, n - r)
                            let (a, tile) = (b + k0 * ldb + r, ct.p + r * ldt + q * nr)
                            if avx512 { sgemmPanel32AVX512ColumnA(rows, kc, a, ldb, panel, tile, ldt, cols, k0 > 0) }
                            else { sgemmPanel16AVX2ColumnA(rows, kc, a, ldb, panel, tile, ldt, cols, k0 > 0) }
                            r += rows
                        }
                    }
                    k0 += kc
                }
                // Epilogue: this item's channels, transposed back into C's rows, with bias / residual / ReLU in the
                // same pass (copying first and then calling `rowEpilogue` measured 2-4 % slower on ResNet-50).
                for i in (q0 * nr)..<min(m, q1 * nr) {
                    let src = UnsafePointer(ct.p + i), dst = out.p + i * ldc, add = bias?[i] ?? 0
                    if let residual {
                        let res = residual + i * ldr
                        for j in 0..<n { var v = src[j * ldt] + add + res[j]; if relu && v < 0 { v = 0 }; dst[j] = v }
                    } else {
                        for j in 0..<n { var v = src[j * ldt] + add; if relu && v < 0 { v = 0 }; dst[j] = v }
                    }
                }
            }
        }
    }
}

/// Which orientation the inference convolutions use (for tests and comparisons; `.automatic` is what users want).
/// `CAPTION_CONV_TILING=columns` or `=rows` sets it from the start.
public enum ConvolutionTiling: Int, Sendable {
    /// Pixel rows where `ConvolutionGEMM.prefersPixelRows` finds them faster.
    case automatic
    /// Always `ConvolutionGEMM.run` (pixels as the columns of 12x32 / 6x16 tiles).
    case pixelColumns
    /// `ConvolutionGEMM.runPixelRows` for every shape.
    case pixelRows

    private static let current = Atomic<Int>(environment.rawValue)
    private static var environment: ConvolutionTiling {
        switch getenv("CAPTION_CONV_TILING").map({ String(cString: $0) }) {
        case "columns": return .pixelColumns
        case "rows": return .pixelRows
        default: return .automatic
        }
    }

    /// The process-wide mode.
    public static var mode: ConvolutionTiling {
        get { ConvolutionTiling(rawValue: current.load(ordering: .relaxed)) ?? .automatic }
        set { current.store(newValue.rawValue, ordering: .relaxed) }
    }
}
