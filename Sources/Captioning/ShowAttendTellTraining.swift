import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Losses of one training step.
public struct StepLoss: Sendable {
    /// Mean cross-entropy per target token.
    public var crossEntropy: Float
    /// The doubly stochastic attention penalty (already multiplied by its weight).
    public var attentionPenalty: Float
    public var tokens: Int
    public var total: Float { crossEntropy + attentionPenalty }
}

extension ShowAttendTell {
    /// Forward and backward over one batch with teacher forcing: accumulates parameter gradients into
    /// `parameters.gradients` and returns the losses. Loss = mean cross-entropy over the real target tokens
    /// + `attentionPenaltyWeight` · mean over (image, region) of (1 − Σₜ αₜ)². With `featureGradient`, the
    /// gradient with respect to the features is written there (for fine-tuning the encoder).
    /// Dropout before the output layer uses `rng` (pass nil for none, e.g. in gradient checks).
    public func trainStep(_ batch: CaptionBatch, attentionPenaltyWeight: Float = 1,
                          rng: inout SeededRandom?, featureGradient: UnsafeMutablePointer<Float>? = nil) -> StepLoss {
        let c = config
        let (V, M, E, A, H, P, B) = (c.vocabularySize, c.embeddingSize, c.encoderSize, c.attentionSize, c.hiddenSize, batch.regions, batch.batchSize)
        let T = batch.maxLength
        let L = c.lstmInput
        let att = c.useAttention
        // Rows of step t are rowStart[t] ..< rowStart[t] + rowsAt[t] in every per-step buffer (step-major layout).
        var rowsAt = [Int](repeating: 0, count: T)
        for t in 0..<T { rowsAt[t] = batch.lengths.prefix { $0 > t }.count }
        var rowStart = [Int](repeating: 0, count: T + 1)
        for t in 0..<T { rowStart[t + 1] = rowStart[t] + rowsAt[t] }
        let N = rowStart[T]
        let tokStride = batch.tokenStride

        var hPrev = [Float](repeating: 0, count: N * H), cPrev = [Float](repeating: 0, count: N * H)
        var acts = [Float](repeating: 0, count: N * 4 * H)       // i, f, g, o after their nonlinearities
        var tanhC = [Float](repeating: 0, count: N * H)
        var hOut = [Float](repeating: 0, count: N * H)           // after dropout: the output layer's input
        var dropScale = [Float](repeating: 1, count: rng == nil || c.dropout == 0 ? 0 : N * H)
        var embX = [Float](repeating: 0, count: N * M)
        var ctx = [Float](repeating: 0, count: att ? N * E : 0)  // gate * awe
        var alpha = [Float](repeating: 0, count: att ? N * P : 0)
        var awe = [Float](repeating: 0, count: att ? N * E : 0)
        var gate = [Float](repeating: 0, count: att ? N * E : 0)
        var pre = [Float](repeating: 0, count: att ? N * P * A : 0)
        var encAtt = [Float](repeating: 0, count: att ? B * P * A : 0)
        var mean = [Float](repeating: 0, count: B * E)
        var h = [Float](repeating: 0, count: B * H), cell = [Float](repeating: 0, count: B * H)
        var gates = [Float](repeating: 0, count: B * 4 * H)
        var logits = [Float](repeating: 0, count: N * V)
        var targets = [Int](repeating: 0, count: N)

        var ce: Float = 0
        var penalty: Float = 0
        parameters.values.withUnsafeBufferPointer { wBuf in
        parameters.gradients.withUnsafeMutableBufferPointer { gBuf in
        batch.features.withUnsafeBufferPointer { featBuf in
            let w = wBuf.baseAddress!, g = gBuf.baseAddress!, feat = featBuf.baseAddress!
            // ---- Forward ----
            for b in 0..<B {
                for p in 0..<P { for e in 0..<E { mean[b * E + e] += feat[(b * P + p) * E + e] } }
                for e in 0..<E { mean[b * E + e] /= Float(P) }
            }
            Dense.forward(mean, rows: B, inFeatures: E, weight: w + initHW, bias: w + initHB, outFeatures: H, into: &h)
            Dense.forward(mean, rows: B, inFeatures: E, weight: w + initCW, bias: w + initCB, outFeatures: H, into: &cell)
            if att {
                Dense.forward(feat, rows: B * P, inFeatures: E, weight: w + encAttW, bias: w + encAttB, outFeatures: A, into: &encAtt)
            }
            // Input tokens and targets of every row; the embedding half of the LSTM input for all rows at once.
            for t in 0..<T {
                for b in 0..<rowsAt[t] {
                    let r = rowStart[t] + b
                    let tok = Int(batch.tokens[b * tokStride + t])
                    targets[r] = Int(batch.tokens[b * tokStride + t + 1])
                    for m in 0..<M { embX[r * M + m] = w[embW + tok * M + m] }
                }
            }
            var embGates = [Float](repeating: 0, count: N * 4 * H)
            Dense.forward(embX, rows: N, inFeatures: M, weight: w + wIH, ldw: L, bias: nil, outFeatures: 4 * H, into: &embGates)
            var decAtt = [Float](repeating: 0, count: att ? B * A : 0)
            for t in 0..<T {
                let bt = rowsAt[t], r0 = rowStart[t]
                for k in 0..<(bt * H) { hPrev[r0 * H + k] = h[k]; cPrev[r0 * H + k] = cell[k] }
                // gates = emb part + biases + h · W_hhᵀ (+ ctx · W_ih[:, M:]ᵀ)
                for b in 0..<bt {
                    for j in 0..<(4 * H) { gates[b * 4 * H + j] = embGates[(r0 + b) * 4 * H + j] + w[bIH + j] + w[bHH + j] }
                }
                Dense.forward(h, rows: bt, inFeatures: H, weight: w + wHH, bias: nil, outFeatures: 4 * H, into: &gates, accumulate: true)
                if att {
                    Dense.forward(h, rows: bt, inFeatures: H, weight: w + decAttW, bias: w + decAttB, outFeatures: A, into: &decAtt)
                    attentionForward(rows: bt, regions: P, encoderSize: E, attentionSize: A, features: feat, encAtt: encAtt, decAtt: decAtt, fullW: w + fullAttW, fullB: w[fullAttB],
                                     pre: &pre, preOffset: r0 * P * A, alpha: &alpha, aweOut: &awe, offset: r0)
                    // gate = sigmoid(f_beta(h)); ctx = gate * awe
                    gate.withUnsafeMutableBufferPointer { gp in
                        Dense.forward(h, rows: bt, inFeatures: H, weight: w + fBetaW, bias: w + fBetaB, outFeatures: E, into: gp.baseAddress! + r0 * E)
                    }
                    for k in (r0 * E)..<((r0 + bt) * E) { gate[k] = sigmoid(gate[k]); ctx[k] = gate[k] * awe[k] }
                    ctx.withUnsafeBufferPointer { cp in
                        Dense.forward(cp.baseAddress! + r0 * E, rows: bt, inFeatures: E, weight: w + wIH + M, ldw: L, bias: nil,
                                      outFeatures: 4 * H, into: &gates, accumulate: true)
                    }
                }
                // LSTM cell.
                for b in 0..<bt {
                    let r = r0 + b
                    for j in 0..<H {
                        let gi = sigmoid(gates[b * 4 * H + j]), gf = sigmoid(gates[b * 4 * H + H + j])
                        let gg = tanhf(gates[b * 4 * H + 2 * H + j]), go = sigmoid(gates[b * 4 * H + 3 * H + j])
                        let cNew = gf * cell[b * H + j] + gi * gg
                        let tc = tanhf(cNew)
                        acts[r * 4 * H + j] = gi; acts[r * 4 * H + H + j] = gf; acts[r * 4 * H + 2 * H + j] = gg; acts[r * 4 * H + 3 * H + j] = go
                        cell[b * H + j] = cNew
                        tanhC[r * H + j] = tc
                        h[b * H + j] = go * tc
                        hOut[r * H + j] = go * tc
                    }
                }
            }
            if !dropScale.isEmpty, var generator = rng {
                let keep = 1 - c.dropout
                for k in 0..<(N * H) {
                    let s: Float = generator.uniformFloat() < keep ? 1 / keep : 0
                    dropScale[k] = s
                    hOut[k] *= s
                }
                rng = generator
            }
            Dense.forward(hOut, rows: N, inFeatures: H, weight: w + fcW, bias: w + fcB, outFeatures: V, into: &logits)
            // Cross-entropy (mean over the N target tokens); logits become dlogits in place.
            var total: Double = 0
            for r in 0..<N {
                logits.withUnsafeMutableBufferPointer { lp in
                    let row = lp.baseAddress! + r * V
                    var m = -Float.infinity
                    for v in 0..<V { m = max(m, row[v]) }
                    var s: Float = 0
                    for v in 0..<V { let e = expf(row[v] - m); row[v] = e; s += e }
                    total -= Double(logf(row[targets[r]] / s))
                    let inv = 1 / (s * Float(N))
                    for v in 0..<V { row[v] *= inv }
                    row[targets[r]] -= 1 / Float(N)
                }
            }
            ce = Float(total / Double(N))

            // ---- Backward ----
            var dPenalty = [Float](repeating: 0, count: att ? B * P : 0)
            if att {
                var sums = [Float](repeating: 0, count: B * P)
                for t in 0..<T { for b in 0..<rowsAt[t] { for p in 0..<P { sums[b * P + p] += alpha[(rowStart[t] + b) * P + p] } } }
                var s: Double = 0
                for k in 0..<(B * P) {
                    let d = 1 - sums[k]
                    s += Double(d * d)
                    dPenalty[k] = attentionPenaltyWeight * 2 * (sums[k] - 1) / Float(B * P)
                }
                penalty = attentionPenaltyWeight * Float(s / Double(B * P))
            }
            var dhOut = [Float](repeating: 0, count: N * H)
            Dense.backward(logits, rows: N, outFeatures: V, x: hOut, inFeatures: H, weight: w + fcW,
                           gradWeight: g + fcW, gradBias: g + fcB, gradInput: &dhOut, accumulateInput: false)
            if !dropScale.isEmpty { for k in 0..<(N * H) { dhOut[k] *= dropScale[k] } }
            var dh = [Float](repeating: 0, count: B * H), dc = [Float](repeating: 0, count: B * H)
            var dhNext = [Float](repeating: 0, count: B * H)
            var dGatesAll = [Float](repeating: 0, count: N * 4 * H)
            var dEncAtt = [Float](repeating: 0, count: att ? B * P * A : 0)
            var dCtx = [Float](repeating: 0, count: att ? B * E : 0)
            var dGatePre = [Float](repeating: 0, count: att ? B * E : 0)
            var dDecAtt = [Float](repeating: 0, count: att ? B * A : 0)
            var dFeat = [Float](repeating: 0, count: featureGradient != nil ? B * P * E : 0)
            for t in stride(from: T - 1, through: 0, by: -1) {
                let bt = rowsAt[t], r0 = rowStart[t]
                for b in 0..<bt {
                    let r = r0 + b
                    for j in 0..<H {
                        let dhj = dh[b * H + j] + dhOut[r * H + j]
                        let gi = acts[r * 4 * H + j], gf = acts[r * 4 * H + H + j], gg = acts[r * 4 * H + 2 * H + j], go = acts[r * 4 * H + 3 * H + j]
                        let tc = tanhC[r * H + j]
                        let dcj = dc[b * H + j] + dhj * go * (1 - tc * tc)
                        let base = r * 4 * H
                        dGatesAll[base + j] = dcj * gg * gi * (1 - gi)
                        dGatesAll[base + H + j] = dcj * cPrev[r * H + j] * gf * (1 - gf)
                        dGatesAll[base + 2 * H + j] = dcj * gi * (1 - gg * gg)
                        dGatesAll[base + 3 * H + j] = dhj * tc * go * (1 - go)
                        dc[b * H + j] = dcj * gf
                    }
                }
                dGatesAll.withUnsafeBufferPointer { dgp in
                    let dG = dgp.baseAddress! + r0 * 4 * H
                    hPrev.withUnsafeBufferPointer { hp in
                        let hP = hp.baseAddress! + r0 * H
                        Dense.backward(dG, rows: bt, outFeatures: 4 * H, x: hP, inFeatures: H, weight: w + wHH,
                                       gradWeight: g + wHH, gradBias: g + bHH, gradInput: &dhNext, accumulateInput: false)
                        for j in 0..<(4 * H) { var s: Float = 0; for b in 0..<bt { s += dG[b * 4 * H + j] }; g[bIH + j] += s }
                        guard att else { return }
                        ctx.withUnsafeBufferPointer { cp in
                            Dense.backward(dG, rows: bt, outFeatures: 4 * H, x: cp.baseAddress! + r0 * E, inFeatures: E, weight: w + wIH + M, ldw: L,
                                           gradWeight: g + wIH + M, gradBias: nil, gradInput: &dCtx, accumulateInput: false)
                        }
                        for b in 0..<bt {
                            let r = r0 + b
                            for e in 0..<E {
                                let gt = gate[r * E + e]
                                dGatePre[b * E + e] = dCtx[b * E + e] * awe[r * E + e] * gt * (1 - gt)
                                dCtx[b * E + e] *= gt   // now d awe
                            }
                        }
                        Dense.backward(dGatePre, rows: bt, outFeatures: E, x: hP, inFeatures: H, weight: w + fBetaW,
                                       gradWeight: g + fBetaW, gradBias: g + fBetaB, gradInput: &dhNext)
                        attentionBackward(rows: bt, regions: P, encoderSize: E, attentionSize: A, features: feat, alpha: alpha, pre: pre, preOffset: r0 * P * A, offset: r0,
                                          dAwe: dCtx, dPenalty: dPenalty, fullW: w + fullAttW, gradFullW: g + fullAttW, gradFullB: g + fullAttB,
                                          dEncAtt: &dEncAtt, dDecAtt: &dDecAtt, dFeat: &dFeat)
                        Dense.backward(dDecAtt, rows: bt, outFeatures: A, x: hP, inFeatures: H, weight: w + decAttW,
                                       gradWeight: g + decAttW, gradBias: g + decAttB, gradInput: &dhNext)
                    }
                }
                for k in 0..<(bt * H) { dh[k] = dhNext[k] }
            }
            // Embedding half of the LSTM input, for all rows at once; then the embedding table.
            var dEmbX = [Float](repeating: 0, count: N * M)
            Dense.backward(dGatesAll, rows: N, outFeatures: 4 * H, x: embX, inFeatures: M, weight: w + wIH, ldw: L,
                           gradWeight: g + wIH, gradBias: nil, gradInput: &dEmbX, accumulateInput: false)
            for t in 0..<T {
                for b in 0..<rowsAt[t] {
                    let r = rowStart[t] + b
                    let tok = Int(batch.tokens[b * tokStride + t])
                    for m in 0..<M { g[embW + tok * M + m] += dEmbX[r * M + m] }
                }
            }
            // Initial state from the mean region.
            var dMean = [Float](repeating: 0, count: B * E)
            Dense.backward(dh, rows: B, outFeatures: H, x: mean, inFeatures: E, weight: w + initHW,
                           gradWeight: g + initHW, gradBias: g + initHB, gradInput: &dMean)
            Dense.backward(dc, rows: B, outFeatures: H, x: mean, inFeatures: E, weight: w + initCW,
                           gradWeight: g + initCW, gradBias: g + initCB, gradInput: &dMean)
            if att {
                if featureGradient != nil {
                    Dense.backward(dEncAtt, rows: B * P, outFeatures: A, x: feat, inFeatures: E, weight: w + encAttW,
                                   gradWeight: g + encAttW, gradBias: g + encAttB, gradInput: &dFeat)
                } else {
                    Dense.backward(dEncAtt, rows: B * P, outFeatures: A, x: feat, inFeatures: E, weight: w + encAttW,
                                   gradWeight: g + encAttW, gradBias: g + encAttB, gradInput: nil)
                }
            }
            if let featureGradient {
                for b in 0..<B { for p in 0..<P { for e in 0..<E { dFeat[(b * P + p) * E + e] += dMean[b * E + e] / Float(P) } } }
                featureGradient.update(from: dFeat, count: B * P * E)
            }
        }
        }
        }
        return StepLoss(crossEntropy: ce, attentionPenalty: penalty, tokens: N)
    }
}

