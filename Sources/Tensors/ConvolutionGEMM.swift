/// An `m x k` row-major matrix (a convolution's weights) packed once into the `mr`-row panels a GEMM
/// micro-kernel streams, so that repeated products against it pack nothing on the left.
///
/// Layout: for every `kc`-deep block of columns starting at `k0`, the `ceil(m / mr)` panels of
/// `mr x kcur` floats (step-major, rows past `m` zero), the block at offset `k0 * paddedRows`.
public final class PackedGEMMWeights: @unchecked Sendable {
    /// Rows and columns of the packed matrix.
    public let m: Int, k: Int
    /// The micro-kernel family the layout was made for (`.avx2` or `.avx512`, never `.automatic`).
    public let kernel: GEMMKernel
    let blocking: GEMMBlocking
    let mPanels: Int
    let data: UnsafeMutablePointer<Float>

    /// Packs `a[i * lda + p]` (`i < m`, `p < k`) for `kernel` (default: the one `sgemm` uses now).
    public init(_ a: UnsafePointer<Float>, m: Int, k: Int, lda: Int, kernel: GEMMKernel = GEMMConfiguration.resolvedKernel) {
        let resolved: GEMMKernel = kernel == .avx512 && CPUFeatures.hasAVX512F ? .avx512 : .avx2
        self.m = m; self.k = k; self.kernel = resolved
        blocking = resolved == .avx512 ? .avx512 : .avx2
        let mr = blocking.mr
        mPanels = (m + mr - 1) / mr
        let count = max(1, mPanels * mr * k)
        data = .allocate(capacity: count)
        let op = GEMMOperand(pointer: a, ld: lda, transposed: false)
        var k0 = 0
        while k0 < k {
            let kcur = min(blocking.kc, k - k0)
            GEMMPacking.packA(op, row0: 0, col0: k0, rows: m, kc: kcur, mr: mr, into: data + k0 * mPanels * mr)
            k0 += kcur
        }
    }

    deinit { data.deallocate() }
}

/// Products `C = epilogue(A * B)` of packed weights `A [m, k]` with a right operand that is either stored
/// (`[k, n]` row-major) or produced on the fly block by block (implicit im2col), parallel over tiles of `C`
/// in a single pool loop; the epilogue (per-row bias, residual, ReLU) runs on each tile while it is in cache.
public enum ConvolutionGEMM {
    /// Fills `dst[r * ld + j]` with `B[k0 + r, col0 + j]` for `r < kc`, `j < cols`.
    public typealias Lowering = (_ k0: Int, _ kc: Int, _ col0: Int, _ cols: Int,
                                 _ dst: UnsafeMutablePointer<Float>, _ ld: Int) -> Void

    /// The right operand.
    public enum Source {
        /// `B[p, j] = pointer[p * ld + j]`.
        case matrix(UnsafePointer<Float>, ld: Int)
        /// Rows produced by the closure (called concurrently, for disjoint destinations).
        case lowered(Lowering)
    }

