#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole regular file (at most `maximumImageFileBytes`). Errors do not name the path (callers add it).
func readImageFile(_ path: String) throws(ImageError) -> [UInt8] {
    var st = stat()
    guard stat(path, &st) == 0 else { throw ImageError("cannot open file: \(String(cString: strerror(errno)))") }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw ImageError("is a directory, not an image file") }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw ImageError("not a regular file") }
    guard Int(st.st_size) <= maximumImageFileBytes else {
        throw ImageError("file of \(st.st_size) bytes is above the limit of \(maximumImageFileBytes) bytes")
    }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw ImageError("cannot open file: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var out = [UInt8](repeating: 0, count: Int(st.st_size))
    var filled = 0
    while true {
        if filled == out.count {
            // The file may have grown since stat: read on, in chunks, up to the limit.
            guard out.count < maximumImageFileBytes else { throw ImageError("file is above the limit of \(maximumImageFileBytes) bytes") }
            out.append(contentsOf: repeatElement(0, count: max(1 << 16, out.count / 2)))
        }
        let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
        if n < 0 {
            if errno == EINTR { continue }
            throw ImageError("cannot read file: \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        filled += n
    }
    out.removeSubrange(filled...)
    if out.isEmpty { throw ImageError("empty file") }
    return out
}