/// Soft attention for `rows` rows whose image is the row index: pre = relu(encAtt + decAtt), e = pre · w + b,
/// α = softmax over regions, awe = Σ α · features. Writes pre, α and awe at row `offset` of their buffers.
func attentionForward(rows: Int, regions P: Int, encoderSize E: Int, attentionSize A: Int, features: UnsafePointer<Float>, encAtt: [Float], decAtt: [Float],
                      fullW: UnsafePointer<Float>, fullB: Float, pre: inout [Float], preOffset: Int,
                      alpha: inout [Float], aweOut: inout [Float], offset: Int, imageOfRow: [Int]? = nil) {
    var scores = [Float](repeating: 0, count: P)
    for b in 0..<rows {
        let img = imageOfRow?[b] ?? b
        for p in 0..<P {
            var s = fullB
            let eo = (img * P + p) * A, po = preOffset + (b * P + p) * A
            for a in 0..<A {
                let v = max(encAtt[eo + a] + decAtt[b * A + a], 0)
                pre[po + a] = v
                s += v * fullW[a]
            }
            scores[p] = s
        }
        let m = scores.max() ?? 0
        var sum: Float = 0
        for p in 0..<P { scores[p] = expf(scores[p] - m); sum += scores[p] }
        let r = offset + b
        for e in 0..<E { aweOut[r * E + e] = 0 }
        for p in 0..<P {
            let a = scores[p] / sum
            alpha[r * P + p] = a
            let f = features + (img * P + p) * E
            for e in 0..<E { aweOut[r * E + e] += a * f[e] }
        }
    }
}

