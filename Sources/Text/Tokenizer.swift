/// The training tokenizer: what captions look like to the vocabulary and the decoders.
///
/// Lower-cases, drops punctuation, and keeps a word's inner joiners: `T-shirt` → `t-shirt`,
/// `man's` → `man's`, `o'clock` → `o'clock`; `2.5`, `1,000`, `3:30` and `3/4` stay whole (a `.`, `,`, `:`
/// or `/` between two digits); `wall/door` → `wall`, `door`. Curly apostrophes (`’`) count as `'`.
/// Leading or trailing joiners are dropped (`dogs'` → `dogs`, `-fast-` → `fast`).
public enum CaptionTokenizer {
    /// Training tokenizer: lower-case, split off punctuation (dropped), keep intra-word hyphens/apostrophes (`t-shirt`).
    public static func words(_ caption: String) -> [String] {
        var scalars: [Unicode.Scalar] = []
        for u in caption.lowercased().unicodeScalars {
            scalars.append(u == "\u{2019}" || u == "\u{2018}" ? "'" : u)
        }
        var out: [String] = []
        var word = String.UnicodeScalarView()
        var last: Unicode.Scalar = " "
        let n = scalars.count
        for i in 0..<n {
            let u = scalars[i]
            if isWordScalar(u) {
                word.append(u)
                last = u
                continue
            }
            var joins = false
            if !word.isEmpty, i + 1 < n, isWordScalar(scalars[i + 1]) {
                let next = scalars[i + 1]
                switch u {
                case "-", "'": joins = true
                case ".", ",", ":", "/": joins = isDigit(last) && isDigit(next)
                default: joins = false
                }
            }
            if joins {
                word.append(u)
                last = u
            } else if !word.isEmpty {
                out.append(String(word))
                word = String.UnicodeScalarView()
            }
        }
        if !word.isEmpty { out.append(String(word)) }
        return out
    }

    /// Letters, digits and combining marks (so a decomposed `café` stays one word).
    @inline(__always) static func isWordScalar(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII {
            let v = u.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x61 && v <= 0x7A) || (v >= 0x41 && v <= 0x5A)
        }
        let p = u.properties
        return p.isAlphabetic || p.numericType != nil || p.generalCategory == .nonspacingMark
            || p.generalCategory == .spacingMark
    }

    @inline(__always) static func isDigit(_ u: Unicode.Scalar) -> Bool { u.value >= 0x30 && u.value <= 0x39 }
}
