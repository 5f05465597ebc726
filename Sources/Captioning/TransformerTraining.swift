import Tensors
#if canImport(Glibc)
import Glibc
#endif

extension TransformerDecoder {
    /// Forward and backward over one teacher-forced batch: accumulates parameter gradients and returns the mean
    /// cross-entropy (with label smoothing if configured) over the non-`<pad>` targets. `batch.tokens` rows are
    /// `<start>`, words, `<end>`, `<pad>`…; positions `0 ..< maxLength` are inputs, `1 ... maxLength` targets.
    /// Dropout uses `rng` (nil: none). With `featureGradient`, the gradient for the region features is written there.
    public func trainStep(_ batch: CaptionBatch, padToken: Int32 = 0, rng: inout SeededRandom?,
                          featureGradient: UnsafeMutablePointer<Float>? = nil) -> StepLoss {
        let c = config
        let (V, D, F, E, H) = (c.vocabularySize, c.modelSize, c.feedForwardSize, c.encoderSize, c.heads)
        let dh = D / H
        let (B, P, T) = (batch.batchSize, batch.regions, batch.maxLength)
        precondition(T <= c.maxPositions, "caption of \(T) tokens exceeds the \(c.maxPositions) positions of the model")
        let R = B * T
        let stride = batch.tokenStride
        let arena = Arena()
        let keep = 1 - c.dropout
        var generator = c.dropout > 0 ? rng : nil
        func dropout(_ x: UnsafeMutablePointer<Float>, _ n: Int) -> UnsafeMutablePointer<Float>? {
            guard var g = generator else { return nil }
            let mask = arena.alloc(n)
            for i in 0..<n {
                let s: Float = g.uniformFloat() < keep ? 1 / keep : 0
                mask[i] = s
                x[i] *= s
            }
            generator = g
            return mask
        }

        struct Saved {
            var xIn, ln1, m1, r1, qkv, p1, ctx1, x1, ln2, m2, r2, q2, kv2, p2, ctx2, x2, ln3, m3, r3, hid: UnsafeMutablePointer<Float>
            var d1, d2, d3, dHid: UnsafeMutablePointer<Float>?
        }
        var saved: [Saved] = []
        var loss: Double = 0
        var counted = 0

        parameters.values.withUnsafeBufferPointer { wb in
        parameters.gradients.withUnsafeMutableBufferPointer { gb in
        batch.features.withUnsafeBufferPointer { fb in
            let w = wb.baseAddress!, g = gb.baseAddress!, feat = fb.baseAddress!
            // ---- Forward ----
            let mem = arena.alloc(B * P * D)
            Dense.forward(feat, rows: B * P, inFeatures: E, weight: w + memW, bias: w + memB, outFeatures: D, into: mem)
            let grid = gridPositions(regions: P, size: D)
            for b in 0..<B { for k in 0..<(P * D) { mem[b * P * D + k] += grid[k] } }
            var x = arena.alloc(R * D)
            for b in 0..<B {
                for t in 0..<T {
                    let tok = Int(batch.tokens[b * stride + t])
                    for j in 0..<D { x[(b * T + t) * D + j] = w[emb + tok * D + j] + w[pos + t * D + j] }
                }
            }
            let x0 = x
            for L in layers {
                var s = Saved(xIn: x, ln1: arena.alloc(R * D), m1: arena.alloc(R), r1: arena.alloc(R), qkv: arena.alloc(R * 3 * D),
                              p1: arena.alloc(B * H * T * T), ctx1: arena.alloc(R * D), x1: arena.alloc(R * D),
                              ln2: arena.alloc(R * D), m2: arena.alloc(R), r2: arena.alloc(R), q2: arena.alloc(R * D),
                              kv2: arena.alloc(B * P * 2 * D), p2: arena.alloc(B * H * T * P), ctx2: arena.alloc(R * D), x2: arena.alloc(R * D),
                              ln3: arena.alloc(R * D), m3: arena.alloc(R), r3: arena.alloc(R), hid: arena.alloc(R * F))
                // Self-attention (causal).
                layerNormForward(x, rows: R, size: D, gamma: w + L.n1, beta: w + L.n1B, out: s.ln1, mean: s.m1, rstd: s.r1)
                Dense.forward(s.ln1, rows: R, inFeatures: D, weight: w + L.saIn, bias: w + L.saInB, outFeatures: 3 * D, into: s.qkv)
                attentionCore(batch: B, heads: H, headSize: dh, queries: T, keys: T, causal: true,
                              q: s.qkv, ldq: 3 * D, k: s.qkv + D, ldk: 3 * D, v: s.qkv + 2 * D, ldv: 3 * D, probs: s.p1, ctx: s.ctx1, ldc: D)
                Dense.forward(s.ctx1, rows: R, inFeatures: D, weight: w + L.saOut, bias: w + L.saOutB, outFeatures: D, into: s.x1)
                s.d1 = dropout(s.x1, R * D)
                for k in 0..<(R * D) { s.x1[k] += x[k] }
                // Cross-attention over the regions.
                layerNormForward(s.x1, rows: R, size: D, gamma: w + L.n2, beta: w + L.n2B, out: s.ln2, mean: s.m2, rstd: s.r2)
                Dense.forward(s.ln2, rows: R, inFeatures: D, weight: w + L.caIn, bias: w + L.caInB, outFeatures: D, into: s.q2)
                Dense.forward(mem, rows: B * P, inFeatures: D, weight: w + L.caIn + D * D, bias: w + L.caInB + D, outFeatures: 2 * D, into: s.kv2)
                attentionCore(batch: B, heads: H, headSize: dh, queries: T, keys: P, causal: false,
                              q: s.q2, ldq: D, k: s.kv2, ldk: 2 * D, v: s.kv2 + D, ldv: 2 * D, probs: s.p2, ctx: s.ctx2, ldc: D)
                Dense.forward(s.ctx2, rows: R, inFeatures: D, weight: w + L.caOut, bias: w + L.caOutB, outFeatures: D, into: s.x2)
                s.d2 = dropout(s.x2, R * D)
                for k in 0..<(R * D) { s.x2[k] += s.x1[k] }
                // Feed-forward.
                layerNormForward(s.x2, rows: R, size: D, gamma: w + L.n3, beta: w + L.n3B, out: s.ln3, mean: s.m3, rstd: s.r3)
                Dense.forward(s.ln3, rows: R, inFeatures: D, weight: w + L.l1, bias: w + L.l1B, outFeatures: F, into: s.hid)
                for k in 0..<(R * F) { s.hid[k] = max(s.hid[k], 0) }
                s.dHid = dropout(s.hid, R * F)
                let out = arena.alloc(R * D)
                Dense.forward(s.hid, rows: R, inFeatures: F, weight: w + L.l2, bias: w + L.l2B, outFeatures: D, into: out)
                s.d3 = dropout(out, R * D)
                for k in 0..<(R * D) { out[k] += s.x2[k] }
                saved.append(s)
                x = out
            }
            let lnF = arena.alloc(R * D), mF = arena.alloc(R), rF = arena.alloc(R)
            layerNormForward(x, rows: R, size: D, gamma: w + normW, beta: w + normB, out: lnF, mean: mF, rstd: rF)
            let logits = arena.alloc(R * V)
            Dense.forward(lnF, rows: R, inFeatures: D, weight: w + fcW, bias: w + fcB, outFeatures: V, into: logits)
            // Cross-entropy with ignore index and label smoothing; logits become dlogits.
            var targets = [Int](repeating: 0, count: R)
            for b in 0..<B { for t in 0..<T { targets[b * T + t] = Int(batch.tokens[b * stride + t + 1]) } }
            counted = targets.filter { $0 != Int(padToken) }.count
            let eps = c.labelSmoothing
            for r in 0..<R {
                let row = logits + r * V
                if targets[r] == Int(padToken) {
                    for v in 0..<V { row[v] = 0 }
                    continue
                }
                var m = -Float.infinity
                for v in 0..<V { m = max(m, row[v]) }
                var sum: Float = 0
                for v in 0..<V { sum += expf(row[v] - m) }
                let lse = m + logf(sum)
                var meanNeg: Float = 0
                for v in 0..<V { meanNeg += lse - row[v] }
                meanNeg /= Float(V)
                loss += Double((1 - eps) * (lse - row[targets[r]]) + eps * meanNeg)
                let scale = 1 / Float(max(counted, 1))
                for v in 0..<V { row[v] = (expf(row[v] - lse) - eps / Float(V)) * scale }
                row[targets[r]] -= (1 - eps) * scale
            }
            // ---- Backward ----
            let dLnF = arena.alloc(R * D)
            Dense.backward(logits, rows: R, outFeatures: V, x: lnF, inFeatures: D, weight: w + fcW,
                           gradWeight: g + fcW, gradBias: g + fcB, gradInput: dLnF)
            var dx = arena.alloc(R * D)
            layerNormBackward(dLnF, x: x, rows: R, size: D, mean: mF, rstd: rF, gamma: w + normW, dx: dx, dGamma: g + normW, dBeta: g + normB)
            let dMem = arena.alloc(B * P * D)
            for (li, L) in layers.enumerated().reversed() {
                let s = saved[li]
                // Feed-forward.
                let dOut = arena.alloc(R * D)
                for k in 0..<(R * D) { dOut[k] = dx[k] * (s.d3?[k] ?? 1) }
                let dHid = arena.alloc(R * F)
                Dense.backward(dOut, rows: R, outFeatures: D, x: s.hid, inFeatures: F, weight: w + L.l2,
                               gradWeight: g + L.l2, gradBias: g + L.l2B, gradInput: dHid)
                for k in 0..<(R * F) { dHid[k] = s.hid[k] > 0 ? dHid[k] * (s.dHid?[k] ?? 1) : 0 }
                let dLn3 = arena.alloc(R * D)
                Dense.backward(dHid, rows: R, outFeatures: F, x: s.ln3, inFeatures: D, weight: w + L.l1,
                               gradWeight: g + L.l1, gradBias: g + L.l1B, gradInput: dLn3)
                layerNormBackward(dLn3, x: s.x2, rows: R, size: D, mean: s.m3, rstd: s.r3, gamma: w + L.n3, dx: dx, dGamma: g + L.n3, dBeta: g + L.n3B)
                // Cross-attention.
                let dCa = arena.alloc(R * D)
                for k in 0..<(R * D) { dCa[k] = dx[k] * (s.d2?[k] ?? 1) }
                let dCtx2 = arena.alloc(R * D)
                Dense.backward(dCa, rows: R, outFeatures: D, x: s.ctx2, inFeatures: D, weight: w + L.caOut,
                               gradWeight: g + L.caOut, gradBias: g + L.caOutB, gradInput: dCtx2)
                let dQ2 = arena.alloc(R * D), dKV2 = arena.alloc(B * P * 2 * D)
                attentionCoreBackward(batch: B, heads: H, headSize: dh, queries: T, keys: P, q: s.q2, ldq: D, k: s.kv2, ldk: 2 * D,
                                      v: s.kv2 + D, ldv: 2 * D, probs: s.p2, dctx: dCtx2, ldc: D, dq: dQ2, dk: dKV2, dv: dKV2 + D)
                let dLn2 = arena.alloc(R * D)
                Dense.backward(dQ2, rows: R, outFeatures: D, x: s.ln2, inFeatures: D, weight: w + L.caIn,
                               gradWeight: g + L.caIn, gradBias: g + L.caInB, gradInput: dLn2)
                Dense.backward(dKV2, rows: B * P, outFeatures: 2 * D, x: mem, inFeatures: D, weight: w + L.caIn + D * D,
                               gradWeight: g + L.caIn + D * D, gradBias: g + L.caInB + D, gradInput: dMem)
                layerNormBackward(dLn2, x: s.x1, rows: R, size: D, mean: s.m2, rstd: s.r2, gamma: w + L.n2, dx: dx, dGamma: g + L.n2, dBeta: g + L.n2B)
                // Self-attention.
                let dSa = arena.alloc(R * D)
                for k in 0..<(R * D) { dSa[k] = dx[k] * (s.d1?[k] ?? 1) }
                let dCtx1 = arena.alloc(R * D)
                Dense.backward(dSa, rows: R, outFeatures: D, x: s.ctx1, inFeatures: D, weight: w + L.saOut,
                               gradWeight: g + L.saOut, gradBias: g + L.saOutB, gradInput: dCtx1)
                let dQKV = arena.alloc(R * 3 * D)
                attentionCoreBackward(batch: B, heads: H, headSize: dh, queries: T, keys: T, q: s.qkv, ldq: 3 * D, k: s.qkv + D, ldk: 3 * D,
                                      v: s.qkv + 2 * D, ldv: 3 * D, probs: s.p1, dctx: dCtx1, ldc: D, dq: dQKV, dk: dQKV + D, dv: dQKV + 2 * D)
                let dLn1 = arena.alloc(R * D)
                Dense.backward(dQKV, rows: R, outFeatures: 3 * D, x: s.ln1, inFeatures: D, weight: w + L.saIn,
                               gradWeight: g + L.saIn, gradBias: g + L.saInB, gradInput: dLn1)
                let dPrev = arena.alloc(R * D)
                dPrev.update(from: dx, count: R * D)
                layerNormBackward(dLn1, x: s.xIn, rows: R, size: D, mean: s.m1, rstd: s.r1, gamma: w + L.n1, dx: dPrev, dGamma: g + L.n1, dBeta: g + L.n1B)
                dx = dPrev
            }
            _ = x0
            for b in 0..<B {
                for t in 0..<T {
                    let tok = Int(batch.tokens[b * stride + t])
                    for j in 0..<D {
                        let d = dx[(b * T + t) * D + j]
                        g[emb + tok * D + j] += d
                        g[pos + t * D + j] += d
                    }
                }
            }
            if let featureGradient {
                let dF = arena.alloc(B * P * E)
                Dense.backward(dMem, rows: B * P, outFeatures: D, x: feat, inFeatures: E, weight: w + memW,
                               gradWeight: g + memW, gradBias: g + memB, gradInput: dF)
                featureGradient.update(from: dF, count: B * P * E)
            } else {
                Dense.backward(dMem, rows: B * P, outFeatures: D, x: feat, inFeatures: E, weight: w + memW,
                               gradWeight: g + memW, gradBias: g + memB, gradInput: nil)
            }
        }
        }
        }
        if generator != nil { rng = generator }
        return StepLoss(crossEntropy: Float(loss / Double(max(counted, 1))), attentionPenalty: 0, tokens: counted)
    }
}
