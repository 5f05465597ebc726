import Tensors
import NeuralNetwork

/// `caption bench layers`: the NeuralNetwork building blocks of the decoders and encoders (issue 4's shapes),
/// forward (no graph) and forward+backward (gradients zeroed first, as a training step does).
enum LayersBench {
    static var group: BenchGroup { BenchGroup(name: "layers",
                                  summary: "LSTMCell (B32 I1024 H512), ResNet conv layers, multi-head attention (B32 T20 D512 h8), fwd and fwd+bwd",
                                  figures: figures) }

    static func figures() -> [BenchFigure] {
        var out: [BenchFigure] = []
        let lstmShape = "x [32,1024], (h, c) [32,512] -> LSTMCell(1024, 512)"
        out.append(BenchFigure(name: "layers/lstm_cell/B32_I1024_H512/forward", shape: lstmShape, itemsPerCall: 32, item: "rows") {
            var rng = SeededRandom(seed: 1)
            let cell = LSTMCell(inputSize: 1024, hiddenSize: 512, rng: &rng)
            let x = Variable(Tensor.normal([32, 1024], rng: &rng))
            let h = Variable(Tensor.normal([32, 512], rng: &rng)), c = Variable(Tensor.normal([32, 512], rng: &rng))
            return { _ = withNoGrad { cell(x, (h, c)) } }
        })
        out.append(BenchFigure(name: "layers/lstm_cell/B32_I1024_H512/forward_backward", shape: lstmShape + ", backward of sum(h) + sum(c)",
                               itemsPerCall: 32, item: "rows") {
            var rng = SeededRandom(seed: 1)
            let cell = LSTMCell(inputSize: 1024, hiddenSize: 512, rng: &rng)
            let x = Variable(Tensor.normal([32, 1024], rng: &rng), requiresGrad: true)
            let h = Variable(Tensor.normal([32, 512], rng: &rng)), c = Variable(Tensor.normal([32, 512], rng: &rng))
            return {
                cell.zeroGrad(); x.zeroGrad()
                let s = cell(x, (h, c))
                (s.h.sum() + s.c.sum()).backward()
            }
        })
        // ResNet layers: layer1 3x3 (ResNet-18/34), the stem 7x7/2, a ResNet-50 bottleneck 1x1 reduce, layer2's 3x3/2.
        let convs: [(String, Int, Int, Int, Int, Int, Int, Int)] = [
            // name, batch, in, out, size, kernel, stride, pad
            ("3x3s1_64to64_56x56/batch8", 8, 64, 64, 56, 3, 1, 1),
            ("7x7s2_3to64_224x224/batch1", 1, 3, 64, 224, 7, 2, 3),
            ("1x1s1_256to64_56x56/batch8", 8, 256, 64, 56, 1, 1, 0),
            ("3x3s2_128to128_56x56/batch8", 8, 128, 128, 56, 3, 2, 1),
        ]
        for (i, (label, batch, cin, cout, size, kernel, stride, pad)) in convs.enumerated() {
            let shape = "x [\(batch),\(cin),\(size),\(size)] -> Conv2d(\(cin), \(cout), \(kernel), stride \(stride), padding \(pad), no bias)"
            out.append(BenchFigure(name: "layers/conv2d/\(label)/forward", shape: shape, itemsPerCall: Double(batch), item: "images") {
                var rng = SeededRandom(seed: 2)
                let conv = Conv2d(cin, cout, kernelSize: kernel, stride: stride, padding: pad, bias: false, rng: &rng)
                let x = Variable(Tensor.normal([batch, cin, size, size], rng: &rng))
                return { _ = withNoGrad { conv(x) } }
            })
            if i == 0 || i == 2 {
                out.append(BenchFigure(name: "layers/conv2d/\(label)/forward_backward", shape: shape + ", backward of sum (input and weight gradients)",
                                       itemsPerCall: Double(batch), item: "images") {
                    var rng = SeededRandom(seed: 2)
                    let conv = Conv2d(cin, cout, kernelSize: kernel, stride: stride, padding: pad, bias: false, rng: &rng)
                    let x = Variable(Tensor.normal([batch, cin, size, size], rng: &rng), requiresGrad: true)
                    return { conv.zeroGrad(); x.zeroGrad(); conv(x).sum().backward() }
                })
            }
        }
        out.append(BenchFigure(name: "layers/maxpool2d/3x3s2p1_64x112x112/batch8/forward", shape: "x [8,64,112,112] -> MaxPool2d(3, 2, 1)",
                               itemsPerCall: 8, item: "images") {
            var rng = SeededRandom(seed: 3)
            let pool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
            let x = Variable(Tensor.normal([8, 64, 112, 112], rng: &rng))
            return { _ = withNoGrad { pool(x) } }
        })
        let mhaShape = "x [32,20,512] -> causal self-attention, MultiheadAttention(512, 8 heads)"
        out.append(BenchFigure(name: "layers/mha/B32_T20_D512_h8/forward", shape: mhaShape, itemsPerCall: 32, item: "sequences") {
            var rng = SeededRandom(seed: 4)
            let mha = MultiheadAttention(embedDim: 512, heads: 8, rng: &rng)
            let q = Variable(Tensor.normal([32, 20, 512], rng: &rng))
            return { _ = withNoGrad { mha(query: q, key: q, value: q, causal: true) } }
        })
        out.append(BenchFigure(name: "layers/mha/B32_T20_D512_h8/forward_backward", shape: mhaShape + ", backward of sum(output)",
                               itemsPerCall: 32, item: "sequences") {
            var rng = SeededRandom(seed: 4)
            let mha = MultiheadAttention(embedDim: 512, heads: 8, rng: &rng)
            let q = Variable(Tensor.normal([32, 20, 512], rng: &rng), requiresGrad: true)
            return { mha.zeroGrad(); q.zeroGrad(); mha(query: q, key: q, value: q, causal: true).output.sum().backward() }
        })
        return out
    }
}
