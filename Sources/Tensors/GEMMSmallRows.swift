import TensorsAVX512

/// `C = alpha * A * B^T + beta * C` for few rows of `A` (a Linear layer on a small batch or a few beams):
/// both operands are read in place as dot products over contiguous rows, so the large `B` (the weight,
/// `[n, k]`) is streamed once instead of being repacked on every call.
enum GEMMSmallRows {
    /// Rows of A up to which this path beats packing `B^T` (at 32 rows the packed AVX-512 path is ~10 % faster).
    static let maxRows = 16

    static func run(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int) {
        // Column blocks of 4 rows of B; chunks of them per parallel iteration.
        let blocks = (n + 3) / 4
        let chunks = threads == 1 ? 1 : min(blocks, 4 * threads)
        let perChunk = (blocks + chunks - 1) / chunks
        let cp = SendablePointer(p: c)
        ThreadPool.shared.parallelFor(chunks, maxThreads: threads) { chunk, _ in
            let j0 = chunk * perChunk * 4, j1 = min(n, j0 + perChunk * 4)
            columns(j0, j1, m: m, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: cp.p, ldc: ldc)
        }
    }

    /// Several few-row products in one parallel pass (one thread-pool dispatch instead of one per product):
    /// the column blocks of all of them are cut into pieces of similar work and shared by the threads.
    static func run(m: Int, products: [TransposedBProduct], threads: Int) {
        var pieces: [(product: Int, j0: Int, j1: Int)] = []
        let totalWork = products.reduce(0) { $0 + $1.n * $1.k }
        let target = max(4 * 64, totalWork / max(1, 4 * threads))   // ~4 pieces per thread
        for (index, p) in products.enumerated() where p.n > 0 {
            let blocksPerPiece = max(1, target / max(1, 4 * p.k))
            var j = 0
            while j < p.n {
                let j1 = min(p.n, j + 4 * blocksPerPiece)
                pieces.append((index, j, j1))
                j = j1
            }
        }
        ThreadPool.shared.parallelFor(pieces.count, maxThreads: threads) { i, _ in
            let piece = pieces[i], p = products[piece.product]
            columns(piece.j0, piece.j1, m: m, k: p.k, alpha: 1, a: p.a, lda: p.lda, b: p.b, ldb: p.ldb, beta: p.beta, c: p.c, ldc: p.ldc)
        }
    }

