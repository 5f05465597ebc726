/// An 8-bit image with 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) interleaved channels, row-major:
/// `pixels[(y * width + x) * channels + c]`. The counterpart of Pillow's modes L, LA, RGB and RGBA.
public struct PixelImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]
    /// EXIF orientation (1...8, 1 = as stored), reported and never applied, as in `RGBImage`.
    public var orientation: Int

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8], orientation: Int = 1) {
        precondition((1...4).contains(channels) && pixels.count == width * height * channels)
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
        self.orientation = orientation
    }

    public init(_ image: RGBImage) {
        self.init(width: image.width, height: image.height, channels: 3, pixels: image.pixels, orientation: image.orientation)
    }

    /// Whether the image has an alpha channel (2 or 4 channels).
    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// RGB with any alpha composited on a white background, rounded as Pillow's
    /// `Image.new("RGB", size, "white").paste(image, mask=alpha)` does: `(c * a + 255 * (255 - a) + 127) / 255`
    /// (exactly rounded). Without alpha this equals Pillow's `convert("RGB")` (grey is replicated).
    /// Pillow's `convert("RGB")` instead drops the alpha channel, revealing whatever colour transparent pixels hold.
    public func compositedOnWhite() -> RGBImage {
        let n = width * height
        if channels == 3 { return RGBImage(width: width, height: height, pixels: pixels, orientation: orientation) }
        var out = [UInt8](repeating: 0, count: n * 3)
        @inline(__always) func over(_ c: UInt8, _ a: UInt8) -> UInt8 {
            // Pillow's DIV255: exact rounding of v / 255.
            let v = Int(c) * Int(a) + 255 * (255 - Int(a)) + 128
            return UInt8(truncatingIfNeeded: ((v >> 8) + v) >> 8)
        }
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                switch channels {
                case 1:
                    for i in 0..<n { let g = src[i]; dst[3 * i] = g; dst[3 * i + 1] = g; dst[3 * i + 2] = g }
                case 2:
                    for i in 0..<n {
                        let g = over(src[2 * i], src[2 * i + 1])
                        dst[3 * i] = g; dst[3 * i + 1] = g; dst[3 * i + 2] = g
                    }
                default:
                    for i in 0..<n {
                        let a = src[4 * i + 3]
                        dst[3 * i] = over(src[4 * i], a)
                        dst[3 * i + 1] = over(src[4 * i + 1], a)
                        dst[3 * i + 2] = over(src[4 * i + 2], a)
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out, orientation: orientation)
    }

    /// RGB with alpha dropped, as Pillow's `convert("RGB")` does.
    public func droppingAlpha() -> RGBImage {
        if channels == 3 { return RGBImage(width: width, height: height, pixels: pixels, orientation: orientation) }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * 3)
        for i in 0..<n {
            for c in 0..<3 { out[3 * i + c] = channels <= 2 ? pixels[channels * i] : pixels[4 * i + c] }
        }
        return RGBImage(width: width, height: height, pixels: out, orientation: orientation)
    }
}
