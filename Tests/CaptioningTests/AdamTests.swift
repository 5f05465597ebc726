import XCTest
@testable import Captioning

final class AdamTests: XCTestCase {
    /// Two Adam steps by hand (PyTorch's formula) on a two-parameter store.
    func testMatchesTheClosedForm() {
        let s = ParameterStore()
        s.add("w", shape: [2])
        s.values = [1, -2]
        var adam = AdamOptimizer(parameterCount: 2, learningRate: 0.1)
        let grads: [[Float]] = [[0.5, -1], [0.25, 3]]
        var m = [0.0, 0.0], v = [0.0, 0.0], p = [1.0, -2.0]
        for (t, g) in grads.enumerated() {
            s.gradients = g
            adam.update(s)
            for i in 0..<2 {
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.999 * v[i] + 0.001 * Double(g[i] * g[i])
                let mh = m[i] / (1 - pow(0.9, Double(t + 1))), vh = v[i] / (1 - pow(0.999, Double(t + 1)))
                p[i] -= 0.1 * mh / (vh.squareRoot() + 1e-8)
            }
        }
        XCTAssertEqual(Double(s.values[0]), p[0], accuracy: 1e-6)
        XCTAssertEqual(Double(s.values[1]), p[1], accuracy: 1e-6)
        XCTAssertEqual(adam.step, 2)
    }

    func testFrozenRangesAndDecoupledDecay() {
        let s = ParameterStore()
        s.add("a", shape: [1]); s.add("b", shape: [1])
        s.values = [1, 1]
        s.gradients = [0, 1]
        var adam = AdamOptimizer(parameterCount: 2, learningRate: 0.5, weightDecay: 0.1)
        adam.update(s, frozen: [1..<2])
        XCTAssertEqual(s.values[1], 1, "frozen parameter unchanged")
        XCTAssertEqual(s.values[0], 1 - 0.5 * 0.1, accuracy: 1e-6, "zero gradient: only the decay acts")
    }

    func testClipping() {
        let s = ParameterStore()
        s.add("g", shape: [2])
        s.gradients = [3, 4]
        XCTAssertEqual(s.clipGradients(globalNorm: 1), 5, accuracy: 1e-5)
        XCTAssertEqual(s.gradients[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(s.gradients[1], 0.8, accuracy: 1e-5)
        s.gradients = [-9, 0.5]
        s.clipGradients(value: 5)
        XCTAssertEqual(s.gradients, [-5, 0.5])
    }
}
