import ImageCodecs
import Tensors

/// Seeded training augmentation: the evaluation resize, then a random `size x size` crop (instead of the
/// centre crop) and a random horizontal flip — torchvision's `Resize(256)`, `RandomCrop(224)`,
/// `RandomHorizontalFlip()` followed by the kind's value transform.
///
/// For `.imagenet` and `.mobilenet` the short side is resized to `size * 256 / 224`; for `.direct` the image is
/// resized to a square of `size + padding` (default `size / 8`, as a 224 crop of 252) so there is room to crop.
/// The same seed and call sequence give the same tensors.
public struct Augmentation: Sendable {
    public var rng: SeededRandom
    /// Probability of a left-right flip.
    public var flipProbability: Float
    /// Whether to crop at a random offset (otherwise the centre crop).
    public var randomCrop: Bool
    /// Extra side for `.direct` before the random crop (nil: `size / 8`).
    public var directPadding: Int?

    public init(seed: UInt64, flipProbability: Float = 0.5, randomCrop: Bool = true, directPadding: Int? = nil) {
        rng = SeededRandom(seed: seed)
        self.flipProbability = flipProbability
        self.randomCrop = randomCrop
        self.directPadding = directPadding
    }

    /// The crop box and flip drawn for an image of `width x height` (after resizing): (left, top, flip).
    public mutating func draw(width: Int, height: Int, size: Int) -> (left: Int, top: Int, flip: Bool) {
        var left = roundHalfEvenHalf(width - size), top = roundHalfEvenHalf(height - size)
        if randomCrop {
            top = rng.int(below: height - size + 1)
            left = rng.int(below: width - size + 1)
        }
        let flip = flipProbability > 0 && rng.uniformFloat() < flipProbability
        return (left, top, flip)
    }

    /// An augmented encoder input `[3, size, size]`.
    public mutating func callAsFunction(_ image: RGBImage, _ kind: Preprocessing, size: Int = 224) -> Tensor {
        let resized: RGBImage
        switch kind {
        case .imagenet, .mobilenet:
            let r = resizedSize(width: image.width, height: image.height, shortSide: resizeShortSide(forCrop: size))
            resized = resizeBilinearAntialiased(image, width: r.width, height: r.height)
        case .direct:
            let side = size + (directPadding ?? size / 8)
            resized = resizeBilinearAntialiased(image, width: side, height: side)
        }
        let d = draw(width: resized.width, height: resized.height, size: size)
        let c = crop(resized, left: d.left, top: d.top, width: size, height: size)
        return imageTensor(c, tables: PixelTables.tables(kind), flip: d.flip)
    }
}
