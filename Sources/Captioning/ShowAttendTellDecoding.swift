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

    public mutating func step(lastTokens: [Int]) -> (logProbabilities: [Float], attention: [Float]?) {
        let cfg = model.config
        let (V, M, E, A, H, P) = (cfg.vocabularySize, cfg.embeddingSize, cfg.encoderSize, cfg.attentionSize, cfg.hiddenSize, regions)
        let L = cfg.lstmInput
        let R = lastTokens.count
        precondition(R == imageOfRow.count)
        var x = [Float](repeating: 0, count: R * L)
        var gates = [Float](repeating: 0, count: R * 4 * H)
        var alpha = [Float](repeating: 0, count: cfg.useAttention ? R * P : 0)
        var logits = [Float](repeating: 0, count: R * V)
        let m = model
        m.parameters.values.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress!
            for (r, tok) in lastTokens.enumerated() {
                for k in 0..<M { x[r * L + k] = w[m.embW + tok * M + k] }
            }
            if cfg.useAttention {
                var decAtt = [Float](repeating: 0, count: R * A)
                Dense.forward(h, rows: R, inFeatures: H, weight: w + m.decAttW, bias: w + m.decAttB, outFeatures: A, into: &decAtt)
                var pre = [Float](repeating: 0, count: R * P * A)
                var awe = [Float](repeating: 0, count: R * E)
                features.withUnsafeBufferPointer { fb in
                    attentionForward(rows: R, regions: P, encoderSize: E, attentionSize: A, features: fb.baseAddress!, encAtt: encAtt, decAtt: decAtt,
                                     fullW: w + m.fullAttW, fullB: w[m.fullAttB], pre: &pre, preOffset: 0, alpha: &alpha,
                                     aweOut: &awe, offset: 0, imageOfRow: imageOfRow)
                }
                var gate = [Float](repeating: 0, count: R * E)
                Dense.forward(h, rows: R, inFeatures: H, weight: w + m.fBetaW, bias: w + m.fBetaB, outFeatures: E, into: &gate)
                for r in 0..<R { for e in 0..<E { x[r * L + M + e] = sigmoid(gate[r * E + e]) * awe[r * E + e] } }
            }
            Dense.forward(x, rows: R, inFeatures: L, weight: w + m.wIH, bias: w + m.bIH, outFeatures: 4 * H, into: &gates)
            Dense.forward(h, rows: R, inFeatures: H, weight: w + m.wHH, bias: w + m.bHH, outFeatures: 4 * H, into: &gates, accumulate: true)
            for r in 0..<R {
                for j in 0..<H {
                    let g = r * 4 * H
                    let gi = sigmoid(gates[g + j]), gf = sigmoid(gates[g + H + j]), gg = tanhf(gates[g + 2 * H + j]), go = sigmoid(gates[g + 3 * H + j])
                    let cn = gf * c[r * H + j] + gi * gg
                    c[r * H + j] = cn
                    h[r * H + j] = go * tanhf(cn)
                }
            }
            Dense.forward(h, rows: R, inFeatures: H, weight: w + m.fcW, bias: w + m.fcB, outFeatures: V, into: &logits)
        }
        logSoftmaxRows(&logits, rows: R, columns: V)
        return (logits, cfg.useAttention ? alpha : nil)
    }

    public mutating func select(rows parents: [Int]) {
        let H = model.config.hiddenSize
        var nh = [Float](repeating: 0, count: parents.count * H), nc = nh
        for (i, p) in parents.enumerated() {
            for j in 0..<H { nh[i * H + j] = h[p * H + j]; nc[i * H + j] = c[p * H + j] }
        }
        h = nh
        c = nc
        imageOfRow = parents.map { imageOfRow[$0] }
    }
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
