import Tensors
import ImageCodecs
import Vision
import SafeTensors

/// `caption bench encoder`: preprocessing of one photo, and the ResNet-18, ResNet-50 and MobileNetV2 feature
/// extractors at batch 1 and 16 (the baseline's `encoder_forward/...`: up to the last feature map, no pool/fc).
enum EncoderBench {
    static var group: BenchGroup { BenchGroup(name: "encoder",
                                  summary: "preprocess (decode+resize+crop+normalize), ResNet-18/50 and MobileNetV2 forward at batch 1 and 16",
                                  figures: figures) }

    static func figures() -> [BenchFigure] {
        var out: [BenchFigure] = []
        // The baseline's sample JPEG (same name so the ratio joins), else a synthetic PNG of the same size.
        if let jpeg = BenchData.file("bench/sample_341x256.jpg") {
            out.append(preprocessFigure(name: "extra/preprocess_jpeg_341x256/batch1",
                                        shape: "sample_341x256.jpg -> decode, Resize(256) antialiased bilinear, CenterCrop(224), ToTensor, Normalize -> [1,3,224,224]") {
                try BenchData.bytes(jpeg)
            })
        }
        out.append(preprocessFigure(name: "preprocess/png_341x256_synthetic/batch1",
                                    shape: "synthetic 341x256 PNG (own encoder) -> decode, Resize(256), CenterCrop(224), ToTensor, Normalize -> [1,3,224,224]") {
            encodePNG(BenchData.syntheticImage(width: 341, height: 256))
        })
        for depth in [ResNetDepth.resnet18, .resnet50] {
            for batch in [1, 16] {
                out.append(BenchFigure(name: "encoder_forward/\(depth.name)/batch\(batch)",
                                       shape: "[\(batch),3,224,224] -> \(depth.name) body (no avgpool/fc) -> [\(batch),\(depth.featureChannels),7,7], random init, BN folded",
                                       itemsPerCall: Double(batch), item: "images") {
                    let net = ResNet(depth, upTo: .layer4, seed: 1)
                    let x = images(batch)
                    return { benchSink &+= Int(net.features(x).count) }
                })
            }
        }
        for batch in [1, 16] {
            let source = BenchData.file("weights/pretrained/mobilenet_v2_1.0_224_dequant.safetensors")
            out.append(BenchFigure(name: "encoder_forward/mobilenet_v2/batch\(batch)",
                                   shape: "[\(batch),3,224,224] -> MobileNetV2 features (BN folded, \(source == nil ? "random weights" : "../shared weights")) -> [\(batch),1280,7,7]",
                                   itemsPerCall: Double(batch), item: "images") {
                let net = try source.map { try MobileNetV2(contentsOf: $0) } ?? randomMobileNetV2()
                let x = images(batch)
                return { benchSink &+= Int(net.features(x).count) }
            })
        }
        return out
    }

    static func preprocessFigure(name: String, shape: String, _ bytes: @escaping () throws -> [UInt8]) -> BenchFigure {
        BenchFigure(name: name, shape: shape, itemsPerCall: 1, item: "images") {
            let data = try bytes()
            _ = try decodeImage(data)   // fail in prepare, not in the timed call
            return {
                guard let image = try? decodeImage(data) else { return }
                benchSink &+= preprocess(image, .imagenet).count
            }
        }
    }

    /// Seeded inputs `[batch, 3, 224, 224]` in about the normalized range.
    static func images(_ batch: Int) -> Tensor {
        var rng = SeededRandom(seed: 21)
        return Tensor.uniform([batch, 3, 224, 224], -2, 2, rng: &rng)
    }

    /// MobileNetV2 with seeded random weights of the right shapes (speed does not depend on the values).
    static func randomMobileNetV2() throws -> MobileNetV2 {
        var w = SafeTensorsWriter()
        var rng = SeededRandom(seed: 22)
        for (name, shape) in MobileNetV2.expectedShapes {
            let n = shape.reduce(1, *)
            let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
            let bound = Float(1 / Double(max(fanIn, 1)).squareRoot())
            try w.add(name: name, floats: (0..<n).map { _ in rng.uniform(-bound, bound) }, shape: shape)
        }
        return try MobileNetV2(file: try SafeTensorsFile(bytes: w.serialized()))
    }
}
