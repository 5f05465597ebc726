import Foundation
import SafeTensors
import Tensors
import XCTest
@testable import Vision

private func pretrainedFiles() throws -> (weights: String, golden: SafeTensorsFile) {
    guard let shared = sharedDirectory() else { throw XCTSkip("../shared not found: skipping MobileNetV2 golden tests") }
    let dir = shared + "/weights/pretrained"
    let weights = dir + "/mobilenet_v2_1.0_224_dequant.safetensors", golden = dir + "/golden/mobilenet_v2_golden.safetensors"
    guard FileManager.default.fileExists(atPath: weights), FileManager.default.fileExists(atPath: golden) else {
        throw XCTSkip("../shared/weights/pretrained not found: skipping MobileNetV2 golden tests")
    }
    return (weights, try SafeTensorsFile(contentsOf: golden))
}

private func tensor(_ f: SafeTensorsFile, _ key: String) throws -> Tensor { Tensor(shape: try f.shape(key), try f.floats(key)) }

private func top5(_ logits: Tensor) -> [Int] {
    let v = logits.scalars
    return Array(v.indices.sorted { v[$0] > v[$1] }.prefix(5))
}

final class MobileNetV2Tests: XCTestCase {
    nonisolated(unsafe) static var cached: MobileNetV2?

    func model() throws -> (MobileNetV2, SafeTensorsFile) {
        let (weights, golden) = try pretrainedFiles()
        if let m = Self.cached { return (m, golden) }
        let m = try MobileNetV2(contentsOf: weights)
        Self.cached = m
        return (m, golden)
    }

    /// Every stored stage of both photos, run as one batch of 2, within the README's tolerances; top-5 equal.
    func testEveryStageMatchesPyTorchGoldenInABatchOfTwo() throws {
        let (m, golden) = try model()
        XCTAssertEqual(m.parameterCount, 3_489_097)
        let prefixes = ["photo", "chelsea"]
        let inputs = try prefixes.map { try tensor(golden, "\($0)/input") }
        let batch = Tensor.concatenate(inputs, axis: 0)
        let stages = m.stages(batch)
        var report: [String] = []
        for (i, prefix) in prefixes.enumerated() {
            let keys = golden.names.filter { $0.hasPrefix(prefix + "/") }
            var compared = 0
            for key in keys {
                let stage = String(key.dropFirst(prefix.count + 1))
                if ["input", "crop_rgb", "top5"].contains(stage) { continue }
                let ref = try tensor(golden, key)
                guard let all = stages[stage] else { XCTFail("no stage \(stage)"); continue }
                let ours = all[rows: i..<(i + 1)]
                XCTAssertEqual(ours.shape, ref.shape, key)
                let diff = ours.maxAbsDifference(ref)
                let scale = ref.scalars.reduce(Float(0)) { max($0, abs($1)) }
                if stage.hasPrefix("features.") {
                    XCTAssertTrue(diff <= 1e-3 || diff <= 2e-5 * scale, "\(key): max abs diff \(diff), max |ref| \(scale)")
                } else {
                    XCTAssertLessThanOrEqual(diff, 1e-4, key)
                }
                report.append("\(key) \(String(format: "%.2e", diff)) (rel \(String(format: "%.1e", diff / max(scale, 1e-30))))")
                compared += 1
            }
            XCTAssertEqual(compared, prefix == "photo" ? 13 : 4, "stages compared for \(prefix)")
            let expected = try golden.int64s("\(prefix)/top5").map(Int.init)
            let logits = try XCTUnwrap(stages["logits"])[rows: i..<(i + 1)]
            XCTAssertEqual(top5(logits), expected, prefix)
        }
        XCTAssertEqual(try golden.int64s("photo/top5").map(Int.init), [658, 745, 541, 813, 518])  // missile
        XCTAssertEqual(try golden.int64s("chelsea/top5").map(Int.init), [283, 286, 282, 288, 623])  // tiger cat
        print("MobileNetV2 max abs differences vs PyTorch: " + report.joined(separator: ", "))
    }

    /// Batch 1 through `features` and `logits` gives the golden region features and logits.
    func testSingleImageFeaturesAndLogits() throws {
        let (m, golden) = try model()
        let input = try tensor(golden, "chelsea/input")
        let f = m.features(input)
        XCTAssertEqual(f.shape, [1, 1280, 7, 7])
        let ref = try tensor(golden, "chelsea/features.18")
        XCTAssertLessThanOrEqual(f.maxAbsDifference(ref), 1e-3)
        let logits = m.logits(fromFeatures: f)
        XCTAssertLessThanOrEqual(logits.maxAbsDifference(try tensor(golden, "chelsea/logits")), 1e-4)
        XCTAssertEqual(top5(logits), [283, 286, 282, 288, 623])
        XCTAssertEqual(m.name, "mobilenet_v2")
        XCTAssertEqual(m.featureChannels, 1280)
        XCTAssertEqual(m.preprocessing, .mobilenet)
    }

    /// Missing, misshapen and unexpected keys are named in a one-line error.
    func testLoadErrorsNameTheFirstBadKey() throws {
        func file(_ entries: [(String, [Int])]) throws -> SafeTensorsFile {
            var w = SafeTensorsWriter()
            for (k, s) in entries { try w.add(name: k, floats: [Float](repeating: 0, count: s.reduce(1, *)), shape: s) }
            return try SafeTensorsFile(bytes: w.serialized())
        }
        let all = MobileNetV2.expectedShapes
        XCTAssertEqual(all.count, 106)
        XCTAssertNoThrow(try MobileNetV2(file: try file(all)))
        func message(_ f: SafeTensorsFile) -> String {
            do { _ = try MobileNetV2(file: f); return "no error" } catch { return error.description }
        }
        var missing = all
        missing.remove(at: 10)
        XCTAssertEqual(message(try file(missing)), "mobilenet_v2: missing key '\(all[10].0)'")
        var wrong = all
        wrong[3].1 = [7]
        XCTAssertEqual(message(try file(wrong)), "mobilenet_v2: '\(all[3].0)' has shape [7], expected \(all[3].1)")
        XCTAssertEqual(message(try file(all + [("features.19.weight", [2])])), "mobilenet_v2: unexpected key 'features.19.weight'")
        XCTAssertFalse(message(try file(missing)).contains("\n"))
        do { _ = try MobileNetV2(contentsOf: "/nonexistent/mobilenet.safetensors"); XCTFail("no error") } catch {
            XCTAssertTrue(error.description.hasPrefix("/nonexistent/mobilenet.safetensors"))
        }
    }

    /// Forward time at batch 1 and 16 (median of 9 / 3 runs); runs only with `CAPTION_BENCH=1`.
    func testForwardTiming() throws {
        guard ProcessInfo.processInfo.environment["CAPTION_BENCH"] != nil else {
            throw XCTSkip("set CAPTION_BENCH=1 to time MobileNetV2")
        }
        let (m, golden) = try model()
        let one = try tensor(golden, "photo/input")
        for n in [1, 16] {
            let x = Tensor.concatenate([Tensor](repeating: one, count: n), axis: 0)
            _ = m.features(x)
            var times: [Double] = []
            for _ in 0..<(n == 1 ? 9 : 3) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = m.features(x)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            let med = times.sorted()[times.count / 2]
            print("MobileNetV2 runs \(times.map { Int($0) })")
            print("MobileNetV2 features batch \(n): \(String(format: "%.1f", med)) ms (\(String(format: "%.2f", med / Double(n))) ms/image)")
        }
    }
}
