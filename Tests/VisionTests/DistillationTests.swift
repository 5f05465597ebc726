import Foundation
import NeuralNetwork
import Tensors
import XCTest
@testable import Vision

final class DistillationTests: XCTestCase {
    static let student = SmallCNNConfiguration(stemChannels: 8, blocks: [.init(16, stride: 2), .init(24, stride: 2),
                                                                         .init(32, stride: 2)], projectionChannels: 12)
    static let teacherConfig = SmallCNNConfiguration(stemChannels: 8, blocks: [.init(16, stride: 2), .init(16, stride: 2),
                                                                               .init(16, stride: 2)], projectionChannels: 12)

    /// A fixed random "pretrained" teacher: a different small CNN in evaluation mode, with ReLU'd outputs.
    final class Teacher: ImageEncoder {
        let net: SmallCNN
        init() { net = SmallCNN(configuration: DistillationTests.teacherConfig, seed: 99); net.setTraining(false) }
        let name = "teacher", featureChannels = 12, preprocessing = Preprocessing.direct, inputSize = 32
        func features(_ images: Tensor) -> Tensor { net.features(images).relu() * 3 }
    }

    let images: Tensor = {
        var rng = SeededRandom(seed: 5)
        return Tensor.uniform([8, 3, 32, 32], -1, 1, rng: &rng)
    }()

    func batch(_ indices: [Int]) -> Tensor { images.gatherRows(indices) }

