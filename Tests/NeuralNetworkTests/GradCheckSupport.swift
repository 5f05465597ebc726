import XCTest
import Tensors
import NeuralNetwork

/// Asserts that `GradientCheck` passes for `f` with respect to `inputs`.
func assertGradients(_ inputs: [Variable], step: Float = 1e-2, tolerance: Float = 1e-2, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line, _ f: () -> Variable) {
    let r = GradientCheck.check(inputs, step: step, tolerance: tolerance, f)
    XCTAssertTrue(r.passed, "\(what): \(r)", file: file, line: line)
}

/// A random leaf with values in ±scale, optionally kept at least `margin` away from 0.
func rand(_ shape: [Int], _ rng: inout SeededRandom, scale: Float = 1, margin: Float = 0) -> Variable {
    var t = Tensor.uniform(shape, -scale, scale, rng: &rng)
    if margin > 0 {
        t.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count where abs(p[i]) < margin { p[i] = p[i] < 0 ? p[i] - margin : p[i] + margin }
        }
    }
    return Variable(t, requiresGrad: true)
}

/// Batch sizes and odd feature sizes to cycle through.
let batchSizes = [1, 3]
let oddSizes = [1, 5, 7]
