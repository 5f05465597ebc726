@testable import Captioning
import Metrics

/// libFuzzer entry point: the caption files of `caption score` (references and hypotheses, lines or COCO JSON)
/// and the dataset caption files (Flickr8k tokens, Kaggle CSV, Karpathy JSON, COCO JSON), each parser run on
/// the same input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCaptions(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let r = try? CaptionFiles.parseReferences(bytes, name: "fuzz") {
        guard !r.order.isEmpty, r.order.allSatisfy({ r.captions[$0] != nil }) else { fatalError("references without captions") }
    }
    if let h = try? CaptionFiles.parseHypotheses(bytes, name: "fuzz") {
        guard h.order.allSatisfy({ h.captions[$0] != nil }) else { fatalError("hypotheses out of order") }
    }
    var body = bytes
    if body.starts(with: [0xEF, 0xBB, 0xBF]) { body.removeFirst(3) }
    let text = String(decoding: body, as: UTF8.self)
    _ = try? DatasetParsers.tokenLines(text, path: "fuzz")
    _ = try? DatasetParsers.csvCaptions(text, path: "fuzz")
    if let json = try? DatasetParsers.parseJSON(text: text, path: "fuzz") {
        _ = try? DatasetParsers.karpathy(json, path: "fuzz")
        _ = try? DatasetParsers.coco(json, path: "fuzz")
    }
    return 0
}
