import ImageCodecs
import Tensors

/// torchvision's ImageNet statistics, as float32 (what `Normalize(mean, std)` subtracts and divides by).
public enum ImageNetStatistics {
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    public static let std: [Float] = [0.229, 0.224, 0.225]
}

/// Per-byte lookup tables of the value transforms (ToTensor, Normalize), exact to torchvision in float32.
public enum PixelTables {
    /// `ToTensor`: `Float(b) / 255`.
    public static let toTensor: [Float] = (0..<256).map { Float($0) / 255 }
    /// `Normalize(mean, std)` after ToTensor, per channel: `(Float(b) / 255 - mean[c]) / std[c]`, 3 x 256.
    public static let imagenet: [[Float]] = (0..<3).map { c in
        toTensor.map { ($0 - ImageNetStatistics.mean[c]) / ImageNetStatistics.std[c] }
    }
    /// `Normalize(0.5, 0.5)` after ToTensor: `(Float(b) / 255 - 0.5) / 0.5`, in [-1, 0.984...] (MobileNetV2, the small CNN).
    public static let symmetric: [Float] = toTensor.map { ($0 - 0.5) / 0.5 }

    /// The three per-channel tables of a preprocessing kind.
    public static func tables(_ kind: Preprocessing) -> [[Float]] {
        switch kind {
        case .imagenet: return imagenet
        case .mobilenet, .direct: return [symmetric, symmetric, symmetric]
        }
    }
}

/// Size of `width x height` after torchvision's `Resize(short)`: the short side becomes `short`, the
/// long side `int(short * long / shortSide)` (truncated, as torchvision computes it in float64).
public func resizedSize(width: Int, height: Int, shortSide short: Int) -> (width: Int, height: Int) {
    if width <= height {
        return (short, Int(Double(short * height) / Double(width)))
    }
    return (Int(Double(short * width) / Double(height)), short)
}

/// Python's `round` (half to even) of `x / 2` for an integer `x`, as in torchvision's `center_crop`.
@inline(__always) func roundHalfEvenHalf(_ x: Int) -> Int {
    let q = x >> 1  // floor(x / 2)
    if x & 1 == 0 { return q }
    return q & 1 == 0 ? q : q + 1  // x/2 = q + 0.5: round to the even of q, q + 1
}

/// Crops `width x height` at (`left`, `top`); the region must lie inside the image.
public func crop(_ image: RGBImage, left: Int, top: Int, width: Int, height: Int) -> RGBImage {
    precondition(left >= 0 && top >= 0 && left + width <= image.width && top + height <= image.height && width > 0 && height > 0,
                 "crop \(width)x\(height)+\(left)+\(top) of \(image.width)x\(image.height)")
    var out = [UInt8](repeating: 0, count: width * height * 3)
    image.pixels.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for y in 0..<height {
                let s = src.baseAddress! + ((top + y) * image.width + left) * 3
                (dst.baseAddress! + y * width * 3).update(from: s, count: width * 3)
            }
        }
    }
    return RGBImage(width: width, height: height, pixels: out, orientation: image.orientation)
}

/// torchvision's `CenterCrop(size)`: `top = round((H - size) / 2)`, `left = round((W - size) / 2)` with
/// Python's round-half-even. An image smaller than the crop is first padded with black as torchvision does
/// (`(size - W) // 2` left, the rest right; the same vertically).
public func centerCrop(_ image: RGBImage, size: Int) -> RGBImage {
    var img = image
    if img.width < size || img.height < size {
        let padL = img.width < size ? (size - img.width) / 2 : 0, padT = img.height < size ? (size - img.height) / 2 : 0
        let nw = max(img.width, size), nh = max(img.height, size)
        var px = [UInt8](repeating: 0, count: nw * nh * 3)
        for y in 0..<img.height {
            for i in 0..<(img.width * 3) { px[((y + padT) * nw + padL) * 3 + i] = img.pixels[y * img.width * 3 + i] }
        }
        img = RGBImage(width: nw, height: nh, pixels: px, orientation: image.orientation)
    }
    let top = roundHalfEvenHalf(img.height - size), left = roundHalfEvenHalf(img.width - size)
    return crop(img, left: left, top: top, width: size, height: size)
}

/// Short side used before a centre crop of `size` (256 for 224, as torchvision's ImageNet recipe).
public func resizeShortSide(forCrop size: Int) -> Int { size * 256 / 224 }

/// `ToTensor` + `Normalize` of an 8-bit image to `[3, H, W]` through per-channel byte tables
/// (optionally mirrored left-right).
public func imageTensor(_ image: RGBImage, tables: [[Float]], flip: Bool = false) -> Tensor {
    let w = image.width, h = image.height, plane = w * h
    return Tensor(shape: [3, h, w]) { out in
        image.pixels.withUnsafeBufferPointer { src in
            for c in 0..<3 {
                tables[c].withUnsafeBufferPointer { lut in
                    let o = out + c * plane
                    for y in 0..<h {
                        let row = src.baseAddress! + y * w * 3 + c
                        let orow = o + y * w
                        if flip {
                            for x in 0..<w { orow[w - 1 - x] = lut[Int(row[x * 3])] }
                        } else {
                            for x in 0..<w { orow[x] = lut[Int(row[x * 3])] }
                        }
                    }
                }
            }
        }
    }
}

/// The crop of `preprocess` before the value transform, as 8-bit RGB (`size x size`).
public func preprocessedPixels(_ image: RGBImage, _ kind: Preprocessing, size: Int = 224) -> RGBImage {
    switch kind {
    case .imagenet, .mobilenet:
        let r = resizedSize(width: image.width, height: image.height, shortSide: resizeShortSide(forCrop: size))
        return centerCrop(resizeBilinearAntialiased(image, width: r.width, height: r.height), size: size)
    case .direct:
        return resizeBilinearAntialiased(image, width: size, height: size)
    }
}

/// An encoder's input `[3, size, size]` (CHW float32) from an RGB image, exactly as torchvision on a PIL image:
/// - `.imagenet`: `Resize(256)` (Pillow antialiased bilinear), `CenterCrop(224)`, `ToTensor`, `Normalize` (ImageNet);
/// - `.mobilenet`: the same resize and crop, then `(p/255 - 0.5) / 0.5` (range [-1, 1]);
/// - `.direct`: resize to `size x size` with the same filter (no crop), then [-1, 1].
/// For other sizes the short side becomes `size * 256 / 224`.
public func preprocess(_ image: RGBImage, _ kind: Preprocessing, size: Int = 224) -> Tensor {
    imageTensor(preprocessedPixels(image, kind, size: size), tables: PixelTables.tables(kind))
}

/// Stacks `[3, H, W]` images into a batch `[N, 3, H, W]`.
public func stackImages(_ images: [Tensor]) -> Tensor {
    precondition(!images.isEmpty, "stackImages of no images")
    let s = images[0].shape, n = images[0].count
    for t in images { precondition(t.shape == s, "stackImages: shapes \(s) and \(t.shape) differ") }
    return Tensor(shape: [images.count] + s) { out in
        for (i, t) in images.enumerated() { t.withUnsafeBufferPointer { (out + i * n).update(from: $0.baseAddress!, count: n) } }
    }
}
