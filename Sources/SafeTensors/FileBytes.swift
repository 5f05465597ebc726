#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads and crash-safe writes with one-line errors.
public enum FileBytes {
    /// Reads the whole regular file at `path`. Missing files, directories and unreadable files give one-line errors.
    public static func read(_ path: String, limit: Int = Int.max) throws(SafeTensorsError) -> [UInt8] {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw SafeTensorsError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw SafeTensorsError("\(path) is a directory, not a file") }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafeTensorsError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var out: [UInt8] = []
        if st.st_size > 0 {
            guard Int(st.st_size) <= limit else { throw SafeTensorsError("\(path) is larger than the limit of \(limit) bytes") }
            out.reserveCapacity(Int(st.st_size))
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw SafeTensorsError("\(path) is larger than the limit of \(limit) bytes") }
        }
        return out
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename, fsync of the
    /// directory. A crash or a full disk at any moment leaves either the old file or the new one, never a mix.
    public static func writeAtomically(_ bytes: some Collection<UInt8>, to path: String) throws(SafeTensorsError) {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var st = stat()
        guard stat(dir.isEmpty ? "/" : dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw SafeTensorsError("cannot write \(path): directory \(dir) does not exist")
        }
        let tmp = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw SafeTensorsError("cannot write \(path): \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        let array = Array(bytes)
        var written = 0
        let failure: String? = array.withUnsafeBytes { raw -> String? in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, min(raw.count - written, 1 << 24))
                if n < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                written += n
            }
            return nil
        }
        if let failure {
            close(fd)
            throw SafeTensorsError("cannot write \(path): \(failure)")
        }
        guard fsync(fd) == 0 else {
            let m = String(cString: strerror(errno))
            close(fd)
            throw SafeTensorsError("cannot write \(path): \(m)")
        }
        guard close(fd) == 0 else { throw SafeTensorsError("cannot write \(path): \(String(cString: strerror(errno)))") }
        guard rename(tmp, path) == 0 else { throw SafeTensorsError("cannot write \(path): \(String(cString: strerror(errno)))") }
        ok = true
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Removes the temporary files (`.NAME.tmp-PID`, see `writeAtomically`) that processes killed while writing
    /// `path` left behind, when their process no longer exists. Returns how many were removed.
    @discardableResult
    public static func removeStaleTemporaries(of path: String) -> Int {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let prefix = "." + (slash.map { String(path[path.index(after: $0)...]) } ?? path) + ".tmp-"
        guard let d = opendir(dir.isEmpty ? "/" : dir) else { return 0 }
        defer { closedir(d) }
        var removed = 0
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH, unlink((dir.isEmpty ? "" : dir + "/") + name) == 0 { removed += 1 }
        }
        return removed
    }
}
