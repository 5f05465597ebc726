/// Little-endian bit writer for deflate.
struct BitWriter {
    var bytes: [UInt8] = []
    var buffer: UInt64 = 0
    var count = 0

    /// Appends the low `n` bits (n <= 32) of `value`, least significant first.
    @inline(__always) mutating func write(_ value: UInt32, _ n: Int) {
        buffer |= UInt64(value) &<< UInt64(count)
        count += n
        if count >= 32 {
            let w = UInt32(truncatingIfNeeded: buffer)
            bytes.append(UInt8(truncatingIfNeeded: w)); bytes.append(UInt8(truncatingIfNeeded: w >> 8))
            bytes.append(UInt8(truncatingIfNeeded: w >> 16)); bytes.append(UInt8(truncatingIfNeeded: w >> 24))
            buffer >>= 32
            count -= 32
        }
    }

    /// Pads to a byte boundary with zero bits and flushes.
    mutating func align() {
        while count > 0 {
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            buffer >>= 8
            count = max(0, count - 8)
        }
        buffer = 0
    }
}

/// Canonical Huffman code for the encoder: per symbol a code length and its bit-reversed code.
struct HuffmanCode {
    var lengths: [UInt8]
    var codes: [UInt32]

    init(lengths: [UInt8]) {
        self.lengths = lengths
        var counts = [Int](repeating: 0, count: 16)
        for l in lengths where l > 0 { counts[Int(l)] += 1 }
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1...15 {
            code = (code + counts[len - 1]) << 1
            next[len] = code
        }
        codes = [UInt32](repeating: 0, count: lengths.count)
        for (s, l) in lengths.enumerated() where l > 0 {
            let c = next[Int(l)]
            next[Int(l)] += 1
            var r: UInt32 = 0
            for b in 0..<Int(l) where (c >> b) & 1 != 0 { r |= 1 << UInt32(Int(l) - 1 - b) }
            codes[s] = r
        }
    }

    /// Length-limited Huffman code lengths for `freqs` (Huffman's algorithm, then the lengths are rebalanced so that
    /// none exceeds `limit`, as miniz does). Symbols with zero frequency get length 0; a lone symbol gets length 1.
    static func lengths(_ freqs: [Int], limit: Int) -> [UInt8] {
        let used = freqs.indices.filter { freqs[$0] > 0 }.sorted { (freqs[$0], $0) < (freqs[$1], $1) }
        var lengths = [UInt8](repeating: 0, count: freqs.count)
        if used.isEmpty { return lengths }
        if used.count == 1 {
            lengths[used[0]] = 1
            return lengths
        }
        // Two-queue Huffman: leaves sorted ascending, internal nodes created in ascending order.
        let n = used.count
        var weight = used.map { freqs[$0] } + [Int](repeating: 0, count: n - 1)
        var parent = [Int](repeating: -1, count: 2 * n - 1)
        var leaf = 0, node = n, nextNode = n
        func pick() -> Int {
            if leaf < n && (node >= nextNode || weight[leaf] <= weight[node]) { leaf += 1; return leaf - 1 }
            node += 1
            return node - 1
        }
        while nextNode < 2 * n - 1 {
            let a = pick(), b = pick()
            weight[nextNode] = weight[a] + weight[b]
            parent[a] = nextNode
            parent[b] = nextNode
            nextNode += 1
        }
        var depth = [Int](repeating: 0, count: 2 * n - 1)
        for i in stride(from: 2 * n - 3, through: 0, by: -1) { depth[i] = depth[parent[i]] + 1 }
        // Count codes per length, clamp to the limit and fix the Kraft sum.
        var numCodes = [Int](repeating: 0, count: max(limit, 64) + 1)
        for i in 0..<n { numCodes[min(depth[i], limit)] += 1 }
        var total = 0
        for i in 1...limit { total += numCodes[i] << (limit - i) }
        while total != 1 << limit {
            numCodes[limit] -= 1
            for i in stride(from: limit - 1, through: 1, by: -1) where numCodes[i] != 0 {
                numCodes[i] -= 1
                numCodes[i + 1] += 2
                break
            }
            total -= 1
        }
        // Most frequent symbols (end of `used`) get the shortest codes.
        var k = n - 1
        for len in 1...limit {
            for _ in 0..<numCodes[len] {
                lengths[used[k]] = UInt8(len)
                k -= 1
            }
        }
        return lengths
    }

