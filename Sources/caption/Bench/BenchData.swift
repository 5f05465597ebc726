import ImageCodecs
#if canImport(Glibc)
import Glibc
#endif

/// Where `caption bench` finds the optional reference data (`../shared`: the baseline's sample JPEG, golden
/// photos, MobileNetV2 weights, Flickr8k captions): `$CAPTION_SHARED`, then a `shared` folder beside the current
/// directory or beside any parent of the binary's folder (`<repo>/../shared`). Figures that need a missing file
/// are left out with a note.
enum BenchData {
    static let sharedDirectory: String? = {
        if let v = getenv("CAPTION_SHARED"), !String(cString: v).isEmpty { return String(cString: v) }
        var candidates = [ModelLocator.currentDirectory() + "/../shared", ModelLocator.currentDirectory() + "/shared"]
        var dir = ModelLocator.parent(ModelLocator.executablePath())
        for _ in 0..<6 {
            candidates.append(dir + "/../shared")
            if dir == "/" { break }
            dir = ModelLocator.parent(dir)
        }
        return candidates.first { isDirectory($0 + "/bench") || isDirectory($0 + "/data") || isDirectory($0 + "/weights") }
    }()

    /// `../shared/<relative>` if that file exists.
    static func file(_ relative: String) -> String? {
        guard let d = sharedDirectory else { return nil }
        let p = d + "/" + relative
        return ModelLocator.fileExists(p) ? p : nil
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The whole file's bytes (the figure's `prepare` throws a one-line error if it cannot be read).
    static func bytes(_ path: String) throws -> [UInt8] {
        guard let f = fopen(path, "rb") else { throw CLIError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// A deterministic photo-like RGB test image (smooth gradients plus seeded noise, so that PNG's filters and
    /// deflate have realistic work), `width x height`.
    static func syntheticImage(width: Int, height: Int, seed: UInt64 = 11) -> RGBImage {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                let noise = Int(state & 15) - 8
                let i = (y * width + x) * 3
                px[i] = UInt8(clamping: x * 255 / max(width - 1, 1) + noise)
                px[i + 1] = UInt8(clamping: y * 255 / max(height - 1, 1) + noise)
                px[i + 2] = UInt8(clamping: ((x + y) * 2) % 256 + noise)
            }
        }
        return RGBImage(width: width, height: height, pixels: px)
    }
}

/// A value the optimiser cannot drop: the bench's calls store a byte of their result here.
nonisolated(unsafe) var benchSink = 0
