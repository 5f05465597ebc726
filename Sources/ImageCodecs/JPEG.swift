/// Decodes a JPEG file (baseline, extended sequential or progressive) to RGB exactly as Pillow
/// (libjpeg-turbo, ISLOW IDCT, fancy upsampling) does.
public func decodeJPEG(_ data: [UInt8]) throws(ImageError) -> RGBImage {
    throw ImageError("JPEG decoding is not implemented yet")
}
