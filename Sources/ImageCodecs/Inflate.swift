/// Why a zlib/deflate stream could not be inflated.
enum InflateError: Error, Equatable {
    /// The input ended before the stream did.
    case truncated
    /// The stream decompresses to more bytes than the output buffer holds (the bound that stops zlib bombs).
    case tooLarge
    /// The stream ended before filling the output buffer.
    case tooSmall(Int)
    case corrupt(String)
}

/// A canonical Huffman decoding table, zlib style: one 10-bit primary lookup, and for longer codes a second lookup
/// in a subtable. Each entry is a `UInt32`:
/// bits 0-15 value (literal, length/distance base, or subtable offset), 16-23 code length,
/// 24-28 extra bits (or subtable bits), 29-30 kind, 31 subtable flag. A zero entry is an invalid code.
struct HuffmanTable: Sendable {
    static let primaryBits = 10
    static let literal: UInt32 = 0, base: UInt32 = 1 << 29, endOfBlock: UInt32 = 2 << 29, invalid: UInt32 = 3 << 29
    var entries: [UInt32]

    enum Kind { case literalLength, distance, codeLength }

    static let lengthBase: [UInt16] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                       67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [UInt16] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                                         1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [UInt8] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10,
                                         11, 11, 12, 12, 13, 13]

    /// Builds the table for code lengths `lengths` (0 = unused symbol). Rejects over-subscribed codes, and
    /// incomplete ones except a single one-bit code, as zlib does.
    init(lengths: ArraySlice<UInt8>, kind: Kind) throws(InflateError) {
        var counts = [Int](repeating: 0, count: 16)
        for l in lengths { counts[Int(l)] += 1 }
        counts[0] = 0
        var left = 1
        var maxLength = 0
        for len in 1...15 {
            left <<= 1
            left -= counts[len]
            if left < 0 { throw .corrupt("over-subscribed Huffman code") }
            if counts[len] > 0 { maxLength = len }
        }
        if left > 0 && maxLength > 0 && (kind == .codeLength || maxLength != 1) {
            throw .corrupt("incomplete Huffman code")
        }
        // Canonical codes: next code per length.
        var next = [Int](repeating: 0, count: 17)
        var code = 0
        for len in 1...15 {
            code = (code + counts[len - 1]) << 1
            next[len] = code
        }
        let p = HuffmanTable.primaryBits
        var table = [UInt32](repeating: 0, count: 1 << p)
        let subBits = max(0, maxLength - p)
        var subtableOf = [Int](repeating: -1, count: 1 << p)
        let base = lengths.startIndex
        for i in 0..<lengths.count {
            let len = Int(lengths[base + i])
            if len == 0 { continue }
            let c = next[len]
            next[len] += 1
            // Deflate sends codes most-significant bit first; we index by bits as read (LSB first): reverse.
            var r = 0
            for b in 0..<len where (c >> b) & 1 != 0 { r |= 1 << (len - 1 - b) }
            let payload = HuffmanTable.payload(symbol: i, kind: kind) | UInt32(len) << 16
            if len <= p {
                var j = r
                while j < (1 << p) {
                    table[j] = payload
                    j += 1 << len
                }
            } else {
                let prefix = r & ((1 << p) - 1)
                var offset = subtableOf[prefix]
                if offset < 0 {
                    offset = table.count
                    subtableOf[prefix] = offset
                    table.append(contentsOf: repeatElement(0, count: 1 << subBits))
                    table[prefix] = 0x8000_0000 | UInt32(subBits) << 24 | UInt32(offset)
                }
                var j = r >> p
                while j < (1 << subBits) {
                    table[offset + j] = payload
                    j += 1 << (len - p)
                }
            }
        }
        entries = table
    }

    static func payload(symbol: Int, kind: Kind) -> UInt32 {
        switch kind {
        case .codeLength:
            return literal | UInt32(symbol)
        case .literalLength:
            if symbol < 256 { return literal | UInt32(symbol) }
            if symbol == 256 { return endOfBlock }
            if symbol <= 285 {
                return base | UInt32(lengthExtra[symbol - 257]) << 24 | UInt32(lengthBase[symbol - 257])
            }
            return invalid
        case .distance:
            if symbol < 30 { return base | UInt32(distanceExtra[symbol]) << 24 | UInt32(distanceBase[symbol]) }
            return invalid
        }
    }

    static let fixedLiteralLength: HuffmanTable = {
        var l = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { l[i] = 9 }
        for i in 256..<280 { l[i] = 7 }
        return try! HuffmanTable(lengths: l[...], kind: .literalLength)
    }()
    static let fixedDistance: HuffmanTable = {
        try! HuffmanTable(lengths: [UInt8](repeating: 5, count: 32)[...], kind: .distance)
    }()
}

