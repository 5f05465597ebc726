import SafeTensors
import Captioning

/// libFuzzer entry point: the safetensors reader, every tensor read in the types it allows, then the
/// `--model` path (caption-model metadata, config, vocabulary, decoder construction and weight loading).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let file = try? SafeTensorsFile(bytes: bytes) else { return 0 }
    for name in file.names {
        guard let info = file.tensors[name] else { fatalError("names lists '\(name)' but tensors lacks it") }
        let count = info.elementCount
        switch info.dtype {
        case .f32, .f16, .bf16, .f64:
            guard let v = try? file.floats(name), v.count == count else { fatalError("floats('\(name)') failed") }
        case .u8, .i8, .bool:
            guard let v = try? file.uint8s(name), v.count == count else { fatalError("uint8s('\(name)') failed") }
        default:
            guard let v = try? file.int64s(name), v.count == count else { fatalError("int64s('\(name)') failed") }
        }
    }
    if let model = try? ModelFile(file) {
        _ = try? CaptionModel(model)
    }
    return 0
}
