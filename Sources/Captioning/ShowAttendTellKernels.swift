import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Vectorised kernels of the Show-Attend-Tell soft attention, on row-major buffers, shared by training and
/// decoding. For row `b` (of image `img(b)`), with `u = relu(encAtt[img, p] + decAtt[b])`:
/// `s_p = fullB + u · fullW`, `α = softmax_p(s)`, `awe[b] = Σ_p α_p · features[img, p]`.
/// The `[rows, P, A]` activation `u` is never stored: the backward pass recomputes it from `encAtt` and `decAtt`.
enum SoftAttention {
    /// Forward of `rows` rows. `imageOfRow` maps a row to its image (nil: row `b` is image `b`).
    /// Writes `alpha[rows, P]` and `awe[rows, E]`.
    static func forward(rows: Int, regions P: Int, encoderSize E: Int, attentionSize A: Int,
                        features: UnsafePointer<Float>, encAtt: UnsafePointer<Float>, decAtt: UnsafePointer<Float>,
                        fullW: UnsafePointer<Float>, fullB: Float, imageOfRow: UnsafePointer<Int>?,
                        alpha: UnsafeMutablePointer<Float>, awe: UnsafeMutablePointer<Float>) {
        for b in 0..<rows {
            let img = imageOfRow?[b] ?? b
            let al = alpha + b * P
            let dec = decAtt + b * A
            for p in 0..<P { al[p] = fullB + reluSumDot(A, encAtt + (img * P + p) * A, dec, fullW) }
            softmaxInPlace(P, al)
            let out = awe + b * E
            out.initialize(repeating: 0, count: E)
            for p in 0..<P { VectorMath.axpy(E, al[p], features + (img * P + p) * E, out) }
        }
    }

    /// Backward of `forward` for `rows` rows whose image is the row index. `dAwe[rows, E]` and
    /// `dPenalty[rows, P]` (an extra gradient on α, may be nil) come in; accumulates into
    /// `dEncAtt[rows, P, A]`, `gradFullW[A]`, `gradFullB[0]` and (if given) `dFeatures[rows, P, E]`;
    /// overwrites `dDecAtt[rows, A]`.
    static func backward(rows: Int, regions P: Int, encoderSize E: Int, attentionSize A: Int,
                         features: UnsafePointer<Float>, encAtt: UnsafePointer<Float>, decAtt: UnsafePointer<Float>,
                         alpha: UnsafePointer<Float>, dAwe: UnsafePointer<Float>, dPenalty: UnsafePointer<Float>?,
                         fullW: UnsafePointer<Float>, gradFullW: UnsafeMutablePointer<Float>, gradFullB: UnsafeMutablePointer<Float>,
                         dEncAtt: UnsafeMutablePointer<Float>, dDecAtt: UnsafeMutablePointer<Float>,
                         dFeatures: UnsafeMutablePointer<Float>?) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: P) { dAlphaBuf in
            let dAlpha = dAlphaBuf.baseAddress!
            var dBias: Float = 0
            for b in 0..<rows {
                let al = alpha + b * P, da = dAwe + b * E
                var dot: Float = 0
                for p in 0..<P {
                    let s = (dPenalty?[b * P + p] ?? 0) + VectorMath.dot(E, da, features + (b * P + p) * E)
                    dAlpha[p] = s
                    dot += s * al[p]
                }
                if let dFeatures {
                    for p in 0..<P { VectorMath.axpy(E, al[p], da, dFeatures + (b * P + p) * E) }
                }
                let dec = decAtt + b * A, dDec = dDecAtt + b * A
                dDec.initialize(repeating: 0, count: A)
                for p in 0..<P {
                    let de = al[p] * (dAlpha[p] - dot)
                    dBias += de
                    reluBackward(A, de, encAtt + (b * P + p) * A, dec, fullW, gradFullW, dEncAtt + (b * P + p) * A, dDec)
                }
            }
            gradFullB[0] += dBias
        }
    }

    /// `Σ_a max(x_a + y_a, 0) · w_a`.
    @inline(__always)
    static func reluSumDot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ w: UnsafePointer<Float>) -> Float {
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y), rw = UnsafeRawPointer(w)
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
        var i = 0
        let zero = SIMD8<Float>()
        while i + 16 <= n {
            var u0 = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            var u1 = rx.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self) + ry.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            u0.replace(with: zero, where: u0 .< zero)   // not pointwiseMax: it is not inlined
            u1.replace(with: zero, where: u1 .< zero)
            s0 = s0.addingProduct(u0, rw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            s1 = s1.addingProduct(u1, rw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            i += 16
        }
        var s = (s0 + s1).sum()
        while i < n { s += max(x[i] + y[i], 0) * w[i]; i += 1 }
        return s
    }

    /// For `u = max(x + y, 0)`: `gw += de · u`, and where `u > 0`: `dx += de · w`, `dy += de · w`.
    @inline(__always)
    static func reluBackward(_ n: Int, _ de: Float, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                             _ gw: UnsafeMutablePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ dy: UnsafeMutablePointer<Float>) {
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y), rw = UnsafeRawPointer(w)
        let rg = UnsafeMutableRawPointer(gw), rdx = UnsafeMutableRawPointer(dx), rdy = UnsafeMutableRawPointer(dy)
        let vde = SIMD8<Float>(repeating: de), zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            let o = i * 4
            let u = rx.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + ry.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let pos = u .> zero
            let ur = zero.replacing(with: u, where: pos)
            rg.storeBytes(of: rg.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self).addingProduct(vde, ur), toByteOffset: o, as: SIMD8<Float>.self)
            let d = zero.replacing(with: vde * rw.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), where: pos)
            rdx.storeBytes(of: rdx.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + d, toByteOffset: o, as: SIMD8<Float>.self)
            rdy.storeBytes(of: rdy.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + d, toByteOffset: o, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            let u = x[i] + y[i]
            if u > 0 {
                gw[i] += de * u
                let d = de * w[i]
                dx[i] += d
                dy[i] += d
            }
            i += 1
        }
    }
}

