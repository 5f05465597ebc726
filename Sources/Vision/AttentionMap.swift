import ImageCodecs

/// Renders attention maps as a grid of tiles, one per generated word: the image, brightened where the decoder
/// attended and darkened elsewhere, with the word written under it.
public enum AttentionMap {
    /// - Parameters:
    ///   - image: the photo (any size; it is resampled to `tile` x `tile`).
    ///   - words: the generated words, one tile each.
    ///   - weights: per word, the `gridHeight * gridWidth` attention weights over the regions (row-major).
    ///   - columns: tiles per row of the grid.
    /// - Returns: an RGB image of `columns * tile` by `rows * (tile + label height)` pixels.
    public static func render(image: RGBImage, words: [String], weights: [[Float]], gridHeight: Int, gridWidth: Int,
                              tile: Int = 224, columns: Int = 5) -> RGBImage {
        let n = min(words.count, weights.count)
        let cols = max(1, min(columns, n))
        let rows = max(1, (n + cols - 1) / cols)
        let scale = 2
        let labelHeight = BitmapFont.glyphHeight * scale + 8
        let cellH = tile + labelHeight
        var out = RGBImage(width: cols * tile, height: rows * cellH,
                           pixels: [UInt8](repeating: 255, count: cols * tile * rows * cellH * 3))
        let base = resample(image, width: tile, height: tile)
        for i in 0..<n {
            let ox = (i % cols) * tile, oy = (i / cols) * cellH
            let heat = upsampledAttention(weights[i], gridHeight: gridHeight, gridWidth: gridWidth, size: tile)
            for y in 0..<tile {
                for x in 0..<tile {
                    let a = 0.2 + 0.8 * heat[y * tile + x]
                    let s = (y * tile + x) * 3, d = ((oy + y) * out.width + ox + x) * 3
                    for c in 0..<3 { out.pixels[d + c] = UInt8(min(255, max(0, (Float(base.pixels[s + c]) * a).rounded()))) }
                }
            }
            let word = words[i]
            let maxChars = max(1, tile / ((BitmapFont.glyphWidth + 1) * scale))
            let label = word.count > maxChars ? String(word.prefix(maxChars)) : word
            let w = BitmapFont.width(of: label, scale: scale)
            BitmapFont.draw(label, into: &out, x: ox + (tile - w) / 2, y: oy + tile + 4, scale: scale)
        }
        return out
    }

    /// Attention over a `gridHeight x gridWidth` grid, bilinearly upsampled to `size x size` (pixel centres aligned),
    /// smoothed with a small box blur and normalised to [0, 1].
    public static func upsampledAttention(_ w: [Float], gridHeight: Int, gridWidth: Int, size: Int) -> [Float] {
        var map = [Float](repeating: 0, count: size * size)
        guard gridHeight > 0, gridWidth > 0, w.count >= gridHeight * gridWidth else { return map }
        for y in 0..<size {
            let fy = min(max((Float(y) + 0.5) * Float(gridHeight) / Float(size) - 0.5, 0), Float(gridHeight - 1))
            let y0 = Int(fy), y1 = min(y0 + 1, gridHeight - 1), ty = fy - Float(y0)
            for x in 0..<size {
                let fx = min(max((Float(x) + 0.5) * Float(gridWidth) / Float(size) - 0.5, 0), Float(gridWidth - 1))
                let x0 = Int(fx), x1 = min(x0 + 1, gridWidth - 1), tx = fx - Float(x0)
                let top = w[y0 * gridWidth + x0] * (1 - tx) + w[y0 * gridWidth + x1] * tx
                let bottom = w[y1 * gridWidth + x0] * (1 - tx) + w[y1 * gridWidth + x1] * tx
                map[y * size + x] = top * (1 - ty) + bottom * ty
            }
        }
        map = boxBlur(map, size: size, radius: max(1, size / 32))
        let lo = map.min() ?? 0, hi = map.max() ?? 0
        if hi > lo { for i in map.indices { map[i] = (map[i] - lo) / (hi - lo) } } else { map = map.map { _ in 1 } }
        return map
    }

    static func boxBlur(_ m: [Float], size: Int, radius: Int) -> [Float] {
        var tmp = m, out = m
        for y in 0..<size { for x in 0..<size {
            var s: Float = 0, c: Float = 0
            for d in -radius...radius where x + d >= 0 && x + d < size { s += m[y * size + x + d]; c += 1 }
            tmp[y * size + x] = s / c
        } }
        for y in 0..<size { for x in 0..<size {
            var s: Float = 0, c: Float = 0
            for d in -radius...radius where y + d >= 0 && y + d < size { s += tmp[(y + d) * size + x]; c += 1 }
            out[y * size + x] = s / c
        } }
        return out
    }

    /// Bilinear resampling (pixel centres aligned) for display only.
    static func resample(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        guard image.width > 0, image.height > 0 else { return RGBImage(width: width, height: height, pixels: px) }
        for y in 0..<height {
            let fy = min(max((Float(y) + 0.5) * Float(image.height) / Float(height) - 0.5, 0), Float(image.height - 1))
            let y0 = Int(fy), y1 = min(y0 + 1, image.height - 1), ty = fy - Float(y0)
            for x in 0..<width {
                let fx = min(max((Float(x) + 0.5) * Float(image.width) / Float(width) - 0.5, 0), Float(image.width - 1))
                let x0 = Int(fx), x1 = min(x0 + 1, image.width - 1), tx = fx - Float(x0)
                for c in 0..<3 {
                    func p(_ xx: Int, _ yy: Int) -> Float { Float(image.pixels[(yy * image.width + xx) * 3 + c]) }
                    let v = (p(x0, y0) * (1 - tx) + p(x1, y0) * tx) * (1 - ty) + (p(x0, y1) * (1 - tx) + p(x1, y1) * tx) * ty
                    px[(y * width + x) * 3 + c] = UInt8(min(255, max(0, v.rounded())))
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: px)
    }
}
