import ImageCodecs

/// Traps (a libFuzzer finding) when a decoded image breaks its invariants.
func checkImage(_ image: RGBImage) {
    guard image.width > 0, image.height > 0, image.width * image.height <= maximumImagePixels,
          image.pixels.count == image.width * image.height * 3, (1...8).contains(image.orientation) else {
        fatalError("malformed image \(image.width)x\(image.height), \(image.pixels.count) bytes, orientation \(image.orientation)")
    }
    // `oriented()` is applied to every image the CLI loads.
    let o = image.oriented()
    guard o.pixels.count == image.pixels.count else { fatalError("oriented() changed the pixel count") }
}