/// Numerically stable softmax of `n >= 1` values in place (the attention weights of both decoders).
@inline(__always)
func softmaxInPlace(_ n: Int, _ x: UnsafeMutablePointer<Float>) {
    var m = -Float.infinity
    for i in 0..<n { m = max(m, x[i]) }
    var sum: Float = 0
    for i in 0..<n { let e = expf(x[i] - m); x[i] = e; sum += e }
    let inv = 1 / sum
    for i in 0..<n { x[i] *= inv }
}

/// Vectorised LSTM cell on `rows` rows: `gates[rows, 4H]` holds the pre-activations (i, f, g, o);
/// `c[rows, H]` is updated in place and `h[rows, H] = o · tanh(c)` written. With `acts`/`tanhC`, the
/// activations `[rows, 4H]` and `tanh(c)` `[rows, H]` are kept for the backward pass.
enum LSTMCellKernel {
    static func forward(rows: Int, hidden H: Int, gates: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                        h: UnsafeMutablePointer<Float>, acts: UnsafeMutablePointer<Float>? = nil, tanhC: UnsafeMutablePointer<Float>? = nil) {
        for r in 0..<rows {
            let g = UnsafeRawPointer(gates + r * 4 * H)
            let cr = UnsafeMutableRawPointer(c + r * H), hr = UnsafeMutableRawPointer(h + r * H)
            var j = 0
            while j + 8 <= H {
                let o = j * 4
                let gi = VectorMath.sigmoid(g.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self))
                let gf = VectorMath.sigmoid(g.loadUnaligned(fromByteOffset: o + 4 * H, as: SIMD8<Float>.self))
                let gg = VectorMath.tanh(g.loadUnaligned(fromByteOffset: o + 8 * H, as: SIMD8<Float>.self))
                let go = VectorMath.sigmoid(g.loadUnaligned(fromByteOffset: o + 12 * H, as: SIMD8<Float>.self))
                let cn = gf * cr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + gi * gg
                let tc = VectorMath.tanh(cn)
                cr.storeBytes(of: cn, toByteOffset: o, as: SIMD8<Float>.self)
                hr.storeBytes(of: go * tc, toByteOffset: o, as: SIMD8<Float>.self)
                if let acts {
                    let a = UnsafeMutableRawPointer(acts + r * 4 * H)
                    a.storeBytes(of: gi, toByteOffset: o, as: SIMD8<Float>.self)
                    a.storeBytes(of: gf, toByteOffset: o + 4 * H, as: SIMD8<Float>.self)
                    a.storeBytes(of: gg, toByteOffset: o + 8 * H, as: SIMD8<Float>.self)
                    a.storeBytes(of: go, toByteOffset: o + 12 * H, as: SIMD8<Float>.self)
                }
                if let tanhC { UnsafeMutableRawPointer(tanhC + r * H).storeBytes(of: tc, toByteOffset: o, as: SIMD8<Float>.self) }
                j += 8
            }
            let gs = gates + r * 4 * H
            while j < H {
                let gi = sigmoid(gs[j]), gf = sigmoid(gs[H + j]), gg = tanhf(gs[2 * H + j]), go = sigmoid(gs[3 * H + j])
                let cn = gf * c[r * H + j] + gi * gg
                let tc = tanhf(cn)
                c[r * H + j] = cn
                h[r * H + j] = go * tc
                if let acts {
                    let a = acts + r * 4 * H
                    a[j] = gi; a[H + j] = gf; a[2 * H + j] = gg; a[3 * H + j] = go
                }
                tanhC?[r * H + j] = tc
                j += 1
            }
        }
    }
}

