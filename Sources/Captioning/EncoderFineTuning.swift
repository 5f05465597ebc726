import NeuralNetwork
import Tensors
import Vision

/// `caption train --fine-tune-encoder`: the encoder split at a cut point into a frozen prefix, whose output
/// activations are cached once per image (float16), and a trainable suffix (`EncoderSuffix`, batch norm folded
/// and frozen) that runs in every step, with its own parameter store and Adam optimiser (its own learning rate).
public final class EncoderFineTuning {
    public let encoder: any FineTunableEncoder
    public let preprocessing: Preprocessing
    /// First block of the trainable part (`features.14`, `layer2`, ...).
    public let cut: String
    public let suffix: EncoderSuffix
    /// The suffix's parameters (authoritative between steps; copied into the suffix before each forward).
    public let parameters: ParameterStore
    public var optimizer: AdamOptimizer
    /// `[C, H, W]` of the prefix output for one image.
    public let prefixShape: [Int]
    /// Regions and channels of the encoder's output.
    public let regions: Int, channels: Int
    let named: [(String, Variable)]

    /// - Parameters: `cut` nil: the encoder's default cut point.
    public init(encoder: any FineTunableEncoder, preprocessing: Preprocessing? = nil, cut: String?, learningRate: Float) throws(DatasetError) {
        let c = cut ?? encoder.defaultFineTuneCut
        do { try encoder.validateCut(c) } catch { throw DatasetError(error.description) }
        self.encoder = encoder
        self.preprocessing = preprocessing ?? encoder.preprocessing
        self.cut = c
        let sfx = encoder.suffix(from: c)
        suffix = sfx
        named = sfx.namedParameters
        let store = ParameterStore()
        for (n, v) in sfx.namedParameters {
            store.add(n, shape: v.shape)
            store.setValue(n, v.value.scalars)
        }
        parameters = store
        optimizer = AdamOptimizer(parameterCount: store.count, learningRate: learningRate)
        let s = encoder.inputSize
        let p = encoder.prefixFeatures(Tensor(shape: [1, 3, s, s]), cut: c)
        prefixShape = Array(p.shape.dropFirst())
        let out = withNoGrad { sfx.forward(Variable(p)) }.shape
        channels = out[1]
        regions = out.count == 4 ? out[2] * out[3] : 1
    }

    /// Values per image of the cached prefix activations.
    public var prefixCount: Int { prefixShape.reduce(1, *) }

    /// Feature-cache key of the prefix activations: encoder, preprocessing, input size, the prefix's weights and the cut.
    public var prefixCacheKey: String {
        var h = FeatureCache.fingerprint([])
        for (k, t) in encoder.prefixTensors(cut: cut) {
            h = FeatureCache.fingerprint(Array(k.utf8), seed: h)
            t.withUnsafeBufferPointer { b in h = FeatureCache.fingerprint(UnsafeRawBufferPointer(b), seed: h) }
        }
        return "\(encoder.name)-\(preprocessing.rawValue)-\(encoder.inputSize)-p\(FeatureCache.hex(h))-from-\(cut)"
    }

    /// Prefix activations `[N, C*H*W]` of preprocessed inputs (what the feature cache stores).
    public func prefixActivations(_ inputs: [Tensor]) -> [Float] {
        guard let first = inputs.first else { return [] }
        let n = first.count
        let batch = Tensor(shape: [inputs.count] + first.shape) { out in
            for (i, t) in inputs.enumerated() { t.withUnsafeBufferPointer { (out + i * n).update(from: $0.baseAddress!, count: n) } }
        }
        return encoder.prefixFeatures(batch, cut: cut).scalars
    }

    /// Copies the store's values into the suffix's variables.
    func syncModules() {
        for ((n, v), e) in zip(named, parameters.entries) {
            precondition(n == e.name)
            v.value = Tensor(shape: e.shape, Array(parameters.values[e.offset..<(e.offset + e.count)]))
        }
    }

    /// The suffix applied to the prefix activations of `images` (indices into `prefix`, float16 bits
    /// `[images, prefixCount]`): region features `[B, regions, channels]` and the graph output for `backward`.
    public func forward(prefix: [UInt16], images: [Int]) -> (regions: [Float], output: Variable) {
        syncModules()
        let per = prefixCount
        let x = Tensor(shape: [images.count] + prefixShape) { out in
            prefix.withUnsafeBufferPointer { src in
                for (i, im) in images.enumerated() { HalfConversion.toFloat(src.baseAddress! + im * per, out + i * per, count: per) }
            }
        }
        let y = suffix.forward(Variable(x))
        return (RegionEncoder.regionRows(y.value), y)
    }

    /// Back-propagates the gradient of the region features (`[B, regions, channels]`) through the suffix into
    /// `parameters.gradients` (overwritten).
    public func backward(_ output: Variable, regionGradient: [Float]) {
        let s = output.shape
        let (B, C) = (s[0], s[1]), P = output.value.count / max(B * C, 1)
        precondition(regionGradient.count == B * P * C)
        let seed = Tensor(shape: s) { o in
            regionGradient.withUnsafeBufferPointer { g in
                for b in 0..<B { for p in 0..<P { for c in 0..<C { o[(b * C + c) * P + p] = g[(b * P + p) * C + c] } } }
            }
        }
        for (_, v) in named { v.zeroGrad() }
        output.backward(seed)
        for ((_, v), e) in zip(named, parameters.entries) {
            guard let g = v.grad else { continue }
            g.withUnsafeBufferPointer { gp in
                parameters.gradients.withUnsafeMutableBufferPointer { (($0.baseAddress! + e.offset)).update(from: gp.baseAddress!, count: e.count) }
            }
            v.zeroGrad()
        }
    }

    /// Region features `[count, regions, channels]` of all `count` images of `prefix`, without recording a graph.
    public func regionFeatures(prefix: [UInt16], count: Int, batch: Int = 32) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(count * regions * channels)
        var s = 0
        while s < count {
            let idx = Array(s..<min(s + batch, count))
            out += withNoGrad { forward(prefix: prefix, images: idx).regions }
            s += idx.count
        }
        return out
    }

    /// Writes the current suffix weights back into the encoder, so its inference path (`features`) is the
    /// fine-tuned encoder.
    public func updateEncoder() {
        syncModules()
        encoder.load(suffix: suffix)
    }
}
