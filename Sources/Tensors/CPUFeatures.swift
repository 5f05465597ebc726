#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the processor offers, read once from `/proc/cpuinfo` (the kernel lists a feature there
/// only when it also saves the registers, so a listed feature is usable).
public enum CPUFeatures {
    /// AVX-512 Foundation: the SIMD16 GEMM micro-kernel may run.
    public static let hasAVX512F: Bool = flags.contains("avx512f")
    /// AVX2 and FMA (the minimum this binary is compiled for).
    public static let hasAVX2FMA: Bool = flags.contains("avx2") && flags.contains("fma")
    /// The `model name` line (e.g. `AMD EPYC`), or `unknown`.
    public static let modelName: String = field("model name") ?? "unknown"
    /// The processor's flags from `/proc/cpuinfo` (empty when it cannot be read).
    public static let flags: Set<String> = Set((field("flags") ?? "").split(separator: " ").map(String.init))
    /// Online logical processors.
    public static let onlineProcessors: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// The value of the first `name : value` line of `/proc/cpuinfo`.
    static func field(_ name: String) -> String? {
        guard let text = cpuinfo else { return nil }
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingWhitespace()
            if key == name { return String(line[line.index(after: colon)...].trimmingWhitespace()) }
        }
        return nil
    }

    static let cpuinfo: String? = readTextFile("/proc/cpuinfo")

    /// The contents of a small text file (at most about 1 MiB is read), or nil if it cannot be opened; for /proc files.
    public static func readTextFile(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
            if n <= 0 { break }
            bytes.append(contentsOf: buf[0..<n])
            if bytes.count > 1 << 20 { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