    func testLossFallsWithTheTeacherOnEachAugmentedView() throws {
        let d = Distiller(student: SmallCNN(configuration: Self.student, seed: 1),
                          options: DistillationOptions(epochs: 12, batchSize: 4, learningRate: 5e-3, seed: 3))
        var reports = 0
        let teacher = Teacher()
        let losses = try d.train(count: 8, images: batch, teacher: .encoder(teacher), progress: { _ in reports += 1 })
        XCTAssertEqual(losses.count, 12)
        XCTAssertEqual(reports, 24)
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "\(losses)")
        XCTAssertTrue(d.state.finished)
        print("distillation (on-the-fly teacher) epoch losses: \(losses.map { String(format: "%.4f", $0) })")
    }

    func testLossFallsWithPrecomputedFeaturesAndFlips() throws {
        let teacher = Teacher()
        let precomputed = teacher.features(images)
        var opts = DistillationOptions(epochs: 12, batchSize: 4, learningRate: 5e-3, seed: 4)
        opts.minimumCropArea = 1
        let d = Distiller(student: SmallCNN(configuration: Self.student, seed: 2), options: opts)
        let losses = try d.train(count: 8, images: batch, teacher: .precomputed { precomputed.gatherRows($0) })
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "\(losses)")
    }

    func testAugmentationViewsMirrorAndConvert() {
        let x = images.gatherRows([0, 1])
        let full = DistillationAugmentation.View(top: 0, left: 0, height: 32, width: 32, flip: false)
        XCTAssertEqual(DistillationAugmentation.apply(x, [full, full]), x)
        var flipped = full
        flipped.flip = true
        let y = DistillationAugmentation.apply(x, [flipped, full])
        XCTAssertEqual(y[0, 2, 5, 0], x[0, 2, 5, 31])
        XCTAssertEqual(y[0, 1, 7, 10], x[0, 1, 7, 21])
        XCTAssertEqual(y[1, 1, 7, 10], x[1, 1, 7, 10])
        XCTAssertEqual(DistillationAugmentation.mirror(x, where: [true, false]), y)
        // A crop of the top-left quadrant, upsampled 2x: output pixel (1, 1) samples input (0.25, 0.25).
        let q = DistillationAugmentation.apply(x, [DistillationAugmentation.View(top: 0, left: 0, height: 16, width: 16, flip: false), full])
        let a = x[0, 0, 0, 0], b = x[0, 0, 0, 1], c = x[0, 0, 1, 0], d = x[0, 0, 1, 1]
        let expected = 0.75 * (0.75 * a + 0.25 * b) + 0.25 * (0.75 * c + 0.25 * d)
        XCTAssertEqual(q[0, 0, 1, 1], expected, accuracy: 1e-5)
        // [-1, 1] (p/255 scaled) to ImageNet normalisation.
        let one = Tensor(shape: [1, 3, 1, 1], [1, -1, 0])
        let im = DistillationAugmentation.convert(one, to: .imagenet)
        XCTAssertEqual(im[0, 0, 0, 0], (1 - 0.485) / 0.229, accuracy: 1e-6)
        XCTAssertEqual(im[0, 1, 0, 0], (0 - 0.456) / 0.224, accuracy: 1e-6)
        XCTAssertEqual(im[0, 2, 0, 0], (0.5 - 0.406) / 0.225, accuracy: 1e-6)
    }

    /// Stopping mid-epoch, saving, and resuming gives the same weights and losses as an uninterrupted run.
    func testCheckpointResumeIsExact() throws {
        let opts = DistillationOptions(epochs: 2, batchSize: 3, learningRate: 3e-3, seed: 8)
        let teacher = Teacher()
        let straight = Distiller(student: SmallCNN(configuration: Self.student, seed: 6), options: opts)
        let l1 = try straight.train(count: 8, images: batch, teacher: .encoder(teacher))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ckpt.safetensors").path
        let first = Distiller(student: SmallCNN(configuration: Self.student, seed: 6), options: opts)
        var batches = 0
        _ = try first.train(count: 8, images: batch, teacher: .encoder(teacher), progress: { _ in batches += 1 },
                            checkpoint: { try $0.save(to: path) }, shouldStop: { batches == 4 })
        XCTAssertEqual(first.state.epoch, 1)
        XCTAssertEqual(first.state.batchInEpoch, 1)
        let resumed = try Distiller.resume(from: path)
        XCTAssertEqual(resumed.state, first.state)
        let l2 = try resumed.train(count: 8, images: batch, teacher: .encoder(teacher))
        XCTAssertEqual(l1, l2)
        for ((n, a), (_, b)) in zip(straight.student.stateEntries, resumed.student.stateEntries) {
            XCTAssertEqual(a.value, b.value, n)
        }
        var other = opts
        other.learningRate = 1
        XCTAssertThrowsError(try Distiller.resume(from: path, options: other))
        XCTAssertThrowsError(try Distiller.resume(from: dir.appendingPathComponent("none").path))
    }

    // MARK: Hints

    /// The fixed teacher, also giving its stem+block-1 (8x8) and block-2 (4x4) maps as hints.
    final class HintingTeacher: HintTeacher {
        let base = Teacher()
        let name = "hinting", featureChannels = 12, preprocessing = Preprocessing.direct, inputSize = 32
        func features(_ images: Tensor) -> Tensor { base.features(images) }
        func featuresAndHints(_ images: Tensor) -> (features: Tensor, hints: [Tensor]) {
            (base.features(images), [base.net.run(images, stopBefore: 2), base.net.run(images, stopBefore: 3)])
        }
    }

    func hintLayout() throws -> [HintLayout] {
        let shapes = HintingTeacher().featuresAndHints(images.gatherRows([0])).hints.map { Array($0.shape.dropFirst()) }
        XCTAssertEqual(shapes, [[16, 8, 8], [16, 4, 4]])
        return try HintLayout.match(student: Self.student, inputSize: 32, teacherShapes: shapes).get()
    }

    func testHintsPairTeacherMapsWithTheLastStudentStageOfTheirSize() throws {
        XCTAssertEqual(try hintLayout(), [HintLayout(studentStage: 1, studentChannels: 16, teacherChannels: 16),
                                          HintLayout(studentStage: 2, studentChannels: 24, teacherChannels: 16)])
        XCTAssertEqual(SmallCNNConfiguration.standard().stageSizes(inputSize: 224),
                       [112, 112, 56, 56, 28, 28, 14, 14, 14, 14, 14, 14, 7, 7])
        let mnv2 = try HintLayout.match(student: .standard(), inputSize: 224,
                                        teacherShapes: [[32, 28, 28], [96, 14, 14], [320, 7, 7]]).get()
        XCTAssertEqual(mnv2.map(\.studentStage), [5, 11, 13])
        XCTAssertEqual(mnv2.map(\.studentChannels), [128, 256, 512])
        guard case .failure(let e) = HintLayout.match(student: Self.student, inputSize: 32, teacherShapes: [[16, 5, 5]]) else {
            return XCTFail("a 5x5 hint matched a student without a 5x5 stage")
        }
        XCTAssertTrue(e.description.contains("5x5"), e.description)
    }

    func testResNetHintsAreLayer2AndLayer3() {
        let net = ResNet(.resnet18, upTo: .layer4, seed: 3)
        var rng = SeededRandom(seed: 2)
        let x = Tensor.uniform([1, 3, 64, 64], -1, 1, rng: &rng)
        var seen: [String: Tensor] = [:]
        let f = net.run(x, upTo: .layer4) { name, t in seen[name] = t }
        let (g, hints) = net.featuresAndHints(x)
        XCTAssertEqual(g, f)
        XCTAssertEqual(hints.map(\.shape), [[1, 128, 8, 8], [1, 256, 4, 4]])
        XCTAssertEqual(hints, [seen["layer2"]!, seen["layer3"]!])
    }

    func testHintedDistillationLearnsAndKeepsAdaptersOutOfTheStudent() throws {
        let layout = try hintLayout()
        let d = Distiller(student: SmallCNN(configuration: Self.student, seed: 1),
                          options: DistillationOptions(epochs: 12, batchSize: 4, learningRate: 5e-3, seed: 3, hintWeight: 1),
                          hints: layout)
        XCTAssertEqual(d.hintLayout, layout)
        let before = d.hints.convolutions.map(\.weight.value)
        let losses = try d.train(count: 8, images: batch, teacher: .encoder(HintingTeacher()))
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "\(losses)")
        XCTAssertNotEqual(d.hints.convolutions.map(\.weight.value), before, "the adapters did not train")
        XCTAssertFalse(d.student.stateEntries.contains { $0.0.contains("hint") })
        // Hints need the teacher on every view, and a teacher that gives them.
        let cached = Distiller(student: SmallCNN(configuration: Self.student, seed: 1),
                               options: DistillationOptions(epochs: 1, batchSize: 4, seed: 3, hintWeight: 1), hints: layout)
        let f = Teacher().features(images)
        XCTAssertThrowsError(try cached.train(count: 8, images: batch, teacher: .precomputed { f.gatherRows($0) }))
        XCTAssertThrowsError(try cached.train(count: 8, images: batch, teacher: .encoder(Teacher())))
    }

    func testHintedCheckpointResumeIsExact() throws {
        let layout = try hintLayout()
        let opts = DistillationOptions(epochs: 2, batchSize: 3, learningRate: 3e-3, seed: 8, hintWeight: 0.5)
        let teacher = HintingTeacher()
        let straight = Distiller(student: SmallCNN(configuration: Self.student, seed: 6), options: opts, hints: layout)
        let l1 = try straight.train(count: 8, images: batch, teacher: .encoder(teacher))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("distill-hints-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ckpt.safetensors").path
        let first = Distiller(student: SmallCNN(configuration: Self.student, seed: 6), options: opts, hints: layout)
        var batches = 0
        _ = try first.train(count: 8, images: batch, teacher: .encoder(teacher), progress: { _ in batches += 1 },
                            checkpoint: { try $0.save(to: path) }, shouldStop: { batches == 4 })
        let resumed = try Distiller.resume(from: path)
        XCTAssertEqual(resumed.hintLayout, layout)
        let l2 = try resumed.train(count: 8, images: batch, teacher: .encoder(teacher))
        XCTAssertEqual(l1, l2)
        for ((n, a), (_, b)) in zip(straight.trainedParameters, resumed.trainedParameters) { XCTAssertEqual(a.value, b.value, n) }
        var noHints = opts
        noHints.hintWeight = 0
        XCTAssertThrowsError(try Distiller.resume(from: path, options: noHints))
    }
}
