import ImageCodecs
import SafeTensors
import Tensors
import Vision

/// An encoder loaded by name for `caption features`, `caption classify` and `caption distill` (its teacher),
/// with its ImageNet classifier when it has one. Errors are one line naming the weights file.
public final class LoadedEncoder {
    public let encoder: any ImageEncoder
    /// SHA-256 (hex) of the weights file, nil for a random initialisation.
    public let weightsSHA256: String?
    let classifier: ((Tensor) -> Tensor)?

    public var name: String { encoder.name }
    public var preprocessing: Preprocessing { encoder.preprocessing }
    /// Whether `logits` is available (ResNets and MobileNetV2 with their `fc` / `classifier`).
    public var canClassify: Bool { classifier != nil }

    /// Loads `name` (one of `EncoderCatalog.names`) from `weights`. Pretrained encoders need weights; the small CNN
    /// without weights is a seeded random initialisation (`randomSmall` must then be true, else it is refused).
    /// `classifier`: also load the ImageNet head (ResNet `fc.*`; MobileNetV2 always has it).
    public init(name: String, weights: String?, classifier: Bool = false, allowRandomSmall: Bool = false,
                seed: UInt64 = 1) throws(DatasetError) {
        guard EncoderCatalog.names.contains(name) else {
            throw DatasetError("unknown encoder '\(name)' (expected one of \(EncoderCatalog.names.joined(separator: ", ")))")
        }
        if let weights {
            if FileSystem.isDirectory(weights) { throw DatasetError("encoder weights \(weights) is a directory, expected a .safetensors file") }
            guard FileSystem.isFile(weights) else { throw DatasetError("encoder weights \(weights) do not exist") }
        }
        func named(_ message: String) -> DatasetError {
            guard let weights, !message.hasPrefix(weights) else { return DatasetError(message) }
            return DatasetError("\(weights): \(message)")
        }
        switch name {
        case "mobilenet_v2":
            guard let weights else { throw DatasetError("encoder mobilenet_v2 needs its pretrained weights: pass the weights FILE") }
            let m: MobileNetV2
            do { m = try MobileNetV2(contentsOf: weights) } catch { throw named(error.description) }
            encoder = m
            self.classifier = { m.logits($0) }
        case "resnet18", "resnet34", "resnet50":
            guard let weights else { throw DatasetError("encoder \(name) needs its pretrained weights: pass the weights FILE") }
            guard let depth = ResNetDepth(name: name) else { throw DatasetError("unknown encoder '\(name)'") }
            let r: ResNet
            do { r = try ResNet(depth, weights: weights, upTo: classifier ? .fc : .layer4) } catch { throw named(error.description) }
            encoder = r
            self.classifier = classifier ? { r.classify($0) } : nil
        default:
            if weights == nil && !allowRandomSmall {
                throw DatasetError("encoder small needs --encoder-weights FILE (a small CNN trained by `caption distill`)")
            }
            if let weights {
                do { encoder = try SmallCNN(contentsOf: weights) } catch { throw named(error.description) }
            } else {
                encoder = SmallCNN(configuration: .standard(), seed: seed)
            }
            self.classifier = nil
        }
        weightsSHA256 = try weights.map { p throws(DatasetError) in try SHA256.file(p) }
    }

    /// An image file decoded and preprocessed for this encoder (`[3, S, S]`).
    public func input(path: String, preprocessing: Preprocessing? = nil) throws(DatasetError) -> Tensor {
        preprocess(try loadCaptionImage(path: path), preprocessing ?? encoder.preprocessing, size: encoder.inputSize)
    }

    /// Feature maps `[N, C, h, w]` of a batch of preprocessed inputs.
    public func features(_ batch: Tensor) -> Tensor { encoder.features(batch) }

    /// ImageNet logits `[N, 1000]` (ResNet) or `[N, 1001]` (MobileNetV2, background first).
    public func logits(_ batch: Tensor) throws(DatasetError) -> Tensor {
        guard let classifier else { throw DatasetError("encoder \(name) has no ImageNet classifier") }
        return classifier(batch)
    }
}
