import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Sizes of the transformer caption decoder.
public struct TransformerConfig: Sendable, Equatable, Codable {
    public var vocabularySize: Int
    public var modelSize: Int
    public var heads: Int
    public var feedForwardSize: Int
    public var layers: Int
    public var encoderSize: Int
    public var maxPositions: Int
    public var dropout: Float
    public var labelSmoothing: Float

    public init(vocabularySize: Int, modelSize: Int = 512, heads: Int = 8, feedForwardSize: Int = 2048, layers: Int = 3,
                encoderSize: Int, maxPositions: Int = 64, dropout: Float = 0.1, labelSmoothing: Float = 0) {
        precondition(modelSize % heads == 0, "model size must be a multiple of the head count")
        self.vocabularySize = vocabularySize
        self.modelSize = modelSize
        self.heads = heads
        self.feedForwardSize = feedForwardSize
        self.layers = layers
        self.encoderSize = encoderSize
        self.maxPositions = maxPositions
        self.dropout = dropout
        self.labelSmoothing = labelSmoothing
    }
}

/// A pre-norm transformer decoder over image regions: token `embedding` + learned `pos_embedding`; memory =
/// `mem_proj`(regions) + fixed 2-D sinusoidal positions of the region grid; `layers.N` with PyTorch's
/// `nn.TransformerDecoderLayer(norm_first=True)` names (`self_attn`, `multihead_attn`, `linear1`, `linear2`,
/// `norm1..3`); a final LayerNorm `norm`; output layer `fc`. Forward/backward are written out by hand
/// (llm.c style); decoding uses a key/value cache.
public final class TransformerDecoder {
    public let config: TransformerConfig
    public let parameters = ParameterStore()

    struct Layer {
        var saIn, saInB, saOut, saOutB, caIn, caInB, caOut, caOutB: Int
        var l1, l1B, l2, l2B, n1, n1B, n2, n2B, n3, n3B: Int
    }
    let emb, pos, memW, memB, normW, normB, fcW, fcB: Int
    let layers: [Layer]

    public init(_ c: TransformerConfig) {
        config = c
        let p = parameters
        let (V, D, F, E) = (c.vocabularySize, c.modelSize, c.feedForwardSize, c.encoderSize)
        emb = p.add("embedding.weight", shape: [V, D])
        pos = p.add("pos_embedding.weight", shape: [c.maxPositions, D])
        memW = p.add("mem_proj.weight", shape: [D, E]); memB = p.add("mem_proj.bias", shape: [D])
        var ls: [Layer] = []
        for i in 0..<c.layers {
            let n = "layers.\(i)."
            ls.append(Layer(
                saIn: p.add(n + "self_attn.in_proj_weight", shape: [3 * D, D]), saInB: p.add(n + "self_attn.in_proj_bias", shape: [3 * D]),
                saOut: p.add(n + "self_attn.out_proj.weight", shape: [D, D]), saOutB: p.add(n + "self_attn.out_proj.bias", shape: [D]),
                caIn: p.add(n + "multihead_attn.in_proj_weight", shape: [3 * D, D]), caInB: p.add(n + "multihead_attn.in_proj_bias", shape: [3 * D]),
                caOut: p.add(n + "multihead_attn.out_proj.weight", shape: [D, D]), caOutB: p.add(n + "multihead_attn.out_proj.bias", shape: [D]),
                l1: p.add(n + "linear1.weight", shape: [F, D]), l1B: p.add(n + "linear1.bias", shape: [F]),
                l2: p.add(n + "linear2.weight", shape: [D, F]), l2B: p.add(n + "linear2.bias", shape: [D]),
                n1: p.add(n + "norm1.weight", shape: [D]), n1B: p.add(n + "norm1.bias", shape: [D]),
                n2: p.add(n + "norm2.weight", shape: [D]), n2B: p.add(n + "norm2.bias", shape: [D]),
                n3: p.add(n + "norm3.weight", shape: [D]), n3B: p.add(n + "norm3.bias", shape: [D])))
        }
        layers = ls
        normW = p.add("norm.weight", shape: [D]); normB = p.add("norm.bias", shape: [D])
        fcW = p.add("fc.weight", shape: [V, D]); fcB = p.add("fc.bias", shape: [V])
    }

