import Tensors
import Vision
import Captioning

/// `caption bench end_to_end`: the baseline's time to caption one preprocessed image: ResNet body ->
/// `[1,7,7,E]` (NHWC, the permute included) -> Show-Attend-Tell beam 5 with fixed work (20 steps, 5 beams).
enum EndToEndBench {
    static var group: BenchGroup { BenchGroup(name: "end_to_end",
                                  summary: "one preprocessed image -> ResNet-18/50 -> Show-Attend-Tell beam 5 (20 steps)",
                                  figures: figures) }

    static func figures() -> [BenchFigure] {
        [ResNetDepth.resnet18, .resnet50].map { depth in
            BenchFigure(name: "end_to_end/\(depth.name)+sat_beam5/batch1",
                        shape: "[1,3,224,224] -> \(depth.name) body -> [1,7,7,\(depth.featureChannels)] -> beam 5, 20 steps, no hypothesis ends",
                        itemsPerCall: 1, item: "images") {
                let net = ResNet(depth, upTo: .layer4, seed: 1)
                let decode = DecoderWorkloads.satBeamOnFeatures(encoderSize: depth.featureChannels)
                let x = EncoderBench.images(1)
                return { decode(regionMajor(net.features(x)), 1) }
            }
        }
    }

    /// `[N, C, h, w]` to `[N, h*w, C]` as a flat array (torch's `permute(0, 2, 3, 1)`).
    static func regionMajor(_ f: Tensor) -> [Float] {
        let (n, c) = (f.shape[0], f.shape[1])
        let p = f.count / max(n * c, 1)
        var out = [Float](repeating: 0, count: f.count)
        f.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n { for ch in 0..<c { for r in 0..<p { dst[(i * p + r) * c + ch] = src[(i * c + ch) * p + r] } } }
            }
        }
        return out
    }
}
