// Huffman tables (with a 9-bit lookahead table, as libjpeg's jdhuff.c derives them) and the bit reader
// over entropy-coded data (0xFF00 unstuffing, fill bytes, stop at markers).

/// A derived Huffman decoding table. Storage is manually managed so that hot loops see plain pointers.
final class JPEGHuffmanTable: @unchecked Sendable {
    static let lookaheadBits = 9
    /// `fast[peek9]` = length << 8 | symbol for codes of at most 9 bits, 0 otherwise.
    let fast: UnsafeMutablePointer<UInt16>
    /// For lengths 1...16: largest code of that length (-1 if none), and value offset.
    let maxcode: UnsafeMutablePointer<Int32>
    let valoffset: UnsafeMutablePointer<Int32>
    let values: UnsafeMutablePointer<UInt8>
    let valueCount: Int
    /// For AC use: `acFast[peek9]` decodes a whole (run, size, value) when code and value bits fit in
    /// 9 bits: value << 16 | size << 12 | run << 8 | bits consumed; 0 otherwise.
    let acFast: UnsafeMutablePointer<Int32>
    /// Why the table cannot be used (libjpeg rejects such tables when a scan uses them), or nil.
    let invalidReason: String?

    init(counts: [Int], values vals: [UInt8], isDC: Bool) {
        fast = .allocate(capacity: 1 << Self.lookaheadBits)
        fast.initialize(repeating: 0, count: 1 << Self.lookaheadBits)
        maxcode = .allocate(capacity: 18)
        maxcode.initialize(repeating: -1, count: 18)
        valoffset = .allocate(capacity: 18)
        valoffset.initialize(repeating: 0, count: 18)
        values = .allocate(capacity: 256)
        values.initialize(repeating: 0, count: 256)
        valueCount = vals.count
        for (i, v) in vals.enumerated() where i < 256 { values[i] = v }
        var reason: String? = nil
        if isDC && vals.contains(where: { $0 > 15 }) { reason = "corrupt JPEG Huffman table (DC symbol above 15)" }
        var code = 0, p = 0
        let maxLength = counts.lastIndex(where: { $0 > 0 }).map { $0 + 1 } ?? 0
        for l in 1...16 {
            let n = counts[l - 1]
            if n > 0 {
                valoffset[l] = Int32(p - code)
                for _ in 0..<n {
                    if l <= Self.lookaheadBits {
                        let shift = Self.lookaheadBits - l
                        let base = code << shift
                        for j in 0..<(1 << shift) where base + j < (1 << Self.lookaheadBits) {
                            fast[base + j] = UInt16(l << 8 | Int(vals[p]))
                        }
                    }
                    code += 1; p += 1
                }
                maxcode[l] = Int32(code - 1)
            }
            if l <= maxLength && code >= (1 << l) { reason = "corrupt JPEG Huffman table (code space overflow)"; break }
            code <<= 1
        }
        invalidReason = reason
        let n = 1 << Self.lookaheadBits
        acFast = .allocate(capacity: n)
        acFast.initialize(repeating: 0, count: n)
        for peek in 0..<n {
            let e = Int(fast[peek])
            guard e != 0 else { continue }
            let l = e >> 8, rs = e & 0xFF, run = rs >> 4, size = rs & 15
            if size == 0 {
                acFast[peek] = Int32(run << 8 | l)
            } else if l + size <= Self.lookaheadBits {
                let extra = (peek >> (Self.lookaheadBits - l - size)) & ((1 << size) - 1)
                let v = extra < (1 << (size - 1)) ? extra - (1 << size) + 1 : extra
                acFast[peek] = Int32(truncatingIfNeeded: v << 16 | size << 12 | run << 8 | (l + size))
            }
        }
    }

    deinit {
        fast.deallocate(); maxcode.deallocate(); valoffset.deallocate(); values.deallocate(); acFast.deallocate()
    }

    /// The standard tables of the JPEG specification (K.3), which libjpeg uses for slots 0 and 1 when a file
    /// (typically Motion-JPEG) does not define them.
    static func standard(dc: Bool, chroma: Bool) -> JPEGHuffmanTable {
        switch (dc, chroma) {
        case (true, false):
            return JPEGHuffmanTable(counts: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
                                    values: Array(0...11), isDC: true)
        case (true, true):
            return JPEGHuffmanTable(counts: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
                                    values: Array(0...11), isDC: true)
        case (false, false):
            return JPEGHuffmanTable(counts: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
                                    values: standardACLuminanceValues, isDC: false)
        case (false, true):
            return JPEGHuffmanTable(counts: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
                                    values: standardACChrominanceValues, isDC: false)
        }
    }
}

