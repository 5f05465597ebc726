import ImageCodecs

/// libFuzzer entry point: the JPEG decoder either throws or returns a well-formed image.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let image = try? decodeJPEG(bytes) { checkImage(image) }
    return 0
}
