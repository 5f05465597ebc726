import XCTest
import Tensors
import NeuralNetwork

final class LayerGradientTests: XCTestCase {
    func testLinearEmbeddingDropoutActivations() {
        var rng = SeededRandom(seed: 10)
        for batch in batchSizes {
            for inF in oddSizes {
                let layer = Linear(inF, 3, rng: &rng)
                let x = rand([batch, inF], &rng)
                assertGradients([x] + layer.parameters, "Linear \(batch)x\(inF)") { layer(x) }
            }
        }
        let emb = Embedding(6, 4, paddingIndex: 0, rng: &rng)
        XCTAssertEqual(emb.weight.value[row: 0].scalars, [0, 0, 0, 0])
        let plain = Embedding(6, 4, rng: &rng)
        assertGradients(plain.parameters, "Embedding") { plain([1, 0, 5, 1], shape: [2, 2]) }
        emb([0, 2], shape: [2]).sum().backward()
        XCTAssertEqual(emb.weight.grad![row: 0].scalars, [0, 0, 0, 0], "padding row gets no gradient")
        XCTAssertEqual(emb.weight.grad![row: 2].scalars, [1, 1, 1, 1])

        let drop = Dropout(0.4, seed: 3)
        let x = rand([3, 7], &rng)
        assertGradients([x], "Dropout (fixed mask)") {
            drop.rng = SeededRandom(seed: 3)
            return drop(x)
        }
        drop.rng = SeededRandom(seed: 3)
        let y = drop(Variable(Tensor.ones([1000])))
        let zeros = y.value.scalars.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / 1000, 0.4, accuracy: 0.06)
        XCTAssertEqual(y.value.scalars.first { $0 != 0 }!, 1 / 0.6, accuracy: 1e-6)
        drop.setTraining(false)
        XCTAssertTrue(drop(x) === x)

