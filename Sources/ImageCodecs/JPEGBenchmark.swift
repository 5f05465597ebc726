/// Decodes `data` `iterations` times and returns the best (minimum) milliseconds per decode, for
/// `caption bench decode-image`. Throws the decoder's error for files it cannot decode.
public func jpegDecodeBenchmark(_ data: [UInt8], iterations: Int = 20) throws(ImageError) -> Double {
    var best = Double.infinity
    var sink = 0
    let clock = ContinuousClock()
    for _ in 0..<max(iterations, 1) {
        let t0 = clock.now
        let image = try decodeJPEG(data)
        let d = clock.now - t0
        sink &+= Int(image.pixels.first ?? 0)
        let ms = Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
        best = min(best, ms)
    }
    return sink < 0 ? 0 : best
}
