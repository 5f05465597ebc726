import XCTest
import Tensors

final class RandomTests: XCTestCase {
    func testSplitMix64ReferenceValues() {
        // First outputs of the reference splitmix64.c with state 0.
        var r = SeededRandom(seed: 0)
        XCTAssertEqual(r.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(r.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(r.next(), 0x06C4_5D18_8009_454F)
    }

    func testDeterministicAndDistributions() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        XCTAssertEqual(Tensor.normal([100], rng: &a), Tensor.normal([100], rng: &b))
        var r = SeededRandom(seed: 7)
        let n = Tensor.normal([20000], mean: 1, std: 2, rng: &r)
        let mean = n.mean()
        let variance = (n - mean).squared().mean()
        XCTAssertEqual(mean, 1, accuracy: 0.05)
        XCTAssertEqual(variance.squareRoot(), 2, accuracy: 0.05)
        let u = Tensor.uniform([20000], -3, 5, rng: &r)
        XCTAssertGreaterThanOrEqual(u.scalars.min()!, -3)
        XCTAssertLessThan(u.scalars.max()!, 5)
        XCTAssertEqual(u.mean(), 1, accuracy: 0.08)
    }

    func testInitialiserBounds() {
        var r = SeededRandom(seed: 1)
        let w = Tensor.kaimingUniform([64, 100], rng: &r)  // nn.Linear default: bound 1/sqrt(100)
        XCTAssertLessThanOrEqual(w.abs().max(), 0.1)
        XCTAssertGreaterThan(w.abs().max(), 0.095)
        let x = Tensor.xavierUniform([30, 20], rng: &r)  // sqrt(6/50)
        XCTAssertLessThanOrEqual(x.abs().max(), (6.0 / 50).squareRoot())
        XCTAssertGreaterThan(x.abs().max(), 0.95 * (6.0 / 50).squareRoot())
        let k = Tensor.kaimingNormal([64, 32, 3, 3], rng: &r)  // std sqrt(2/(64*9))
        XCTAssertEqual(k.squared().mean().squareRoot(), (2.0 / 576).squareRoot(), accuracy: 0.004)
        XCTAssertEqual(fans([8, 4, 3, 3]).fanIn, 36)
    }
}
