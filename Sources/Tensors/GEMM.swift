#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TensorsAVX512

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case noTranspose
    case transpose
}

/// Single-precision general matrix multiply on row-major storage:
/// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape `m x k` and `op(B)` of shape `k x n`.
/// `lda`, `ldb`, `ldc` are the row strides (in elements) of the stored matrices.
/// When `beta == 0`, `C` is not read (NaNs in it do not propagate), as in BLAS.
///
/// BLIS-style: `op(B)` is packed into `kc x nr` panels shared by all threads, `op(A)` into `mr x kc`
/// panels per thread, and a register-blocked micro-kernel (6x16 AVX2/FMA, or 12x32 AVX-512 when the CPU
/// has it) accumulates each `mr x nr` tile of `C`. Large products run on `ThreadPool.shared`.
public func sgemm(_ transA: Transpose, _ transB: Transpose,
                  m: Int, n: Int, k: Int,
                  alpha: Float,
                  a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float,
                  c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 || alpha == 0 {
        GEMMDriver.scale(m: m, n: n, beta: beta, c: c, ldc: ldc)
        return
    }
    let a = GEMMOperand(pointer: a, ld: lda, transposed: transA == .transpose)
    let b = GEMMOperand(pointer: b, ld: ldb, transposed: transB == .transpose)
    if m == 1 || n == 1 {
        GEMMDriver.matrixVector(m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c, ldc: ldc)
        return
    }
    let flops = 2 * Double(m) * Double(n) * Double(k)
    let threads = flops < GEMMConfiguration.parallelThresholdFlops ? 1 : ThreadPool.shared.threadCount
    if !a.transposed && b.transposed && m <= GEMMSmallRows.maxRows {
        GEMMSmallRows.run(m: m, n: n, k: k, alpha: alpha, a: a.pointer, lda: a.ld, b: b.pointer, ldb: b.ld,
                          beta: beta, c: c, ldc: ldc, threads: threads)
        return
    }
    let blocking = GEMMConfiguration.resolvedKernel == .avx512 ? GEMMBlocking.avx512 : GEMMBlocking.avx2
    GEMMDriver.blocked(m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c, ldc: ldc,
                       blocking: blocking, threads: threads)
}

/// One product `C = A · Bᵀ + beta · C` of `sgemmBatchTransposedB`: `A` is `[m, k]` (row stride `lda`), `B` is `[n, k]`
/// (a Linear weight, row stride `ldb`), `C` is `[m, n]` (row stride `ldc`); `beta` is 0 or 1 (with 0, `C` is not read).
public struct TransposedBProduct {
    public var a: UnsafePointer<Float>, lda: Int
    public var b: UnsafePointer<Float>, ldb: Int
    public var n: Int, k: Int
    public var beta: Float
    public var c: UnsafeMutablePointer<Float>, ldc: Int

    public init(a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, n: Int, k: Int, beta: Float,
                c: UnsafeMutablePointer<Float>, ldc: Int) {
        (self.a, self.lda, self.b, self.ldb, self.n, self.k, self.beta, self.c, self.ldc) = (a, lda, b, ldb, n, k, beta, c, ldc)
    }
}

/// Several independent `A · Bᵀ` products with the same number of rows `m` (e.g. the Linear layers of one decoder step
/// that share an input), as one parallel pass over all their weight rows when `m` is small: one thread-pool
/// dispatch instead of one per product. Same results as calling `sgemm(.noTranspose, .transpose, ...)` on each.
public func sgemmBatchTransposedB(m: Int, _ products: [TransposedBProduct]) {
    if m <= 0 { return }
    let flops = products.reduce(0.0) { $0 + 2 * Double(m) * Double($1.n) * Double($1.k) }
    if m == 1 || m > GEMMSmallRows.maxRows || products.contains(where: { $0.k <= 0 }) {
        for p in products {
            sgemm(.noTranspose, .transpose, m: m, n: p.n, k: p.k, alpha: 1, a: p.a, lda: p.lda, b: p.b, ldb: p.ldb,
                  beta: p.beta, c: p.c, ldc: p.ldc)
        }
        return
    }
    let threads = flops < GEMMConfiguration.parallelThresholdFlops ? 1 : ThreadPool.shared.threadCount
    GEMMSmallRows.run(m: m, products: products, threads: threads)
}

