import XCTest
import Foundation
import Tensors

final class TensorTests: XCTestCase {
    func testCreationAndCopyOnWrite() {
        let a = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
        var b = a
        b[1, 2] = 60
        XCTAssertEqual(a[1, 2], 6)
        XCTAssertEqual(b[1, 2], 60)
        XCTAssertEqual(Tensor.zeros([2, 2]).scalars, [0, 0, 0, 0])
        XCTAssertEqual(Tensor.ones([3]).scalars, [1, 1, 1])
        XCTAssertEqual(Tensor.filled([2], 7).scalars, [7, 7])
        XCTAssertEqual(a.reshaped([3, -1]).shape, [3, 2])
        XCTAssertEqual(Tensor(shape: [0, 4]).count, 0)
    }

    /// Naive broadcasting reference over multi-indices.
    func naiveBroadcast(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        let out = BroadcastPlan.shape(a.shape, b.shape)!
        let r = out.count
        var res = Tensor(shape: out)
        let st = Tensor.strides(of: out)
        for flat in 0..<res.count {
            var idx = [Int](repeating: 0, count: r)
            var f2 = flat
            for d in 0..<r { idx[d] = f2 / st[d]; f2 %= st[d] }
            func pick(_ t: Tensor) -> Float {
                let off = r - t.rank
                let i = (0..<t.rank).map { t.shape[$0] == 1 ? 0 : idx[$0 + off] }
                return t.rank == 0 ? t.item : t[flat: t.offset(i)]
            }
            res[flat: flat] = f(pick(a), pick(b))
        }
        return res
    }

