import XCTest
import Foundation

final class SummaryCommandTests: XCTestCase {
    func testResNetTotalsMatchPyTorch() throws {
        let r18 = try CLIRunner.run(["summary", "--encoder", "resnet18"])
        XCTAssertEqual(r18.status, 0, r18.stderr)
        XCTAssertTrue(r18.stdout.contains("encoder parameters: 11,689,512"), r18.stdout)
        XCTAssertTrue(r18.stdout.contains("[512, 7, 7]"), r18.stdout)
        let r50 = try CLIRunner.run(["summary", "--encoder", "resnet50"])
        XCTAssertTrue(r50.stdout.contains("encoder parameters: 25,557,032"), r50.stdout)
    }

    func testDecoderCountsMatchTheFormula() throws {
        // Show-Attend-Tell with V=2540, M=A=H=512, E=1280 (MobileNetV2 regions), by hand:
        let (V, M, A, H, E) = (2540, 512, 512, 512, 1280)
        var n = (E * A + A) + (H * A + A) + (A + 1) + V * M
        n += 4 * H * (M + E) + 4 * H * H + 8 * H
        n += 2 * (E * H + H) + (H * E + E) + (H * V + V)
        let r = try CLIRunner.run(["summary", "--encoder", "mobilenet_v2", "--decoder", "lstm", "--vocab-size", "2540"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("decoder parameters: \(grouped(n))"), "\(grouped(n))\n" + r.stdout)
        XCTAssertTrue(r.stdout.contains("decoder attention.full_att"), r.stdout)
        // Transformer, one layer D=64, F=128, by hand: embeddings, memory projection, one layer, final norm, fc.
        let (D, F, Vt, Et) = (64, 128, 100, 512)
        var t = Vt * D + 32 * D + (Et * D + D)
        t += 2 * (3 * D * D + 3 * D + D * D + D) + (D * F + F) + (F * D + D) + 3 * 2 * D
        t += 2 * D + (D * Vt + Vt)
        let tr = try CLIRunner.run(["summary", "--encoder", "resnet18", "--decoder", "transformer", "--vocab-size", "100",
                                    "--model-size", "64", "--heads", "4", "--ff-size", "128", "--layers", "1"])
        XCTAssertEqual(tr.status, 0, tr.stderr)
        XCTAssertTrue(tr.stdout.contains("decoder parameters: \(grouped(t))"), "\(grouped(t))\n" + tr.stdout)
    }

    func testSummaryOfATrainedModel() throws {
        let f = try CLIFixture.shared()
        XCTAssertEqual(f.trainResult.status, 0, f.trainResult.stderr)
        let r = try CLIRunner.run(["summary", "--model", f.model])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("encoder small"), r.stdout)
        XCTAssertTrue(r.stdout.contains("decoder fc"), r.stdout)
        let bad = try CLIRunner.run(["summary"])
        XCTAssertNotEqual(bad.status, 0)
    }

    func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return out
    }
}
