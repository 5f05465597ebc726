import XCTest
import Tensors
import SafeTensors
import NeuralNetwork

/// Forward values against PyTorch (Golden/make_golden.py wrote Golden/golden.safetensors).
final class GoldenTests: XCTestCase {
    var golden: SafeTensorsFile!

    override func setUpWithError() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/golden.safetensors")
        golden = try SafeTensorsFile(contentsOf: dir.path)
    }

    func t(_ name: String) throws -> Tensor { Tensor(shape: try golden.shape(name), try golden.floats(name)) }

    func assertClose(_ a: Tensor, _ b: Tensor, _ tol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return }
        let d = a.maxAbsDifference(b)
        XCTAssertLessThanOrEqual(d, tol, "\(what): max difference \(d)", file: file, line: line)
    }

    func testLSTMCell() throws {
        var rng = SeededRandom(seed: 0)
        let cell = LSTMCell(inputSize: 5, hiddenSize: 4, rng: &rng)
        try StateDict.load(cell, from: golden, prefix: "lstm.", strict: false)
        let (h, c) = withNoGrad { cell(Variable(try! t("lstm.x")), (Variable(try! t("lstm.h")), Variable(try! t("lstm.c")))) }
        assertClose(h.value, try t("lstm.h1"), 1e-6, "h'")
        assertClose(c.value, try t("lstm.c1"), 1e-6, "c'")
    }

    func testMultiheadAttention() throws {
        var rng = SeededRandom(seed: 0)
        let mha = MultiheadAttention(embedDim: 8, heads: 2, rng: &rng)
        try StateDict.load(mha, from: golden, prefix: "mha.", strict: false)
        let q = Variable(try t("mha.query")), mem = Variable(try t("mha.memory"))
        let padT = try t("mha.key_padding")
        let pad = (0..<2).map { b in (0..<4).map { padT[b, $0] != 0 } }
        withNoGrad {
            let s = mha(query: q, key: q, value: q, causal: true)
            assertClose(s.output.value, try! t("mha.self_out"), 1e-5, "self-attention output")
            assertClose(s.weights.value, try! t("mha.self_weights"), 1e-6, "self-attention weights")
            let c = mha(query: q, key: mem, value: mem, keyPaddingMask: pad)
            assertClose(c.output.value, try! t("mha.cross_out"), 1e-5, "cross-attention output")
            assertClose(c.weights.value, try! t("mha.cross_weights"), 1e-6, "cross-attention weights")
        }
    }

    func testLayerNorm() throws {
        let ln = LayerNorm(6)
        try StateDict.load(ln, from: golden, prefix: "ln.", strict: false)
        let y = withNoGrad { ln(Variable(try! t("ln.input"))) }
        assertClose(y.value, try t("ln.output"), 2e-6, "LayerNorm")
    }

    func testCrossEntropy() throws {
        let logits = Variable(try t("ce.logits"), requiresGrad: true)
        let targets = try t("ce.targets").scalars.map { Int($0) }
        let loss = crossEntropy(logits, targets: targets, ignoreIndex: 0, labelSmoothing: 0.1)
        XCTAssertEqual(loss.value.item, try t("ce.loss").item, accuracy: 1e-6)
        loss.backward()
        assertClose(logits.grad!, try t("ce.grad"), 1e-7, "gradient with ignore_index and smoothing")
        let plain = withNoGrad { crossEntropy(logits, targets: targets) }
        XCTAssertEqual(plain.value.item, try t("ce.loss_plain").item, accuracy: 1e-6)

        let big = Variable(try t("ce.big_logits"), requiresGrad: true)
        let bl = crossEntropy(big, targets: try t("ce.big_targets").scalars.map { Int($0) }, labelSmoothing: 0.2)
        let ref = try t("ce.big_loss").item
        XCTAssertEqual(bl.value.item, ref, accuracy: abs(ref) * 1e-6, "logits of magnitude 1e4")
        bl.backward()
        assertClose(big.grad!, try t("ce.big_grad"), 1e-6, "gradient at magnitude 1e4")
    }

    func testOptimizersMatchTorch() throws {
        let p0 = try t("opt.p0"), grads = try t("opt.grads")
        func run(_ make: (Variable) -> any Optimizer) -> Tensor {
            let p = Variable(p0, requiresGrad: true)
            let opt = make(p)
            for i in 0..<3 { p.grad = grads[row: i]; opt.step() }
            return p.value
        }
        assertClose(run { SGD([$0], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01) }, try t("opt.sgd_momentum"), 1e-6, "SGD momentum")
        assertClose(run { SGD([ParameterGroup([$0], learningRate: 0.1)], momentum: 0.9, nesterov: true) }, try t("opt.sgd_nesterov"), 1e-6, "SGD nesterov")
        assertClose(run { Adam([$0], learningRate: 0.01, weightDecay: 0.1) }, try t("opt.adam"), 1e-6, "Adam")
        assertClose(run { Adam.adamW([$0], learningRate: 0.01, weightDecay: 0.1) }, try t("opt.adamw"), 1e-6, "AdamW")
    }
}
