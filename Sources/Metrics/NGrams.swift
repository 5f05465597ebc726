/// Dense ids for words and for the n-grams (n = 1…4) of a corpus, so the scorers count with arrays instead of
/// hashing strings. An n-gram's id comes from its (n−1)-gram prefix id and its last word id, so every distinct
/// n-gram of the corpus gets one id, whatever the vocabulary size.
struct NGramIndex {
    static let maxOrder = 4
    private(set) var wordIds: [String: Int32] = [:]
    private var table = PairTable()
    /// The order (1…4) of each n-gram id.
    private(set) var order: [UInt8] = []

    var count: Int { order.count }

    mutating func word(_ w: String) -> Int32 {
        if let id = wordIds[w] { return id }
        let id = Int32(order.count)
        wordIds[w] = id
        order.append(1)
        return id
    }

    mutating func words(_ ws: [String]) -> [Int32] { ws.map { word($0) } }

    /// The n-gram ids of a sentence (word ids), in pycocoevalcap's `precook` order: all 1-grams left to right,
    /// then all 2-grams, … up to `maxOrder`.
    mutating func ngrams(_ s: [Int32], maxOrder: Int = NGramIndex.maxOrder) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(s.count * maxOrder)
        out.append(contentsOf: s)
        guard maxOrder > 1, s.count > 1 else { return out }
        var prefix = s  // ids of the (k−1)-grams starting at each position
        for k in 2...maxOrder where s.count >= k {
            var next: [Int32] = []
            next.reserveCapacity(s.count - k + 1)
            for p in 0...(s.count - k) {
                let key = UInt64(UInt32(bitPattern: prefix[p])) << 32 | UInt64(UInt32(bitPattern: s[p + k - 1]))
                let id = table.id(key, next: Int32(order.count))
                if Int(id) == order.count { order.append(UInt8(k)) }
                next.append(id)
            }
            out.append(contentsOf: next)
            prefix = next
        }
        return out
    }
}

/// An open-addressing hash map UInt64 → Int32 (insert-or-get), for n-gram ids.
struct PairTable {
    private var keys: [UInt64]
    private var values: [Int32]
    private var used = 0
    private var mask: Int

    init(capacity: Int = 1 << 12) {
        keys = Array(repeating: .max, count: capacity)
        values = Array(repeating: -1, count: capacity)
        mask = capacity - 1
    }

    /// The id stored for `key`, storing `next` if there is none.
    mutating func id(_ key: UInt64, next: Int32) -> Int32 {
        if (used + 1) * 2 > keys.count { grow() }
        var h = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
        while true {
            let k = keys[h]
            if k == key { return values[h] }
            if k == .max {
                keys[h] = key
                values[h] = next
                used += 1
                return next
            }
            h = (h + 1) & mask
        }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = Array(repeating: .max, count: oldKeys.count * 2)
        values = Array(repeating: -1, count: oldKeys.count * 2)
        mask = keys.count - 1
        used = 0
        for (k, v) in zip(oldKeys, oldValues) where k != .max { _ = id(k, next: v) }
    }
}

/// numpy's pairwise summation (what `np.mean` uses on a float64 array), so corpus means match to the last bit.
func pairwiseSum(_ a: [Double]) -> Double {
    a.withUnsafeBufferPointer { pairwiseSum($0[...]) }
}

private func pairwiseSum(_ a: Slice<UnsafeBufferPointer<Double>>) -> Double {
    let n = a.count
    let s = a.startIndex
    if n < 8 {
        var res = 0.0
        for i in a.indices { res += a[i] }
        return res
    } else if n <= 128 {
        var r = (0..<8).map { a[s + $0] }
        var i = 8
        while i < n - (n % 8) {
            for j in 0..<8 { r[j] += a[s + i + j] }
            i += 8
        }
        var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n { res += a[s + i]; i += 1 }
        return res
    } else {
        var n2 = n / 2
        n2 -= n2 % 8
        return pairwiseSum(a[s..<(s + n2)]) + pairwiseSum(a[(s + n2)...])
    }
}

/// `np.mean`: pairwise sum divided by the count (0 for an empty array, where numpy would give nan).
func numpyMean(_ a: [Double]) -> Double { a.isEmpty ? 0 : pairwiseSum(a) / Double(a.count) }
