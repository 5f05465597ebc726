import XCTest
import Foundation
import Tensors
import NeuralNetwork

/// Prints (does not assert) forward+backward times of the decoder building blocks.
/// Sizes are the brief's; set NN_TIMING_REPS to change the repetitions (default 1).
final class TimingTests: XCTestCase {
    func median(_ reps: Int, _ body: () -> Void) -> Double {
        body()  // warm-up
        var t: [Double] = []
        for _ in 0..<reps {
            let s = Date()
            body()
            t.append(Date().timeIntervalSince(s) * 1000)
        }
        return t.sorted()[t.count / 2]
    }

    func testPrintLSTMAndMHATimings() {
        let reps = Int(ProcessInfo.processInfo.environment["NN_TIMING_REPS"] ?? "") ?? 1
        var rng = SeededRandom(seed: 1)
        let cell = LSTMCell(inputSize: 1024, hiddenSize: 512, rng: &rng)
        let x = Variable(Tensor.normal([32, 1024], rng: &rng))
        let h = Variable(Tensor.normal([32, 512], rng: &rng)), c = Variable(Tensor.normal([32, 512], rng: &rng))
        let lstm = median(reps) {
            let s = cell(x, (h, c))
            (s.h.sum() + s.c.sum()).backward()
        }
        let lstmFwd = median(reps) { _ = withNoGrad { cell(x, (h, c)) } }
        let mha = MultiheadAttention(embedDim: 512, heads: 8, rng: &rng)
        let q = Variable(Tensor.normal([32, 20, 512], rng: &rng))
        let att = median(reps) {
            mha(query: q, key: q, value: q, causal: true).output.sum().backward()
        }
        let attFwd = median(reps) { _ = withNoGrad { mha(query: q, key: q, value: q, causal: true) } }
        print(String(format: "TIMING lstm_cell/B32_I1024_H512 forward %.2f ms, forward+backward %.2f ms", lstmFwd, lstm))
        print(String(format: "TIMING mha/B32_T20_D512_h8 forward %.2f ms, forward+backward %.2f ms", attFwd, att))
        XCTAssertNotNil(cell.weightIH.grad)
    }
}
