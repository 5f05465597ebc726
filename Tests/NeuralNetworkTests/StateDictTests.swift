import XCTest
import Tensors
import SafeTensors
import NeuralNetwork

final class StateDictTests: XCTestCase {
    func testRoundTripAndErrors() throws {
        var rng = SeededRandom(seed: 30)
        let a = AdditiveAttention(encoderDim: 3, decoderDim: 4, attentionDim: 5, rng: &rng)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nn-statedict-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try StateDict.save(a, to: path, metadata: ["kind": "test"])
        let b = AdditiveAttention(encoderDim: 3, decoderDim: 4, attentionDim: 5, rng: &rng)
        XCTAssertNotEqual(a.encoderAtt.weight.value, b.encoderAtt.weight.value)
        try StateDict.load(b, path: path)
        for ((n1, v1), (n2, v2)) in zip(a.stateEntries, b.stateEntries) {
            XCTAssertEqual(n1, n2)
            XCTAssertEqual(v1.value, v2.value, n1)
        }
        let file = try SafeTensorsFile(contentsOf: path)
        XCTAssertEqual(file.metadata["kind"], "test")

        // Wrong shape: nothing is changed and the message names the key.
        let c = AdditiveAttention(encoderDim: 3, decoderDim: 4, attentionDim: 6, rng: &rng)
        let before = c.fullAtt.bias!.value
        XCTAssertThrowsError(try StateDict.load(c, from: file)) { e in
            XCTAssertEqual("\(e)", "shape mismatch for 'encoder_att.weight': file has [5, 3], model expects [6, 3]")
        }
        XCTAssertEqual(c.fullAtt.bias!.value, before)
        // Missing key under a prefix; unexpected key when strict.
        XCTAssertThrowsError(try StateDict.load(b, from: file, prefix: "x.")) { e in
            XCTAssertEqual("\(e)", "missing key 'x.encoder_att.weight' in state dict")
        }
        let lin = Linear(3, 5, rng: &rng)
        XCTAssertNoThrow(try StateDict.load(lin, from: file, prefix: "encoder_att."), "a submodule loads from its prefix")
        XCTAssertEqual(lin.weight.value, a.encoderAtt.weight.value)
        var w = SafeTensorsWriter()
        try StateDict.add(lin, to: &w, prefix: "m.")
        try w.add(name: "m.extra", floats: [1], shape: [1])
        try w.add(name: "m.bn.num_batches_tracked", floats: [1], shape: [])
        let f2 = try SafeTensorsFile(bytes: w.serialized())
        XCTAssertThrowsError(try StateDict.load(lin, from: f2, prefix: "m.")) { e in
            XCTAssertEqual("\(e)", "unexpected key 'm.extra' in state dict")
        }
        XCTAssertNoThrow(try StateDict.load(lin, from: f2, prefix: "m.", strict: false))
        XCTAssertThrowsError(try StateDict.load(lin, path: "/nonexistent/x.safetensors"))
    }

    func testHalfPrecisionSave() throws {
        var rng = SeededRandom(seed: 31)
        let l = Linear(4, 2, rng: &rng)
        var w = SafeTensorsWriter()
        try StateDict.add(l, to: &w, dtype: .f16)
        let f = try SafeTensorsFile(bytes: w.serialized())
        let m = Linear(4, 2, rng: &rng)
        try StateDict.load(m, from: f)
        XCTAssertLessThan(m.weight.value.maxAbsDifference(l.weight.value), 1e-3)
    }
}