    /// PyTorch's initialisation: embeddings N(0, 1) scaled by 1/sqrt(D) here for a stable start, Xavier-uniform
    /// attention projections with zero biases, Linear layers uniform ±1/sqrt(fan_in), LayerNorms 1 and 0.
    public func initialise(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let D = config.modelSize
        for e in parameters.entries {
            let r = e.offset..<(e.offset + e.count)
            if e.name.hasSuffix("norm1.weight") || e.name.hasSuffix("norm2.weight") || e.name.hasSuffix("norm3.weight") || e.name == "norm.weight" {
                for i in r { parameters.values[i] = 1 }
            } else if e.name.hasSuffix("in_proj_bias") || e.name.hasSuffix("out_proj.bias") || e.name.contains("norm") {
                for i in r { parameters.values[i] = 0 }
            } else if e.name.hasSuffix("in_proj_weight") {
                let bound = (6 / Float(D + D)).squareRoot()
                for i in r { parameters.values[i] = rng.uniform(-bound, bound) }
            } else if e.name == "embedding.weight" || e.name == "pos_embedding.weight" {
                let s = 1 / Float(D).squareRoot()
                for i in r { parameters.values[i] = Float(rng.normal()) * s }
            } else {
                let fanIn = e.shape.count > 1 ? e.shape[1] : (parameters.entry(e.name.replacingSuffix(".bias", ".weight"))?.shape.last ?? 1)
                let bound = 1 / Float(fanIn).squareRoot()
                for i in r { parameters.values[i] = rng.uniform(-bound, bound) }
            }
        }
    }
}

/// Fixed 2-D sinusoidal positions of a `grid x grid` region map, `[grid², d]`: the first d/2 values encode the row,
/// the rest the column (sin at even, cos at odd offsets, wavelengths 10000^(i/d')). Non-square region counts
/// are treated as one row.
func gridPositions(regions: Int, size d: Int) -> [Float] {
    var grid = Int(Double(regions).squareRoot().rounded())
    var rowsCount = grid
    if grid * grid != regions { grid = regions; rowsCount = 1 }
    func sinusoid(_ pos: Int, _ n: Int, into out: inout [Double]) {
        var i = 0
        while i < n {
            let angle = Double(pos) / pow(10000, Double(i) / Double(n))
            out.append(sin(angle))
            if i + 1 < n { out.append(cos(angle)) }
            i += 2
        }
    }
    var result: [Float] = []
    result.reserveCapacity(regions * d)
    for y in 0..<rowsCount {
        for x in 0..<grid {
            var v: [Double] = []
            sinusoid(y, d / 2, into: &v)
            sinusoid(x, d - d / 2, into: &v)
            result += v.map { Float($0) }
        }
    }
    return result
}

/// LayerNorm over the last dimension (eps 1e-5). Stores each row's mean and 1/std for the backward pass.
func layerNormForward(_ x: UnsafePointer<Float>, rows: Int, size d: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                      out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?) {
    for r in 0..<rows {
        let row = x + r * d
        var m: Float = 0
        for j in 0..<d { m += row[j] }
        m /= Float(d)
        var v: Float = 0
        for j in 0..<d { let c = row[j] - m; v += c * c }
        v /= Float(d)
        let s = 1 / (v + 1e-5).squareRoot()
        mean?[r] = m
        rstd?[r] = s
        for j in 0..<d { out[r * d + j] = (row[j] - m) * s * gamma[j] + beta[j] }
    }
}

/// Backward of `layerNormForward`: accumulates dγ, dβ and adds the input gradient to `dx`.
func layerNormBackward(_ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int, size d: Int,
                       mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                       dx: UnsafeMutablePointer<Float>, dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let m = mean[r], s = rstd[r]
        var sumG: Float = 0, sumGX: Float = 0
        for j in 0..<d {
            let xhat = (x[r * d + j] - m) * s
            let g = dy[r * d + j]
            dGamma[j] += g * xhat
            dBeta[j] += g
            let gg = g * gamma[j]
            sumG += gg
            sumGX += gg * xhat
        }
        let inv = 1 / Float(d)
        for j in 0..<d {
            let xhat = (x[r * d + j] - m) * s
            dx[r * d + j] += s * (dy[r * d + j] * gamma[j] - inv * sumG - xhat * inv * sumGX)
        }
    }
}

