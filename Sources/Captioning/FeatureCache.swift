import SafeTensors
import Tensors

/// Region features (or any per-image activations) of a frozen encoder, stored on disk so each image is encoded
/// once: later epochs and later runs cost decoder time only. One safetensors file per (encoder, weights,
/// preprocessing, image list), named by a hash of those; tensor `features` `[images, ...]` in float16, and the
/// image count in `__metadata__`.
///
/// Extraction is resumable: every `saveEvery` images the new activations go to a chunk file
/// `<cache file>.partial/part-<first image>.safetensors`, written atomically. A run interrupted by SIGINT (the
/// chunk in progress is saved first) or killed (at most `saveEvery` images are lost) continues after the last
/// saved chunk the next time; when all images are done the chunks are joined into the cache file and removed.
public struct FeatureCache {
    public let directory: String
    /// Images per chunk file while extracting.
    public var saveEvery: Int

    public init(directory: String, saveEvery: Int = 256) {
        self.directory = directory
        self.saveEvery = max(1, saveEvery)
    }

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

    /// The directory of chunk files of an unfinished extraction into `file`.
    public static func partialDirectory(_ file: String) -> String { file + ".partial" }

    /// Features of `images` (`[images, regions, channels]`), from the cache when present and valid, otherwise computed
    /// with `encode` (called on chunks of image names, returning `[chunk, regions, channels]`) and then stored.
    /// The values are those of the float16 file, also on the first run.
    public func features(encoderKey: String, images: [String], regions: Int, channels: Int, chunk: Int = 32,
                         progressLabel: String? = nil,
                         encode: ([String]) throws -> [Float]) throws -> [Float] {
        HalfConversion.toFloat(try halfFeatures(encoderKey: encoderKey, images: images, shape: [regions, channels], chunk: chunk,
                                                progressLabel: progressLabel, encode: encode))
    }

    /// Per-image activations of shape `shape` for `images`, as float16 bit patterns `[images * shape.product]`:
    /// read from the cache, or computed with `encode` (chunks of `chunk` names to float32 values), resuming an
    /// interrupted extraction from its saved chunks. An error thrown by `encode` (e.g. on SIGINT) is rethrown
    /// after the images encoded so far are saved. `resumed(n)` is called when an earlier extraction had saved `n` images.
    public func halfFeatures(encoderKey: String, images: [String], shape: [Int], chunk: Int = 32,
                             progressLabel: String? = nil, resumed: ((Int) -> Void)? = nil,
                             encode: ([String]) throws -> [Float]) throws -> [UInt16] {
        let per = shape.reduce(1, *)
        let file = path(encoderKey: encoderKey, images: images)
        if let f = try? SafeTensorsFile(contentsOf: file), f.metadata["encoder"] == encoderKey,
           (try? f.shape("features")) == [images.count] + shape, let bits = try? Self.halfBits(f) {
            return bits
        }
        try makeDirectory(directory)
        let partial = Self.partialDirectory(file)
        var out: [UInt16] = []
        out.reserveCapacity(images.count * per)
        // Saved chunks, contiguous from the first image.
        var done = 0
        if FileSystem.isDirectory(partial) {
            while done < images.count, let f = try? SafeTensorsFile(contentsOf: Self.chunkPath(partial, done)),
                  f.metadata["encoder"] == encoderKey, let n = (try? f.shape("features"))?.first, n > 0, done + n <= images.count,
                  (try? f.shape("features")) == [n] + shape, let bits = try? Self.halfBits(f) {
                out += bits
                done += n
            }
        }
        if done > 0 { resumed?(done) }
        let progress = progressLabel.map { ProgressReporter($0, total: images.count, unit: "img") }
        if done > 0 { progress?.update(done) }
        var pendingStart = done
        var pending: [UInt16] = []
        func flush() throws {
            let n = pending.count / max(per, 1)
            guard n > 0 else { return }
            try makeDirectory(partial)
            var w = SafeTensorsWriter()
            try w.add(name: "features", raw: Self.bytes(pending), dtype: .f16, shape: [n] + shape)
            try FileBytes.writeAtomically(w.serialized(metadata: ["encoder": encoderKey, "first": String(pendingStart)]),
                                          to: Self.chunkPath(partial, pendingStart))
            out += pending
            pendingStart += n
            pending = []
        }
        var s = done
        while s < images.count {
            let names = Array(images[s..<min(s + chunk, images.count)])
            let f: [Float]
            do { f = try encode(names) } catch {
                try flush()
                throw error
            }
            precondition(f.count == names.count * per, "encoder returned \(f.count) values for \(names.count) images")
            var bits = [UInt16](repeating: 0, count: f.count)
            f.withUnsafeBufferPointer { src in bits.withUnsafeMutableBufferPointer { HalfConversion.toHalf(src.baseAddress!, $0.baseAddress!, count: f.count) } }
            pending += bits
            s += names.count
            if pending.count / max(per, 1) >= saveEvery && s < images.count { try flush() }
            progress?.update(s)
        }
        progress?.finish()
        out += pending
        try Self.writeHalfFile(out, shape: [images.count] + shape, metadata: ["encoder": encoderKey, "images": String(images.count)], to: file)
        Self.removeTree(partial)
        return out
    }

