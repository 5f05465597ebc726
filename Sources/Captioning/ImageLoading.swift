import ImageCodecs

/// Reads an image file for captioning (JPEG, PNG, PPM/PGM, BMP), turned upright by its EXIF orientation (as a viewer
/// shows it; torchvision's `Image.open` does not do this, so only rotated photos differ from it). Errors are one line
/// naming the file.
public func loadCaptionImage(path: String) throws(DatasetError) -> RGBImage {
    do { return try loadImage(path: path).oriented() } catch { throw DatasetError(error.description) }
}