    static let fixedLiteralLength: HuffmanCode = {
        var l = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { l[i] = 9 }
        for i in 256..<280 { l[i] = 7 }
        return HuffmanCode(lengths: l)
    }()
    static let fixedDistance = HuffmanCode(lengths: [UInt8](repeating: 5, count: 30))
}

/// Deflate compressor (RFC 1951): LZ77 with hash chains and lazy matching over a 32 KiB window, each block coded
/// with whichever of dynamic Huffman, fixed Huffman or stored is smallest.
struct Deflater {
    static let windowSize = 1 << 15
    static let hashBits = 15
    static let minMatch = 3, maxMatch = 258
    /// Longest hash chain followed per position (speed/size trade-off, zlib's level 6 uses 128).
    var maxChain = 64

    /// Symbols of one block: a literal is `byte`, a match is `0x8000_0000 | length << 16 | distance`.
    static func lengthSymbol(_ length: Int) -> (Int, Int, Int) {
        // symbol, extra bits, extra value
        var s = 28
        while Int(HuffmanTable.lengthBase[s]) > length { s -= 1 }
        return (257 + s, Int(HuffmanTable.lengthExtra[s]), length - Int(HuffmanTable.lengthBase[s]))
    }

    static let lengthSymbols: [(Int, Int, Int)] = (0...258).map { $0 < 3 ? (0, 0, 0) : lengthSymbol($0) }

    @inline(__always) static func distanceSymbol(_ d: Int) -> (Int, Int, Int) {
        var s = 29
        while Int(HuffmanTable.distanceBase[s]) > d { s -= 1 }
        return (s, Int(HuffmanTable.distanceExtra[s]), d - Int(HuffmanTable.distanceBase[s]))
    }

    func compress(_ data: [UInt8]) -> [UInt8] {
        var out = BitWriter()
        out.bytes.reserveCapacity(data.count / 2 + 64)
        let n = data.count
        if n == 0 {
            out.write(1, 1); out.write(1, 2) // final fixed block with only end-of-block
            out.write(HuffmanCode.fixedLiteralLength.codes[256], 7)
            out.align()
            return out.bytes
        }
        let head = UnsafeMutablePointer<Int32>.allocate(capacity: 1 << Deflater.hashBits)
        head.initialize(repeating: -1, count: 1 << Deflater.hashBits)
        let prev = UnsafeMutablePointer<Int32>.allocate(capacity: Deflater.windowSize)
        prev.initialize(repeating: -1, count: Deflater.windowSize)
        defer { head.deallocate(); prev.deallocate() }
        var symbols: [UInt32] = []
        symbols.reserveCapacity(1 << 16)
        var blockStart = 0
        let mask = Deflater.windowSize - 1
        let maxChain = self.maxChain
        data.withUnsafeBufferPointer { d in
            let p = d.baseAddress!
            var i = 0
            var nextInsert = 0 // positions below this are in the hash chains
            while i < n {
                // Insert every position up to i (inclusive) into the chains.
                while nextInsert <= i && nextInsert + 2 < n {
                    let h = Deflater.hash(p, nextInsert)
                    prev[nextInsert & mask] = head[h]
                    head[h] = Int32(nextInsert)
                    nextInsert += 1
                }
                var (len, dist) = Deflater.longest(p, n, i, head, prev, maxChain, skipSelf: true)
                if len > 0 && len < 16 && i + 1 < n { // zlib's max_lazy
                    // Lazy matching: prefer a longer match starting at the next byte.
                    if nextInsert <= i + 1 && i + 3 < n {
                        let h = Deflater.hash(p, i + 1)
                        prev[(i + 1) & mask] = head[h]
                        head[h] = Int32(i + 1)
                        nextInsert = i + 2
                    }
                    let (l2, d2) = Deflater.longest(p, n, i + 1, head, prev, maxChain, skipSelf: true)
                    if l2 > len {
                        symbols.append(UInt32(p[i]))
                        i += 1
                        (len, dist) = (l2, d2)
                    }
                }
                if len > 0 {
                    symbols.append(0x8000_0000 | UInt32(len) << 16 | UInt32(dist))
                    i += len
                } else {
                    symbols.append(UInt32(p[i]))
                    i += 1
                }
                if i >= n || symbols.count >= 1 << 15 {
                    writeBlock(symbols, UnsafeBufferPointer(start: p + blockStart, count: i - blockStart), final: i >= n, &out)
                    symbols.removeAll(keepingCapacity: true)
                    blockStart = i
                }
            }
        }
        out.align()
        return out.bytes
    }

