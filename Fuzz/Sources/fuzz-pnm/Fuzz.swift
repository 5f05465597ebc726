import ImageCodecs

/// libFuzzer entry point: the PNM decoder either throws or returns a well-formed image.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNM(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let image = try? decodePNM(bytes) { checkImage(image) }
    return 0
}
