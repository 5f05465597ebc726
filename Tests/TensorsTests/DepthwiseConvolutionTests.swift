import XCTest
@testable import Tensors

final class DepthwiseConvolutionTests: XCTestCase {
    /// Textbook depthwise 3x3 in Double: zero padding `top`/`left` before, output extent given.
    func naive(_ x: [Float], planes: Int, channels: Int, h: Int, w: Int, oh: Int, ow: Int, stride: Int, top: Int, left: Int,
               weights: [Float], bias: [Float]?, activation: FusedActivation, channelMajor: Bool) -> [Float] {
        var y = [Float](repeating: 0, count: planes * oh * ow)
        for p in 0..<planes {
            let c = channelMajor ? p / (planes / channels) : p % channels
            for oy in 0..<oh { for ox in 0..<ow {
                var s = Double(bias?[c] ?? 0)
                for ky in 0..<3 { for kx in 0..<3 {
                    let iy = oy * stride - top + ky, ix = ox * stride - left + kx
                    if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                    s += Double(x[(p * h + iy) * w + ix]) * Double(weights[c * 9 + ky * 3 + kx])
                } }
                var v = Float(s)
                switch activation {
                case .none: break
                case .relu: v = max(v, 0)
                case .relu6: v = min(max(v, 0), 6)
                }
                y[(p * oh + oy) * ow + ox] = v
            } }
        }
        return y
    }

    func check(n: Int, c: Int, h: Int, w: Int, stride: Int, top: Int, left: Int, bottom: Int, right: Int,
               activation: FusedActivation, bias: Bool, channelMajor: Bool = false, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let planes = n * c
        let x = (0..<planes * h * w).map { _ in rng.uniformFloat() * 4 - 2 }
        let wt = (0..<c * 9).map { _ in rng.uniformFloat() * 2 - 1 }
        let b: [Float]? = bias ? (0..<c).map { _ in rng.uniformFloat() - 0.5 } : nil
        let oh = DepthwiseConvolution.outputExtent(h, stride: stride, before: top, after: bottom)
        let ow = DepthwiseConvolution.outputExtent(w, stride: stride, before: left, after: right)
        let expected = naive(x, planes: planes, channels: c, h: h, w: w, oh: oh, ow: ow, stride: stride, top: top, left: left,
                             weights: wt, bias: b, activation: activation, channelMajor: channelMajor)
        var y = [Float](repeating: .nan, count: planes * oh * ow)
        x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yb in
            let yp = yb.baseAddress!
            func run(_ bp: UnsafePointer<Float>?) {
                DepthwiseConvolution.forward3x3(input: xp.baseAddress!, output: yp, planes: planes, channels: c,
                                                height: h, width: w, outHeight: oh, outWidth: ow, stride: stride,
                                                padTop: top, padLeft: left, weights: wp.baseAddress!, bias: bp,
                                                activation: activation, channelMajor: channelMajor)
            }
            if let b { b.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
        } } }
        var worst: Float = 0
        for i in 0..<y.count { worst = max(worst, abs(y[i] - expected[i])) }
        XCTAssertFalse(y.contains { $0.isNaN }, "unwritten outputs for \(h)x\(w) s\(stride)")
        XCTAssertLessThan(worst, 2e-5, "\(n)x\(c)x\(h)x\(w) stride \(stride) pad (\(top),\(left),\(bottom),\(right))")
    }

    func testStrideOneSymmetricPaddingOddSizes() {
        for (i, (h, w)) in [(1, 1), (3, 5), (7, 7), (9, 17), (13, 31), (5, 40)].enumerated() {
            check(n: 2, c: 3, h: h, w: w, stride: 1, top: 1, left: 1, bottom: 1, right: 1, activation: .relu6, bias: true, seed: UInt64(i))
        }
    }

    func testStrideTwoTensorFlowSamePadding() {
        // SAME on even sizes pads (0 before, 1 after); on odd sizes (1, 1).
        for (i, s) in [2, 4, 8, 14, 28, 34, 56, 64, 3, 7, 15, 33, 49, 67].enumerated() {
            let (top, bottom) = DepthwiseConvolution.samePadding(s, stride: 2)
            let (left, right) = DepthwiseConvolution.samePadding(s + 2, stride: 2)
            check(n: 1, c: 5, h: s, w: s + 2, stride: 2, top: top, left: left, bottom: bottom, right: right,
                  activation: .relu6, bias: true, seed: 100 + UInt64(i))
        }
        XCTAssertTrue(DepthwiseConvolution.samePadding(224, stride: 2) == (0, 1))
        XCTAssertTrue(DepthwiseConvolution.samePadding(7, stride: 1) == (1, 1))
    }

    func testStrideTwoSymmetricAndNoPaddingNoBiasActivations() {
        check(n: 3, c: 2, h: 19, w: 37, stride: 2, top: 1, left: 1, bottom: 1, right: 1, activation: .none, bias: false, seed: 7)
        check(n: 1, c: 4, h: 20, w: 75, stride: 2, top: 0, left: 0, bottom: 0, right: 0, activation: .relu, bias: true, seed: 8)
        check(n: 2, c: 3, h: 11, w: 29, stride: 1, top: 0, left: 0, bottom: 0, right: 0, activation: .none, bias: true, seed: 9)
        check(n: 2, c: 3, h: 11, w: 29, stride: 1, top: 2, left: 2, bottom: 0, right: 0, activation: .none, bias: true, seed: 10)
    }

    func testChannelMajorPlanesAndParallelChunks() {
        // 64 channels x 4 images of 30x30: enough work for the parallel path.
        check(n: 4, c: 64, h: 30, w: 30, stride: 1, top: 1, left: 1, bottom: 1, right: 1, activation: .relu6, bias: true,
              channelMajor: true, seed: 11)
        check(n: 4, c: 64, h: 30, w: 30, stride: 2, top: 0, left: 0, bottom: 1, right: 1, activation: .relu6, bias: true,
              channelMajor: false, seed: 12)
    }
}
