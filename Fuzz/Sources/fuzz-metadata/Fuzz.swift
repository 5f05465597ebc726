@testable import Captioning
import Text
import Vision

/// libFuzzer entry point: the text metadata of vocabulary, model and checkpoint files, each parsed from the
/// same input: vocabulary JSON, model config JSON, training options and state JSON, the SmallCNN configuration.
/// What parses must round-trip.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetadata(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let text = String(decoding: bytes, as: UTF8.self)
    if let v = try? Vocabulary(json: text) {
        guard let again = try? Vocabulary(json: v.json()), again == v else { fatalError("vocabulary does not round-trip") }
    }
    if let c = try? SmallCNNConfiguration(parsing: text) {
        guard let again = try? SmallCNNConfiguration(parsing: c.serialized), again == c else {
            fatalError("SmallCNN configuration does not round-trip")
        }
    }
    if let config = try? ModelFile.decodeJSON(ModelConfig.self, text, what: "config") {
        if let s = config.encoder.configuration { _ = try? SmallCNNConfiguration(parsing: s) }
        _ = try? CaptionDecoder(config)
    }
    _ = try? ModelFile.decodeJSON(TrainingOptions.self, text, what: "training.options")
    if let state = try? ModelFile.decodeJSON(TrainingState.self, text, what: "training.state") { _ = try? state.validate() }
    return 0
}