/// The micro-kernel families `sgemm` can use.
public enum GEMMKernel: Int, Sendable, CustomStringConvertible {
    /// AVX-512 when `CPUFeatures.hasAVX512F`, else AVX2.
    case automatic = 0
    /// The 6x16 `SIMD8<Float>` kernel (any AVX2+FMA CPU).
    case avx2 = 1
    /// The 12x32 `SIMD16<Float>` kernel (AVX-512F only).
    case avx512 = 2

    public var description: String {
        switch self {
        case .automatic: return "automatic"
        case .avx2: return "avx2"
        case .avx512: return "avx512"
        }
    }
}

/// Process-wide `sgemm` settings (for tests and benchmarks; the defaults are what a user wants).
public enum GEMMConfiguration {
    /// `CAPTION_GEMM_KERNEL=avx2` forces the AVX2 kernels from the start (for valgrind, which has no AVX-512).
    private static let forced = Atomic<Int>(environmentKernel.rawValue)
    private static var environmentKernel: GEMMKernel {
        guard let e = getenv("CAPTION_GEMM_KERNEL") else { return .automatic }
        return String(cString: e) == "avx2" ? .avx2 : .automatic
    }
    private static let threshold = Atomic<Int>(1 << 21)

    /// The requested kernel. Setting `.avx512` on a CPU without AVX-512F falls back to AVX2.
    public static var kernel: GEMMKernel {
        get { GEMMKernel(rawValue: forced.load(ordering: .relaxed)) ?? .automatic }
        set { forced.store(newValue.rawValue, ordering: .relaxed) }
    }

    /// The kernel `sgemm` runs now (never `.automatic`).
    public static var resolvedKernel: GEMMKernel {
        switch kernel {
        case .avx2: return .avx2
        case .automatic, .avx512: return CPUFeatures.hasAVX512F ? .avx512 : .avx2
        }
    }

    /// Products below this many floating-point operations (`2mnk`) stay on the calling thread.
    public static var parallelThreshold: Int {
        get { threshold.load(ordering: .relaxed) }
        set { threshold.store(max(0, newValue), ordering: .relaxed) }
    }
    static var parallelThresholdFlops: Double { Double(parallelThreshold) }
}

/// One stored GEMM operand: element `(row, col)` of `op(X)` is `x[row * ld + col]`, or
/// `x[col * ld + row]` when transposed.
struct GEMMOperand {
    let pointer: UnsafePointer<Float>
    let ld: Int
    let transposed: Bool
    @inline(__always) subscript(row: Int, col: Int) -> Float {
        transposed ? pointer[col * ld + row] : pointer[row * ld + col]
    }
}

typealias MicroKernel = @Sendable (Int, UnsafePointer<Float>, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int, Float, Float) -> Void

/// Register tile (`mr x nr`) and cache blocks (`mc`, `kc`, `nc`) of one micro-kernel.
struct GEMMBlocking: Sendable {
    let mr, nr, mc, kc, nc: Int
    let kernel: MicroKernel

    /// 6x16 tile; A block 144x256 (144 KiB, L2), B panel 256x16 (16 KiB, L1).
    static let avx2 = GEMMBlocking(mr: 6, nr: 16, mc: tuned("MC", 144), kc: tuned("KC", 256), nc: 4096, kernel: microKernel6x16)
    /// 12x32 tile; A block 144x512 (288 KiB, L2), B panel 512x32 (64 KiB, streamed from L2). A deeper `kc` than
    /// AVX2's halves the passes over C; measured 5-10 % faster on 1024^3 and 2048^3 (Zen 5, 1 MiB L2).
    static let avx512 = GEMMBlocking(mr: 12, nr: 32, mc: tuned("MC", 144), kc: tuned("KC", 512), nc: 4096, kernel: sgemmMicroKernel12x32)

