import ImageCodecs

/// Reads an image file for captioning (JPEG, PNG, PPM/PGM, BMP). Errors are one line naming the file.
public func loadCaptionImage(path: String) throws(DatasetError) -> RGBImage {
    do { return try loadImage(path: path) } catch { throw DatasetError(error.description) }
}