    /// `C[i, j] = act(sum_p A[i, p] B[p, j] + bias[i] + residual[i * ldr + j])` for `i < a.m`, `j < n`
    /// (`bias`, `residual` optional; `relu` clamps at zero). `C` is not read.
    public static func run(_ a: PackedGEMMWeights, n: Int, source: Source, bias: UnsafePointer<Float>?,
                           residual: UnsafePointer<Float>?, ldr: Int, relu: Bool,
                           c: UnsafeMutablePointer<Float>, ldc: Int, threads requested: Int? = nil) {
        let m = a.m, k = a.k
        if m <= 0 || n <= 0 { return }
        let bl = a.blocking, mr = bl.mr, nr = bl.nr, kcMax = bl.kc, kernel = bl.kernel
        let nPanels = (n + nr - 1) / nr
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let threads = requested ?? (flops < GEMMConfiguration.parallelThresholdFlops ? 1 : ThreadPool.shared.threadCount)
        // Column chunks of up to 512 columns (A is streamed once per chunk; the lowered block kc x 512 stays
        // within L2/L3), narrower and then split over row groups until there are several items per thread
        // (the pool hands them out dynamically).
        let target = threads > 1 ? 4 * threads : 1
        let widest = max(1, min(512 / nr, nPanels / target))
        var nChunks = (nPanels + widest - 1) / widest
        // A multiple of the thread count, the panels spread evenly over the chunks, the wider ones first (the
        // pool hands items out in order, so the last ones to start are the short ones): every thread gets about
        // the same number of columns. (9 chunks of up to 12 panels, the last one short, left one thread 5 chunks
        // and the other 4.)
        if threads > 1 && nChunks >= threads {
            let rounded = (nChunks + threads - 1) / threads * threads
            if rounded <= nPanels { nChunks = rounded }
        }
        let basePanels = nPanels / nChunks, extraPanels = nPanels % nChunks   // the first `extraPanels` get one more
        let chunkPanels = (nPanels + nChunks - 1) / nChunks   // the widest chunk
        // Few chunks: split the rows too, into at least two items per thread and a multiple of the thread count
        // (each row group lowers its own copy of B, so no more groups than that).
        var mGroups = 1
        if threads > 1 && nChunks < target {
            mGroups = (2 * threads + nChunks - 1) / nChunks
            while (mGroups * nChunks) % threads != 0 { mGroups += 1 }
            mGroups = min(mGroups, a.mPanels)
        }
        // Row groups would each lower the same columns: lower the whole im2col matrix once instead (shared by the
        // threads, its rows split between them), then multiply it in place (the small late layers at batch 1,
        // e.g. ResNet's 14x14 and 7x7 stages, where the lowering was done twice).
        if mGroups > 1, case .lowered(let lower) = source, k * n <= 1 << 22 {
            withLoweredMatrix(lower, k: k, n: n, threads: threads) { full, ldFull in
                run(a, n: n, source: .matrix(full, ld: ldFull), bias: bias, residual: residual, ldr: ldr,
                    relu: relu, c: c, ldc: ldc, threads: threads)
            }
            return
        }
        let groupPanels = (a.mPanels + mGroups - 1) / mGroups
        let subPanels = max(1, bl.mc / mr)
        let ldB = chunkPanels * nr
        let scratchCount: Int
        if case .lowered = source { scratchCount = kcMax * ldB } else { scratchCount = kcMax * nr }
        let items = ((a.mPanels + groupPanels - 1) / groupPanels) * nChunks

        ThreadPool.shared.parallelFor(items, maxThreads: max(1, threads)) { item, _ in
            let g = item / nChunks, chunk = item % nChunks
            let ip0 = g * groupPanels, ip1 = min(a.mPanels, ip0 + groupPanels)
            let jp0 = chunk * basePanels + min(chunk, extraPanels), jp1 = jp0 + basePanels + (chunk < extraPanels ? 1 : 0)
            if ip0 >= ip1 || jp0 >= jp1 { return }
            let col0 = jp0 * nr, cols = min(n, jp1 * nr) - col0
            withScratchBuffer(count: scratchCount + mr * nr) { buffer in
                let tile = buffer + scratchCount
                var k0 = 0
                while k0 < k {
                    let kcur = min(kcMax, k - k0)
                    let beta: Float = k0 == 0 ? 0 : 1
                    // This block of B: rows k0 ..< k0 + kcur of the chunk's columns.
                    var lowered = false, base: UnsafePointer<Float> = UnsafePointer(buffer), ld = ldB
                    var edgeReady = false
                    switch source {
                    case .lowered(let lower):
                        lower(k0, kcur, col0, cols, buffer, ldB)
                        // Zeros after a ragged last panel (the panels past this chunk's are not read).
                        let used = (jp1 - jp0) * nr
                        if cols < used { for r in 0..<kcur { (buffer + r * ldB + cols).update(repeating: 0, count: used - cols) } }
                        lowered = true
                    case .matrix(let p, let ldm):
                        base = p + k0 * ldm; ld = ldm
                    }
                    var sub = ip0
                    while sub < ip1 {
                        let subEnd = min(ip1, sub + subPanels)
                        for jp in jp0..<jp1 {
                            let j = jp * nr, nEff = min(nr, n - j)
                            let bp: UnsafePointer<Float>, bStride: Int
                            if lowered {
                                bp = UnsafePointer(buffer + (jp - jp0) * nr); bStride = ldB * 4
                            } else if nEff == nr {
                                bp = base + j; bStride = ld * 4
                            } else {
                                // The ragged last panel of a stored B: copy it (zero-padded) once per block.
                                if !edgeReady {
                                    for r in 0..<kcur {
                                        let d = buffer + r * nr
                                        d.update(from: base + r * ld + j, count: nEff)
                                        (d + nEff).update(repeating: 0, count: nr - nEff)
                                    }
                                    edgeReady = true
                                }
                                bp = UnsafePointer(buffer); bStride = nr * 4
                            }
                            for ip in sub..<subEnd {
                                let i = ip * mr, mEff = min(mr, m - i)
                                let ap = UnsafePointer(a.data + k0 * a.mPanels * mr + ip * mr * kcur)
                                let cp = c + i * ldc + j
                                if mEff == mr && nEff == nr {
                                    kernel(kcur, ap, bp, bStride, cp, ldc, 1, beta)
                                } else {
                                    kernel(kcur, ap, bp, bStride, tile, nr, 1, 0)
                                    for r in 0..<mEff {
                                        let dst = cp + r * ldc, src = tile + r * nr
                                        if beta == 0 { dst.update(from: src, count: nEff) }
                                        else { for q in 0..<nEff { dst[q] += src[q] } }
                                    }
                                }
                            }
                        }
                        sub = subEnd
                    }
                    k0 += kcur
                }
            }
            // Epilogue on this item's rows and columns.
            if bias == nil && residual == nil && !relu { return }
            let r1 = min(m, ip1 * mr)
            for r in (ip0 * mr)..<r1 {
                rowEpilogue(c + r * ldc + col0, cols, bias?[r] ?? 0, residual.map { $0 + r * ldr + col0 }, relu)
            }
        }
    }

