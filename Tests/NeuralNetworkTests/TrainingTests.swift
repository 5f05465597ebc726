import XCTest
import Tensors
import NeuralNetwork

/// End-to-end learning under a seed.
final class TrainingTests: XCTestCase {
    /// 2-layer MLP (2 -> 8 tanh -> 2 logits) on XOR with Adam: cross-entropy below 0.01 within
    /// 300 full-batch steps, and the same loss curve on a second run.
    func trainXOR() -> [Float] {
        var rng = SeededRandom(seed: 7)
        let l1 = Linear(2, 8, rng: &rng), l2 = Linear(8, 2, rng: &rng)
        let x = Variable(Tensor(shape: [4, 2], [0, 0, 0, 1, 1, 0, 1, 1]))
        let y = [0, 1, 1, 0]
        let opt = Adam(l1.parameters + l2.parameters, learningRate: 0.05)
        var losses: [Float] = []
        for _ in 0..<300 {
            opt.zeroGrad()
            let loss = crossEntropy(l2(l1(x).tanh()), targets: y)
            loss.backward()
            opt.step()
            losses.append(loss.value.item)
        }
        let pred = withNoGrad { l2(l1(x).tanh()) }.value.argmax()
        XCTAssertEqual(pred, y)
        return losses
    }

    func testMLPLearnsXOR() {
        let a = trainXOR()
        XCTAssertGreaterThan(a[0], 0.5)
        XCTAssertLessThan(a.last!, 0.01, "final XOR loss \(a.last!)")
        XCTAssertEqual(a, trainXOR(), "deterministic under the seed")
    }

    /// Embedding -> LSTMCell -> Linear learns to output the previous token (needs the state):
    /// loss below 0.05 within 200 Adam steps on batches of 16 random sequences of length 6.
    func testLSTMEchoesPreviousToken() {
        var rng = SeededRandom(seed: 11)
        let vocab = 5, length = 6, batch = 16
        let emb = Embedding(vocab, 8, rng: &rng)
        let cell = LSTMCell(inputSize: 8, hiddenSize: 16, rng: &rng)
        let out = Linear(16, vocab, rng: &rng)
        let params = emb.parameters + cell.parameters + out.parameters
        let opt = Adam(params, learningRate: 0.03)
        var last: Float = .infinity
        var data = SeededRandom(seed: 5)
        for _ in 0..<200 {
            let seqs = (0..<batch).map { _ in (0..<length).map { _ in data.int(below: vocab) } }
            opt.zeroGrad()
            var state = cell.zeroState(batch: batch)
            var logits: [Variable] = []
            var targets: [Int] = []
            for t in 0..<length {
                state = cell(emb(seqs.map { $0[t] }), state)
                logits.append(out(state.h))
                targets += seqs.map { t == 0 ? -1 : $0[t - 1] }
            }
            let loss = crossEntropy(Variable.concatenate(logits, axis: 0), targets: targets, ignoreIndex: -1)
            loss.backward()
            clipGradNorm(params, maxNorm: 5)
            opt.step()
            last = loss.value.item
        }
        XCTAssertLessThan(last, 0.05, "final echo loss \(last)")
    }
}