/// A deflate (RFC 1951) decoder writing into a caller-owned buffer that bounds its output.
struct Inflater {
    let input: UnsafePointer<UInt8>
    let inputCount: Int
    /// Virtual read position: may run past `inputCount` (zero bytes are fed); checked when it matters.
    var position = 0
    var bits: UInt64 = 0
    var bitCount = 0
    let output: UnsafeMutablePointer<UInt8>
    let outputCount: Int
    var written = 0

    init(input: UnsafePointer<UInt8>, count: Int, output: UnsafeMutablePointer<UInt8>, count outCount: Int) {
        self.input = input
        inputCount = count
        self.output = output
        outputCount = outCount
    }

    /// Input bits consumed so far went past the real input.
    var overran: Bool { position * 8 - bitCount > inputCount * 8 }

    @inline(__always) mutating func refill() {
        if position + 8 <= inputCount {
            let word = UInt64(littleEndian: UnsafeRawPointer(input + position).loadUnaligned(as: UInt64.self))
            bits |= word &<< UInt64(bitCount)
            position += (63 - bitCount) >> 3
            bitCount |= 56
        } else {
            while bitCount <= 56 {
                let b: UInt8 = position < inputCount ? input[position] : 0
                bits |= UInt64(b) &<< UInt64(bitCount)
                position += 1
                bitCount += 8
            }
        }
    }

    @inline(__always) mutating func take(_ n: Int) -> UInt32 {
        let v = UInt32(truncatingIfNeeded: bits & ((1 &<< UInt64(n)) &- 1))
        bits &>>= UInt64(n)
        bitCount -= n
        return v
    }

    mutating func readBits(_ n: Int) -> UInt32 {
        if bitCount < n { refill() }
        return take(n)
    }

    /// Decodes one symbol's table entry; needs at least 15 bits in the buffer.
    @inline(__always) mutating func decode(_ t: UnsafePointer<UInt32>) throws(InflateError) -> UInt32 {
        var e = t[Int(truncatingIfNeeded: bits & 0x3FF)]
        if e & 0x8000_0000 != 0 {
            let sub = UInt64((e >> 24) & 0x1F)
            e = t[Int(e & 0xFFFF) + Int(truncatingIfNeeded: (bits >> 10) & ((1 &<< sub) &- 1))]
        }
        let len = Int((e >> 16) & 0xFF)
        if len == 0 { throw overran ? .truncated : .corrupt("invalid Huffman code") }
        bits &>>= UInt64(len)
        bitCount -= len
        return e
    }

    /// Inflates every block until the final one. Returns with `written` set.
    mutating func run() throws(InflateError) {
        var final = false
        while !final {
            final = readBits(1) == 1
            let type = readBits(2)
            switch type {
            case 0: try stored()
            case 1:
                try HuffmanTable.fixedLiteralLength.entries.withUnsafeBufferPointer { (l) throws(InflateError) in
                    try HuffmanTable.fixedDistance.entries.withUnsafeBufferPointer { (d) throws(InflateError) in
                        try huffmanBlock(l.baseAddress!, d.baseAddress!)
                    }
                }
            case 2:
                let (lit, dist) = try dynamicTables()
                try lit.entries.withUnsafeBufferPointer { (l) throws(InflateError) in
                    try dist.entries.withUnsafeBufferPointer { (d) throws(InflateError) in
                        try huffmanBlock(l.baseAddress!, d.baseAddress!)
                    }
                }
            default:
                throw overran ? .truncated : .corrupt("invalid block type")
            }
            if overran { throw .truncated }
        }
    }

    /// Drops the bits up to the next byte boundary and returns the byte position after the stream.
    mutating func alignedPosition() -> Int {
        _ = take(bitCount & 7)
        let p = position - bitCount / 8
        bits = 0
        bitCount = 0
        position = p
        return p
    }

    mutating func stored() throws(InflateError) {
        let p = alignedPosition()
        guard p + 4 <= inputCount else { throw .truncated }
        let len = Int(input[p]) | Int(input[p + 1]) << 8
        let nlen = Int(input[p + 2]) | Int(input[p + 3]) << 8
        guard len == (~nlen & 0xFFFF) else { throw .corrupt("stored block length check failed") }
        guard p + 4 + len <= inputCount else { throw .truncated }
        guard len <= outputCount - written else { throw .tooLarge }
        (output + written).update(from: input + p + 4, count: len)
        written += len
        position = p + 4 + len
    }

    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    mutating func dynamicTables() throws(InflateError) -> (HuffmanTable, HuffmanTable) {
        let hlit = Int(readBits(5)) + 257
        let hdist = Int(readBits(5)) + 1
        let hclen = Int(readBits(4)) + 4
        guard hlit <= 286, hdist <= 30 else { throw overran ? .truncated : .corrupt("too many length or distance codes") }
        var clen = [UInt8](repeating: 0, count: 19)
        for i in 0..<hclen { clen[Inflater.codeLengthOrder[i]] = UInt8(readBits(3)) }
        if overran { throw .truncated }
        let clTable = try HuffmanTable(lengths: clen[...], kind: .codeLength)
        var lengths = [UInt8](repeating: 0, count: hlit + hdist)
        var i = 0
        try clTable.entries.withUnsafeBufferPointer { (t) throws(InflateError) in
            while i < hlit + hdist {
                refill()
                let sym = Int(try decode(t.baseAddress!) & 0xFFFF)
                var repeatValue: UInt8 = 0
                var count = 1
                switch sym {
                case 0...15:
                    lengths[i] = UInt8(sym)
                    i += 1
                    continue
                case 16:
                    guard i > 0 else { throw .corrupt("repeated code length with no previous length") }
                    repeatValue = lengths[i - 1]
                    count = 3 + Int(take(2))
                case 17: count = 3 + Int(take(3))
                default: count = 11 + Int(take(7))
                }
                guard i + count <= hlit + hdist else { throw .corrupt("code lengths overflow") }
                for k in i..<(i + count) { lengths[k] = repeatValue }
                i += count
            }
        }
        if overran { throw .truncated }
        guard lengths[256] != 0 else { throw .corrupt("missing end-of-block code") }
        let lit = try HuffmanTable(lengths: lengths[0..<hlit], kind: .literalLength)
        let dist = try HuffmanTable(lengths: lengths[hlit...], kind: .distance)
        return (lit, dist)
    }

