import XCTest
import Foundation
import SafeTensors
@testable import Captioning

final class ModelFileTests: XCTestCase {
    func makeModel() -> (ModelFile, ShowAttendTell) {
        let cfg = ShowAttendTellConfig(vocabularySize: 10, embeddingSize: 4, encoderSize: 6, attentionSize: 5, hiddenSize: 7)
        let m = ShowAttendTell(cfg)
        m.initialise(seed: 2)
        var f = ModelFile(config: ModelConfig(encoder: EncoderSpec(name: "small", gridSize: 7, channels: 6, preprocessing: "direct", embeddedWeights: false),
                                              decoder: "lstm", lstm: cfg),
                          vocabularyJSON: #"{"words":["<pad>"]}"#, extraMetadata: ["training": #"{"epoch":3}"#])
        f.add(m.parameters, prefix: "decoder.")
        return (f, m)
    }

    func testRoundTripInFloat32AndFloat16() throws {
        let (file, model) = makeModel()
        for half in [false, true] {
            let back = try ModelFile(SafeTensorsFile(bytes: try file.serialized(halfPrecision: half)))
            XCTAssertEqual(back.config, file.config)
            XCTAssertEqual(back.vocabularyJSON, file.vocabularyJSON)
            XCTAssertEqual(back.extraMetadata["training"], #"{"epoch":3}"#)
            let m2 = ShowAttendTell(file.config.lstm!)
            try back.load(into: m2.parameters, prefix: "decoder.")
            let err = zip(m2.parameters.values, model.parameters.values).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(err, half ? 1e-3 : 0)
        }
    }

    func testRefusesOtherFilesAndMismatchedShapes() throws {
        var w = SafeTensorsWriter()
        try w.add(name: "conv1.weight", floats: [1, 2], shape: [2])
        XCTAssertThrowsError(try ModelFile(SafeTensorsFile(bytes: w.serialized()))) { e in
            XCTAssertTrue("\(e)".contains("not a caption model"), "\(e)")
        }
        var (file, _) = makeModel()
        file.tensors["decoder.fc.bias"] = ([3], [0, 0, 0])
        let m = ShowAttendTell(file.config.lstm!)
        XCTAssertThrowsError(try file.load(into: m.parameters, prefix: "decoder.")) { e in
            XCTAssertTrue("\(e)".contains("decoder.fc.bias"), "\(e)")
        }
        file = makeModel().0
        file.tensors["decoder.extra"] = ([1], [0])
        XCTAssertThrowsError(try file.load(into: m.parameters, prefix: "decoder.")) { e in
            XCTAssertTrue("\(e)".contains("unexpected tensor 'decoder.extra'"), "\(e)")
        }
    }
}
