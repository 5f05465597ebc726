import XCTest
import Tensors
import NeuralNetwork

final class OptimizerTests: XCTestCase {
    func testSGDHandComputed() {
        // p = 1, g = 2 (constant), lr 0.1, momentum 0.5: buf 2, 3, 3.5 -> p 0.8, 0.5, 0.15.
        let p = Variable(Tensor([1]), requiresGrad: true)
        let opt = SGD([p], learningRate: 0.1, momentum: 0.5)
        var seen: [Float] = []
        for _ in 0..<3 { p.grad = Tensor([2]); opt.step(); seen.append(p.value[flat: 0]) }
        XCTAssertEqual(seen[0], 0.8, accuracy: 1e-6)
        XCTAssertEqual(seen[1], 0.5, accuracy: 1e-6)
        XCTAssertEqual(seen[2], 0.15, accuracy: 1e-6)
    }

    func testAdamFirstStepIsLearningRateTimesSign() {
        // After bias correction the first Adam step is lr * g / (|g| + eps) = ±lr.
        let p = Variable(Tensor([1, 1]), requiresGrad: true)
        let opt = Adam([p], learningRate: 0.01)
        p.grad = Tensor([3, -0.5])
        opt.step()
        XCTAssertEqual(p.value.scalars[0], 0.99, accuracy: 1e-6)
        XCTAssertEqual(p.value.scalars[1], 1.01, accuracy: 1e-6)
        // AdamW decays the weight first: p * (1 - lr * wd) - lr.
        let q = Variable(Tensor([2]), requiresGrad: true)
        let w = Adam.adamW([q], learningRate: 0.1, weightDecay: 0.5)
        q.grad = Tensor([1])
        w.step()
        XCTAssertEqual(q.value.scalars[0], 2 * 0.95 - 0.1, accuracy: 1e-6)
    }

    func testGroupsFreezingAndZeroGrad() {
        let a = Variable(Tensor([1]), requiresGrad: true), b = Variable(Tensor([1]), requiresGrad: true)
        let frozen = Variable(Tensor([1]), requiresGrad: true)
        let opt = SGD([ParameterGroup([a], learningRate: 0.1), ParameterGroup([b, frozen], learningRate: 1)])
        frozen.requiresGrad = false
        for v in [a, b, frozen] { v.grad = Tensor([1]) }
        opt.step()
        XCTAssertEqual(a.value.scalars, [0.9])
        XCTAssertEqual(b.value.scalars, [0])
        XCTAssertEqual(frozen.value.scalars, [1], "frozen parameters are not updated")
        opt.zeroGrad()
        XCTAssertNil(a.grad)
        // A frozen parameter receives no gradient at all.
        let y = (frozen * a).sum()
        y.backward()
        XCTAssertNil(frozen.grad)
        XCTAssertNotNil(a.grad)
    }

    func testClipping() {
        let a = Variable(Tensor([3, 0]), requiresGrad: true), b = Variable(Tensor([4]), requiresGrad: true)
        a.grad = Tensor([3, 0]); b.grad = Tensor([4])
        let norm = clipGradNorm([a, b], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        XCTAssertEqual(a.grad!.scalars[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(b.grad!.scalars[0], 0.8, accuracy: 1e-6)
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 10), 1, accuracy: 1e-5)
        XCTAssertEqual(a.grad!.scalars[0], 0.6, accuracy: 1e-6, "below the limit nothing changes")
        a.grad = Tensor([-3, 0.5])
        clipGradients([a], maxValue: 1)
        XCTAssertEqual(a.grad!.scalars, [-1, 0.5])
    }

    func testSchedules() {
        let step = LearningRateSchedule.stepDecay(stepSize: 3, gamma: 0.5)
        XCTAssertEqual((0..<7).map { step.factor($0) }, [1, 1, 1, 0.5, 0.5, 0.5, 0.25])
        let cos = LearningRateSchedule.warmupCosine(warmupSteps: 4, totalSteps: 14, minFactor: 0.1)
        XCTAssertEqual(cos.factor(0), 0.25)
        XCTAssertEqual(cos.factor(3), 1)
        XCTAssertEqual(cos.factor(4), 1)
        XCTAssertEqual(cos.factor(9), 0.55, accuracy: 1e-6)
        XCTAssertEqual(cos.factor(14), 0.1, accuracy: 1e-6)
        XCTAssertEqual(cos.factor(100), 0.1, accuracy: 1e-6)
        let inv = LearningRateSchedule.inverseSquareRoot(warmupSteps: 4)
        XCTAssertEqual(inv.factor(1), 0.5)
        XCTAssertEqual(inv.factor(3), 1)
        XCTAssertEqual(inv.factor(15), 0.5)

        let p = Variable(Tensor([0]), requiresGrad: true)
        let opt = SGD([ParameterGroup([p], learningRate: 1), ParameterGroup([], learningRate: 0.1)])
        opt.scaleLearningRates(cos.factor(0))
        XCTAssertEqual(opt.groups.map(\.learningRate), [0.25, 0.025])
        let plateau = ReduceOnPlateau(mode: .max, factor: 0.5, patience: 1)
        opt.scaleLearningRates(1)
        let reduced = [0.3, 0.4, 0.4, 0.39, 0.41, 0.40, 0.40].map { plateau.step(Float($0), optimizer: opt) }
        XCTAssertEqual(reduced, [false, false, false, true, false, false, true])
        XCTAssertEqual(opt.groups[0].learningRate, 0.25, accuracy: 1e-7)
        XCTAssertEqual(opt.groups[1].learningRate, 0.025, accuracy: 1e-7)
    }
}

final class OptimizerStateTests: XCTestCase {
    /// Stopping after 2 steps, saving and restoring into a fresh optimiser gives the same
    /// parameters after step 4 as running 4 steps without interruption.
    func testResumeIsExact() throws {
        let grads = (0..<4).map { i in Tensor([Float(i) - 1.5, 0.5 * Float(i), 2]) }
        func run(_ make: ([Variable]) -> any Optimizer, interrupt: Bool) throws -> Tensor {
            var p = Variable(Tensor([1, -1, 0.5]), requiresGrad: true)
            var opt = make([p])
            for (i, g) in grads.enumerated() {
                if interrupt && i == 2 {
                    let named = [("w", p)]
                    let saved: [(String, Tensor)]
                    if let a = opt as? Adam { saved = a.stateTensors(named) } else { saved = (opt as! SGD).stateTensors(named) }
                    XCTAssertFalse(saved.isEmpty)
                    p = Variable(p.value, requiresGrad: true)
                    opt = make([p])
                    let dict = Dictionary(uniqueKeysWithValues: saved)
                    if let a = opt as? Adam { try a.loadState(dict, [("w", p)]) } else { try (opt as! SGD).loadState(dict, [("w", p)]) }
                }
                p.grad = g
                opt.step()
            }
            return p.value
        }
        let adam: ([Variable]) -> any Optimizer = { Adam($0, learningRate: 0.1, weightDecay: 0.01) }
        XCTAssertEqual(try run(adam, interrupt: true), try run(adam, interrupt: false))
        let sgd: ([Variable]) -> any Optimizer = { SGD($0, learningRate: 0.1, momentum: 0.9) }
        XCTAssertEqual(try run(sgd, interrupt: true), try run(sgd, interrupt: false))
        let p = Variable(Tensor([1, 2]), requiresGrad: true)
        XCTAssertThrowsError(try Adam([p]).loadState(["exp_avg.w": Tensor([1])], [("w", p)]))
    }
}