    func testBroadcastingMatchesNaive() {
        var rng = SeededRandom(seed: 1)
        let cases: [([Int], [Int])] = [
            ([3, 5], [3, 5]), ([3, 5], [5]), ([3, 5], []), ([4, 3, 5], [3, 1]), ([4, 1, 5], [3, 1]),
            ([2, 3, 17], [2, 3, 1]), ([1], [7, 9]), ([2, 1, 4, 1], [3, 1, 5]), ([5, 1], [1, 6]),
        ]
        for (sa, sb) in cases {
            let a = Tensor.normal(sa, rng: &rng), b = Tensor.normal(sb, rng: &rng)
            XCTAssertEqual(a + b, naiveBroadcast(a, b, +), "\(sa) + \(sb)")
            XCTAssertEqual(a * b, naiveBroadcast(a, b, *), "\(sa) * \(sb)")
            XCTAssertEqual(b - a, naiveBroadcast(b, a, -), "\(sb) - \(sa)")
            XCTAssertEqual(a / b, naiveBroadcast(a, b, /), "\(sa) / \(sb)")
            // sumToShape is the adjoint of broadcasting: <broadcast(b), g> == <b, sumToShape(g)>.
            let out = BroadcastPlan.shape(sa, sb)!
            let g = Tensor.normal(out, rng: &rng)
            let bb = (b + Tensor.zeros(out))
            let lhs = (bb * g).scalars.reduce(0.0) { $0 + Double($1) }
            let rhs = (b * g.sumToShape(sb)).scalars.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "sumToShape \(out) -> \(sb)")
        }
    }

    func testUnaryOps() {
        let xs: [Float] = (0..<203).map { Float($0 - 101) * 0.173 } + [0, 1e-5, -1e-5, 80, -80, 100, -100, .infinity, -.infinity]
        let t = Tensor(xs)
        let e = t.exp().scalars, th = t.tanh().scalars, sg = t.sigmoid().scalars
        for (i, x) in xs.enumerated() {
            let d = Double(x)
            let ex = Foundation.exp(d)
            if ex < 1e-37 { XCTAssertLessThan(e[i], 1e-37) } else if ex.isFinite && ex < 3e38 {
                XCTAssertEqual(Double(e[i]), ex, accuracy: ex * 3e-7, "exp(\(x))")
            } else { XCTAssertEqual(e[i], .infinity) }
            XCTAssertEqual(Double(th[i]), Foundation.tanh(d), accuracy: 2e-7 + abs(Foundation.tanh(d)) * 3e-7, "tanh(\(x))")
            XCTAssertEqual(Double(sg[i]), 1 / (1 + Foundation.exp(-d)), accuracy: 2e-7, "sigmoid(\(x))")
        }
        XCTAssertTrue(Tensor([Float.nan]).exp()[flat: 0].isNaN)
        XCTAssertEqual(Tensor([-2, 3, 7]).relu().scalars, [0, 3, 7])
        XCTAssertEqual(Tensor([-2, 3, 7]).relu6().scalars, [0, 3, 6])
        XCTAssertEqual(Tensor([4, 9]).sqrt().scalars, [2, 3])
        XCTAssertEqual(Tensor([1, Float(M_E)]).log().scalars[1], 1, accuracy: 1e-6)
    }

    func testReductions() {
        let t = Tensor(shape: [2, 3, 2], (0..<12).map(Float.init))
        XCTAssertEqual(t.sum(), 66)
        XCTAssertEqual(t.sum(axis: 0).scalars, [6, 8, 10, 12, 14, 16])
        XCTAssertEqual(t.sum(axis: 1).scalars, [6, 9, 24, 27])
        XCTAssertEqual(t.sum(axis: -1, keepDim: true).shape, [2, 3, 1])
        XCTAssertEqual(t.sum(axis: -1).scalars, [1, 5, 9, 13, 17, 21])
        XCTAssertEqual(t.mean(axis: 1).scalars, [2, 3, 8, 9])
        XCTAssertEqual(t.max(axis: 1).scalars, [4, 5, 10, 11])
        XCTAssertEqual(Tensor(shape: [2, 3], [1, 9, 3, 7, 2, 7]).argmax(), [1, 0])
        XCTAssertEqual(t.max(), 11)
    }

    func testSoftmaxStableAndAxes() {
        let x = Tensor(shape: [2, 3], [1e4, 1e4 - 1, -1e4, -1e4, -1e4 + 2, 0])
        let s = x.softmax()
        let e1 = Foundation.exp(-1.0)
        XCTAssertEqual(Double(s[0, 0]), 1 / (1 + e1), accuracy: 1e-6)
        XCTAssertEqual(Double(s[0, 1]), e1 / (1 + e1), accuracy: 1e-6)
        XCTAssertEqual(s[0, 2], 0)
        XCTAssertEqual(s[1, 2], 1, accuracy: 1e-6)
        let ls = x.logSoftmax()
        XCTAssertEqual(Double(ls[0, 1]), -1 - Foundation.log(1 + e1), accuracy: 1e-3)
        XCTAssertEqual(ls[1, 0], -1e4, accuracy: 1)
        XCTAssertFalse(ls.scalars.contains { !$0.isFinite })
        // Axis 0 equals softmax of the transposed rows.
        var rng = SeededRandom(seed: 3)
        let y = Tensor.normal([4, 5, 3], rng: &rng)
        let a1 = y.softmax(axis: 1)
        let ref = y.permuted([0, 2, 1]).softmax().permuted([0, 2, 1])
        XCTAssertLessThan(a1.maxAbsDifference(ref), 1e-7)
        XCTAssertEqual(a1.sum(axis: 1).scalars.map { Double($0) }.reduce(0, +), 12, accuracy: 1e-5)
    }

    func testShapeOps() {
        let t = Tensor(shape: [2, 3, 4], (0..<24).map(Float.init))
        let p = t.permuted([2, 0, 1])
        XCTAssertEqual(p.shape, [4, 2, 3])
        for i in 0..<4 { for j in 0..<2 { for k in 0..<3 { XCTAssertEqual(p[i, j, k], t[j, k, i]) } } }
        let q = t.permuted([1, 0, 2])
        for i in 0..<3 { for j in 0..<2 { for k in 0..<4 { XCTAssertEqual(q[i, j, k], t[j, i, k]) } } }
        XCTAssertEqual(t.transposed().transposed(), t)
        let n = t.narrowed(axis: 2, start: 1, length: 2)
        XCTAssertEqual(n.shape, [2, 3, 2])
        XCTAssertEqual(n[1, 2, 1], t[1, 2, 2])
        let c = Tensor.concatenate([t, n], axis: 2)
        XCTAssertEqual(c.shape, [2, 3, 6])
        XCTAssertEqual(c[1, 1, 5], t[1, 1, 2])
        XCTAssertEqual(c[1, 1, 3], t[1, 1, 3])
        XCTAssertEqual(t[rows: 1..<2].shape, [1, 3, 4])
        XCTAssertEqual(t[row: 1][2, 3], 23)
        let g = Tensor(shape: [4, 2], (0..<8).map(Float.init)).gatherRows([3, 0, 3])
        XCTAssertEqual(g.scalars, [6, 7, 0, 1, 6, 7])
        XCTAssertEqual(Tensor.stack([Tensor([1, 2]), Tensor([3, 4])], axis: 1).scalars, [1, 3, 2, 4])
    }

    func testMatmulMatchesNaive() {
        var rng = SeededRandom(seed: 9)
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (17, 9, 1), (8, 16, 12)] {
            for ta in [false, true] { for tb in [false, true] {
                let a = Tensor.normal([2, ta ? k : m, ta ? m : k], rng: &rng)
                let b = Tensor.normal([2, tb ? n : k, tb ? k : n], rng: &rng)
                let c = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
                XCTAssertEqual(c.shape, [2, m, n])
                for bi in 0..<2 { for i in 0..<m { for j in 0..<n {
                    var s: Float = 0
                    for p in 0..<k { s += (ta ? a[bi, p, i] : a[bi, i, p]) * (tb ? b[bi, j, p] : b[bi, p, j]) }
                    XCTAssertEqual(c[bi, i, j], s, accuracy: 1e-4)
                } } }
                // 2-D right operand shared across the batch.
                let b2 = b[row: 0]
                let c2 = Tensor.matmul(a, b2, transposeA: ta, transposeB: tb)
                XCTAssertLessThan(c2[row: 0].maxAbsDifference(c[row: 0]), 1e-5)
            } }
        }
    }
}