/// Backward of `attentionForward` for rows `offset ..< offset + rows`; accumulates into dEncAtt, full_att's
/// gradients and dFeat (if non-empty); overwrites dDecAtt[0 ..< rows].
func attentionBackward(rows: Int, regions P: Int, encoderSize E: Int, attentionSize A: Int, features: UnsafePointer<Float>, alpha: [Float], pre: [Float], preOffset: Int, offset: Int,
                       dAwe: [Float], dPenalty: [Float], fullW: UnsafePointer<Float>, gradFullW: UnsafeMutablePointer<Float>,
                       gradFullB: UnsafeMutablePointer<Float>, dEncAtt: inout [Float], dDecAtt: inout [Float], dFeat: inout [Float]) {
    var dAlpha = [Float](repeating: 0, count: P)
    for b in 0..<rows {
        let r = offset + b
        var dot: Float = 0
        for p in 0..<P {
            let f = features + (b * P + p) * E
            var s: Float = dPenalty[b * P + p]
            for e in 0..<E { s += dAwe[b * E + e] * f[e] }
            dAlpha[p] = s
            dot += s * alpha[r * P + p]
        }
        if !dFeat.isEmpty {
            for p in 0..<P {
                let a = alpha[r * P + p]
                for e in 0..<E { dFeat[(b * P + p) * E + e] += a * dAwe[b * E + e] }
            }
        }
        for a in 0..<A { dDecAtt[b * A + a] = 0 }
        for p in 0..<P {
            let de = alpha[r * P + p] * (dAlpha[p] - dot)
            gradFullB[0] += de
            let po = preOffset + (b * P + p) * A, eo = (b * P + p) * A
            for a in 0..<A {
                let v = pre[po + a]
                gradFullW[a] += de * v
                let d = v > 0 ? de * fullW[a] : 0
                dEncAtt[eo + a] += d
                dDecAtt[b * A + a] += d
            }
        }
    }
}
