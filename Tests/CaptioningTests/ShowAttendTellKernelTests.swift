import XCTest
import Foundation
import Tensors
@testable import Captioning

/// The fused Show-Attend-Tell kernels (SoftAttention, LSTMCellKernel, the in-place log-softmax and the fused
/// softmax + cross-entropy) against naive loops and central finite differences. Sizes are odd on purpose
/// (not multiples of the SIMD width), so every vector loop also runs its scalar tail.
final class ShowAttendTellKernelTests: XCTestCase {
    func random(_ n: Int, _ rng: inout SeededRandom, scale: Float = 1) -> [Float] { (0..<n).map { _ in scale * (2 * rng.uniformFloat() - 1) } }

    func assertClose(_ a: [Float], _ b: [Float], _ tol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where abs(x - y) > tol * max(1, abs(y)) {
            XCTFail("\(what)[\(i)]: \(x) vs \(y)", file: file, line: line)
            return
        }
    }

    // Attention sizes: 3 rows over 2 images, 5 regions, E = 11, A = 19.
    let (R, I, P, E, A) = (3, 2, 5, 11, 19)

    func testSoftAttentionForwardMatchesNaiveLoops() {
        var rng = SeededRandom(seed: 1)
        let feat = random(I * P * E, &rng), enc = random(I * P * A, &rng), dec = random(R * A, &rng), w = random(A, &rng)
        let rows = [1, 0, 1]
        var alpha = [Float](repeating: 0, count: R * P), awe = [Float](repeating: 0, count: R * E)
        SoftAttention.forward(rows: R, regions: P, encoderSize: E, attentionSize: A, features: feat, encAtt: enc, decAtt: dec,
                              fullW: w, fullB: 0.3, imageOfRow: rows, alpha: &alpha, awe: &awe)
        // Independent loops in Double.
        for b in 0..<R {
            let img = rows[b]
            var s = [Double](repeating: 0.3, count: P)
            for p in 0..<P { for a in 0..<A { s[p] += Double(max(enc[(img * P + p) * A + a] + dec[b * A + a], 0)) * Double(w[a]) } }
            let m = s.max()!
            let z = s.map { Foundation.exp($0 - m) }.reduce(0, +)
            for p in 0..<P { XCTAssertEqual(Double(alpha[b * P + p]), Foundation.exp(s[p] - m) / z, accuracy: 1e-6) }
            for e in 0..<E {
                var v = 0.0
                for p in 0..<P { v += Foundation.exp(s[p] - m) / z * Double(feat[(img * P + p) * E + e]) }
                XCTAssertEqual(Double(awe[b * E + e]), v, accuracy: 1e-5)
            }
        }
    }

