import SafeTensors

/// Region features of a frozen encoder, stored on disk so each image is encoded once: later epochs and later runs
/// cost decoder time only. One safetensors file per (encoder, weights, preprocessing, image list), named by a hash
/// of those; tensor `features` `[images, regions, channels]` in float16, and the image names in `__metadata__`.
public struct FeatureCache {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// 64-bit FNV-1a, as 16 hex digits: the cache key of a description.
    public static func fingerprint(_ bytes: some Sequence<UInt8>, seed: UInt64 = 0xcbf29ce484222325) -> UInt64 {
        var h = seed
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// The cache file for `images` encoded by `encoderKey` (which must identify the encoder, its weights and the preprocessing).
    public func path(encoderKey: String, images: [String]) -> String {
        var h = FeatureCache.fingerprint(Array(encoderKey.utf8))
        for name in images { h = FeatureCache.fingerprint(Array(name.utf8) + [0], seed: h) }
        let safe = String(encoderKey.prefix(24).map { $0.isLetter || $0.isNumber ? $0 : "_" })
        return directory + "/" + safe + "-" + FeatureCache.hex(h) + ".safetensors"
    }

    /// Features of `images` (`[images, regions, channels]`), from the cache when present and valid, otherwise computed
    /// with `encode` (called on chunks of image names, returning `[chunk, regions, channels]`) and then stored.
    public func features(encoderKey: String, images: [String], regions: Int, channels: Int, chunk: Int = 32,
                         progressLabel: String? = nil,
                         encode: ([String]) throws -> [Float]) throws -> [Float] {
        let file = path(encoderKey: encoderKey, images: images)
        if let f = try? SafeTensorsFile(contentsOf: file), f.metadata["encoder"] == encoderKey,
           (try? f.shape("features")) == [images.count, regions, channels] {
            return try f.floats("features")
        }
        var out: [Float] = []
        out.reserveCapacity(images.count * regions * channels)
        let progress = progressLabel.map { ProgressReporter($0, total: images.count, unit: "img") }
        var s = 0
        while s < images.count {
            let names = Array(images[s..<min(s + chunk, images.count)])
            let f = try encode(names)
            precondition(f.count == names.count * regions * channels, "encoder returned \(f.count) values for \(names.count) images")
            out += f
            s += names.count
            progress?.update(s)
        }
        progress?.finish()
        try makeDirectory(directory)
        var w = SafeTensorsWriter()
        try w.add(name: "features", floats: out, shape: [images.count, regions, channels], dtype: .f16)
        try w.write(to: file, metadata: ["encoder": encoderKey, "images": String(images.count)])
        // Return what a later run will read, so the first run trains on exactly the same numbers.
        return out.map { Float(Float16($0)) }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// `mkdir -p`.
func makeDirectory(_ path: String) throws(SafeTensorsError) {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        var st = stat()
        if stat(current, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw SafeTensorsError("\(current) exists and is not a directory") }
            continue
        }
        if mkdir(current, 0o755) != 0 && errno != EEXIST {
            throw SafeTensorsError("cannot create directory \(current): \(String(cString: strerror(errno)))")
        }
    }
}
