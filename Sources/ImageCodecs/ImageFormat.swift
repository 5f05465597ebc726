/// Image file formats recognised from their first bytes (never from the file name).
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
    case jpeg, png, ppm, pgm, pbm, gif, webp, bmp, tiff, heic, avif, unknown

    /// The name used in messages: "JPEG", "PNG", ….
    public var name: String {
        switch self {
        case .jpeg: "JPEG"
        case .png: "PNG"
        case .ppm: "PPM"
        case .pgm: "PGM"
        case .pbm: "PBM"
        case .gif: "GIF"
        case .webp: "WebP"
        case .bmp: "BMP"
        case .tiff: "TIFF"
        case .heic: "HEIC"
        case .avif: "AVIF"
        case .unknown: "unknown"
        }
    }

    /// Whether `decodeImage` can decode this format.
    public var isSupported: Bool { [.jpeg, .png, .ppm, .pgm, .pbm, .bmp].contains(self) }
}

/// Recognises the format of an image file from its first bytes.
public func detectImageFormat(_ bytes: [UInt8]) -> ImageFormat {
    func starts(_ s: [UInt8], at o: Int = 0) -> Bool {
        bytes.count >= o + s.count && Array(bytes[o..<(o + s.count)]) == s
    }
    let ascii = { (s: String) in Array(s.utf8) }
    if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
    if starts(pngSignature) { return .png }
    if starts(ascii("GIF87a")) || starts(ascii("GIF89a")) { return .gif }
    if starts(ascii("RIFF")) && starts(ascii("WEBP"), at: 8) { return .webp }
    if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
    if starts(ascii("BM")) && bytes.count >= 18 { return .bmp }
    if starts(ascii("ftyp"), at: 4) && bytes.count >= 12 {
        let brand = String(decoding: bytes[8..<12], as: UTF8.self)
        if ["avif", "avis"].contains(brand) { return .avif }
        if ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"].contains(brand) { return .heic }
    }
    if bytes.count >= 3 && bytes[0] == 0x50 && isPNMSpace(bytes[2]) {
        switch bytes[1] {
        case 0x33, 0x36: return .ppm // P3, P6
        case 0x32, 0x35: return .pgm // P2, P5
        case 0x31, 0x34: return .pbm // P1, P4
        default: break
        }
    }
    return .unknown
}

/// Decodes an image of any supported format (detected from the bytes) to RGB. JPEG and PNG as Pillow's
/// `Image.open(f).convert("RGB")` gives them (PNG alpha composited on white), PPM/PGM/PBM scaled to 8 bits
/// as Pillow does, BMP (uncompressed 1/4/8/24/32-bit). Other formats are named in the error.
public func decodeImage(_ bytes: [UInt8]) throws(ImageError) -> RGBImage {
    if bytes.isEmpty { throw ImageError("empty file") }
    let format = detectImageFormat(bytes)
    switch format {
    case .jpeg: return try decodeJPEG(bytes)
    case .png: return try decodePNG(bytes)
    case .ppm, .pgm, .pbm: return try decodePNM(bytes)
    case .bmp: return try decodeBMP(bytes)
    case .unknown:
        throw ImageError("unrecognised image format (supported: JPEG, PNG, PPM/PGM/PBM, BMP)")
    default:
        throw ImageError("\(format.name) images are not supported (supported: JPEG, PNG, PPM/PGM/PBM, BMP)")
    }
}

/// Largest image file `loadImage` reads, in bytes (1 GiB), checked before reading.
public let maximumImageFileBytes = 1 << 30

/// Reads and decodes the image file at `path`. Every error is one line prefixed with the path:
/// `photo.jpg: truncated PNG data (…)`, `dir: is a directory, not an image file`.
public func loadImage(path: String) throws(ImageError) -> RGBImage {
    let bytes: [UInt8]
    do {
        bytes = try readImageFile(path)
    } catch {
        throw ImageError("\(path): \(error.description)")
    }
    do {
        return try decodeImage(bytes)
    } catch {
        throw ImageError("\(path): \(error.description)")
    }
}
