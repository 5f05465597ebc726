import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Inference with a `ShowAttendTell` model, one token per step for every live row (images x beams).
/// The region projection of the attention is computed once per image, not at every step.
public struct ShowAttendTellStepDecoder: StepDecoder {
    public let model: ShowAttendTell
    public var vocabularySize: Int { model.config.vocabularySize }
    let regions: Int
    let features: [Float]        // [images, P, E]
    let encAtt: [Float]          // [images, P, A]
    var imageOfRow: [Int]
    var h: [Float]
    var c: [Float]

    /// - Parameter features: `[imageCount, regions, encoderSize]` region features.
    public init(model: ShowAttendTell, features: [Float], imageCount: Int, regions: Int) {
        let cfg = model.config
        let (E, H, A) = (cfg.encoderSize, cfg.hiddenSize, cfg.attentionSize)
        precondition(features.count == imageCount * regions * E, "features do not match [\(imageCount), \(regions), \(E)]")
        self.model = model
        self.regions = regions
        self.features = features
        imageOfRow = Array(0..<imageCount)
        var mean = [Float](repeating: 0, count: imageCount * E)
        for i in 0..<imageCount {
            for p in 0..<regions { for e in 0..<E { mean[i * E + e] += features[(i * regions + p) * E + e] } }
            for e in 0..<E { mean[i * E + e] /= Float(regions) }
        }
        var h = [Float](repeating: 0, count: imageCount * H), c = h
        var encAtt = [Float](repeating: 0, count: cfg.useAttention ? imageCount * regions * A : 0)
        model.parameters.values.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress!
            Dense.forward(mean, rows: imageCount, inFeatures: E, weight: w + model.initHW, bias: w + model.initHB, outFeatures: H, into: &h)
            Dense.forward(mean, rows: imageCount, inFeatures: E, weight: w + model.initCW, bias: w + model.initCB, outFeatures: H, into: &c)
            if cfg.useAttention {
                Dense.forward(features, rows: imageCount * regions, inFeatures: E, weight: w + model.encAttW, bias: w + model.encAttB,
                              outFeatures: A, into: &encAtt)
            }
        }
        self.h = h
        self.c = c
        self.encAtt = encAtt
    }

    /// Per-step buffers, reused across steps (re-created when the decoder value was copied).
    var scratch = DecoderScratch()

    public mutating func step(lastTokens: [Int]) -> (logProbabilities: [Float], attention: [Float]?) {
        let cfg = model.config
        let (V, M, E, A, H, P) = (cfg.vocabularySize, cfg.embeddingSize, cfg.encoderSize, cfg.attentionSize, cfg.hiddenSize, regions)
        let L = cfg.lstmInput
        let R = lastTokens.count
        precondition(R == imageOfRow.count)
        if !isKnownUniquelyReferenced(&scratch) { scratch = DecoderScratch() }
        let att = cfg.useAttention
        // x [R, L] | gates [R, 4H] | decAtt [R, A] | gate [R, E]
        let buf = scratch.floats(R * L + R * 4 * H + (att ? R * (A + E) : 0))
        let x = buf, gates = x + R * L, decAtt = gates + R * 4 * H, gate = decAtt + R * A
        var alpha = [Float](unsafeUninitializedCapacity: att ? R * P : 0) { _, n in n = att ? R * P : 0 }
        var logits = [Float](unsafeUninitializedCapacity: R * V) { _, n in n = R * V }
        let m = model
        let panels = m.stepPanelCache.panels(for: m)
        m.parameters.values.withUnsafeBufferPointer { wb in
        h.withUnsafeMutableBufferPointer { hb in
        c.withUnsafeMutableBufferPointer { cb in
            let w = wb.baseAddress!, hp = hb.baseAddress!, cp = cb.baseAddress!
            for (r, tok) in lastTokens.enumerated() { (x + r * L).update(from: w + m.embW + tok * M, count: M) }
            // Every product of the previous h in one pass (one thread-pool dispatch): the hidden half of the
            // LSTM gates (with both biases) and, with attention, decoder_att and f_beta, all accumulated onto
            // their biases; the weights are streamed once from their panel layout.
            for r in 0..<R {
                let g = gates + r * 4 * H
                for j in 0..<(4 * H) { g[j] = w[m.bIH + j] + w[m.bHH + j] }
            }
            var onH = [PanelProduct(a: hp, lda: H, weights: panels.wHH, c: gates, ldc: 4 * H, accumulate: true)]
            if att, let decAttP = panels.decAtt, let fBetaP = panels.fBeta {
                for r in 0..<R {
                    (decAtt + r * A).update(from: w + m.decAttB, count: A)
                    (gate + r * E).update(from: w + m.fBetaB, count: E)
                }
                onH.insert(PanelProduct(a: hp, lda: H, weights: decAttP, c: decAtt, ldc: A, accumulate: true), at: 0)
                onH.insert(PanelProduct(a: hp, lda: H, weights: fBetaP, c: gate, ldc: E, accumulate: true), at: 1)
            }
            panelGEMM(m: R, onH)
            if att {
                // awe goes straight into the context half of x, then is gated in place.
                features.withUnsafeBufferPointer { fb in
                encAtt.withUnsafeBufferPointer { eb in
                alpha.withUnsafeMutableBufferPointer { ab in
                imageOfRow.withUnsafeBufferPointer { ib in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: R * E) { aweBuf in
                        let awe = aweBuf.baseAddress!
                        SoftAttention.forward(rows: R, regions: P, encoderSize: E, attentionSize: A, features: fb.baseAddress!,
                                              encAtt: eb.baseAddress!, decAtt: decAtt, fullW: w + m.fullAttW, fullB: w[m.fullAttB],
                                              imageOfRow: ib.baseAddress!, alpha: ab.baseAddress!, awe: awe)
                        for r in 0..<R {
                            VectorMath.zip(E, gate + r * E, awe + r * E, x + r * L + M,
                                           vector: { VectorMath.sigmoid($0) * $1 }, scalar: { sigmoid($0) * $1 })
                        }
                    }
                }
                }
                }
                }
            }
            panelGEMM(m: R, [PanelProduct(a: x, lda: L, weights: panels.wIH, c: gates, ldc: 4 * H, accumulate: true)])
            LSTMCellKernel.forward(rows: R, hidden: H, gates: gates, c: cp, h: hp)
            logits.withUnsafeMutableBufferPointer { lb in
                let lp = lb.baseAddress!
                for r in 0..<R { (lp + r * V).update(from: w + m.fcB, count: V) }
                panelGEMM(m: R, [PanelProduct(a: hp, lda: H, weights: panels.fc, c: lp, ldc: V, accumulate: true)])
                logSoftmaxRowsInPlace(lp, rows: R, columns: V)
            }
        }
        }
        }
        return (logits, att ? alpha : nil)
    }

    public mutating func select(rows parents: [Int]) {
        let H = model.config.hiddenSize
        let identity = parents.count == imageOfRow.count && parents.enumerated().allSatisfy { $0.offset == $0.element }
        if identity { return }
        let nh = [Float](unsafeUninitializedCapacity: parents.count * H) { out, n in
            h.withUnsafeBufferPointer { src in
                for (i, p) in parents.enumerated() { (out.baseAddress! + i * H).initialize(from: src.baseAddress! + p * H, count: H) }
            }
            n = parents.count * H
        }
        let nc = [Float](unsafeUninitializedCapacity: parents.count * H) { out, n in
            c.withUnsafeBufferPointer { src in
                for (i, p) in parents.enumerated() { (out.baseAddress! + i * H).initialize(from: src.baseAddress! + p * H, count: H) }
            }
            n = parents.count * H
        }
        h = nh
        c = nc
        imageOfRow = parents.map { imageOfRow[$0] }
    }
}

/// A growable scratch block of floats (its contents are not preserved between requests).
final class DecoderScratch {
    private var pointer: UnsafeMutablePointer<Float>?
    private var capacity = 0

    /// At least `count` floats (uninitialised, 64-byte aligned).
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity || pointer == nil {
            pointer.map { UnsafeMutableRawPointer($0).deallocate() }
            capacity = max(count, 1)
            pointer = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64).bindMemory(to: Float.self, capacity: capacity)
        }
        return pointer!
    }

    deinit { pointer.map { UnsafeMutableRawPointer($0).deallocate() } }
}

/// In-place, numerically stable log-softmax of each row.
func logSoftmaxRows(_ x: inout [Float], rows: Int, columns: Int) {
    for r in 0..<rows {
        let o = r * columns
        var m = -Float.infinity
        for v in 0..<columns { m = max(m, x[o + v]) }
        var s: Float = 0
        for v in 0..<columns { s += expf(x[o + v] - m) }
        let lse = m + logf(s)
        for v in 0..<columns { x[o + v] -= lse }
    }
}