/// In-place log-softmax of each row of `x[rows, columns]`, vectorised (the decoders' output layer):
/// `x - max - log Σ exp(x - max)`.
func logSoftmaxRowsInPlace(_ x: UnsafeMutablePointer<Float>, rows: Int, columns n: Int) {
    for r in 0..<rows {
        let row = x + r * n
        let raw = UnsafeMutableRawPointer(row)
        let m = VectorMath.max(n, row)
        if !m.isFinite {
            // Degenerate rows (NaN, all -inf, +inf): the scalar reference gives NaN/-inf as PyTorch does.
            var tmp = Array(UnsafeBufferPointer(start: row, count: n))
            logSoftmaxRows(&tmp, rows: 1, columns: n)
            row.update(from: tmp, count: n)
            continue
        }
        let vshift = SIMD8<Float>(repeating: m)
        var vs = SIMD8<Float>()
        var i = 0
        while i + 8 <= n { vs += VectorMath.exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - vshift); i += 8 }
        var s = vs.sum()
        while i < n { s += expf(row[i] - m); i += 1 }
        let lse = m + logf(s)
        let vl = SIMD8<Float>(repeating: lse)
        i = 0
        while i + 8 <= n { raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - vl, toByteOffset: i * 4, as: SIMD8<Float>.self); i += 8 }
        while i < n { row[i] -= lse; i += 1 }
    }
}

extension LSTMCellKernel {
    /// Backward of `forward` for `rows` rows: `dh` is the gradient on the new h (its own plus the output
    /// layer's, summed by the caller), `dc` on the new c; `dc` is replaced by the gradient on the previous c.
    /// Writes the gradient on the gate pre-activations `dGates[rows, 4H]`.
    static func backward(rows: Int, hidden H: Int, acts: UnsafePointer<Float>, tanhC: UnsafePointer<Float>,
                         cPrev: UnsafePointer<Float>, dh: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>,
                         dGates: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let a = UnsafeRawPointer(acts + r * 4 * H), tcp = UnsafeRawPointer(tanhC + r * H), cp = UnsafeRawPointer(cPrev + r * H)
            let dhp = UnsafeRawPointer(dh + r * H), dcp = UnsafeMutableRawPointer(dc + r * H)
            let dg = UnsafeMutableRawPointer(dGates + r * 4 * H)
            var j = 0
            while j + 8 <= H {
                let o = j * 4
                let gi = a.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                let gf = a.loadUnaligned(fromByteOffset: o + 4 * H, as: SIMD8<Float>.self)
                let gg = a.loadUnaligned(fromByteOffset: o + 8 * H, as: SIMD8<Float>.self)
                let go = a.loadUnaligned(fromByteOffset: o + 12 * H, as: SIMD8<Float>.self)
                let tc = tcp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                let dhj = dhp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                let dcj = dcp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + dhj * go * (1 - tc * tc)
                dg.storeBytes(of: dcj * gg * gi * (1 - gi), toByteOffset: o, as: SIMD8<Float>.self)
                dg.storeBytes(of: dcj * cp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * gf * (1 - gf), toByteOffset: o + 4 * H, as: SIMD8<Float>.self)
                dg.storeBytes(of: dcj * gi * (1 - gg * gg), toByteOffset: o + 8 * H, as: SIMD8<Float>.self)
                dg.storeBytes(of: dhj * tc * go * (1 - go), toByteOffset: o + 12 * H, as: SIMD8<Float>.self)
                dcp.storeBytes(of: dcj * gf, toByteOffset: o, as: SIMD8<Float>.self)
                j += 8
            }
            let ar = acts + r * 4 * H, dgr = dGates + r * 4 * H
            while j < H {
                let gi = ar[j], gf = ar[H + j], gg = ar[2 * H + j], go = ar[3 * H + j]
                let tc = tanhC[r * H + j], dhj = dh[r * H + j]
                let dcj = dc[r * H + j] + dhj * go * (1 - tc * tc)
                dgr[j] = dcj * gg * gi * (1 - gi)
                dgr[H + j] = dcj * cPrev[r * H + j] * gf * (1 - gf)
                dgr[2 * H + j] = dcj * gi * (1 - gg * gg)
                dgr[3 * H + j] = dhj * tc * go * (1 - go)
                dc[r * H + j] = dcj * gf
                j += 1
            }
        }
    }
}

/// Fused softmax + cross-entropy over the rows of `logits[rows, V]`, in place: returns Σ_rows −log p(target)
/// (in Double) and leaves `scale · (softmax − onehot(target))` in `logits`, the gradient of `scale · Σ` loss.
func softmaxCrossEntropyInPlace(_ logits: UnsafeMutablePointer<Float>, rows: Int, columns V: Int,
                                targets: UnsafePointer<Int>, scale: Float) -> Double {
    var total: Double = 0
    for r in 0..<rows {
        let row = logits + r * V
        let raw = UnsafeMutableRawPointer(row)
        let t = targets[r]
        let xt = row[t]
        let m = VectorMath.max(V, row)
        let vshift = SIMD8<Float>(repeating: m)
        var vs = SIMD8<Float>()
        var i = 0
        while i + 8 <= V {
            let e = VectorMath.exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - vshift)
            raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            vs += e
            i += 8
        }
        var s = vs.sum()
        while i < V { let e = expf(row[i] - m); row[i] = e; s += e; i += 1 }
        total += Double(m) + Double(logf(s)) - Double(xt)
        let inv = SIMD8<Float>(repeating: scale / s)
        i = 0
        while i + 8 <= V { raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * inv, toByteOffset: i * 4, as: SIMD8<Float>.self); i += 8 }
        while i < V { row[i] *= scale / s; i += 1 }
        row[t] -= scale
    }
    return total
}
