/// The scoring tokenizer: what pycocoevalcap's `PTBTokenizer` gives for a caption, without Java.
///
/// pycocoevalcap runs Stanford CoreNLP 3.4.1's `PTBTokenizer -preserveLines -lowerCase` over every caption and
/// then drops the tokens in `PTBTokenizer.punctuation`. This is a hand-written scanner for the part of that
/// lexer that captions exercise, checked against the real jar (Tests/MetricsTests/Fixtures/ptb_tokens.tsv):
/// lower-casing after tokenizing, clitics (`it 's`, `is n't`, `ca n't`, `can not`, `gon na`), bracket escapes
/// (`-lrb-`, kept, as in pycocoevalcap), quotes (ASCII, curly, guillemets; dropped), `$ 5`, `50 %`, `# 1`,
/// abbreviations that keep their period (`mr.`, `u.s.`, `e.g.`, single letters), numbers (`1,000`, `3:30`,
/// `2.5`, `3/4`, `-5`), hyphenated and slashed words, smileys, URLs, non-ASCII letters, and the characters
/// the jar deletes (emoji and other characters beyond U+FFFF, unknown currency signs).
/// Where the lexer would output a quote or a dash, the direction or exact form is not modelled: those tokens
/// are all removed by the filter.
public enum PTBTokenizer {
    /// The tokens pycocoevalcap removes after PTB tokenization (`PUNCTUATIONS` in ptbtokenizer.py).
    public static let punctuation: Set<String> = ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                                                  ".", "?", "!", ",", ":", "-", "--", "...", ";"]

    /// The scoring tokens of one caption: PTB tokens, lower-cased, minus `punctuation`.
    public static func tokenize(_ caption: String) -> [String] {
        ptbTokens(caption).filter { !punctuation.contains($0) }
    }

    /// The scoring form of a caption: `tokenize` joined by single spaces (what pycocoevalcap hands the scorers).
    public static func scoringString(_ caption: String) -> String { tokenize(caption).joined(separator: " ") }

    /// The lower-cased PTB tokens before the punctuation filter (quotes and dashes in a normalised form).
    public static func ptbTokens(_ caption: String) -> [String] {
        var s = PTBScanner(Array(caption.unicodeScalars))
        s.run()
        return s.out
    }
}

private let abbreviationsAlways: Set<String> = [
    // months, days
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mon", "tue", "tues", "wed", "thu", "thurs", "fri",
    // states
    "ala", "ariz", "az", "ark", "calif", "colo", "conn", "ct", "dak", "del", "fla", "ga", "ill", "ind", "kan",
    "kans", "ky", "la", "mass", "md", "mich", "minn", "miss", "mo", "mont", "neb", "nev", "okla", "ore", "pa",
    "penn", "tenn", "tex", "va", "vt", "wash", "wis", "wisc", "wyo",
    // companies
    "inc", "co", "cos", "corp", "pty", "ptys", "ppty", "ltd", "plc", "bancorp", "dept", "bhd", "assn", "univ",
    "intl", "sys", "invt", "elec", "natl", "mfg", "mtg",
    // post-titles, misc
    "jr", "sr", "bros", "blvd", "rd", "esq", "etc", "al", "seq", "bldg", "vs", "viz", "ft",
    // titles
    "mr", "mrs", "ms", "miss", "dr", "drs", "prof", "profs", "sen", "sens", "rep", "reps", "atty", "attys",
    "lt", "col", "gen", "messrs", "gov", "govs", "adm", "rev", "maj", "sgt", "cpl", "pvt", "mt", "capt",
    "st", "ste", "ave", "pres", "lieut", "hon", "brig", "cmdr", "comdr", "pfc", "spc", "supt", "supts",
    "det", "m", "mm", "mme", "mmes", "mlle", "mlles",
]
/// Abbreviations that keep their period only before a number (`no. 5`, `fig. 3`).
private let abbreviationsBeforeNumber: Set<String> = [
    "ca", "fig", "figs", "prop", "no", "nos", "art", "arts", "bldg", "pp", "op", "vol", "vols", "sec", "secs",
    "sect", "sects", "para", "paras", "ch", "chs", "est", "ext", "tel", "sq",
]
/// Capitalised words after which a one-letter abbreviation's period is a full stop (case-sensitive).
private let sentenceStarts: Set<String> = [
    "A", "About", "According", "Additionally", "After", "An", "As", "At", "But", "Earlier", "He", "Her", "Here",
    "However", "If", "In", "It", "Last", "Many", "More", "Mr.", "Ms.", "Now", "Once", "One", "Other", "Our", "She",
    "Since", "So", "Some", "Such", "That", "The", "Their", "Then", "There", "These", "They", "This", "We", "When",
    "While", "What", "Yet", "You",
]
private let assimilations2: Set<String> = ["gonna", "gotta", "lemme", "gimme", "wanna"]

