import ImageCodecs
import SafeTensors

/// Reads an image file for captioning. Errors are one line naming the file.
/// (Until the ImageCodecs `loadImage(path:)` lands, binary PPM/PGM are decoded here and other formats go
/// through `decodeJPEG`.)
public func loadCaptionImage(path: String) throws(DatasetError) -> RGBImage {
    let bytes: [UInt8]
    do { bytes = try FileBytes.read(path, limit: 1 << 30) } catch { throw DatasetError(error.description) }
    if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "6") || bytes[1] == UInt8(ascii: "5") {
        do { return try decodeNetpbm(bytes) } catch { throw DatasetError("\(path): \(error.description)") }
    }
    do { return try decodeJPEG(bytes) } catch { throw DatasetError("\(path): \(error.description)") }
}

/// Binary PPM (P6) / PGM (P5), maxval up to 65535.
func decodeNetpbm(_ b: [UInt8]) throws(ImageError) -> RGBImage {
    var i = 2
    func skipSpace() {
        while i < b.count {
            if b[i] == UInt8(ascii: "#") { while i < b.count && b[i] != 10 { i += 1 } } else if [9, 10, 13, 32].contains(b[i]) { i += 1 } else { break }
        }
    }
    func number() throws(ImageError) -> Int {
        skipSpace()
        var v = 0, digits = 0
        while i < b.count, b[i] >= 48, b[i] <= 57 {
            v = v * 10 + Int(b[i] - 48)
            digits += 1
            i += 1
            if v > 1 << 20 { throw ImageError("PPM header value too large") }
        }
        guard digits > 0 else { throw ImageError("bad PPM header") }
        return v
    }
    let grey = b[1] == UInt8(ascii: "5")
    let w = try number(), h = try number(), maxval = try number()
    guard w > 0, h > 0, maxval > 0, maxval < 65536, w * h <= maximumImagePixels else { throw ImageError("bad PPM size or maxval") }
    i += 1
    let channels = grey ? 1 : 3, bytesPer = maxval > 255 ? 2 : 1
    guard b.count - i >= w * h * channels * bytesPer else { throw ImageError("truncated PPM data") }
    var px = [UInt8](repeating: 0, count: w * h * 3)
    for p in 0..<(w * h) {
        for c in 0..<3 {
            let s = (p * channels + (grey ? 0 : c)) * bytesPer + i
            let v = bytesPer == 2 ? Int(b[s]) << 8 | Int(b[s + 1]) : Int(b[s])
            px[p * 3 + c] = UInt8((v * 255 + maxval / 2) / maxval)
        }
    }
    return RGBImage(width: w, height: h, pixels: px)
}
