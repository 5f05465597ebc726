/// An 8-bit RGB image, row-major, interleaved (`HWC`): `pixels[(y * width + x) * 3 + c]`.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]
    /// EXIF orientation (1...8, 1 = as stored). Decoders report it; they never apply it.
    public var orientation: Int

    public init(width: Int, height: Int, pixels: [UInt8], orientation: Int = 1) {
        precondition(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
        self.orientation = orientation
    }
}

/// Why an image could not be decoded. `description` is one line, without the file name
/// (callers prefix it: `error: photo.jpg: truncated JPEG data`).
public struct ImageError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Largest image accepted, in pixels (width x height), checked before any pixel buffer is allocated.
/// (Pillow warns above 89.5 M pixels and refuses above 179 M.) At the cap, PNG decoding peaks at 12 bytes a pixel
/// for 16-bit RGBA (scanlines, then 8-bit RGBA), 6 for 8-bit RGB, plus the file.
public let maximumImagePixels = 100_000_000