private struct PTBScanner {
    let c: [Unicode.Scalar]
    var i = 0
    var out: [String] = []

    init(_ c: [Unicode.Scalar]) { self.c = c }

    // MARK: character classes

    @inline(__always) func at(_ k: Int) -> Unicode.Scalar? { k < c.count && k >= 0 ? c[k] : nil }

    @inline(__always) static func isSpace(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200B, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
            return true
        default: return false
        }
    }

    @inline(__always) static func isDigit(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { return u.value >= 0x30 && u.value <= 0x39 }
        return u.properties.numericType == .decimal
    }

    @inline(__always) static func isLetter(_ u: Unicode.Scalar) -> Bool {
        if u.isASCII { let v = u.value | 0x20; return v >= 0x61 && v <= 0x7A }
        if u.value > 0xFFFF { return false }
        let p = u.properties
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .letterNumber:
            return true
        default:
            return false
        }
    }

    @inline(__always) static func isAlnum(_ u: Unicode.Scalar) -> Bool { isLetter(u) || isDigit(u) }
    @inline(__always) static func isASCIIUpper(_ u: Unicode.Scalar) -> Bool { u.value >= 0x41 && u.value <= 0x5A }
    @inline(__always) static func isApostrophe(_ u: Unicode.Scalar) -> Bool { u == "'" || u == "\u{2019}" }

    func isAlnum(at k: Int) -> Bool { if let u = at(k) { return PTBScanner.isAlnum(u) }; return false }
    func isLetter(at k: Int) -> Bool { if let u = at(k) { return PTBScanner.isLetter(u) }; return false }
    func isDigit(at k: Int) -> Bool { if let u = at(k) { return PTBScanner.isDigit(u) }; return false }

    /// Lower-cased text of c[a..<b], with apostrophes normalised to `'`.
    func text(_ a: Int, _ b: Int) -> String {
        var v = String.UnicodeScalarView()
        for k in a..<b { v.append(PTBScanner.isApostrophe(c[k]) ? "'" : c[k]) }
        return String(v).lowercased()
    }

    /// Whether c[k...] starts with `word` (ASCII, case-insensitive) and the letter run ends there.
    func matchesWord(_ word: String, at k: Int, thenNonLetter: Bool = true) -> Bool {
        var j = k
        for w in word.unicodeScalars {
            guard let u = at(j), u.isASCII, (u.value | 0x20) == w.value else { return false }
            j += 1
        }
        return !thenNonLetter || !isLetter(at: j)
    }

    mutating func emit(_ t: String) { out.append(t) }

    // MARK: main loop

    mutating func run() {
        while i < c.count {
            let u = c[i]
            if PTBScanner.isSpace(u) { i += 1; continue }
            if PTBScanner.isAlnum(u) { word(); continue }
            symbol()
        }
    }

    /// A token that starts with a letter or digit.
    mutating func word() {
        let start = i
        if let url = urlEnd(from: i) { emit(text(start, url)); i = url; return }
        var j = i
        // `letters` while the token is a WORD (letters/digits joined by . ! ?); `numeric` while the current
        // segment (since the last joiner) is a number.
        let startsWithLetter = PTBScanner.isLetter(c[j])
        var wordShape = startsWithLetter
        var hasJoiner = false
        var segmentStart = j
        var segmentNumeric = true
        (j, segmentNumeric) = segment(from: j, numericOnly: false)
        loop: while let u = at(j) {
            let next = at(j + 1)
            switch u {
            case "-", "\u{2010}", "\u{2011}":
                guard let n = next, PTBScanner.isAlnum(n) else { break loop }
                j += 1
                wordShape = false; hasJoiner = true
                segmentStart = j
                (j, segmentNumeric) = segment(from: j, numericOnly: false)
            case "_":
                guard let n = next, PTBScanner.isAlnum(n) else { break loop }
                j += 1
                wordShape = false; hasJoiner = true
                segmentStart = j
                (j, segmentNumeric) = segment(from: j, numericOnly: false)
            case "/":
                guard let n = next, PTBScanner.isAlnum(n) else { break loop }
                j += 1
                wordShape = false; hasJoiner = true
                segmentStart = j
                (j, segmentNumeric) = segment(from: j, numericOnly: false)
            case ".":
                guard let n = next else { break loop }
                if PTBScanner.isDigit(n), segmentNumeric, j > segmentStart {
                    j += 1
                    j = segment(from: j, numericOnly: true).0
                    hasJoiner = true
                } else if PTBScanner.isLetter(n), wordShape {
                    j += 1
                    hasJoiner = true
                    segmentStart = j
                    (j, segmentNumeric) = segment(from: j, numericOnly: false)
                } else { break loop }
            case "!", "?":
                guard let n = next, PTBScanner.isLetter(n), wordShape else { break loop }
                j += 1
                hasJoiner = true
                segmentStart = j
                (j, segmentNumeric) = segment(from: j, numericOnly: false)
            case ",", ":":
                guard let n = next, PTBScanner.isDigit(n), segmentNumeric, j > segmentStart else { break loop }
                j += 1
                j = segment(from: j, numericOnly: true).0
                wordShape = false; hasJoiner = true
            case "&":
                // AT&T, R&B: capitals joined by ampersands.
                guard !hasJoiner, (start..<j).allSatisfy({ PTBScanner.isASCIIUpper(c[$0]) }),
                      let n = next, PTBScanner.isASCIIUpper(n) else { break loop }
                var k = j + 1
                while let v = at(k), PTBScanner.isASCIIUpper(v) { k += 1 }
                if isLetter(at: k) { break loop }
                j = k
                hasJoiner = true
            case "@":
                // e-mail address
                guard let n = next, PTBScanner.isAlnum(n) else { break loop }
                var k = j + 1
                while let v = at(k), PTBScanner.isAlnum(v) || v == "." || v == "-" || v == "_" { k += 1 }
                while k > j + 1, at(k - 1) == "." { k -= 1 }
                j = k
                wordShape = false; hasJoiner = true
            case "$":
                // US$, A$: letters then a dollar sign
                guard (start..<j).allSatisfy({ PTBScanner.isLetter(c[$0]) }) else { break loop }
                j += 1
                emit(text(start, j)); i = j
                return
            case "'", "\u{2019}", "`", "\u{2018}":
                switch apostrophe(tokenStart: start, at: j, hasJoiner: hasJoiner) {
                case .continueWord(let k):
                    j = k
                    wordShape = false
                    hasJoiner = true
                    segmentStart = j
                    segmentNumeric = false
                    continue loop
                case .split(let before):
                    // The token ends at `before`; what follows is scanned afresh.
                    finishWord(start, before)
                    i = before
                    clitics()
                    return
                case .stop:
                    break loop
                }
            default:
                break loop
            }
        }
        finishWord(start, j)
        i = j
        // A period right after the word: kept on abbreviations.
        if at(i) == ".", at(i + 1) != "." {
            if keepsPeriod(start, i) {
                var t = out.removeLast() + "."
                i += 1
                // U.S.-based
                if at(i) == "-", isAlnum(at: i + 1) {
                    var j = i + 1
                    while isAlnum(at: j) || (at(j) == "-" && isAlnum(at: j + 1)) { j += 1 }
                    t += text(i, j)
                    i = j
                }
                emit(t)
            }
        } else if !hasJoiner, segmentNumeric, at(i) == " ", let f = fractionEnd(from: i + 1) {
            // 1 1/2: one token, the space made non-breaking (as the lexer's normalizeSpace does)
            emit(out.removeLast() + "\u{00A0}" + text(i + 1, f))
            i = f
        }
    }

    /// The end of the run of letters and digits (digits only if `numericOnly`) from j, and whether it was all digits.
    func segment(from j: Int, numericOnly: Bool) -> (Int, Bool) {
        var k = j
        var numeric = true
        while let u = at(k), numericOnly ? PTBScanner.isDigit(u) : PTBScanner.isAlnum(u) {
            if !PTBScanner.isDigit(u) { numeric = false }
            k += 1
        }
        return (k, numeric)
    }

    /// The end of `digits/digits` at j, if that is what follows.
    func fractionEnd(from j: Int) -> Int? {
        var k = j
        while isDigit(at: k) { k += 1 }
        guard k > j, at(k) == "/" else { return nil }
        let d = k + 1
        k = d
        while isDigit(at: k) { k += 1 }
        guard k > d, !isAlnum(at: k) else { return nil }
        return k
    }

    enum ApostropheAction { case continueWord(Int), split(Int), stop }

    /// What an apostrophe at `k` inside the word c[start..<k] does.
    func apostrophe(tokenStart start: Int, at k: Int, hasJoiner: Bool) -> ApostropheAction {
        let ap = c[k]
        let isAp = PTBScanner.isApostrophe(ap)
        // n't (also n`t, n‘t)
        if k - 1 >= start, let n = at(k - 1), n == "n" || n == "N", let t = at(k + 1), t == "t" || t == "T",
           !isLetter(at: k + 2) {
            return .split(k - 1)
        }
        guard isAp else { return .stop }
        // 's 'm 'd 're 've 'll
        for aux in ["s", "m", "d", "re", "ve", "ll"] where matchesWord(aux, at: k + 1) {
            return .split(k)
        }
        // 'n' in rock'n'roll, rock'n roll
        if let n = at(k + 1), n == "n" || n == "N", !isLetter(at: k + 2) { return .split(k) }
        let length = k - start
        guard !hasJoiner, let next = at(k + 1), PTBScanner.isLetter(next) || PTBScanner.isDigit(next) else { return .stop }
        let first = c[start]
        let lettersOnly = (start..<k).allSatisfy { PTBScanner.isLetter(c[$0]) }
        // o'clock, l'amour, d'Artagnan
        if length == 1, "dDoOlL".unicodeScalars.contains(first) { return .continueWord(endOfLetters(k + 1)) }
        // O'Neil: a capital (not I or Y) or n, apostrophe, two or more letters
        if length == 1, PTBScanner.isASCIIUpper(first) || first == "n", first != "I", first != "Y",
           isLetter(at: k + 1), isLetter(at: k + 2) {
            return .continueWord(endOfLetters(k + 1))
        }
        // y'all, th'
        if lettersOnly, length <= 2, text(start, k) == "y" || text(start, k) == "th", PTBScanner.isLetter(next) {
            return .split(k + 1)
        }
        // c'mon
        if length == 1, first == "c" || first == "C", matchesWord("mon", at: k + 1) { return .continueWord(k + 4) }
        // ma'am, ne'er: letters ending in a vowel, apostrophe, a vowel or a capital
        if lettersOnly, "aeiouyAEIOUY".unicodeScalars.contains(c[k - 1]),
           "aeiouAEIOU".unicodeScalars.contains(next) || PTBScanner.isASCIIUpper(next) {
            return .continueWord(endOfLetters(k + 1))
        }
        return .stop
    }

    func endOfLetters(_ k: Int) -> Int {
        var j = k
        while isAlnum(at: j) { j += 1 }
        return j
    }

    /// Emits the word c[a..<b], splitting `cannot` and gonna-type assimilations.
    mutating func finishWord(_ a: Int, _ b: Int) {
        guard b > a else { return }
        let t = text(a, b)
        if t == "cannot" { emit("can"); emit("not"); return }
        if assimilations2.contains(t) {
            emit(String(t.dropLast(2))); emit(String(t.suffix(2))); return
        }
        emit(t)
    }

    /// Clitics and apostrophe-initial tokens at `i` (after a word was split off, or at a fresh token).
    mutating func clitics() {
        guard let u = at(i) else { return }
        // n't
        if u == "n" || u == "N", let a = at(i + 1), PTBScanner.isApostrophe(a) || a == "`" || a == "\u{2018}",
           let t = at(i + 2), t == "t" || t == "T", !isLetter(at: i + 3) {
            emit(PTBScanner.isApostrophe(a) ? "n't" : "n`t")
            i += 3
            return
        }
        guard PTBScanner.isApostrophe(u) else { return }
        for aux in ["s", "m", "d", "re", "ve", "ll"] where matchesWord(aux, at: i + 1) {
            emit("'" + aux); i += 1 + aux.unicodeScalars.count
            return
        }
        if let n = at(i + 1), n == "n" || n == "N", !isLetter(at: i + 2) {
            if let a = at(i + 2), PTBScanner.isApostrophe(a) { emit("'n'"); i += 3 } else { emit("'n"); i += 2 }
            return
        }
    }

    /// Whether the word c[a..<b] keeps a period at b.
    func keepsPeriod(_ a: Int, _ b: Int) -> Bool {
        let t = text(a, b)
        // single letters and dotted acronyms: u.s., e.g., a.m.
        var acronym = true
        var k = a
        while k < b {
            guard PTBScanner.isASCIILetter(c[k]) else { acronym = false; break }
            k += 1
            if k < b { guard c[k] == ".", k + 1 < b else { acronym = false; break }; k += 1 }
        }
        // The first non-space character after the period.
        var j = b + 1
        var sawSpace = false
        while let u = at(j), PTBScanner.isSpace(u) { j += 1; sawSpace = true }
        let following = at(j)
        if acronym {
            // A one-letter "acronym" before a sentence-starting word is a letter and a full stop.
            if b - a == 1, sawSpace, startsSentence(at: j) { return false }
            return true
        }
        if abbreviationsAlways.contains(t) { return true }
        if abbreviationsBeforeNumber.contains(t), let f = following, PTBScanner.isDigit(f) { return true }
        return false
    }

    /// Whether c[j...] is one of the 3.4.1 lexer's sentence-start words, followed by a space or the end.
    func startsSentence(at j: Int) -> Bool {
        var k = j
        var w = ""
        while let u = at(k), PTBScanner.isASCIILetter(u) || (u == "." && (w == "Mr" || w == "Ms")) {
            w.unicodeScalars.append(u); k += 1
        }
        guard !w.isEmpty, sentenceStarts.contains(w) else { return false }
        if let u = at(k) { return PTBScanner.isSpace(u) }
        return true
    }

    static func isASCIILetter(_ u: Unicode.Scalar) -> Bool { let v = u.value | 0x20; return u.isASCII && v >= 0x61 && v <= 0x7A }
    static func isUpper(_ u: Unicode.Scalar) -> Bool { u.properties.isUppercase }

    /// The end of a URL starting at k (http://, https://, ftp://), if there is one.
    func urlEnd(from k: Int) -> Int? {
        guard matchesWord("http", at: k, thenNonLetter: false) || matchesWord("ftp", at: k, thenNonLetter: false) else { return nil }
        var j = k
        while isLetter(at: j) { j += 1 }
        guard at(j) == ":", at(j + 1) == "/", at(j + 2) == "/" else { return nil }
        let word = text(k, j)
        guard word == "http" || word == "https" || word == "ftp" else { return nil }
        j += 3
        while let u = at(j), !PTBScanner.isSpace(u), !"\"<>|(){}".unicodeScalars.contains(u) { j += 1 }
        while j > k + 1, let u = at(j - 1), ".!?,;:'\"-".unicodeScalars.contains(u) { j -= 1 }
        return j
    }

    /// A token that starts with anything but a letter or digit.
    mutating func symbol() {
        let u = c[i]
        let next = at(i + 1)
        switch u {
        case "'", "\u{2019}":
            // 's 'll n't …, 'em 'cause 'till 'til '90s 'tis 'twas, or a quote
            let before = out.count
            clitics()
            if out.count > before { return }
            for w in ["em", "cause", "till", "til"] where matchesWord(w, at: i + 1) {
                emit("'" + w); i += 1 + w.unicodeScalars.count
                return
            }
            if matchesWord("tis", at: i + 1) || matchesWord("twas", at: i + 1) {
                emit("'t"); i += 2
                return
            }
            if isDigit(at: i + 1), isDigit(at: i + 2) {
                // '90s, '90
                var j = i + 3
                if let s = at(j), s == "s" || s == "S", !isAlnum(at: j + 1) { j += 1 }
                if !isAlnum(at: j) { emit(text(i, j)); i = j; return }
            }
            quote()
        case "\"", "`", "\u{2018}", "\u{201C}", "\u{201D}", "\u{201B}", "\u{201F}", "\u{00AB}", "\u{00BB}",
             "\u{2039}", "\u{203A}":
            quote()
        case "(": emit("-lrb-"); i += 1
        case ")": emit("-rrb-"); i += 1
        case "[": emit("-lsb-"); i += 1
        case "]": emit("-rsb-"); i += 1
        case "{": emit("-lcb-"); i += 1
        case "}": emit("-rcb-"); i += 1
        case ".":
            if let n = next, PTBScanner.isDigit(n) {
                // .5
                var j = i + 1
                while isDigit(at: j) { j += 1 }
                emit(text(i, j)); i = j
                return
            }
            dots()
        case "\u{2026}": emit("..."); i += 1
        case "!", "?":
            var j = i
            while let v = at(j), v == "!" || v == "?" { j += 1 }
            emit(text(i, j)); i = j
        case ",": emit(","); i += 1
        case ":", ";", "=":
            if smiley() { return }
            emit(String(u)); i += 1
        case "-", "+":
            if let n = next, PTBScanner.isDigit(n) {
                // -5, +5 (and -5.5)
                i += 1
                let sign = String(u)
                let before = out.count
                word()
                if out.count > before { out[before] = sign + out[before] }
                return
            }
            if u == "+" { emit("+"); i += 1; return }
            var j = i
            while at(j) == "-" { j += 1 }
            emit(j - i == 1 ? "-" : "--"); i = j
        case "\u{2013}", "\u{2014}", "\u{2015}":
            emit("--"); i += 1
        case "$", "\u{20AC}":
            emit("$"); i += 1
        case "\u{00A3}":
            emit("#"); i += 1
        case "\u{00A2}":
            emit("cents"); i += 1
        case "#":
            if let n = next, PTBScanner.isLetter(n) {
                var j = i + 1
                while let v = at(j), PTBScanner.isAlnum(v) || v == "_" { j += 1 }
                emit(text(i, j)); i = j
                return
            }
            var j = i
            while at(j) == "#" { j += 1 }
            emit(text(i, j)); i = j
        case "@":
            if let n = next, PTBScanner.isLetter(n) || n == "_" {
                var j = i + 1
                while let v = at(j), PTBScanner.isAlnum(v) || v == "_" { j += 1 }
                emit(text(i, j)); i = j
                return
            }
            var j = i
            while at(j) == "@" { j += 1 }
            emit(text(i, j)); i = j
        case "*", "_":
            var j = i
            while at(j) == u { j += 1 }
            emit(text(i, j)); i = j
        case "&":
            for (entity, value) in [("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")] where matchesWord(String(entity.dropFirst()), at: i + 1, thenNonLetter: false) {
                emit(value); i += entity.unicodeScalars.count
                return
            }
            emit("&"); i += 1
        case "<":
            // <b>, </b>: an SGML tag without spaces
            var j = i + 1
            if at(j) == "/" { j += 1 }
            if isLetter(at: j) {
                while let v = at(j), v != ">", v != "<", v != "\n", v != "\r" { j += 1 }
                if at(j) == ">" {
                    // spaces inside a tag become non-breaking, as the lexer does
                    var t = String.UnicodeScalarView()
                    for v in text(i, j + 1).unicodeScalars { t.append(PTBScanner.isSpace(v) ? "\u{00A0}" : v) }
                    emit(String(t)); i = j + 1
                    return
                }
            }
            emit("<"); i += 1
        default:
            if u.value > 0xFFFF || PTBScanner.isDeleted(u) { i += 1; return }
            emit(text(i, i + 1)); i += 1
        }
    }

    /// Characters the 3.4.1 lexer cannot tokenize and deletes.
    static func isDeleted(_ u: Unicode.Scalar) -> Bool {
        let p = u.properties
        switch p.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned:
            return true
        case .currencySymbol:
            return !(u == "\u{00A5}")
        default:
            return false
        }
    }

    /// :) :-( ;) =) :D :P and similar; parentheses are escaped as the lexer does.
    mutating func smiley() -> Bool {
        var j = i + 1
        if let m = at(j), m == "-" || m == "o" || m == "*" || m == "'" {
            if let f = at(j + 1), PTBScanner.isSmileyFace(f) { j += 1 }
        }
        guard let f = at(j), PTBScanner.isSmileyFace(f) else { return false }
        // A letter face must not run on into a word (":Do").
        if PTBScanner.isLetter(f), isLetter(at: j + 1) { return false }
        var t = text(i, j)
        switch f {
        case "(": t += "-lrb-"
        case ")": t += "-rrb-"
        default: t += text(j, j + 1)
        }
        emit(t)
        i = j + 1
        return true
    }

    static func isSmileyFace(_ u: Unicode.Scalar) -> Bool { "()DPdpO\\{@|[]".unicodeScalars.contains(u) }

    /// Runs of periods: `.`, `. .`, `...`.
    mutating func dots() {
        var j = i
        while at(j) == "." { j += 1 }
        let n = j - i
        if n >= 3 { emit("...") } else { for _ in 0..<n { emit(".") } }
        i = j
    }

    /// A quotation mark (direction not modelled: every form is removed by the filter).
    mutating func quote() {
        let u = c[i]
        var j = i + 1
        if u == "`" || PTBScanner.isApostrophe(u), let v = at(j), v == u { j += 1 }
        switch u {
        case "'", "\u{2019}", "\u{203A}": emit(j - i == 2 ? "''" : "'")
        case "`", "\u{2018}", "\u{201B}", "\u{2039}": emit(j - i == 2 ? "``" : "`")
        case "\u{201C}", "\u{00AB}", "\u{201F}": emit("``")
        default: emit("''")
        }
        i = j
    }
}
