import Tensors

/// Additive (Bahdanau) attention as in Show, Attend and Tell:
/// `e = full_att(relu(encoder_att(enc) + decoder_att(h)))`, `alpha = softmax(e)` over regions,
/// `context = sum_r alpha_r enc_r`.
public final class AdditiveAttention: Module {
    public let encoderAtt: Linear, decoderAtt: Linear, fullAtt: Linear

    public init(encoderDim: Int, decoderDim: Int, attentionDim: Int, rng: inout SeededRandom) {
        encoderAtt = Linear(encoderDim, attentionDim, rng: &rng)
        decoderAtt = Linear(decoderDim, attentionDim, rng: &rng)
        fullAtt = Linear(attentionDim, 1, rng: &rng)
    }

    public var namedParameters: [(String, Variable)] {
        prefixed("encoder_att", encoderAtt.namedParameters) + prefixed("decoder_att", decoderAtt.namedParameters)
            + prefixed("full_att", fullAtt.namedParameters)
    }

    /// `encoder_att(enc)`: constant across decoding steps, so compute it once per batch.
    public func projectEncoder(_ encoderOut: Variable) -> Variable { encoderAtt(encoderOut) }

    /// `encoderOut [B, R, E]`, `projected = projectEncoder(encoderOut) [B, R, A]`, `hidden [B, H]`
    /// -> `(context [B, E], alpha [B, R])`.
    public func callAsFunction(_ encoderOut: Variable, projected: Variable, hidden: Variable) -> (context: Variable, alpha: Variable) {
        let b = encoderOut.shape[0], r = encoderOut.shape[1], e = encoderOut.shape[2]
        let att2 = decoderAtt(hidden).reshaped([b, 1, -1])
        let scores = fullAtt((projected + att2).relu()).reshaped([b, r])
        let alpha = scores.softmax(axis: -1)
        let context = matmul(alpha.reshaped([b, 1, r]), encoderOut).reshaped([b, e])
        return (context, alpha)
    }

    public func callAsFunction(_ encoderOut: Variable, hidden: Variable) -> (context: Variable, alpha: Variable) {
        self(encoderOut, projected: projectEncoder(encoderOut), hidden: hidden)
    }
}

/// `nn.MultiheadAttention` (batch first) with PyTorch's parameter names: `in_proj_weight [3D, D]`,
/// `in_proj_bias [3D]`, `out_proj.weight [D, D]`, `out_proj.bias [D]`. Scaled dot-product attention
/// per head; optional causal mask and key-padding mask (true = padded key, ignored); masked
/// scores are -inf, so a query whose keys are all masked yields NaN, as in PyTorch.
public final class MultiheadAttention: Module {
    public let inProjWeight: Variable, inProjBias: Variable
    public let outProj: Linear
    public let embedDim: Int, heads: Int

    /// Initialisation as PyTorch: in_proj xavier-uniform, biases zero, out_proj.weight ±1/sqrt(D).
    public init(embedDim: Int, heads: Int, rng: inout SeededRandom) {
        precondition(embedDim % heads == 0, "embedDim \(embedDim) not divisible by heads \(heads)")
        self.embedDim = embedDim
        self.heads = heads
        inProjWeight = parameter(Tensor.xavierUniform([3 * embedDim, embedDim], rng: &rng))
        inProjBias = parameter(Tensor.zeros([3 * embedDim]))
        outProj = Linear(embedDim, embedDim, rng: &rng)
        outProj.bias!.value.fill(0)
    }

    public var namedParameters: [(String, Variable)] {
        [("in_proj_weight", inProjWeight), ("in_proj_bias", inProjBias)] + prefixed("out_proj", outProj.namedParameters)
    }

    /// Keys and values of past positions for incremental decoding, `[B, heads, S, D/heads]` each.
    public struct KVCache {
        public var keys: Tensor?
        public var values: Tensor?
        public init() {}
        public var length: Int { keys?.shape[2] ?? 0 }
        /// Reorders the batch (e.g. after beam search picks its survivors).
        public func reordered(_ batchIndices: [Int]) -> KVCache {
            var c = KVCache()
            c.keys = keys?.gatherRows(batchIndices)
            c.values = values?.gatherRows(batchIndices)
            return c
        }
    }

    private func project(_ x: Variable, part: Range<Int>) -> Variable {
        let d = embedDim
        if part == 0..<3 {
            return linear(x, inProjWeight, inProjBias)
        }
        let w = inProjWeight.narrowed(axis: 0, start: part.lowerBound * d, length: part.count * d)
        let b = inProjBias.narrowed(axis: 0, start: part.lowerBound * d, length: part.count * d)
        return linear(x, w, b)
    }

    /// `[B, T, n*D]` -> n tensors `[B, heads, T, D/heads]`.
    private func splitHeads(_ x: Variable, _ n: Int) -> [Variable] {
        let b = x.shape[0], t = x.shape[1]
        let s = x.reshaped([b, t, n, heads, embedDim / heads]).permuted([2, 0, 3, 1, 4])
        if n == 1 { return [s.reshaped([b, heads, t, embedDim / heads])] }
        return (0..<n).map { s.narrowed(axis: 0, start: $0, length: 1).reshaped([b, heads, t, embedDim / heads]) }
    }