    /// Block sizes can be overridden for tuning with `CAPTION_GEMM_MC` / `CAPTION_GEMM_KC` (multiples of 12 / 8).
    private static func tuned(_ name: String, _ value: Int) -> Int {
        guard let e = getenv("CAPTION_GEMM_" + name), let v = Int(String(cString: e)), v >= 12, v <= 4096 else { return value }
        return v / 12 * 12
    }
}

/// Where the micro-kernel reads `op(B)` panels: packed (`kc x nr` panels one after another), or in place
/// from row-major storage (full panels; the ragged last one packed into `edge`).
enum GEMMPanelSource {
    case packed(UnsafeMutablePointer<Float>)
    case direct(UnsafePointer<Float>, ld: Int, edge: UnsafeMutablePointer<Float>)
}

/// A raw pointer that may cross into pool workers (each worker writes disjoint parts).
struct SendablePointer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
}

/// Runs `body` with `count` uninitialised, 64-byte-aligned floats of reusable scratch memory (kept in a small
/// process-wide pool, so that repeated large temporaries do not fault in fresh pages on every call).
public func withScratchBuffer<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    let (raw, size) = ScratchBuffers.acquire(max(count, 1) * 4)
    defer { ScratchBuffers.release(raw, size) }
    return try body(raw.bindMemory(to: Float.self, capacity: max(count, 1)))
}

/// Reusable 64-byte-aligned scratch buffers (packing), so that repeated calls do not fault in fresh pages.
enum ScratchBuffers {
    private struct Entry: @unchecked Sendable { let pointer: UnsafeMutableRawPointer; let bytes: Int }
    private static let free = Mutex<[Entry]>([])

    /// A buffer of at least `bytes` bytes; give it back with `release`.
    static func acquire(_ bytes: Int) -> (UnsafeMutableRawPointer, Int) {
        let hit: Entry? = free.withLock { list in
            if let i = list.firstIndex(where: { $0.bytes >= bytes }) { return list.remove(at: i) }
            return nil
        }
        if let hit { return (hit.pointer, hit.bytes) }
        let size = max(bytes, 4096)
        return (UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64), size)
    }

    static func release(_ pointer: UnsafeMutableRawPointer, _ bytes: Int) {
        let dropped: Entry? = free.withLock { list in
            if bytes > 64 << 20 { return Entry(pointer: pointer, bytes: bytes) }
            list.append(Entry(pointer: pointer, bytes: bytes))
            if list.count > 8 {
                let i = list.indices.min(by: { list[$0].bytes < list[$1].bytes })!
                return list.remove(at: i)
            }
            return nil
        }
        dropped?.pointer.deallocate()
    }
}