        let k = rand([3, 5], &rng, scale: 3, margin: 0.05)
        for kind in [Activation.Kind.relu, .sigmoid, .tanh] {
            assertGradients([k], step: 1e-3, "Activation \(kind)") { Activation(kind)(k) }
        }
    }

    func testLSTMCell() {
        var rng = SeededRandom(seed: 11)
        for (batch, input, hidden) in [(1, 3, 2), (3, 5, 7)] {
            let cell = LSTMCell(inputSize: input, hiddenSize: hidden, rng: &rng)
            let x = rand([batch, input], &rng), h = rand([batch, hidden], &rng), c = rand([batch, hidden], &rng)
            assertGradients([x, h, c] + cell.parameters, "LSTMCell h \(batch) \(input) \(hidden)") { cell(x, (h, c)).h }
            assertGradients([x, h, c], "LSTMCell c") { cell(x, (h, c)).c }
            // Two steps: the state is used by the next step (gradient through time).
            assertGradients([x, h, c] + cell.parameters, "LSTMCell two steps") {
                let s1 = cell(x, (h, c))
                let s2 = cell(x, s1)
                return s2.h + s2.c
            }
        }
    }

    func testLayerNorm() {
        var rng = SeededRandom(seed: 12)
        for n in [2, 5, 8] {
            let ln = LayerNorm(n)
            ln.weight.value = Tensor.uniform([n], 0.5, 1.5, rng: &rng)
            ln.bias.value = Tensor.uniform([n], -1, 1, rng: &rng)
            let x = rand([3, 2, n], &rng, scale: 2)
            assertGradients([x] + ln.parameters, step: 1e-3, "LayerNorm \(n)") { ln(x) }
            let y = withNoGrad { LayerNorm(n)(x) }.value
            XCTAssertEqual(y.mean(axis: -1).abs().max(), 0, accuracy: 1e-5)
        }
    }

    func testAdditiveAttention() {
        var rng = SeededRandom(seed: 13)
        for (batch, regions) in [(1, 1), (2, 5)] {
            let att = AdditiveAttention(encoderDim: 3, decoderDim: 4, attentionDim: 5, rng: &rng)
            let enc = rand([batch, regions, 3], &rng), h = rand([batch, 4], &rng)
            assertGradients([enc, h] + att.parameters, step: 1e-3, "attention context \(batch) \(regions)") { att(enc, hidden: h).context }
            assertGradients([enc, h] + att.parameters, step: 1e-3, "attention alpha") { att(enc, hidden: h).alpha }
            let alpha = withNoGrad { att(enc, hidden: h).alpha }.value
            for s in alpha.sum(axis: 1).scalars { XCTAssertEqual(s, 1, accuracy: 1e-5) }
        }
        XCTAssertEqual(AdditiveAttention(encoderDim: 3, decoderDim: 4, attentionDim: 5, rng: &rng).namedParameters.map(\.0),
                       ["encoder_att.weight", "encoder_att.bias", "decoder_att.weight", "decoder_att.bias", "full_att.weight", "full_att.bias"])
    }

    func testMultiheadAttention() {
        var rng = SeededRandom(seed: 14)
        let mha = MultiheadAttention(embedDim: 6, heads: 2, rng: &rng)
        mha.inProjBias.value = Tensor.uniform([18], -0.5, 0.5, rng: &rng)
        XCTAssertEqual(mha.namedParameters.map(\.0), ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        for batch in batchSizes {
            let x = rand([batch, 3, 6], &rng), mem = rand([batch, 4, 6], &rng)
            let pad = (0..<batch).map { b in [false, false, b == 0, true] }
            assertGradients([x] + mha.parameters, step: 1e-3, "MHA self causal \(batch)") {
                mha(query: x, key: x, value: x, causal: true).output
            }
            assertGradients([x, mem] + mha.parameters, step: 1e-3, "MHA cross padded") {
                mha(query: x, key: mem, value: mem, keyPaddingMask: pad).output
            }
            let v = rand([batch, 4, 6], &rng)
            assertGradients([x, mem, v], step: 1e-3, "MHA separate k/v, weights") {
                mha(query: x, key: mem, value: v).weights
            }
        }
    }

    func testMultiheadAttentionCacheMatchesFullCausal() {
        var rng = SeededRandom(seed: 15)
        let mha = MultiheadAttention(embedDim: 8, heads: 2, rng: &rng)
        let x = Variable(Tensor.normal([2, 5, 8], rng: &rng))
        let mem = Variable(Tensor.normal([2, 3, 8], rng: &rng))
        withNoGrad {
            let full = mha(query: x, key: x, value: x, causal: true).output.value
            var cache = MultiheadAttention.KVCache()
            var steps: [Tensor] = []
            for t in 0..<5 { steps.append(mha.selfAttentionStep(x.narrowed(axis: 1, start: t, length: 1), cache: &cache).value) }
            XCTAssertEqual(cache.length, 5)
            XCTAssertLessThan(Tensor.concatenate(steps, axis: 1).maxAbsDifference(full), 1e-5)
            // Two new positions at once after a prefix of three.
            var c2 = MultiheadAttention.KVCache()
            let a = mha.selfAttentionStep(x.narrowed(axis: 1, start: 0, length: 3), cache: &c2).value
            let b = mha.selfAttentionStep(x.narrowed(axis: 1, start: 3, length: 2), cache: &c2).value
            XCTAssertLessThan(Tensor.concatenate([a, b], axis: 1).maxAbsDifference(full), 1e-5)
            // Cross-attention through a memory cache, and batch reordering.
            let cross = mha(query: x, key: mem, value: mem).output.value
            let mc = mha.memoryCache(mem)
            XCTAssertLessThan(mha.attend(x, cache: mc).value.maxAbsDifference(cross), 1e-5)
            let swapped = mha.attend(Variable(Tensor.stack([x.value[row: 1], x.value[row: 0]])), cache: mc.reordered([1, 0])).value
            XCTAssertLessThan(swapped[row: 0].maxAbsDifference(cross[row: 1]), 1e-5)
        }
    }

    func testPositionalEncodings() {
        var rng = SeededRandom(seed: 16)
        let pe = SinusoidalPositionalEncoding(maxLength: 10, dim: 6)
        XCTAssertEqual(pe.table[0, 0], 0)
        XCTAssertEqual(pe.table[0, 1], 1)
        XCTAssertEqual(Double(pe.table[3, 2]), sin(3 / pow(10000, 2.0 / 6)), accuracy: 1e-6)
        XCTAssertEqual(Double(pe.table[3, 5]), cos(3 / pow(10000, 4.0 / 6)), accuracy: 1e-6)
        let x = rand([2, 4, 6], &rng)
        assertGradients([x], "sinusoidal") { pe(x, offset: 3) }
        let learned = LearnedPositionalEmbedding(maxLength: 10, dim: 6, rng: &rng)
        assertGradients([x] + learned.parameters, "learned positions") { learned(x, offset: 2) }
    }
}
