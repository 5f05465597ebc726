import XCTest
import Tensors
import NeuralNetwork

final class LossTests: XCTestCase {
    func testCrossEntropyGradients() {
        var rng = SeededRandom(seed: 20)
        for (rows, classes) in [(1, 2), (5, 7), (4, 3)] {
            let logits = rand([rows, classes], &rng, scale: 3)
            let targets = (0..<rows).map { ($0 * 5 + 1) % classes }
            assertGradients([logits], "CE \(rows)x\(classes)") { crossEntropy(logits, targets: targets) }
            assertGradients([logits], "CE smoothing") { crossEntropy(logits, targets: targets, labelSmoothing: 0.15) }
            var withPad = targets
            withPad[0] = -100
            assertGradients([logits], "CE ignore") { crossEntropy(logits, targets: withPad, ignoreIndex: -100, labelSmoothing: 0.1) }
        }
        let seq = rand([2, 3, 4], &rng)
        assertGradients([seq], "CE on [B, T, C]") { crossEntropy(seq, targets: [0, 1, 2, 3, 0, 1], ignoreIndex: 3) }
    }

    func testCrossEntropyHandValues() {
        // Uniform logits: loss = log C whatever the target; smoothing does not change it.
        let l = Variable(Tensor(shape: [2, 4], repeating: 0.5))
        XCTAssertEqual(crossEntropy(l, targets: [1, 3]).value.item, Float(log(4.0)), accuracy: 1e-6)
        XCTAssertEqual(crossEntropy(l, targets: [1, 3], labelSmoothing: 0.3).value.item, Float(log(4.0)), accuracy: 1e-6)
        // Ignored rows do not count in the mean.
        let m = Variable(Tensor(shape: [2, 2], [0, 0, 5, -5]))
        XCTAssertEqual(crossEntropy(m, targets: [0, 1], ignoreIndex: 1).value.item, Float(log(2.0)), accuracy: 1e-6)
        let all = Variable(Tensor(shape: [1, 2], [1, 2]), requiresGrad: true)
        let z = crossEntropy(all, targets: [7], ignoreIndex: 7)
        XCTAssertEqual(z.value.item, 0)
        z.backward()
        XCTAssertEqual(all.grad!.scalars, [0, 0])
    }

    func testDoublyStochasticPenaltyAndMSE() {
        var rng = SeededRandom(seed: 21)
        let alphas = rand([2, 3, 4], &rng)
        assertGradients([alphas], "doubly stochastic") { doublyStochasticPenalty(alphas) }
        // Hand value: alphas summing to 1 over time cost 0; all zero cost 1.
        XCTAssertEqual(doublyStochasticPenalty(Variable(Tensor(shape: [1, 2, 3], repeating: 0.5))).value.item, 0)
        XCTAssertEqual(doublyStochasticPenalty(Variable(Tensor(shape: [2, 5, 3]))).value.item, 1)
        let a = rand([3, 2], &rng), b = rand([3, 2], &rng)
        assertGradients([a, b], "mse") { mseLoss(a, b) }
        XCTAssertEqual(mseLoss(Variable(Tensor([1, 2])), Variable(Tensor([3, 2]))).value.item, 2)
    }
}