/// Reads bits MSB-first from entropy-coded data. Stops at the first marker and then supplies zero bits,
/// counting them, so that a caller can tell when real data ran out (`overran`).
struct JPEGBitReader {
    let base: UnsafePointer<UInt8>
    let end: Int
    /// Next byte to read; when `atMarker`, the position of the marker's 0xFF.
    var pos: Int
    var bits: UInt64 = 0
    var count = 0
    var padBits = 0
    var atMarker = false

    init(base: UnsafePointer<UInt8>, end: Int, pos: Int) {
        self.base = base; self.end = end; self.pos = pos
    }

    /// True if more bits were consumed than the segment holds.
    @inline(__always) var overran: Bool { padBits > count }

    /// Tops the buffer up to at least 57 bits.
    @inline(__always) mutating func fill() {
        // Fast path: 8 plain bytes (no 0xFF among them).
        if !atMarker && pos + 8 <= end {
            let w = UInt64(bigEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self))
            // A byte is 0xFF iff its complement is 0: classic has-zero-byte test on ~w.
            let n = ~w
            if (n &- 0x0101_0101_0101_0101) & ~n & 0x8080_8080_8080_8080 == 0 {
                let take = (63 - count) >> 3
                bits |= (w >> (64 - UInt64(take << 3))) << UInt64(64 - count - (take << 3))
                count += take << 3
                pos += take
                return
            }
        }
        fillSlow()
    }

    @inline(never) mutating func fillSlow() {
        while count <= 56 {
            var b: UInt64 = 0
            if !atMarker {
                if pos < end {
                    let c = base[pos]
                    if c != 0xFF {
                        b = UInt64(c); pos += 1
                    } else {
                        var q = pos + 1
                        while q < end && base[q] == 0xFF { q += 1 }
                        if q < end && base[q] == 0 {
                            b = 0xFF; pos = q + 1
                        } else {
                            atMarker = true
                        }
                    }
                } else {
                    atMarker = true
                }
            }
            if atMarker { padBits += 8 }
            bits |= b << UInt64(56 - count)
            count += 8
        }
    }

    /// Removes `n` (1...16) bits and returns them.
    @inline(__always) mutating func getBits(_ n: Int) -> Int {
        if count < n { fill() }
        let v = Int(truncatingIfNeeded: bits &>> UInt64(64 - n))
        bits &<<= UInt64(n)
        count -= n
        return v
    }

    @inline(__always) mutating func getBit() -> Int {
        if count < 1 { fill() }
        let v = Int(truncatingIfNeeded: bits &>> 63)
        bits &<<= 1
        count -= 1
        return v
    }

    /// `n` bits as a signed value (JPEG's EXTEND); 0 for n == 0.
    @inline(__always) mutating func receiveExtend(_ n: Int) -> Int {
        if n == 0 { return 0 }
        let v = getBits(n)
        return v < (1 << (n - 1)) ? v - (1 << n) + 1 : v
    }

    /// Decodes one Huffman symbol.
    @inline(__always) mutating func decode(_ t: JPEGHuffmanTable) throws(ImageError) -> Int {
        if count < 16 { fill() }
        let e = t.fast[Int(truncatingIfNeeded: bits &>> UInt64(64 - JPEGHuffmanTable.lookaheadBits))]
        if e != 0 {
            let l = Int(e >> 8)
            bits &<<= UInt64(l)
            count -= l
            return Int(e & 0xFF)
        }
        return try decodeSlow(t)
    }

    @inline(never) mutating func decodeSlow(_ t: JPEGHuffmanTable) throws(ImageError) -> Int {
        let peek = Int(truncatingIfNeeded: bits &>> 48)
        for l in (JPEGHuffmanTable.lookaheadBits + 1)...16 {
            let code = peek >> (16 - l)
            if code <= Int(t.maxcode[l]) {
                let i = code + Int(t.valoffset[l])
                guard i >= 0 && i < t.valueCount else { break }
                bits &<<= UInt64(l)
                count -= l
                return Int(t.values[i])
            }
        }
        if padBits > 0 { throw exhaustedError() }
        throw ImageError("corrupt JPEG data (bad Huffman code)")
    }

    /// The error for running out of entropy-coded data: the file ended, or a marker came too early.
    func exhaustedError() -> ImageError {
        pos + 1 >= end ? ImageError("truncated JPEG data") : ImageError("corrupt JPEG data (entropy-coded segment ends early)")
    }

    /// Discards buffered bits and moves to the next marker; returns its code, or nil at the end of data.
    /// Bytes before the marker (which libjpeg skips with a warning) are skipped.
    mutating func nextMarker() -> UInt8? {
        bits = 0; count = 0; padBits = 0; atMarker = false
        var q = pos
        while q + 1 < end {
            if base[q] == 0xFF && base[q + 1] != 0xFF && base[q + 1] != 0 {
                pos = q + 2
                return base[q + 1]
            }
            q += 1
        }
        pos = end
        return nil
    }
}

let standardACLuminanceValues: [UInt8] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
]

let standardACChrominanceValues: [UInt8] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
    0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
    0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
    0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
]