    mutating func huffmanBlock(_ lit: UnsafePointer<UInt32>, _ dist: UnsafePointer<UInt32>) throws(InflateError) {
        let out = output
        let end = outputCount
        var w = written
        defer { written = w }
        while true {
            refill()
            let e = try decode(lit)
            let kind = e & (3 << 29)
            if kind == HuffmanTable.literal {
                guard w < end else { throw .tooLarge }
                out[w] = UInt8(truncatingIfNeeded: e)
                w += 1
                continue
            }
            if kind == HuffmanTable.endOfBlock { return }
            if kind == HuffmanTable.invalid { throw overran ? .truncated : .corrupt("invalid literal/length code") }
            let length = Int(e & 0xFFFF) + Int(take(Int((e >> 24) & 0x1F)))
            let d = try decode(dist)
            if d & (3 << 29) == HuffmanTable.invalid { throw overran ? .truncated : .corrupt("invalid distance code") }
            let distance = Int(d & 0xFFFF) + Int(take(Int((d >> 24) & 0x1F)))
            guard distance <= w else { throw overran ? .truncated : .corrupt("distance too far back") }
            guard length <= end - w else { throw overran ? .truncated : .tooLarge }
            var src = out + (w - distance)
            var dst = out + w
            if distance >= 8 && end - w >= length + 8 {
                // 8-byte chunks; each source chunk is complete before it is read because distance >= 8.
                let stop = dst + length
                repeat {
                    UnsafeMutableRawPointer(dst).storeBytes(of: UnsafeRawPointer(src).loadUnaligned(as: UInt64.self), as: UInt64.self)
                    src += 8
                    dst += 8
                } while dst < stop
            } else if distance == 1 {
                dst.update(repeating: src.pointee, count: length)
            } else {
                for k in 0..<length { dst[k] = src[k] }
            }
            w += length
        }
    }
}

/// Inflates the zlib stream (RFC 1950) in `input` into `output`, which it must fill exactly; checks the header and
/// the Adler-32 trailer. Output beyond `output.count` stops decoding at once (`.tooLarge`).
func zlibInflate(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>) throws(InflateError) {
    guard input.count >= 2 else { throw .truncated }
    let cmf = Int(input[0]), flg = Int(input[1])
    guard cmf & 0x0F == 8, cmf >> 4 <= 7 else { throw .corrupt("not a deflate zlib stream") }
    guard (cmf << 8 | flg) % 31 == 0 else { throw .corrupt("bad zlib header check") }
    guard flg & 0x20 == 0 else { throw .corrupt("zlib preset dictionary not supported") }
    guard let base = input.baseAddress, let out = output.baseAddress, output.count > 0 else { throw .truncated }
    var inflater = Inflater(input: base + 2, count: input.count - 2, output: out, count: output.count)
    try inflater.run()
    guard inflater.written == output.count else { throw .tooSmall(inflater.written) }
    let p = inflater.alignedPosition() + 2
    guard p + 4 <= input.count else { throw .truncated }
    let stored = UInt32(input[p]) << 24 | UInt32(input[p + 1]) << 16 | UInt32(input[p + 2]) << 8 | UInt32(input[p + 3])
    let actual = Adler32.update(1, UnsafeBufferPointer(output))
    guard stored == actual else { throw .corrupt("Adler-32 checksum mismatch") }
}

/// Convenience for tests: inflates a zlib stream that must decompress to exactly `size` bytes.
func zlibDecompress(_ bytes: [UInt8], size: Int) throws(InflateError) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: size)
    try bytes.withUnsafeBufferPointer { (i) throws(InflateError) in
        try out.withUnsafeMutableBufferPointer { (o) throws(InflateError) in try zlibInflate(i, into: o) }
    }
    return out
}
