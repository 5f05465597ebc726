import NeuralNetwork
import Tensors

/// `activation(x + bias[c])` for `x [N, C, H, W]` and `bias [C]`, in one pass: the bias and clamp that follow a
/// convolution whose batch norm was folded into it. Gradients: the activation's mask (ReLU: `y > 0`; ReLU6:
/// `0 < y < 6`, as PyTorch's hardtanh) times the incoming gradient, summed per channel for the bias.
public func biasActivation(_ x: Variable, _ bias: Variable, _ activation: FusedActivation) -> Variable {
    let s = x.shape
    precondition(s.count == 4 && bias.shape == [s[1]], "biasActivation: input \(s), bias \(bias.shape)")
    let n = s[0], c = s[1], hw = s[2] * s[3]
    let xv = x.value, bv = bias.value
    let y = Tensor(shape: s) { o in
        let xp = xv.readPointer, bp = bv.readPointer
        let box = UnsafeSendable(o)
        parallelChannels(n * c) { plane in
            let b = bp[plane % c], src = xp + plane * hw, dst = box.value + plane * hw
            switch activation {
            case .none: for i in 0..<hw { dst[i] = src[i] + b }
            case .relu: for i in 0..<hw { dst[i] = max(src[i] + b, 0) }
            case .relu6: for i in 0..<hw { dst[i] = min(max(src[i] + b, 0), 6) }
            }
        }
    }
    return Variable.record(y, [x, bias]) { g in
        let gp = g.readPointer, yp = y.readPointer
        let dx = Tensor(shape: s) { o in
            let box = UnsafeSendable(o)
            parallelChannels(n * c) { plane in
                let src = gp + plane * hw, out = yp + plane * hw, dst = box.value + plane * hw
                switch activation {
                case .none: dst.update(from: src, count: hw)
                case .relu: for i in 0..<hw { dst[i] = out[i] > 0 ? src[i] : 0 }
                case .relu6: for i in 0..<hw { dst[i] = out[i] > 0 && out[i] < 6 ? src[i] : 0 }
                }
            }
        }
        if bias.requiresGrad {
            let dp = dx.readPointer
            var db = [Float](repeating: 0, count: c)
            for b in 0..<n { for ch in 0..<c { db[ch] += VectorMath.sum(hw, dp + (b * c + ch) * hw) } }
            bias.accumulate(Tensor(shape: [c], db))
        }
        if x.requiresGrad { x.accumulate(dx) }
    }
}
