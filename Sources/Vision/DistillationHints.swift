import NeuralNetwork
import Tensors

/// A teacher whose intermediate feature maps can guide a student's inner layers (FitNets' "hints"):
/// besides the final features it returns a few earlier maps, from fine to coarse.
public protocol HintTeacher: ImageEncoder {
    /// Final region features `[N, C, h, w]` and the hint maps `[N, C_k, h_k, w_k]` of the same images, in one pass.
    func featuresAndHints(_ images: Tensor) -> (features: Tensor, hints: [Tensor])
}

extension MobileNetV2: HintTeacher {
    /// Stages whose outputs are the hints: `features.6` (32 x 28 x 28 at 224), `features.13` (96 x 14 x 14) and
    /// `features.17` (the 320 x 7 x 7 linear bottleneck before the last 1x1 convolution).
    public static let hintStages = [6, 13, 17]

    public func featuresAndHints(_ images: Tensor) -> (features: Tensor, hints: [Tensor]) {
        var hints: [Int: Tensor] = [:]
        let f = run(images) { k, map in if Self.hintStages.contains(k) { hints[k] = map.nchw } }
        return (f.nchw, Self.hintStages.compactMap { hints[$0] })
    }
}

extension ResNet: HintTeacher {
    /// `layer2` (stride 8) and `layer3` (stride 16); the final map is `layer4`.
    public func featuresAndHints(_ images: Tensor) -> (features: Tensor, hints: [Tensor]) {
        var hints: [String: Tensor] = [:]
        let f = run(images, upTo: min(lastStage, .layer4)) { name, t in
            if name == "layer2" || name == "layer3" { hints[name] = t }
        }
        return (f, ["layer2", "layer3"].compactMap { hints[$0] })
    }
}

/// Where one hint enters the student: the output of student stage `studentStage` (0 = stem, k = block k) goes
/// through a trainable 1x1 convolution to the teacher's `teacherChannels`, and is compared with the teacher's map.
public struct HintLayout: Codable, Sendable, Equatable {
    public var studentStage: Int
    public var studentChannels: Int
    public var teacherChannels: Int

    public init(studentStage: Int, studentChannels: Int, teacherChannels: Int) {
        self.studentStage = studentStage
        self.studentChannels = studentChannels
        self.teacherChannels = teacherChannels
    }

    /// Pairs each teacher hint map (`[C, h, w]` at the student's input size) with the last student stage whose
    /// output has the same spatial size; nil names the first map no stage matches.
    public static func match(student: SmallCNNConfiguration, inputSize: Int,
                             teacherShapes: [[Int]]) -> Result<[HintLayout], HintMatchError> {
        let sizes = student.stageSizes(inputSize: inputSize), channels = student.stageChannels
        var out: [HintLayout] = []
        for s in teacherShapes {
            guard s.count == 3, let stage = sizes.lastIndex(of: s[1]), s[1] == s[2] else {
                return .failure(HintMatchError(description: "no student stage has the teacher's \(s.dropFirst().map(String.init).joined(separator: "x")) hint grid (student stages: \(sizes.map(String.init).joined(separator: ", ")))"))
            }
            out.append(HintLayout(studentStage: stage, studentChannels: channels[stage], teacherChannels: s[0]))
        }
        return .success(out)
    }
}

/// Why teacher hints cannot be attached to a student.
public struct HintMatchError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
}

extension SmallCNNConfiguration {
    /// Output side of each stage (stem, then every block) for a square `inputSize` input.
    public func stageSizes(inputSize: Int) -> [Int] {
        var h = (inputSize + 1) / 2
        var out = [h]
        for b in blocks { h = (h + 2 - 3) / b.stride + 1; out.append(h) }
        return out
    }

    /// Output channels of each stage (stem, then every block).
    public var stageChannels: [Int] { [stemChannels] + blocks.map(\.channels) }
}

/// The trainable 1x1 convolutions that map student stages to the teacher's hint channels (used only while
/// distilling; checkpoints hold them as `hint.K.weight` / `hint.K.bias`, the student file never does).
final class HintAdapters: Module {
    let layout: [HintLayout]
    let convolutions: [Conv2d]

    init(layout: [HintLayout], seed: UInt64) {
        self.layout = layout
        var rng = SeededRandom(seed: seed ^ 0x4849_4E54)
        convolutions = layout.map { Conv2d($0.studentChannels, $0.teacherChannels, kernelSize: 1, bias: true, rng: &rng) }
    }

    var namedParameters: [(String, Variable)] {
        convolutions.enumerated().flatMap { i, c in prefixed("\(i)", c.namedParameters) }
    }
    var namedBuffers: [(String, Variable)] { [] }
    func setTraining(_ training: Bool) {}
}

extension SmallCNN {
    /// The differentiable forward pass that also returns the outputs of `stages` (0 = stem, k = block k).
    public func forward(_ x: Variable, tapping stages: Set<Int>) -> (output: Variable, taps: [Int: Variable]) {
        var taps: [Int: Variable] = [:]
        var h = batchNormReLU(stem(x), stemNorm)
        if stages.contains(0) { taps[0] = h }
        for (i, b) in blocks.enumerated() {
            h = batchNormReLU(depthwiseConv3x3(h, b.depthwise.weight, stride: b.stride, padding: 1), b.depthwiseNorm)
            h = batchNormReLU(b.pointwise(h), b.pointwiseNorm)
            if stages.contains(i + 1) { taps[i + 1] = h }
        }
        if let projection { h = projection(h) }
        return (h, taps)
    }
}

/// Population variance of a tensor's values (a constant loss scale).
func populationVariance(_ t: Tensor) -> Float {
    var s = 0.0, s2 = 0.0
    let p = t.readPointer
    for i in 0..<t.count { let v = Double(p[i]); s += v; s2 += v * v }
    let n = Double(max(t.count, 1)), m = s / n
    return Float(max(s2 / n - m * m, 1e-12))
}