    /// loss = Σ awe · U + Σ α · Q; SoftAttention.backward against central differences of that loss in every input,
    /// and against the naive (pre-storing) reference `attentionBackward`.
    func testSoftAttentionBackwardMatchesFiniteDifferencesAndNaiveReference() {
        var rng = SeededRandom(seed: 2)
        let feat = random(R * P * E, &rng), enc = random(R * P * A, &rng), dec = random(R * A, &rng), w = random(A, &rng)
        let U = random(R * E, &rng), Q = random(R * P, &rng)
        func loss(_ f: [Float], _ en: [Float], _ de: [Float], _ fw: [Float], _ fb: Float) -> Double {
            var alpha = [Float](repeating: 0, count: R * P), awe = [Float](repeating: 0, count: R * E)
            SoftAttention.forward(rows: R, regions: P, encoderSize: E, attentionSize: A, features: f, encAtt: en, decAtt: de,
                                  fullW: fw, fullB: fb, imageOfRow: nil, alpha: &alpha, awe: &awe)
            return zip(awe, U).reduce(0) { $0 + Double($1.0 * $1.1) } + zip(alpha, Q).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        var alpha = [Float](repeating: 0, count: R * P), awe = [Float](repeating: 0, count: R * E)
        SoftAttention.forward(rows: R, regions: P, encoderSize: E, attentionSize: A, features: feat, encAtt: enc, decAtt: dec,
                              fullW: w, fullB: 0.1, imageOfRow: nil, alpha: &alpha, awe: &awe)
        var gW = [Float](repeating: 0, count: A), gB: [Float] = [0]
        var dEnc = [Float](repeating: 0, count: R * P * A), dDec = [Float](repeating: 7, count: R * A), dFeat = [Float](repeating: 0, count: R * P * E)
        SoftAttention.backward(rows: R, regions: P, encoderSize: E, attentionSize: A, features: feat, encAtt: enc, decAtt: dec,
                               alpha: alpha, dAwe: U, dPenalty: Q, fullW: w, gradFullW: &gW, gradFullB: &gB,
                               dEncAtt: &dEnc, dDecAtt: &dDec, dFeatures: &dFeat)

        let eps: Float = 1e-3
        func numeric(_ x: [Float], _ k: Int, _ f: ([Float]) -> Double) -> Float {
            var up = x, down = x
            up[k] += eps; down[k] -= eps
            return Float((f(up) - f(down)) / Double(2 * eps))
        }
        for k in 0..<(R * P * A) { XCTAssertEqual(dEnc[k], numeric(enc, k) { loss(feat, $0, dec, w, 0.1) }, accuracy: 2e-3, "dEncAtt[\(k)]") }
        for k in 0..<(R * A) { XCTAssertEqual(dDec[k], numeric(dec, k) { loss(feat, enc, $0, w, 0.1) }, accuracy: 2e-3, "dDecAtt[\(k)]") }
        for k in 0..<A { XCTAssertEqual(gW[k], numeric(w, k) { loss(feat, enc, dec, $0, 0.1) }, accuracy: 2e-3, "gradFullW[\(k)]") }
        for k in 0..<(R * P * E) { XCTAssertEqual(dFeat[k], numeric(feat, k) { loss($0, enc, dec, w, 0.1) }, accuracy: 2e-3, "dFeatures[\(k)]") }
        XCTAssertEqual(gB[0], 0, accuracy: 1e-5)   // softmax is shift-invariant

        // The naive reference (stores the ReLU activations).
        var preRef = [Float](repeating: 0, count: R * P * A), alphaRef = [Float](repeating: 0, count: R * P), aweRef = [Float](repeating: 0, count: R * E)
        feat.withUnsafeBufferPointer { fb in
            attentionForward(rows: R, regions: P, encoderSize: E, attentionSize: A, features: fb.baseAddress!, encAtt: enc, decAtt: dec,
                             fullW: w, fullB: 0.1, pre: &preRef, preOffset: 0, alpha: &alphaRef, aweOut: &aweRef, offset: 0)
        }
        assertClose(alpha, alphaRef, 1e-6, "alpha")
        assertClose(awe, aweRef, 1e-5, "awe")
        var gWRef = [Float](repeating: 0, count: A), gBRef: [Float] = [0]
        var dEncRef = [Float](repeating: 0, count: R * P * A), dDecRef = [Float](repeating: 0, count: R * A), dFeatRef = [Float](repeating: 0, count: R * P * E)
        feat.withUnsafeBufferPointer { fb in
            attentionBackward(rows: R, regions: P, encoderSize: E, attentionSize: A, features: fb.baseAddress!, alpha: alphaRef, pre: preRef,
                              preOffset: 0, offset: 0, dAwe: U, dPenalty: Q, fullW: w, gradFullW: &gWRef, gradFullB: &gBRef,
                              dEncAtt: &dEncRef, dDecAtt: &dDecRef, dFeat: &dFeatRef)
        }
        assertClose(dEnc, dEncRef, 1e-5, "dEncAtt vs reference")
        assertClose(dDec, dDecRef, 1e-5, "dDecAtt vs reference")
        assertClose(gW, gWRef, 1e-5, "gradFullW vs reference")
        assertClose(dFeat, dFeatRef, 1e-5, "dFeatures vs reference")
    }

    // LSTM: 2 rows, H = 13.
    let (LR, H) = (2, 13)

    func testLSTMCellForwardMatchesScalarFormulas() {
        var rng = SeededRandom(seed: 3)
        let gates = random(LR * 4 * H, &rng, scale: 3), c0 = random(LR * H, &rng)
        var c = c0, h = [Float](repeating: 0, count: LR * H)
        var acts = [Float](repeating: 0, count: LR * 4 * H), tc = [Float](repeating: 0, count: LR * H)
        LSTMCellKernel.forward(rows: LR, hidden: H, gates: gates, c: &c, h: &h, acts: &acts, tanhC: &tc)
        func sig(_ x: Float) -> Double { 1 / (1 + Foundation.exp(-Double(x))) }
        for r in 0..<LR {
            for j in 0..<H {
                let g = r * 4 * H
                let i = sig(gates[g + j]), f = sig(gates[g + H + j]), gg = Foundation.tanh(Double(gates[g + 2 * H + j])), o = sig(gates[g + 3 * H + j])
                let cn = f * Double(c0[r * H + j]) + i * gg
                XCTAssertEqual(Double(c[r * H + j]), cn, accuracy: 1e-6)
                XCTAssertEqual(Double(h[r * H + j]), o * Foundation.tanh(cn), accuracy: 1e-6)
                XCTAssertEqual(Double(tc[r * H + j]), Foundation.tanh(cn), accuracy: 1e-6)
                XCTAssertEqual(Double(acts[g + 2 * H + j]), gg, accuracy: 1e-6)
            }
        }
    }

    /// loss = Σ h · U + Σ c · W; LSTMCellKernel.backward against central differences in the gates and the previous c.
    func testLSTMCellBackwardMatchesFiniteDifferences() {
        var rng = SeededRandom(seed: 4)
        let gates = random(LR * 4 * H, &rng, scale: 2), c0 = random(LR * H, &rng), U = random(LR * H, &rng), W = random(LR * H, &rng)
        func loss(_ gt: [Float], _ cp: [Float]) -> Double {
            var c = cp, h = [Float](repeating: 0, count: LR * H)
            LSTMCellKernel.forward(rows: LR, hidden: H, gates: gt, c: &c, h: &h)
            return zip(h, U).reduce(0) { $0 + Double($1.0 * $1.1) } + zip(c, W).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
        var c = c0, h = [Float](repeating: 0, count: LR * H)
        var acts = [Float](repeating: 0, count: LR * 4 * H), tc = [Float](repeating: 0, count: LR * H)
        LSTMCellKernel.forward(rows: LR, hidden: H, gates: gates, c: &c, h: &h, acts: &acts, tanhC: &tc)
        var dc = W, dG = [Float](repeating: 0, count: LR * 4 * H)
        LSTMCellKernel.backward(rows: LR, hidden: H, acts: acts, tanhC: tc, cPrev: c0, dh: U, dc: &dc, dGates: &dG)
        let eps: Float = 1e-3
        for k in 0..<(LR * 4 * H) {
            var up = gates, down = gates
            up[k] += eps; down[k] -= eps
            XCTAssertEqual(dG[k], Float((loss(up, c0) - loss(down, c0)) / Double(2 * eps)), accuracy: 1e-3, "dGates[\(k)]")
        }
        for k in 0..<(LR * H) {
            var up = c0, down = c0
            up[k] += eps; down[k] -= eps
            XCTAssertEqual(dc[k], Float((loss(gates, up) - loss(gates, down)) / Double(2 * eps)), accuracy: 1e-3, "dcPrev[\(k)]")
        }
    }

    func testInPlaceLogSoftmaxMatchesReference() {
        var rng = SeededRandom(seed: 5)
        let V = 37
        var x = random(3 * V, &rng, scale: 30)
        x[5] = -.infinity
        x[V + 36] = 80   // the maximum in the scalar tail
        var reference = x
        logSoftmaxRows(&reference, rows: 3, columns: V)
        x.withUnsafeMutableBufferPointer { logSoftmaxRowsInPlace($0.baseAddress!, rows: 3, columns: V) }
        XCTAssertEqual(x[5], -.infinity)
        x[5] = 0; reference[5] = 0
        assertClose(x, reference, 2e-6, "log-softmax")
        // A row of -inf and a NaN row behave as the reference.
        var bad: [Float] = [Float](repeating: -.infinity, count: 9) + [1, .nan] + [Float](repeating: 0, count: 7)
        var badRef = bad
        logSoftmaxRows(&badRef, rows: 2, columns: 9)
        bad.withUnsafeMutableBufferPointer { logSoftmaxRowsInPlace($0.baseAddress!, rows: 2, columns: 9) }
        XCTAssertTrue(bad[0].isNaN == badRef[0].isNaN && bad[10].isNaN && badRef[10].isNaN)
    }

    /// Fused softmax + cross-entropy: the summed loss and the gradient against Double loops and central differences.
    func testSoftmaxCrossEntropyMatchesNaiveAndFiniteDifferences() {
        var rng = SeededRandom(seed: 6)
        let (rows, V) = (4, 29)
        let x = random(rows * V, &rng, scale: 5)
        let targets = [3, 28, 0, 17]
        func naive(_ z: [Float]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                let row = z[(r * V)..<((r + 1) * V)].map(Double.init)
                let m = row.max()!
                total += m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +)) - row[targets[r]]
            }
            return total
        }
        var g = x
        let scale: Float = 0.25
        let loss = targets.withUnsafeBufferPointer { t in
            g.withUnsafeMutableBufferPointer { softmaxCrossEntropyInPlace($0.baseAddress!, rows: rows, columns: V, targets: t.baseAddress!, scale: scale) }
        }
        XCTAssertEqual(loss, naive(x), accuracy: 1e-4)
        let eps: Float = 1e-2
        for k in 0..<(rows * V) {
            var up = x, down = x
            up[k] += eps; down[k] -= eps
            XCTAssertEqual(g[k], scale * Float((naive(up) - naive(down)) / Double(2 * eps)), accuracy: 1e-4, "dlogits[\(k)]")
        }
    }

    /// The vectorised exp keeps the documented range behaviour and accuracy.
    func testVectorExpAgainstLibm() {
        let xs: [Float] = [-100, -87.4, -87.3, -50, -1.5, -1e-3, 0, 1e-3, 0.5, 1, 10, 50, 88, 88.5, 88.72, 89, .infinity, -.infinity]
        for x in xs {
            let y = VectorMath.exp(SIMD8<Float>(repeating: x))[0]
            let want = Foundation.exp(Double(x))
            if x < -87.33 { XCTAssertEqual(y, 0, "exp(\(x))") }
            else if x > 88.7228 { XCTAssertEqual(y, .infinity, "exp(\(x))") }
            else { XCTAssertEqual(Double(y), want, accuracy: want * 3e-7, "exp(\(x))") }
        }
        XCTAssertTrue(VectorMath.exp(SIMD8<Float>(repeating: .nan))[0].isNaN)
    }
}
