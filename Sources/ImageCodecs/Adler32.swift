/// Adler-32 as zlib streams carry it (RFC 1950).
enum Adler32 {
    /// Continues a checksum; start with 1.
    static func update(_ adler: UInt32, _ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var a = adler & 0xFFFF, b = adler >> 16
        guard let p = bytes.baseAddress else { return adler }
        var i = 0
        let n = bytes.count
        while i < n {
            // 5552 is the largest block for which b cannot overflow 32 bits (zlib's NMAX).
            let end = min(n, i + 5552)
            while i < end {
                a &+= UInt32(p[i])
                b &+= a
                i += 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { update(1, $0) }
    }
}
