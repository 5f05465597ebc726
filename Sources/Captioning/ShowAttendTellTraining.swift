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
        let dropout = rng != nil && c.dropout > 0

        // All activations live in the model's arena, reused from one step to the next.
        let ar = trainingArena
        ar.reset()
        let hPrev = ar.alloc(N * H, zeroed: false), cPrev = ar.alloc(N * H, zeroed: false)
        let acts = ar.alloc(N * 4 * H, zeroed: false)       // i, f, g, o after their nonlinearities
        let tanhC = ar.alloc(N * H, zeroed: false)
        let hOut = ar.alloc(N * H, zeroed: false)           // after dropout: the output layer's input
        let dropScale = ar.alloc(dropout ? N * H : 0, zeroed: false)
        let embX = ar.alloc(N * M, zeroed: false)
        let ctx = ar.alloc(att ? N * E : 0, zeroed: false)  // gate * awe
        let alpha = ar.alloc(att ? N * P : 0, zeroed: false)
        let awe = ar.alloc(att ? N * E : 0, zeroed: false)
        let gate = ar.alloc(att ? N * E : 0, zeroed: false)
        let decAtt = ar.alloc(att ? N * A : 0, zeroed: false)
        let encAtt = ar.alloc(att ? B * P * A : 0, zeroed: false)
        let mean = ar.alloc(B * E)
        let h = ar.alloc(B * H, zeroed: false), cell = ar.alloc(B * H, zeroed: false)
        let gates = ar.alloc(B * 4 * H, zeroed: false)
        let embGates = ar.alloc(N * 4 * H, zeroed: false)
        let lstmBias = ar.alloc(4 * H, zeroed: false)
        let logits = ar.alloc(N * V, zeroed: false)
        // Weights used at every step, transposed once per batch (`[in, out]`) for the per-step products.
        let wHHt = ar.alloc(H * 4 * H, zeroed: false)
        let decAttWt = ar.alloc(att ? H * A : 0, zeroed: false), fBetaWt = ar.alloc(att ? H * E : 0, zeroed: false)
        let wIHCtxT = ar.alloc(att ? E * 4 * H : 0, zeroed: false)
        var targets = [Int](repeating: 0, count: N)

        var ce: Float = 0
        var penalty: Float = 0
        parameters.values.withUnsafeBufferPointer { wBuf in
        parameters.gradients.withUnsafeMutableBufferPointer { gBuf in
        batch.features.withUnsafeBufferPointer { featBuf in
            let w = wBuf.baseAddress!, g = gBuf.baseAddress!, feat = featBuf.baseAddress!
            // ---- Forward ----
            for b in 0..<B {
                for p in 0..<P { VectorMath.axpy(E, 1, feat + (b * P + p) * E, mean + b * E) }
                for e in 0..<E { mean[b * E + e] /= Float(P) }
            }
            Dense.forward(mean, rows: B, inFeatures: E, weight: w + initHW, bias: w + initHB, outFeatures: H, into: h)
            Dense.forward(mean, rows: B, inFeatures: E, weight: w + initCW, bias: w + initCB, outFeatures: H, into: cell)
            if att {
                Dense.forward(feat, rows: B * P, inFeatures: E, weight: w + encAttW, bias: w + encAttB, outFeatures: A, into: encAtt)
            }
            // Input tokens and targets of every row; the embedding half of the LSTM input (and both biases) for all rows at once.
            for t in 0..<T {
                for b in 0..<rowsAt[t] {
                    let r = rowStart[t] + b
                    let tok = Int(batch.tokens[b * tokStride + t])
                    targets[r] = Int(batch.tokens[b * tokStride + t + 1])
                    (embX + r * M).update(from: w + embW + tok * M, count: M)
                }
            }
            for j in 0..<(4 * H) { lstmBias[j] = w[bIH + j] + w[bHH + j] }
            Dense.transpose(w + wHH, rows: 4 * H, cols: H, ld: H, into: wHHt)
            if att {
                Dense.transpose(w + decAttW, rows: A, cols: H, ld: H, into: decAttWt)
                Dense.transpose(w + fBetaW, rows: E, cols: H, ld: H, into: fBetaWt)
                Dense.transpose(w + wIH + M, rows: 4 * H, cols: E, ld: L, into: wIHCtxT)
            }
            Dense.forward(embX, rows: N, inFeatures: M, weight: w + wIH, ldw: L, bias: lstmBias, outFeatures: 4 * H, into: embGates)
            for t in 0..<T {
                let bt = rowsAt[t], r0 = rowStart[t]
                (hPrev + r0 * H).update(from: h, count: bt * H)
                (cPrev + r0 * H).update(from: cell, count: bt * H)
                // gates = emb part + biases + h · W_hhᵀ (+ ctx · W_ih[:, M:]ᵀ)
                gates.update(from: embGates + r0 * 4 * H, count: bt * 4 * H)
                Dense.forwardTransposed(h, rows: bt, inFeatures: H, weightT: wHHt, bias: nil, outFeatures: 4 * H, into: gates, accumulate: true)
                if att {
                    Dense.forwardTransposed(h, rows: bt, inFeatures: H, weightT: decAttWt, bias: w + decAttB, outFeatures: A, into: decAtt + r0 * A)
                    SoftAttention.forward(rows: bt, regions: P, encoderSize: E, attentionSize: A, features: feat, encAtt: encAtt,
                                          decAtt: decAtt + r0 * A, fullW: w + fullAttW, fullB: w[fullAttB], imageOfRow: nil,
                                          alpha: alpha + r0 * P, awe: awe + r0 * E)
                    // gate = sigmoid(f_beta(h)); ctx = gate * awe
                    let gt = gate + r0 * E
                    Dense.forwardTransposed(h, rows: bt, inFeatures: H, weightT: fBetaWt, bias: w + fBetaB, outFeatures: E, into: gt)
                    VectorMath.map(bt * E, gt, gt, vector: { VectorMath.sigmoid($0) }, scalar: { sigmoid($0) })
                    VectorMath.zip(bt * E, gt, awe + r0 * E, ctx + r0 * E, vector: { $0 * $1 }, scalar: { $0 * $1 })
                    Dense.forwardTransposed(ctx + r0 * E, rows: bt, inFeatures: E, weightT: wIHCtxT, bias: nil,
                                            outFeatures: 4 * H, into: gates, accumulate: true)
                }
                LSTMCellKernel.forward(rows: bt, hidden: H, gates: gates, c: cell, h: h, acts: acts + r0 * 4 * H, tanhC: tanhC + r0 * H)
                (hOut + r0 * H).update(from: h, count: bt * H)
            }
            if dropout, var generator = rng {
                let keep = 1 - c.dropout
                for k in 0..<(N * H) {
                    let s: Float = generator.uniformFloat() < keep ? 1 / keep : 0
                    dropScale[k] = s
                    hOut[k] *= s
                }
                rng = generator
            }
            Dense.forward(hOut, rows: N, inFeatures: H, weight: w + fcW, bias: w + fcB, outFeatures: V, into: logits)
            // Cross-entropy (mean over the N target tokens); logits become dlogits in place.
            let total = targets.withUnsafeBufferPointer {
                softmaxCrossEntropyInPlace(logits, rows: N, columns: V, targets: $0.baseAddress!, scale: 1 / Float(N))
            }
            ce = Float(total / Double(N))

            // ---- Backward ----
            let dPenalty = ar.alloc(att ? B * P : 0)
            if att {
                let sums = ar.alloc(B * P)
                for t in 0..<T { for b in 0..<rowsAt[t] { for p in 0..<P { sums[b * P + p] += alpha[(rowStart[t] + b) * P + p] } } }
                var s: Double = 0
                for k in 0..<(B * P) {
                    let d = 1 - sums[k]
                    s += Double(d * d)
                    dPenalty[k] = attentionPenaltyWeight * 2 * (sums[k] - 1) / Float(B * P)
                }
                penalty = attentionPenaltyWeight * Float(s / Double(B * P))
            }
            let dhOut = ar.alloc(N * H, zeroed: false)
            Dense.backward(logits, rows: N, outFeatures: V, x: hOut, inFeatures: H, weight: w + fcW,
                           gradWeight: g + fcW, gradBias: g + fcB, gradInput: dhOut, accumulateInput: false)
            if dropout { VectorMath.zip(N * H, dhOut, dropScale, dhOut, vector: { $0 * $1 }, scalar: { $0 * $1 }) }
            let dh = ar.alloc(B * H), dc = ar.alloc(B * H), dhNext = ar.alloc(B * H, zeroed: false)
            let dGatesAll = ar.alloc(N * 4 * H, zeroed: false)
            let dEncAtt = ar.alloc(att ? B * P * A : 0)
            let dCtx = ar.alloc(att ? B * E : 0, zeroed: false)
            let dGatePre = ar.alloc(att ? N * E : 0, zeroed: false)
            let dDecAtt = ar.alloc(att ? N * A : 0, zeroed: false)
            let dFeat: UnsafeMutablePointer<Float>? = featureGradient != nil ? ar.alloc(B * P * E) : nil
            for t in stride(from: T - 1, through: 0, by: -1) {
                let bt = rowsAt[t], r0 = rowStart[t]
                // dh (from the next step) + the output layer's gradient, then the cell.
                VectorMath.zip(bt * H, dh, dhOut + r0 * H, dh, vector: { $0 + $1 }, scalar: { $0 + $1 })
                let dG = dGatesAll + r0 * 4 * H
                LSTMCellKernel.backward(rows: bt, hidden: H, acts: acts + r0 * 4 * H, tanhC: tanhC + r0 * H, cPrev: cPrev + r0 * H,
                                        dh: dh, dc: dc, dGates: dG)
                // Only the gradients on h are needed inside the loop; the weight gradients are taken over all steps afterwards.
                Dense.inputGradient(dG, rows: bt, outFeatures: 4 * H, weight: w + wHH, inFeatures: H, into: dhNext, accumulate: false)
                if att {
                    Dense.inputGradient(dG, rows: bt, outFeatures: 4 * H, weight: w + wIH + M, ldw: L, inFeatures: E, into: dCtx, accumulate: false)
                    let gt = gate + r0 * E, aw = awe + r0 * E, dgp = dGatePre + r0 * E
                    for k in 0..<(bt * E) {
                        let gk = gt[k]
                        dgp[k] = dCtx[k] * aw[k] * gk * (1 - gk)
                        dCtx[k] *= gk   // now d awe
                    }
                    Dense.inputGradient(dgp, rows: bt, outFeatures: E, weight: w + fBetaW, inFeatures: H, into: dhNext, accumulate: true)
                    SoftAttention.backward(rows: bt, regions: P, encoderSize: E, attentionSize: A, features: feat, encAtt: encAtt,
                                           decAtt: decAtt + r0 * A, alpha: alpha + r0 * P, dAwe: dCtx, dPenalty: dPenalty,
                                           fullW: w + fullAttW, gradFullW: g + fullAttW, gradFullB: g + fullAttB,
                                           dEncAtt: dEncAtt, dDecAtt: dDecAtt + r0 * A, dFeatures: dFeat)
                    Dense.inputGradient(dDecAtt + r0 * A, rows: bt, outFeatures: A, weight: w + decAttW, inFeatures: H, into: dhNext, accumulate: true)
                }
                dh.update(from: dhNext, count: bt * H)
            }
            // Weight gradients of the recurrent part, over all N rows at once.
            Dense.backward(dGatesAll, rows: N, outFeatures: 4 * H, x: hPrev, inFeatures: H, weight: w + wHH,
                           gradWeight: g + wHH, gradBias: g + bHH, gradInput: nil)
            for t in 0..<T {
                let r0 = rowStart[t]
                for b in 0..<rowsAt[t] { VectorMath.axpy(4 * H, 1, dGatesAll + (r0 + b) * 4 * H, g + bIH) }
            }
            if att {
                Dense.backward(dGatesAll, rows: N, outFeatures: 4 * H, x: ctx, inFeatures: E, weight: w + wIH + M, ldw: L,
                               gradWeight: g + wIH + M, gradBias: nil, gradInput: nil)
                Dense.backward(dGatePre, rows: N, outFeatures: E, x: hPrev, inFeatures: H, weight: w + fBetaW,
                               gradWeight: g + fBetaW, gradBias: g + fBetaB, gradInput: nil)
                Dense.backward(dDecAtt, rows: N, outFeatures: A, x: hPrev, inFeatures: H, weight: w + decAttW,
                               gradWeight: g + decAttW, gradBias: g + decAttB, gradInput: nil)
            }
            // Embedding half of the LSTM input, for all rows at once; then the embedding table.
            let dEmbX = ar.alloc(N * M, zeroed: false)
            Dense.backward(dGatesAll, rows: N, outFeatures: 4 * H, x: embX, inFeatures: M, weight: w + wIH, ldw: L,
                           gradWeight: g + wIH, gradBias: nil, gradInput: dEmbX, accumulateInput: false)
            for t in 0..<T {
                for b in 0..<rowsAt[t] {
                    let r = rowStart[t] + b
                    let tok = Int(batch.tokens[b * tokStride + t])
                    VectorMath.axpy(M, 1, dEmbX + r * M, g + embW + tok * M)
                }
            }
            // Initial state from the mean region.
            let dMean = ar.alloc(B * E)
            Dense.backward(dh, rows: B, outFeatures: H, x: mean, inFeatures: E, weight: w + initHW,
                           gradWeight: g + initHW, gradBias: g + initHB, gradInput: dMean)
            Dense.backward(dc, rows: B, outFeatures: H, x: mean, inFeatures: E, weight: w + initCW,
                           gradWeight: g + initCW, gradBias: g + initCB, gradInput: dMean)
            if att {
                Dense.backward(dEncAtt, rows: B * P, outFeatures: A, x: feat, inFeatures: E, weight: w + encAttW,
                               gradWeight: g + encAttW, gradBias: g + encAttB, gradInput: dFeat)
            }
            if let featureGradient, let dFeat {
                for b in 0..<B { for p in 0..<P { for e in 0..<E { dFeat[(b * P + p) * E + e] += dMean[b * E + e] / Float(P) } } }
                featureGradient.update(from: dFeat, count: B * P * E)
            }
        }
        }
        }
        return StepLoss(crossEntropy: ce, attentionPenalty: penalty, tokens: N)
    }
}

/// Naive reference of `SoftAttention.forward` (kept for the kernel tests): for `rows` rows whose image is the row index: pre = relu(encAtt + decAtt), e = pre · w + b,
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

/// Naive reference of `SoftAttention.backward` (kept for the kernel tests): backward of `attentionForward` for rows `offset ..< offset + rows`; accumulates into dEncAtt, full_att's
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
