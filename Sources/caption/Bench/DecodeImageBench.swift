import ImageCodecs

/// `caption bench decode-image`: ms per image of the Swift decoders (file bytes in memory -> RGB): the
/// golden 4:2:0 photo as baseline and progressive JPEG (from `../shared/weights/golden`, when present) and a
/// PNG made with our own encoder (of that photo, or of a synthetic 500x375 image).
enum DecodeImageBench {
    static var group: BenchGroup { BenchGroup(name: "decode-image",
                                  summary: "image decoding ms/image: baseline and progressive JPEG 640x427 (../shared photos), PNG (own encoder)",
                                  figures: figures, notes: notes) }

    static let baseline = BenchData.file("weights/golden/photo_420.jpg")
    static let progressive = BenchData.file("weights/golden/photo_420_progressive.jpg")

    static func notes() -> [String] {
        baseline == nil || progressive == nil
            ? ["decode-image: ../shared/weights/golden/photo_420*.jpg not found: JPEG figures skipped (PNG of a synthetic image only)"] : []
    }

    static func figures() -> [BenchFigure] {
        var out: [BenchFigure] = []
        if let baseline {
            out.append(figure("decode_image/jpeg_baseline_640x427", "photo_420.jpg: baseline JPEG 640x427, 4:2:0, decode to RGB") {
                try BenchData.bytes(baseline)
            })
        }
        if let progressive {
            out.append(figure("decode_image/jpeg_progressive_640x427", "photo_420_progressive.jpg: progressive JPEG 640x427, 4:2:0, decode to RGB") {
                try BenchData.bytes(progressive)
            })
        }
        if let baseline {
            out.append(figure("decode_image/png_640x427", "photo_420.jpg re-encoded as 8-bit RGB PNG by our encoder, decode to RGB") {
                encodePNG(try decodeImage(try BenchData.bytes(baseline)))
            })
        } else {
            out.append(figure("decode_image/png_500x375_synthetic", "synthetic 500x375 8-bit RGB PNG by our encoder, decode to RGB") {
                encodePNG(BenchData.syntheticImage(width: 500, height: 375))
            })
        }
        return out
    }

    static func figure(_ name: String, _ shape: String, _ bytes: @escaping () throws -> [UInt8]) -> BenchFigure {
        BenchFigure(name: name, shape: shape, itemsPerCall: 1, item: "images") {
            let data = try bytes()
            _ = try decodeImage(data)
            return {
                guard let image = try? decodeImage(data) else { return }
                benchSink &+= Int(image.pixels.last ?? 0)
            }
        }
    }
}
