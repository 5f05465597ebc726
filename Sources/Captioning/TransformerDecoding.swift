import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Inference with a `TransformerDecoder`, one token per step for every live row, with a key/value cache: each
/// step runs only the new position through the layers (no recomputation of the prefix), and the regions' keys
/// and values for cross-attention are computed once per image.
public struct TransformerStepDecoder: StepDecoder {
    public let model: TransformerDecoder
    public var vocabularySize: Int { model.config.vocabularySize }
    let regions: Int
    /// Per layer: cross-attention keys/values `[images, P, 2D]`.
    let memoryKV: [[Float]]
    /// Per layer: self-attention keys and values of every row so far, `[rows, maxPositions, D]` each.
    var selfK: [[Float]]
    var selfV: [[Float]]
    var imageOfRow: [Int]
    var position = 0

    public init(model: TransformerDecoder, features: [Float], imageCount: Int, regions: Int) {
        let c = model.config
        let (D, E) = (c.modelSize, c.encoderSize)
        precondition(features.count == imageCount * regions * E)
        self.model = model
        self.regions = regions
        var mem = [Float](repeating: 0, count: imageCount * regions * D)
        var kv: [[Float]] = []
        model.parameters.values.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress!
            Dense.forward(features, rows: imageCount * regions, inFeatures: E, weight: w + model.memW, bias: w + model.memB, outFeatures: D, into: &mem)
            let grid = gridPositions(regions: regions, size: D)
            for i in 0..<imageCount { for k in 0..<(regions * D) { mem[i * regions * D + k] += grid[k] } }
            for L in model.layers {
                var m = [Float](repeating: 0, count: imageCount * regions * 2 * D)
                Dense.forward(mem, rows: imageCount * regions, inFeatures: D, weight: w + L.caIn + D * D, bias: w + L.caInB + D, outFeatures: 2 * D, into: &m)
                kv.append(m)
            }
        }
        memoryKV = kv
        selfK = Array(repeating: [], count: c.layers)
        selfV = Array(repeating: [], count: c.layers)
        for l in 0..<c.layers {
            selfK[l] = [Float](repeating: 0, count: imageCount * c.maxPositions * D)
            selfV[l] = selfK[l]
        }
        imageOfRow = Array(0..<imageCount)
    }

    public mutating func step(lastTokens: [Int]) -> (logProbabilities: [Float], attention: [Float]?) {
        let c = model.config
        let (V, D, F, H, P, S) = (c.vocabularySize, c.modelSize, c.feedForwardSize, c.heads, regions, c.maxPositions)
        let dh = D / H
        let R = lastTokens.count
        let t = min(position, S - 1)
        let scale = 1 / Float(dh).squareRoot()
        var x = [Float](repeating: 0, count: R * D)
        var lastCross = [Float](repeating: 0, count: R * P)
        var logits = [Float](repeating: 0, count: R * V)
        let m = model
        m.parameters.values.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress!
            for (r, tok) in lastTokens.enumerated() {
                for j in 0..<D { x[r * D + j] = w[m.emb + tok * D + j] + w[m.pos + t * D + j] }
            }
            var ln = [Float](repeating: 0, count: R * D)
            var qkv = [Float](repeating: 0, count: R * 3 * D)
            var ctx = [Float](repeating: 0, count: R * D)
            var out = [Float](repeating: 0, count: R * D)
            var hid = [Float](repeating: 0, count: R * F)
            var scores = [Float](repeating: 0, count: max(S, P))
            for (l, L) in m.layers.enumerated() {
                // Self-attention over the cached prefix plus this position.
                layerNormForward(x, rows: R, size: D, gamma: w + L.n1, beta: w + L.n1B, out: &ln, mean: nil, rstd: nil)
                Dense.forward(ln, rows: R, inFeatures: D, weight: w + L.saIn, bias: w + L.saInB, outFeatures: 3 * D, into: &qkv)
                for r in 0..<R {
                    for j in 0..<D {
                        selfK[l][(r * S + t) * D + j] = qkv[r * 3 * D + D + j]
                        selfV[l][(r * S + t) * D + j] = qkv[r * 3 * D + 2 * D + j]
                    }
                    for h in 0..<H {
                        var mx = -Float.infinity
                        for s in 0...t {
                            var dot: Float = 0
                            for j in 0..<dh { dot += qkv[r * 3 * D + h * dh + j] * selfK[l][(r * S + s) * D + h * dh + j] }
                            scores[s] = dot * scale
                            mx = max(mx, scores[s])
                        }
                        var sum: Float = 0
                        for s in 0...t { scores[s] = expf(scores[s] - mx); sum += scores[s] }
                        for j in 0..<dh {
                            var acc: Float = 0
                            for s in 0...t { acc += scores[s] * selfV[l][(r * S + s) * D + h * dh + j] }
                            ctx[r * D + h * dh + j] = acc / sum
                        }
                    }
                }
                Dense.forward(ctx, rows: R, inFeatures: D, weight: w + L.saOut, bias: w + L.saOutB, outFeatures: D, into: &out)
                for k in 0..<(R * D) { x[k] += out[k] }
                // Cross-attention over the image's regions.
                layerNormForward(x, rows: R, size: D, gamma: w + L.n2, beta: w + L.n2B, out: &ln, mean: nil, rstd: nil)
                Dense.forward(ln, rows: R, inFeatures: D, weight: w + L.caIn, bias: w + L.caInB, outFeatures: D, into: &out)
                let kv = memoryKV[l]
                let isLast = l == m.layers.count - 1
                for r in 0..<R {
                    let img = imageOfRow[r]
                    for h in 0..<H {
                        var mx = -Float.infinity
                        for p in 0..<P {
                            var dot: Float = 0
                            for j in 0..<dh { dot += out[r * D + h * dh + j] * kv[(img * P + p) * 2 * D + h * dh + j] }
                            scores[p] = dot * scale
                            mx = max(mx, scores[p])
                        }
                        var sum: Float = 0
                        for p in 0..<P { scores[p] = expf(scores[p] - mx); sum += scores[p] }
                        for j in 0..<dh {
                            var acc: Float = 0
                            for p in 0..<P { acc += scores[p] * kv[(img * P + p) * 2 * D + D + h * dh + j] }
                            ctx[r * D + h * dh + j] = acc / sum
                        }
                        if isLast { for p in 0..<P { lastCross[r * P + p] += scores[p] / sum / Float(H) } }
                    }
                }
                Dense.forward(ctx, rows: R, inFeatures: D, weight: w + L.caOut, bias: w + L.caOutB, outFeatures: D, into: &out)
                for k in 0..<(R * D) { x[k] += out[k] }
                // Feed-forward.
                layerNormForward(x, rows: R, size: D, gamma: w + L.n3, beta: w + L.n3B, out: &ln, mean: nil, rstd: nil)
                Dense.forward(ln, rows: R, inFeatures: D, weight: w + L.l1, bias: w + L.l1B, outFeatures: F, into: &hid)
                for k in 0..<(R * F) { hid[k] = max(hid[k], 0) }
                Dense.forward(hid, rows: R, inFeatures: F, weight: w + L.l2, bias: w + L.l2B, outFeatures: D, into: &out)
                for k in 0..<(R * D) { x[k] += out[k] }
            }
            layerNormForward(x, rows: R, size: D, gamma: w + m.normW, beta: w + m.normB, out: &ln, mean: nil, rstd: nil)
            Dense.forward(ln, rows: R, inFeatures: D, weight: w + m.fcW, bias: w + m.fcB, outFeatures: V, into: &logits)
        }
        position += 1
        logits.withUnsafeMutableBufferPointer { logSoftmaxRowsInPlace($0.baseAddress!, rows: R, columns: V) }
        return (logits, lastCross)
    }

    public mutating func select(rows parents: [Int]) {
        let c = model.config
        let n = c.maxPositions * c.modelSize
        let used = min(position, c.maxPositions) * c.modelSize
        for l in 0..<c.layers {
            var k = [Float](repeating: 0, count: parents.count * n), v = k
            for (i, p) in parents.enumerated() {
                for j in 0..<used { k[i * n + j] = selfK[l][p * n + j]; v[i * n + j] = selfV[l][p * n + j] }
            }
            selfK[l] = k
            selfV[l] = v
        }
        imageOfRow = parents.map { imageOfRow[$0] }
    }
}