    /// Columns `j0..<j1` of `C = alpha * A * B^T + beta * C`.
    @inline(__always)
    private static func columns(_ j0: Int, _ j1: Int, m: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let wide = GEMMConfiguration.resolvedKernel == .avx512
        var j = j0
        while j < j1 {
            let w = min(4, j1 - j)
            var i = 0
            if w == 4 && wide {
                while i + 4 <= m {
                    sgemmDot4x4AVX512(k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, alpha, beta)
                    i += 4
                }
                while i < m {
                    sgemmDot1x4AVX512(k, a + i * lda, b + j * ldb, ldb, c + i * ldc + j, alpha, beta)
                    i += 1
                }
            } else if w == 4 {
                while i + 3 <= m {
                    dot3x4(k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, alpha, beta)
                    i += 3
                }
                while i < m {
                    dot1x4(k, a + i * lda, b + j * ldb, ldb, c + i * ldc + j, alpha, beta)
                    i += 1
                }
            } else {
                for r in 0..<m {
                    for q in 0..<w {
                        let d = VectorMath.dot(k, a + r * lda, b + (j + q) * ldb)
                        let o = c + r * ldc + j + q
                        o.pointee = alpha * d + (beta == 0 ? 0 : beta * o.pointee)
                    }
                }
            }
            j += w
        }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func store(_ o: UnsafeMutablePointer<Float>, _ d: Float, _ alpha: Float, _ beta: Float) {
        o.pointee = alpha * d + (beta == 0 ? 0 : beta * o.pointee)
    }

    /// Three rows of A against four rows of B: twelve `SIMD8` accumulators.
    @inline(never)
    static func dot3x4(_ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ alpha: Float, _ beta: Float) {
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda
        let b0 = b, b1 = b + ldb, b2 = b + 2 * ldb, b3 = b + 3 * ldb
        var s00 = SIMD8<Float>(), s01 = SIMD8<Float>(), s02 = SIMD8<Float>(), s03 = SIMD8<Float>()
        var s10 = SIMD8<Float>(), s11 = SIMD8<Float>(), s12 = SIMD8<Float>(), s13 = SIMD8<Float>()
        var s20 = SIMD8<Float>(), s21 = SIMD8<Float>(), s22 = SIMD8<Float>(), s23 = SIMD8<Float>()
        let full = k / 8
        for step in 0..<full {
            let p = step &* 8
            let x0 = load(a0, p), x1 = load(a1, p), x2 = load(a2, p)
            var y = load(b0, p)
            s00 = s00.addingProduct(x0, y); s10 = s10.addingProduct(x1, y); s20 = s20.addingProduct(x2, y)
            y = load(b1, p)
            s01 = s01.addingProduct(x0, y); s11 = s11.addingProduct(x1, y); s21 = s21.addingProduct(x2, y)
            y = load(b2, p)
            s02 = s02.addingProduct(x0, y); s12 = s12.addingProduct(x1, y); s22 = s22.addingProduct(x2, y)
            y = load(b3, p)
            s03 = s03.addingProduct(x0, y); s13 = s13.addingProduct(x1, y); s23 = s23.addingProduct(x2, y)
        }
        var d: (Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float) =
            (s00.sum(), s01.sum(), s02.sum(), s03.sum(), s10.sum(), s11.sum(), s12.sum(), s13.sum(),
             s20.sum(), s21.sum(), s22.sum(), s23.sum())
        for p in (full * 8)..<k {
            let x0 = a0[p], x1 = a1[p], x2 = a2[p]
            let y0 = b0[p], y1 = b1[p], y2 = b2[p], y3 = b3[p]
            d.0 += x0 * y0; d.1 += x0 * y1; d.2 += x0 * y2; d.3 += x0 * y3
            d.4 += x1 * y0; d.5 += x1 * y1; d.6 += x1 * y2; d.7 += x1 * y3
            d.8 += x2 * y0; d.9 += x2 * y1; d.10 += x2 * y2; d.11 += x2 * y3
        }
        let r0 = c, r1 = c + ldc, r2 = c + 2 * ldc
        store(r0, d.0, alpha, beta); store(r0 + 1, d.1, alpha, beta); store(r0 + 2, d.2, alpha, beta); store(r0 + 3, d.3, alpha, beta)
        store(r1, d.4, alpha, beta); store(r1 + 1, d.5, alpha, beta); store(r1 + 2, d.6, alpha, beta); store(r1 + 3, d.7, alpha, beta)
        store(r2, d.8, alpha, beta); store(r2 + 1, d.9, alpha, beta); store(r2 + 2, d.10, alpha, beta); store(r2 + 3, d.11, alpha, beta)
    }

    /// One row of A against four rows of B.
    @inline(never)
    static func dot1x4(_ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ ldb: Int,
                       _ c: UnsafeMutablePointer<Float>, _ alpha: Float, _ beta: Float) {
        let b0 = b, b1 = b + ldb, b2 = b + 2 * ldb, b3 = b + 3 * ldb
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        let full = k / 8
        for step in 0..<full {
            let p = step &* 8
            let x = load(a, p)
            s0 = s0.addingProduct(x, load(b0, p)); s1 = s1.addingProduct(x, load(b1, p))
            s2 = s2.addingProduct(x, load(b2, p)); s3 = s3.addingProduct(x, load(b3, p))
        }
        var d0 = s0.sum(), d1 = s1.sum(), d2 = s2.sum(), d3 = s3.sum()
        for p in (full * 8)..<k {
            let x = a[p]
            d0 += x * b0[p]; d1 += x * b1[p]; d2 += x * b2[p]; d3 += x * b3[p]
        }
        store(c, d0, alpha, beta); store(c + 1, d1, alpha, beta); store(c + 2, d2, alpha, beta); store(c + 3, d3, alpha, beta)
    }
}
