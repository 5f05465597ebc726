/// Encodes an 8-bit image as PNG: grey (1 channel), grey + alpha (2), RGB (3) or RGBA (4), non-interlaced, each
/// row filtered with the filter that minimises the sum of absolute filtered values (the libpng heuristic), then
/// deflated (LZ77 + dynamic/fixed Huffman) with CRC-32 on every chunk and Adler-32 on the data.
public func encodePNG(_ image: PixelImage) -> [UInt8] {
    let w = image.width, h = image.height, ch = image.channels
    let colorType: UInt8 = [0, 0, 4, 2, 6][ch]
    let stride = w * ch
    var raw = [UInt8](repeating: 0, count: h * (stride + 1))
    var candidate = [UInt8](repeating: 0, count: stride)
    image.pixels.withUnsafeBufferPointer { px in
        raw.withUnsafeMutableBufferPointer { out in
            candidate.withUnsafeMutableBufferPointer { cand in
                let zero = [UInt8](repeating: 0, count: stride)
                zero.withUnsafeBufferPointer { zero in
                    for y in 0..<h {
                        let cur = px.baseAddress! + y * stride
                        let prev = y == 0 ? zero.baseAddress! : px.baseAddress! + (y - 1) * stride
                        let dst = out.baseAddress! + y * (stride + 1)
                        var bestCost = Int.max
                        for f in 0..<5 {
                            var cost = 0
                            for i in 0..<stride {
                                let a = i >= ch ? Int(cur[i - ch]) : 0
                                let b = Int(prev[i])
                                let c = i >= ch ? Int(prev[i - ch]) : 0
                                let pred: Int
                                switch f {
                                case 0: pred = 0
                                case 1: pred = a
                                case 2: pred = b
                                case 3: pred = (a + b) >> 1
                                default:
                                    let pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c)
                                    pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                                }
                                let v = UInt8(truncatingIfNeeded: Int(cur[i]) - pred)
                                cand[i] = v
                                cost += v < 128 ? Int(v) : 256 - Int(v)
                            }
                            if cost < bestCost {
                                bestCost = cost
                                dst[0] = UInt8(f)
                                (dst + 1).update(from: cand.baseAddress!, count: stride)
                            }
                        }
                    }
                }
            }
        }
    }
    var out = pngSignature
    var ihdr: [UInt8] = []
    for v in [UInt32(w), UInt32(h)] { ihdr += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    ihdr += [8, colorType, 0, 0, 0]
    appendChunk(&out, "IHDR", ihdr)
    let z = zlibCompress(raw)
    var start = 0
    repeat {
        let end = min(z.count, start + (1 << 20))
        appendChunk(&out, "IDAT", Array(z[start..<end]))
        start = end
    } while start < z.count
    appendChunk(&out, "IEND", [])
    return out
}

/// Encodes an RGB image as an 8-bit RGB PNG.
public func encodePNG(_ image: RGBImage) -> [UInt8] {
    encodePNG(PixelImage(image))
}

func appendChunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
    let n = UInt32(data.count)
    out += [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
    let body = Array(type.utf8) + data
    out += body
    let crc = CRC32.checksum(body)
    out += [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
}
