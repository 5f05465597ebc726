import XCTest
import Tensors
import NeuralNetwork

final class OpGradientTests: XCTestCase {
    func testElementwiseBinaryWithBroadcasting() {
        var rng = SeededRandom(seed: 1)
        for (sa, sb) in [([3, 5], [3, 5]), ([1, 7], [7]), ([3, 4], [1]), ([2, 3, 4], [3, 1]), ([4, 1, 5], [1, 3, 1])] {
            let a = rand(sa, &rng), b = rand(sb, &rng, margin: 0.5)
            assertGradients([a, b], "add \(sa) \(sb)") { a + b }
            assertGradients([a, b], "sub \(sa) \(sb)") { a - b }
            assertGradients([a, b], "mul \(sa) \(sb)") { a * b }
            assertGradients([a, b], step: 1e-3, "div \(sa) \(sb)") { a / b }
        }
        let a = rand([2, 3], &rng)
        assertGradients([a], "scalar ops") { ((a * 3 + 1) - 2) / 4 }
        assertGradients([a], "reverse scalar ops") { 2 - (3 * a) + (-a) }
    }

    func testUnary() {
        var rng = SeededRandom(seed: 2)
        for n in oddSizes {
            let x = rand([2, n], &rng, scale: 2)
            let pos = Variable(Tensor.uniform([2, n], 0.5, 2, rng: &rng), requiresGrad: true)
            assertGradients([x], "exp") { x.exp() }
            assertGradients([pos], "log") { pos.log() }
            assertGradients([x], "tanh") { x.tanh() }
            assertGradients([x], "sigmoid") { x.sigmoid() }
            assertGradients([pos], "sqrt") { pos.sqrt() }
            assertGradients([x], "squared") { x.squared() }
            let k = rand([3, n], &rng, scale: 3, margin: 0.05)
            assertGradients([k], step: 1e-3, "relu") { k.relu() }
            let k6 = Variable(Tensor(shape: [4], [-1, 3, 5.5, 7]), requiresGrad: true)
            assertGradients([k6], step: 1e-3, "relu6") { k6.relu6() }
        }
    }

    func testReductionsAndSoftmax() {
        var rng = SeededRandom(seed: 3)
        for b in batchSizes {
            let x = rand([b, 3, 5], &rng, scale: 2)
            assertGradients([x], "sum") { x.sum() }
            assertGradients([x], "mean") { x.mean() }
            for axis in [0, 1, -1] {
                assertGradients([x], "sum axis \(axis)") { x.sum(axis: axis) }
                assertGradients([x], "mean axis \(axis) keepDim") { x.mean(axis: axis, keepDim: true) }
                assertGradients([x], "softmax axis \(axis)") { x.softmax(axis: axis) }
                assertGradients([x], "logSoftmax axis \(axis)") { x.logSoftmax(axis: axis) }
            }
        }
    }

    func testShapeOps() {
        var rng = SeededRandom(seed: 4)
        let x = rand([2, 3, 4], &rng)
        assertGradients([x], "reshape") { x.reshaped([4, -1]) * x.reshaped([4, 6]) }
        assertGradients([x], "permute") { x.permuted([2, 0, 1]) }
        assertGradients([x], "transpose") { x.transposed() }
        assertGradients([x], "narrow") { x.narrowed(axis: 2, start: 1, length: 2) }
        assertGradients([x], "chunk") { x.chunked(2, axis: 2)[1] * x.chunked(2, axis: 2)[0] }
        let y = rand([2, 5, 4], &rng)
        assertGradients([x, y], "concatenate") { Variable.concatenate([x, y, x], axis: 1) }
        assertGradients([x], "stack") { Variable.stack([x, x * 2], axis: 1) }
        let table = rand([5, 3], &rng)
        assertGradients([table], "gatherRows with repeats") { table.gatherRows([4, 0, 4, 2, 4]) }
    }

    func testMatmulAndLinear() {
        var rng = SeededRandom(seed: 5)
        for (m, k, n) in [(1, 1, 1), (3, 5, 2), (4, 7, 3)] {
            for ta in [false, true] { for tb in [false, true] {
                let a = rand([2, ta ? k : m, ta ? m : k], &rng)
                let b = rand([2, tb ? n : k, tb ? k : n], &rng)
                assertGradients([a, b], "batched matmul \(m)x\(k)x\(n) \(ta) \(tb)") { matmul(a, b, transposeA: ta, transposeB: tb) }
                let b2 = rand([tb ? n : k, tb ? k : n], &rng)
                assertGradients([a, b2], "matmul shared 2-D \(ta) \(tb)") { matmul(a, b2, transposeA: ta, transposeB: tb) }
                let a2 = rand([ta ? k : m, ta ? m : k], &rng)
                assertGradients([a2, b2], "2-D matmul \(ta) \(tb)") { matmul(a2, b2, transposeA: ta, transposeB: tb) }
            } }
        }
        for batch in batchSizes {
            let x = rand([batch, 2, 5], &rng), w = rand([3, 5], &rng), bias = rand([3], &rng)
            assertGradients([x, w, bias], "linear") { linear(x, w, bias) }
            assertGradients([x, w], "linear without bias") { linear(x, w, nil) }
        }
        let v = rand([5], &rng), w = rand([3, 5], &rng)
        assertGradients([v, w], "linear on a vector") { linear(v, w, nil) }
    }

    func testCheckCatchesWrongBackward() {
        var rng = SeededRandom(seed: 6)
        let x = rand([3, 4], &rng)
        // tanh with the derivative factor (1 - y^2) forgotten.
        let wrong = GradientCheck.check([x]) {
            Variable.record(x.value.tanh(), [x]) { g in x.accumulate(g) }
        }
        XCTAssertFalse(wrong.passed, "a wrong backward must fail the check: \(wrong)")
        // Off by a small factor is caught too.
        let slightly = GradientCheck.check([x]) {
            let y = x.value * 2
            return Variable.record(y, [x]) { g in x.accumulate(g * 2.1) }
        }
        XCTAssertFalse(slightly.passed, "5% error must fail: \(slightly)")
    }

    func testValueUsedTwiceAccumulates() {
        let x = Variable(Tensor([1, -2, 3]), requiresGrad: true)
        let y = (x * x + x).sum()
        y.backward()
        XCTAssertEqual(x.grad!.scalars, [3, -3, 7])
        // Gradients keep accumulating over backward passes until zeroGrad.
        (x * 2).sum().backward()
        XCTAssertEqual(x.grad!.scalars, [5, -1, 9])
        x.zeroGrad()
        XCTAssertNil(x.grad)
    }

    func testNoGradRecordsNothingAndBackwardFreesGraph() {
        let x = Variable(Tensor([1, 2, 3]), requiresGrad: true)
        let y = withNoGrad { (x * 2).tanh() }
        XCTAssertTrue(y.isLeaf)
        XCTAssertFalse(y.requiresGrad)
        let c = Variable(Tensor([1, 2, 3]))
        XCTAssertTrue((c * 2).isLeaf, "constants only: no graph")

        weak var weakMid: Variable?
        var loss: Variable
        do {
            let mid = (x * 2).tanh()
            weakMid = mid
            loss = (mid * mid).sum()
        }
        XCTAssertNotNil(weakMid, "the graph holds the intermediate before backward")
        loss.backward()
        XCTAssertNil(weakMid, "backward frees the intermediates")
        XCTAssertNotNil(x.grad)
        XCTAssertTrue(loss.isLeaf)
    }
}