/// Scaled dot-product attention of every (batch, head): `probs = softmax(q kᵀ / sqrt(dh))` (causal when asked)
/// and `ctx = probs v`. q/k/v rows are strided (`ldq`, `ldk`, `ldv`), head h at column h·dh.
func attentionCore(batch: Int, heads: Int, headSize dh: Int, queries tq: Int, keys tk: Int, causal: Bool,
                   q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
                   probs: UnsafeMutablePointer<Float>, ctx: UnsafeMutablePointer<Float>, ldc: Int) {
    let scale = 1 / Float(dh).squareRoot()
    for b in 0..<batch {
        for h in 0..<heads {
            let p = probs + (b * heads + h) * tq * tk
            sgemm(.noTranspose, .transpose, m: tq, n: tk, k: dh, alpha: scale, a: q + b * tq * ldq + h * dh, lda: ldq,
                  b: k + b * tk * ldk + h * dh, ldb: ldk, beta: 0, c: p, ldc: tk)
            for i in 0..<tq {
                let row = p + i * tk
                let limit = causal ? min(i + 1, tk) : tk
                softmaxInPlace(limit, row)
                for j in limit..<tk { row[j] = 0 }
            }
            sgemm(.noTranspose, .noTranspose, m: tq, n: dh, k: tk, alpha: 1, a: p, lda: tk, b: v + b * tk * ldv + h * dh, ldb: ldv,
                  beta: 0, c: ctx + b * tq * ldc + h * dh, ldc: ldc)
        }
    }
}

/// Backward of `attentionCore`: from dctx, accumulates dq, dk, dv (same strides as q, k, v).
func attentionCoreBackward(batch: Int, heads: Int, headSize dh: Int, queries tq: Int, keys tk: Int,
                           q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
                           probs: UnsafePointer<Float>, dctx: UnsafePointer<Float>, ldc: Int,
                           dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(dh).squareRoot()
    var dp = [Float](repeating: 0, count: tq * tk)
    dp.withUnsafeMutableBufferPointer { dpb in
        let d = dpb.baseAddress!
        for b in 0..<batch {
            for h in 0..<heads {
                let p = probs + (b * heads + h) * tq * tk
                let dc = dctx + b * tq * ldc + h * dh
                // dv += pᵀ dctx ; dp = dctx vᵀ
                sgemm(.transpose, .noTranspose, m: tk, n: dh, k: tq, alpha: 1, a: p, lda: tk, b: dc, ldb: ldc,
                      beta: 1, c: dv + b * tk * ldv + h * dh, ldc: ldv)
                sgemm(.noTranspose, .transpose, m: tq, n: tk, k: dh, alpha: 1, a: dc, lda: ldc, b: v + b * tk * ldv + h * dh, ldb: ldv,
                      beta: 0, c: d, ldc: tk)
                for i in 0..<tq {
                    var dot: Float = 0
                    for j in 0..<tk { dot += d[i * tk + j] * p[i * tk + j] }
                    for j in 0..<tk { d[i * tk + j] = p[i * tk + j] * (d[i * tk + j] - dot) * scale }
                }
                // dq += ds k ; dk += dsᵀ q
                sgemm(.noTranspose, .noTranspose, m: tq, n: dh, k: tk, alpha: 1, a: d, lda: tk, b: k + b * tk * ldk + h * dh, ldb: ldk,
                      beta: 1, c: dq + b * tq * ldq + h * dh, ldc: ldq)
                sgemm(.transpose, .noTranspose, m: tk, n: dh, k: tq, alpha: 1, a: d, lda: tk, b: q + b * tq * ldq + h * dh, ldb: ldq,
                      beta: 1, c: dk + b * tk * ldk + h * dh, ldc: ldk)
            }
        }
    }
}