    /// The whole `[k, n]` matrix of `lower` in a scratch buffer with 64-byte rows (`ld` a multiple of 16), its rows
    /// lowered in parallel, for `body(matrix, ld)`.
    static func withLoweredMatrix(_ lower: Lowering, k: Int, n: Int, threads: Int,
                                  _ body: (UnsafePointer<Float>, Int) -> Void) {
        let ldFull = (n + 15) / 16 * 16
        withScratchBuffer(count: k * ldFull) { full in
            let rowsPer = max(1, (k + 4 * threads - 1) / (4 * threads))
            let dst = SendablePointer(p: full)
            ThreadPool.shared.parallelFor((k + rowsPer - 1) / rowsPer, maxThreads: threads) { i, _ in
                let r0 = i * rowsPer, r1 = min(k, r0 + rowsPer)
                lower(r0, r1 - r0, 0, n, dst.p + r0 * ldFull, ldFull)
            }
            body(UnsafePointer(full), ldFull)
        }
    }

    /// `row[i] = relu?(row[i] + bias + residual[i])`.
    @inline(__always)
    static func rowEpilogue(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ bias: Float,
                            _ residual: UnsafePointer<Float>?, _ relu: Bool) {
        let b8 = SIMD8<Float>(repeating: bias), z8 = SIMD8<Float>()
        let raw = UnsafeMutableRawPointer(row)
        var i = 0
        if let r = residual {
            let rr = UnsafeRawPointer(r)
            while i + 8 <= n {
                var v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + b8
                v += rr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                if relu { v = v.replacing(with: z8, where: v .< z8) }
                raw.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < n { var v = row[i] + bias + r[i]; if relu && v < 0 { v = 0 }; row[i] = v; i += 1 }
        } else {
            while i + 8 <= n {
                var v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + b8
                if relu { v = v.replacing(with: z8, where: v .< z8) }
                raw.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < n { var v = row[i] + bias; if relu && v < 0 { v = 0 }; row[i] = v; i += 1 }
        }
    }
}
