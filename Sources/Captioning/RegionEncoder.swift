import ImageCodecs
import Tensors
import Vision

/// The frozen encoder stage of captioning: image files in, region features `[N, regions, channels]` out
/// (the encoder's `[N, C, h, w]` map with its grid flattened, row-major).
public final class RegionEncoder {
    public let encoder: any ImageEncoder
    public let preprocessing: Preprocessing
    /// How a model file describes this encoder.
    public let spec: EncoderSpec
    /// Identifies encoder, weights and preprocessing, for the feature cache.
    public let cacheKey: String
    /// Tensors to store in a model file under `encoder.` (the small CNN's weights), empty for pretrained encoders.
    public let embeddedTensors: [String: (shape: [Int], values: [Float])]

    /// - Parameters: `weightsID` identifies the weights (a file's SHA-256, or a hash of embedded weights).
    public init(encoder: any ImageEncoder, preprocessing: Preprocessing? = nil, weightsID: String, weightsSHA256: String?,
                embeddedTensors: [String: (shape: [Int], values: [Float])] = [:], gridSize: Int? = nil, configuration: String? = nil) {
        self.encoder = encoder
        let pre = preprocessing ?? encoder.preprocessing
        self.preprocessing = pre
        self.embeddedTensors = embeddedTensors
        let grid = gridSize ?? RegionEncoder.gridSize(of: encoder)
        spec = EncoderSpec(name: encoder.name, gridSize: grid, channels: encoder.featureChannels, preprocessing: pre.rawValue,
                           embeddedWeights: !embeddedTensors.isEmpty, weightsSHA256: weightsSHA256, inputSize: encoder.inputSize,
                           configuration: configuration)
        cacheKey = "\(encoder.name)-\(pre.rawValue)-\(encoder.inputSize)-\(weightsID)"
    }

    /// The output grid side, measured with one blank image.
    static func gridSize(of encoder: any ImageEncoder) -> Int {
        let s = encoder.inputSize
        let f = encoder.features(Tensor(shape: [1, 3, s, s]))
        return f.rank == 4 ? f.shape[2] : 1
    }

    /// An image file, decoded and preprocessed to `[3, S, S]`.
    public func input(path: String) throws(DatasetError) -> Tensor {
        let image = try loadCaptionImage(path: path)
        return preprocess(image, preprocessing, size: encoder.inputSize)
    }

    /// The image as the encoder sees it (resized/cropped, 8-bit RGB) and its input tensor `[3, S, S]`.
    public func inputWithPixels(path: String) throws(DatasetError) -> (pixels: RGBImage, input: Tensor) {
        let image = try loadCaptionImage(path: path)
        let pixels = preprocessedPixels(image, preprocessing, size: encoder.inputSize)
        return (pixels, preprocess(image, preprocessing, size: encoder.inputSize))
    }

    /// Region features of preprocessed inputs.
    public func features(_ inputs: [Tensor]) -> [Float] {
        guard let first = inputs.first else { return [] }
        let n = first.count
        let batch = Tensor(shape: [inputs.count] + first.shape) { out in
            for (i, t) in inputs.enumerated() { t.withUnsafeBufferPointer { (out + i * n).update(from: $0.baseAddress!, count: n) } }
        }
        return Self.regionRows(encoder.features(batch))
    }

    /// Feature maps `[N, C, h, w]` as region rows `[N, h*w, C]` (the decoders' layout).
    static func regionRows(_ f: Tensor) -> [Float] {
        let (N, C) = (f.shape[0], f.shape[1])
        let P = f.count / max(N * C, 1)
        var out = [Float](repeating: 0, count: f.count)
        f.withUnsafeBufferPointer { src in
            for i in 0..<N { for c in 0..<C { for p in 0..<P { out[(i * P + p) * C + c] = src[(i * C + c) * P + p] } } }
        }
        return out
    }

    /// Region features of image files (throws on the first image that cannot be read).
    public func encode(paths: [String]) throws(DatasetError) -> [Float] {
        var inputs: [Tensor] = []
        for p in paths { inputs.append(try input(path: p)) }
        return features(inputs)
    }
}