    /// Writes a safetensors file with one F16 tensor `features` straight from `bits` (no copy of the data:
    /// a ResNet prefix cache can be gigabytes), atomically: temporary file, fsync, rename.
    static func writeHalfFile(_ bits: [UInt16], shape: [Int], metadata: [String: String], to path: String) throws(SafeTensorsError) {
        let header = JSONValue.object([
            ("__metadata__", .object(metadata.keys.sorted().map { ($0, .string(metadata[$0]!)) })),
            ("features", .object([("dtype", .string("F16")), ("shape", .array(shape.map { .int($0) })),
                                  ("data_offsets", .array([.int(0), .int(bits.count * 2)]))])),
        ])
        var json = Array(header.serialized().utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var prefix: [UInt8] = []
        var n = UInt64(json.count)
        for _ in 0..<8 { prefix.append(UInt8(n & 0xFF)); n >>= 8 }
        prefix += json
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SafeTensorsError("cannot write \(path): \(String(cString: strerror(errno)))") }
        func put(_ raw: UnsafeRawBufferPointer) -> Bool {
            var done = 0
            while done < raw.count {
                let k = write(fd, raw.baseAddress! + done, min(raw.count - done, 1 << 24))
                if k < 0 { if errno == EINTR { continue }; return false }
                done += k
            }
            return true
        }
        let ok = prefix.withUnsafeBytes(put) && bits.withUnsafeBytes(put) && fsync(fd) == 0  // little-endian host
        let message = String(cString: strerror(errno))
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw SafeTensorsError("cannot write \(path): \(ok ? String(cString: strerror(errno)) : message)")
        }
    }

    /// `bytes` in MB with one decimal.
    static func megabytes(_ bytes: Int) -> String { String(Double(bytes / 100_000) / 10) }

    static func chunkPath(_ partial: String, _ first: Int) -> String {
        let s = String(first)
        return partial + "/part-" + String(repeating: "0", count: max(0, 9 - s.count)) + s + ".safetensors"
    }

    static func halfBits(_ f: SafeTensorsFile) throws(SafeTensorsError) -> [UInt16] {
        guard f.tensors["features"]?.dtype == .f16 else {
            return try f.floats("features").map { Float16($0).bitPattern }
        }
        let raw = try f.rawBytes("features")
        return [UInt16](unsafeUninitializedCapacity: raw.count / 2) { out, c in
            raw.withUnsafeBytes { r in
                for i in 0..<(raw.count / 2) { out[i] = UInt16(littleEndian: r.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            }
            c = raw.count / 2
        }
    }

    static func bytes(_ bits: [UInt16]) -> [UInt8] {
        bits.withUnsafeBytes { Array($0) }  // little-endian host
    }

    static func removeTree(_ dir: String) {
        for name in FileSystem.list(dir) ?? [] { unlink(dir + "/" + name) }
        rmdir(dir)
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