    /// Additive mask `[B or 1, 1, T, S]` (or nil) for causal attention of T queries at positions
    /// `offset..<offset+T` over S keys, and/or key padding `[B][S]`.
    static func mask(batch: Int, queries t: Int, keys s: Int, offset: Int, causal: Bool, keyPadding: [[Bool]]?) -> Tensor? {
        if !causal && keyPadding == nil { return nil }
        let bm = keyPadding == nil ? 1 : batch
        if let kp = keyPadding { precondition(kp.count == batch && kp.allSatisfy { $0.count == s }, "key padding mask must be [\(batch)][\(s)]") }
        return Tensor(shape: [bm, 1, t, s]) { m in
            for bi in 0..<bm { for i in 0..<t { for j in 0..<s {
                var masked = causal && j > offset + i
                if let kp = keyPadding, kp[bi][j] { masked = true }
                m[(bi * t + i) * s + j] = masked ? -.infinity : 0
            } } }
        }
    }

    /// Attention of `q [B, h, T, dh]` over `k, v [B, h, S, dh]` -> (output `[B, T, D]`, weights `[B, h, T, S]`).
    private func attend(_ q: Variable, _ k: Variable, _ v: Variable, mask: Tensor?) -> (Variable, Variable) {
        let b = q.shape[0], t = q.shape[2]
        var scores = matmul(q, k, transposeB: true) * (1 / Float(embedDim / heads).squareRoot())
        if let mask { scores = scores + Variable(mask) }
        let weights = scores.softmax(axis: -1)
        let out = matmul(weights, v).permuted([0, 2, 1, 3]).reshaped([b, t, embedDim])
        return (outProj(out), weights)
    }

    /// Full attention: `query [B, T, D]`, `key`/`value [B, S, D]` -> (output `[B, T, D]`,
    /// head-averaged weights `[B, T, S]`). Pass the same object three times for self-attention.
    public func callAsFunction(query: Variable, key: Variable, value: Variable, causal: Bool = false,
                               keyPaddingMask: [[Bool]]? = nil) -> (output: Variable, weights: Variable) {
        let b = query.shape[0], t = query.shape[1], s = key.shape[1]
        let q: Variable, k: Variable, v: Variable
        if query === key && key === value {
            let p = splitHeads(project(query, part: 0..<3), 3)
            (q, k, v) = (p[0], p[1], p[2])
        } else if key === value {
            q = splitHeads(project(query, part: 0..<1), 1)[0]
            let p = splitHeads(project(key, part: 1..<3), 2)
            (k, v) = (p[0], p[1])
        } else {
            q = splitHeads(project(query, part: 0..<1), 1)[0]
            k = splitHeads(project(key, part: 1..<2), 1)[0]
            v = splitHeads(project(value, part: 2..<3), 1)[0]
        }
        let m = MultiheadAttention.mask(batch: b, queries: t, keys: s, offset: 0, causal: causal, keyPadding: keyPaddingMask)
        let (out, w) = attend(q, k, v, mask: m)
        return (out, w.mean(axis: 1))
    }

    /// Incremental causal self-attention: appends the keys/values of the new positions `x [B, T, D]`
    /// to `cache` and attends over everything cached (T = 1 for step-by-step decoding).
    public func selfAttentionStep(_ x: Variable, cache: inout KVCache) -> Variable {
        let b = x.shape[0], t = x.shape[1]
        let p = splitHeads(project(x, part: 0..<3), 3)
        let offset = cache.length
        let keys = cache.keys.map { Tensor.concatenate([$0, p[1].value], axis: 2) } ?? p[1].value
        let values = cache.values.map { Tensor.concatenate([$0, p[2].value], axis: 2) } ?? p[2].value
        cache.keys = keys
        cache.values = values
        let m = t > 1 ? MultiheadAttention.mask(batch: b, queries: t, keys: offset + t, offset: offset, causal: true, keyPadding: nil) : nil
        return attend(p[0], Variable(keys), Variable(values), mask: m).0
    }

    /// Keys and values of a fixed memory `[B, S, D]` for cross-attention during decoding.
    public func memoryCache(_ memory: Variable) -> KVCache {
        let p = splitHeads(project(memory, part: 1..<3), 2)
        var c = KVCache()
        c.keys = p[0].value
        c.values = p[1].value
        return c
    }

    /// Cross-attention of `query [B, T, D]` over a `memoryCache`.
    public func attend(_ query: Variable, cache: KVCache, keyPaddingMask: [[Bool]]? = nil) -> Variable {
        let q = splitHeads(project(query, part: 0..<1), 1)[0]
        let m = MultiheadAttention.mask(batch: query.shape[0], queries: query.shape[1], keys: cache.length, offset: 0,
                                        causal: false, keyPadding: keyPaddingMask)
        return attend(q, Variable(cache.keys!), Variable(cache.values!), mask: m).0
    }
}