enum GEMMDriver {
    /// `C = beta * C` (`C = 0` when `beta == 0`, without reading it).
    static func scale(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { row.initialize(repeating: 0, count: n) }
            else if beta != 1 { for j in 0..<n { row[j] *= beta } }
        }
    }

    /// `m == 1` or `n == 1`: a matrix-vector product, without packing.
    static func matrixVector(m: Int, n: Int, k: Int, alpha: Float, a: GEMMOperand, b: GEMMOperand,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 1 {
            // c[0, j] = alpha * sum_p a(0, p) * b(p, j): the vector is row 0 of op(A).
            let xs = a.transposed ? a.ld : 1
            if !b.transposed {
                // Rows of B are contiguous: accumulate axpy rows into a temporary.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { acc in
                    let y = acc.baseAddress!
                    y.initialize(repeating: 0, count: n)
                    for p in 0..<k { VectorMath.axpy(n, a.pointer[p * xs], b.pointer + p * b.ld, y) }
                    for j in 0..<n { c[j] = alpha * y[j] + (beta == 0 ? 0 : beta * c[j]) }
                }
            } else {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: xs == 1 ? 0 : k) { tmp in
                    let x: UnsafePointer<Float>
                    if xs == 1 { x = a.pointer } else {
                        for p in 0..<k { tmp[p] = a.pointer[p * xs] }
                        x = UnsafePointer(tmp.baseAddress!)
                    }
                    for j in 0..<n {
                        let d = VectorMath.dot(k, x, b.pointer + j * b.ld)
                        c[j] = alpha * d + (beta == 0 ? 0 : beta * c[j])
                    }
                }
            }
            return
        }
        // n == 1: c[i, 0] = alpha * sum_p a(i, p) * b(p, 0).
        let ys = b.transposed ? 1 : b.ld
        withUnsafeTemporaryAllocation(of: Float.self, capacity: ys == 1 ? 0 : k) { tmp in
            let x: UnsafePointer<Float>
            if ys == 1 { x = b.pointer } else {
                for p in 0..<k { tmp[p] = b.pointer[p * ys] }
                x = UnsafePointer(tmp.baseAddress!)
            }
            if !a.transposed {
                for i in 0..<m {
                    let d = VectorMath.dot(k, a.pointer + i * a.ld, x)
                    c[i * ldc] = alpha * d + (beta == 0 ? 0 : beta * c[i * ldc])
                }
            } else {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: m) { acc in
                    let y = acc.baseAddress!
                    y.initialize(repeating: 0, count: m)
                    for p in 0..<k { VectorMath.axpy(m, x[p], a.pointer + p * a.ld, y) }
                    for i in 0..<m { c[i * ldc] = alpha * y[i] + (beta == 0 ? 0 : beta * c[i * ldc]) }
                }
            }
        }
    }

    /// The packed, blocked product on `threads` threads.
    static func blocked(m: Int, n: Int, k: Int, alpha: Float, a: GEMMOperand, b: GEMMOperand,
                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                        blocking bl: GEMMBlocking, threads: Int) {
        let mr = bl.mr, nr = bl.nr
        let ncMax = min(bl.nc, (n + nr - 1) / nr * nr)
        let kcMax = min(bl.kc, k)
        // Row blocks of (nearly) equal height, their count a multiple of the thread count, so no thread idles at the end.
        var mc = bl.mc
        if threads > 1 && m > bl.mc {
            let blocks = ((m + bl.mc - 1) / bl.mc + threads - 1) / threads * threads
            mc = ((m + blocks - 1) / blocks + mr - 1) / mr * mr
        }
        let mcMax = min(mc, (m + mr - 1) / mr * mr)
        // Few rows (one row block) and row-major B: the kernel streams B in place instead of packing it,
        // since every packed element would be used by only a few tiles. The ragged last panel is still packed.
        let directB = !b.transposed && m <= bl.mc
        let bBytes = directB ? 0 : ncMax * kcMax * 4
        let aBytes = mcMax * kcMax * 4 + (directB ? nr * kcMax * 4 : 0)
        let (bRaw, bSize) = ScratchBuffers.acquire(bBytes)
        let (aRaw, aSize) = ScratchBuffers.acquire(aBytes * threads)
        defer {
            ScratchBuffers.release(bRaw, bSize)
            ScratchBuffers.release(aRaw, aSize)
        }
        let bPack = bRaw.bindMemory(to: Float.self, capacity: max(bBytes / 4, 1))
        let aPacks = aRaw.bindMemory(to: Float.self, capacity: aBytes / 4 * threads)
        let pool = ThreadPool.shared
        let icBlocks = (m + mc - 1) / mc

        var jc = 0
        while jc < n {
            let ncur = min(bl.nc, n - jc)
            let nPanels = (ncur + nr - 1) / nr
            // Split the columns too when there are few row blocks, so that every thread has work.
            let target = threads == 1 ? 1 : 3 * threads
            let jChunks = icBlocks >= target ? 1 : min(nPanels, (target + icBlocks - 1) / icBlocks)
            let panelsPerChunk = (nPanels + jChunks - 1) / jChunks
            var pc = 0
            while pc < k {
                let kcur = min(bl.kc, k - pc)
                let betaNow: Float = pc == 0 ? beta : 1
                if !directB {
                    // Pack op(B)[pc..<pc+kcur, jc..<jc+ncur] into nr-wide panels, in parallel by panel groups.
                    let packGroups = threads == 1 ? 1 : min(nPanels, 4 * threads)
                    let perGroup = (nPanels + packGroups - 1) / packGroups
                    pool.parallelFor(packGroups, maxThreads: threads) { g, _ in
                        let p0 = g * perGroup, p1 = min(nPanels, p0 + perGroup)
                        if p0 < p1 {
                            GEMMPacking.packB(b, row0: pc, col0: jc + p0 * nr, kc: kcur, cols: min(ncur - p0 * nr, (p1 - p0) * nr),
                                              nr: nr, into: bPack + p0 * nr * kcur)
                        }
                    }
                }
                pool.parallelFor(icBlocks * jChunks, maxThreads: threads) { item, worker in
                    let ib = item / jChunks, chunk = item % jChunks
                    let ic = ib * mc
                    let mcur = min(mc, m - ic)
                    let jp0 = chunk * panelsPerChunk, jp1 = min(nPanels, jp0 + panelsPerChunk)
                    if jp0 >= jp1 { return }
                    let ap = aPacks + worker * (aBytes / 4)
                    GEMMPacking.packA(a, row0: ic, col0: pc, rows: mcur, kc: kcur, mr: mr, into: ap)
                    let source: GEMMPanelSource
                    if directB {
                        let edge = ap + mcMax * kcMax
                        let last = nPanels - 1
                        if jp1 == nPanels && ncur - last * nr < nr {
                            GEMMPacking.packB(b, row0: pc, col0: jc + last * nr, kc: kcur, cols: ncur - last * nr, nr: nr, into: edge)
                        }
                        source = .direct(b.pointer + pc * b.ld + jc, ld: b.ld, edge: edge)
                    } else {
                        source = .packed(bPack)
                    }
                    macroKernel(bl, mcur: mcur, ncur: ncur, kcur: kcur, jp0: jp0, jp1: jp1, alpha: alpha, beta: betaNow,
                                aPack: ap, b: source, c: c + ic * ldc + jc, ldc: ldc)
                }
                pc += kcur
            }
            jc += ncur
        }
    }

    /// All `mr x nr` tiles of one packed A block against B panels `jp0..<jp1`.
    @inline(__always)
    static func macroKernel(_ bl: GEMMBlocking, mcur: Int, ncur: Int, kcur: Int, jp0: Int, jp1: Int,
                            alpha: Float, beta: Float, aPack: UnsafeMutablePointer<Float>, b: GEMMPanelSource,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        let mr = bl.mr, nr = bl.nr, kernel = bl.kernel
        let mPanels = (mcur + mr - 1) / mr
        withUnsafeTemporaryAllocation(byteCount: mr * nr * 4, alignment: 64) { raw in
            let tile = raw.baseAddress!.bindMemory(to: Float.self, capacity: mr * nr)
            for jp in jp0..<jp1 {
                let j = jp * nr
                let nEff = min(nr, ncur - j)
                let bp: UnsafePointer<Float>, bStride: Int
                switch b {
                case .packed(let p): bp = UnsafePointer(p + jp * nr * kcur); bStride = nr * 4
                case .direct(let p, let ld, let edge):
                    if nEff == nr { bp = p + j; bStride = ld * 4 } else { bp = UnsafePointer(edge); bStride = nr * 4 }
                }
                for ip in 0..<mPanels {
                    let i = ip * mr
                    let mEff = min(mr, mcur - i)
                    let ap = UnsafePointer(aPack + ip * mr * kcur)
                    let cp = c + i * ldc + j
                    if mEff == mr && nEff == nr {
                        kernel(kcur, ap, bp, bStride, cp, ldc, alpha, beta)
                    } else {
                        kernel(kcur, ap, bp, bStride, tile, nr, alpha, 0)
                        for r in 0..<mEff {
                            let dst = cp + r * ldc, src = tile + r * nr
                            if beta == 0 { for q in 0..<nEff { dst[q] = src[q] } }
                            else { for q in 0..<nEff { dst[q] = src[q] + beta * dst[q] } }
                        }
                    }
                }
            }
        }
    }
}
