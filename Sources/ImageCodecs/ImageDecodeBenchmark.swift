/// Decodes `data` (any supported format, via `decodeImage`) `iterations` times and returns the best (minimum)
/// milliseconds per decode (the opt-in timing tests use it; `caption bench decode-image` uses the bench harness).
/// Throws the decoder's error for undecodable files.
public func imageDecodeBenchmark(_ data: [UInt8], iterations: Int = 20) throws(ImageError) -> Double {
    var best = Double.infinity
    var sink = 0
    let clock = ContinuousClock()
    for _ in 0..<max(iterations, 1) {
        let t0 = clock.now
        let image = try decodeImage(data)
        let d = clock.now - t0
        sink &+= Int(image.pixels.first ?? 0)
        best = min(best, Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15)
    }
    return sink < 0 ? 0 : best
}
