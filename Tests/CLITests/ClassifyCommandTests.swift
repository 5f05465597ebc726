import XCTest
import Foundation

final class ClassifyCommandTests: XCTestCase {
    /// Top-5 of the real MobileNetV2 on the three photos against the float PyTorch model's (`results_top5.json`,
    /// 1001-way ids, probabilities to 4 decimals): rocket -> missile, chelsea -> tiger cat, coffee -> espresso.
    func testMobileNetTopFiveMatchesPyTorch() throws {
        let dir = try pretrainedDirectory()
        let r = try CLIRunner.run(["classify", dir + "/photos", "--encoder", "mobilenet_v2",
                                   "--encoder-weights", dir + "/mobilenet_v2_1.0_224_dequant.safetensors", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let items = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(items.count, 3)
        let reference = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/results_top5.json"))) as? [String: Any])
        let expectedTop1 = ["rocket.jpg": "missile", "chelsea.png": "tiger cat", "coffee.png": "espresso"]
        for item in items {
            let image = URL(fileURLWithPath: try XCTUnwrap(item["image"] as? String)).lastPathComponent
            let top = try XCTUnwrap(item["top"] as? [[String: Any]])
            XCTAssertEqual(top.count, 5)
            XCTAssertEqual(top.first?["name"] as? String, expectedTop1[image], "\(image): \(top)")
            let ref = try XCTUnwrap((reference[image] as? [String: Any])?["float_top5"] as? [[Any]])
            for (got, want) in zip(top, ref) {
                // Reference ids are 1001-way (background = 0); ours are ImageNet-1k class indices.
                XCTAssertEqual((got["class"] as? NSNumber)?.intValue, ((want[0] as? NSNumber)?.intValue ?? -99) - 1, "\(image)")
                XCTAssertEqual((got["probability"] as? NSNumber)?.doubleValue ?? -1, (want[2] as? NSNumber)?.doubleValue ?? 2, accuracy: 1e-4, "\(image)")
            }
        }
    }

    /// The text form: the image path, then K lines `probability  name  (class)`.
    func testTextOutputAndTopK() throws {
        let dir = try pretrainedDirectory()
        let photo = dir + "/photos/coffee.png"
        let r = try CLIRunner.run(["classify", photo, "--encoder-weights", dir + "/mobilenet_v2_1.0_224_dequant.safetensors", "--top", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, r.stdout)
        XCTAssertEqual(lines.first, photo)
        XCTAssertTrue(lines[1].contains("espresso") && lines[1].contains("(967)"), lines[1])
    }

    func testBadInputsAreOneLine() throws {
        let tmp = try makeTemporaryDirectory("classify-bad")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let image = tmp.appendingPathComponent("x.ppm").path
        try writePPM(image, width: 20, height: 20, seed: 4)
        let junk = tmp.appendingPathComponent("junk.jpg").path
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 1, 2]).write(to: URL(fileURLWithPath: junk))
        let notWeights = tmp.appendingPathComponent("w.safetensors").path
        try Data("{}".utf8).write(to: URL(fileURLWithPath: notWeights))
        assertOneErrorLine(try CLIRunner.run(["classify", image, "--encoder", "alexnet", "--encoder-weights", notWeights]), mentioning: "alexnet")
        assertOneErrorLine(try CLIRunner.run(["classify", image, "--encoder", "small", "--encoder-weights", notWeights]), mentioning: "classifier")
        assertOneErrorLine(try CLIRunner.run(["classify", image, "--encoder", "resnet18"]), mentioning: "--encoder-weights")
        assertOneErrorLine(try CLIRunner.run(["classify", image, "--encoder", "resnet34", "--encoder-weights", tmp.path + "/gone.safetensors"]),
                           mentioning: "gone.safetensors")
        assertOneErrorLine(try CLIRunner.run(["classify", image, "--encoder", "mobilenet_v2", "--encoder-weights", notWeights]),
                           mentioning: "w.safetensors")
        assertOneErrorLine(try CLIRunner.run(["classify", "--encoder", "mobilenet_v2", "--encoder-weights", notWeights]), mentioning: "image")
        assertOneErrorLine(try CLIRunner.run(["classify", image, "--top", "0", "--encoder-weights", notWeights]), mentioning: "--top")
        if let dir = try? pretrainedDirectory() {
            let w = dir + "/mobilenet_v2_1.0_224_dequant.safetensors"
            assertOneErrorLine(try CLIRunner.run(["classify", image, junk, "--encoder", "mobilenet_v2", "--encoder-weights", w]), mentioning: "junk.jpg")
            // MobileNetV2 weights given as a ResNet: the first mismatched key is named.
            assertOneErrorLine(try CLIRunner.run(["classify", image, "--encoder", "resnet18", "--encoder-weights", w]), mentioning: "conv1.weight")
        }
    }
}