    @inline(__always) static func hash(_ p: UnsafePointer<UInt8>, _ i: Int) -> Int {
        let v = UInt32(p[i]) << 16 | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2])
        return Int((v &* 2_654_435_761) >> UInt32(32 - Deflater.hashBits))
    }

    /// Longest earlier match for position `i` (which is already in the chains when `skipSelf`).
    @inline(__always) static func longest(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int, _ head: UnsafeMutablePointer<Int32>,
                                          _ prev: UnsafeMutablePointer<Int32>, _ maxChain: Int, skipSelf: Bool) -> (Int, Int) {
        guard i + 2 < n else { return (0, 0) }
        var best = 0, bestDist = 0
        var cand = Int(head[hash(p, i)])
        if skipSelf && cand == i { cand = Int(prev[i & (windowSize - 1)]) }
        var chain = maxChain
        let limit = min(maxMatch, n - i)
        while cand >= 0 && cand < i && i - cand <= windowSize && chain > 0 {
            if p[cand + best] == p[i + best] && p[cand] == p[i] {
                var l = 0
                // Compare 8 bytes at a time while a whole word fits.
                while l + 8 <= limit {
                    let x = UnsafeRawPointer(p + cand + l).loadUnaligned(as: UInt64.self)
                        ^ UnsafeRawPointer(p + i + l).loadUnaligned(as: UInt64.self)
                    if x != 0 { l += UInt64(littleEndian: x).trailingZeroBitCount >> 3; break }
                    l += 8
                }
                if l + 8 > limit { while l < limit && p[cand + l] == p[i + l] { l += 1 } }
                if l > best {
                    best = l; bestDist = i - cand
                    if l >= min(limit, 128) { break } // long enough (zlib's nice_length)
                    if l >= 8 { chain = min(chain, maxChain / 4) } // zlib's good_length
                }
            }
            let next = Int(prev[cand & (windowSize - 1)])
            if next >= cand { break }
            cand = next
            chain -= 1
        }
        return best >= minMatch ? (best, bestDist) : (0, 0)
    }

    func writeBlock(_ symbols: [UInt32], _ raw: UnsafeBufferPointer<UInt8>, final: Bool, _ out: inout BitWriter) {
        var litFreq = [Int](repeating: 0, count: 286)
        var distFreq = [Int](repeating: 0, count: 30)
        for s in symbols {
            if s & 0x8000_0000 == 0 { litFreq[Int(s)] += 1 } else {
                litFreq[Deflater.lengthSymbols[Int((s >> 16) & 0x1FF)].0] += 1
                distFreq[Deflater.distanceSymbol(Int(s & 0xFFFF)).0] += 1
            }
        }
        litFreq[256] = 1
        let litLengths = HuffmanCode.lengths(litFreq, limit: 15)
        var distLengths = HuffmanCode.lengths(distFreq, limit: 15)
        if distLengths.allSatisfy({ $0 == 0 }) { distLengths[0] = 1 }
        // Header: trimmed length lists, run-length coded with symbols 16, 17, 18.
        var hlit = 286
        while hlit > 257 && litLengths[hlit - 1] == 0 { hlit -= 1 }
        var hdist = 30
        while hdist > 1 && distLengths[hdist - 1] == 0 { hdist -= 1 }
        let all = Array(litLengths[0..<hlit]) + Array(distLengths[0..<hdist])
        var rle: [(Int, Int, Int)] = [] // symbol, extra bits, extra value
        var k = 0
        while k < all.count {
            let v = all[k]
            var run = 1
            while k + run < all.count && all[k + run] == v { run += 1 }
            var left = run
            if v == 0 {
                while left >= 11 { let r = min(left, 138); rle.append((18, 7, r - 11)); left -= r }
                if left >= 3 { rle.append((17, 3, left - 3)); left = 0 }
            } else {
                rle.append((Int(v), 0, 0)); left -= 1
                while left >= 3 { let r = min(left, 6); rle.append((16, 2, r - 3)); left -= r }
            }
            for _ in 0..<left { rle.append((Int(v), 0, 0)) }
            k += run
        }
        var clFreq = [Int](repeating: 0, count: 19)
        for r in rle { clFreq[r.0] += 1 }
        if clFreq.filter({ $0 > 0 }).count == 1 {
            // A one-symbol code-length code would be incomplete, which zlib rejects: give it a second symbol.
            clFreq[clFreq[0] > 0 ? 1 : 0] = 1
        }
        let clLengths = HuffmanCode.lengths(clFreq, limit: 7)
        var hclen = 19
        while hclen > 4 && clLengths[Inflater.codeLengthOrder[hclen - 1]] == 0 { hclen -= 1 }

        let lit = HuffmanCode(lengths: litLengths), dist = HuffmanCode(lengths: distLengths)
        let cl = HuffmanCode(lengths: clLengths)
        // Costs in bits of the three block kinds.
        var extraBits = 0
        for s in 257..<286 { extraBits += litFreq[s] * Int(HuffmanTable.lengthExtra[s - 257]) }
        for s in 0..<30 { extraBits += distFreq[s] * Int(HuffmanTable.distanceExtra[s]) }
        var dynamicCost = 14 + 3 * hclen + extraBits
        for r in rle { dynamicCost += Int(clLengths[r.0]) + r.1 }
        var fixedCost = extraBits
        for s in 0..<286 {
            dynamicCost += litFreq[s] * Int(litLengths[s])
            fixedCost += litFreq[s] * Int(HuffmanCode.fixedLiteralLength.lengths[s])
        }
        for s in 0..<30 {
            dynamicCost += distFreq[s] * Int(distLengths[s])
            fixedCost += distFreq[s] * 5
        }
        let storedCost = (raw.count / 65535 + 1) * 40 + raw.count * 8
        if storedCost <= min(dynamicCost, fixedCost) {
            var start = 0
            repeat {
                let len = min(65535, raw.count - start)
                let last = final && start + len == raw.count
                out.write(last ? 1 : 0, 1); out.write(0, 2)
                out.align()
                out.bytes.append(UInt8(len & 0xFF)); out.bytes.append(UInt8(len >> 8))
                out.bytes.append(UInt8(~len & 0xFF)); out.bytes.append(UInt8((~len >> 8) & 0xFF))
                out.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: raw[start..<(start + len)]))
                start += len
            } while start < raw.count
            return
        }
        out.write(final ? 1 : 0, 1)
        if fixedCost <= dynamicCost {
            out.write(1, 2)
            writeSymbols(symbols, HuffmanCode.fixedLiteralLength, HuffmanCode.fixedDistance, &out)
            return
        }
        out.write(2, 2)
        out.write(UInt32(hlit - 257), 5); out.write(UInt32(hdist - 1), 5); out.write(UInt32(hclen - 4), 4)
        for i in 0..<hclen { out.write(UInt32(clLengths[Inflater.codeLengthOrder[i]]), 3) }
        for r in rle {
            out.write(cl.codes[r.0], Int(clLengths[r.0]))
            if r.1 > 0 { out.write(UInt32(r.2), r.1) }
        }
        writeSymbols(symbols, lit, dist, &out)
    }

    func writeSymbols(_ symbols: [UInt32], _ lit: HuffmanCode, _ dist: HuffmanCode, _ out: inout BitWriter) {
        for s in symbols {
            if s & 0x8000_0000 == 0 {
                out.write(lit.codes[Int(s)], Int(lit.lengths[Int(s)]))
            } else {
                let (ls, le, lv) = Deflater.lengthSymbols[Int((s >> 16) & 0x1FF)]
                out.write(lit.codes[ls], Int(lit.lengths[ls]))
                if le > 0 { out.write(UInt32(lv), le) }
                let (ds, de, dv) = Deflater.distanceSymbol(Int(s & 0xFFFF))
                out.write(dist.codes[ds], Int(dist.lengths[ds]))
                if de > 0 { out.write(UInt32(dv), de) }
            }
        }
        out.write(lit.codes[256], Int(lit.lengths[256]))
    }
}

/// Compresses `data` into a zlib stream (RFC 1950: header, deflate data, Adler-32).
func zlibCompress(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x78, 0x9C]
    out += Deflater().compress(data)
    let a = Adler32.checksum(data)
    out += [UInt8(a >> 24), UInt8((a >> 16) & 0xFF), UInt8((a >> 8) & 0xFF), UInt8(a & 0xFF)]
    return out
}
