/// A small command-line parser: `--option value`, `--option=value`, boolean `--flag`s and positionals.
/// Every mistake becomes a `CLIError` whose message is printed as one `error:` line.
struct Arguments {
    private(set) var positionals: [String] = []
    private var options: [String: [String]] = [:]
    private var flags: Set<String> = []
    private var consumed: Set<String> = []

    /// Parses `raw` given which options take a value; anything else starting with `--` is a flag.
    init(_ raw: [String], valued: Set<String>, flags known: Set<String>) throws {
        var i = 0
        var onlyPositionals = false
        while i < raw.count {
            let a = raw[i]
            i += 1
            if onlyPositionals || !a.hasPrefix("-") || a == "-" {
                positionals.append(a)
                continue
            }
            if a == "--" { onlyPositionals = true; continue }
            var name = a
            var inline: String? = nil
            if let eq = a.firstIndex(of: "=") {
                name = String(a[..<eq])
                inline = String(a[a.index(after: eq)...])
            }
            if valued.contains(name) {
                if let inline {
                    options[name, default: []].append(inline)
                } else {
                    guard i < raw.count else { throw CLIError("option \(name) needs a value") }
                    options[name, default: []].append(raw[i])
                    i += 1
                }
            } else if known.contains(name) {
                if inline != nil { throw CLIError("flag \(name) takes no value") }
                flags.insert(name)
            } else {
                throw CLIError("unknown option \(name) (see --help)")
            }
        }
    }

    /// The last value given for `name`, if any.
    func value(_ name: String) -> String? { options[name]?.last }

    /// Every value given for a repeatable option.
    func values(_ name: String) -> [String] { options[name] ?? [] }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    func required(_ name: String) throws -> String {
        guard let v = value(name) else { throw CLIError("missing required option \(name)") }
        return v
    }

    func int(_ name: String, default d: Int, range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard let s = value(name) else { return d }
        guard let v = Int(s), range.contains(v) else {
            throw CLIError("option \(name) expects an integer in \(range.lowerBound)...\(range.upperBound), got '\(s)'")
        }
        return v
    }

    func double(_ name: String, default d: Double) throws -> Double {
        guard let s = value(name) else { return d }
        guard let v = Double(s), v.isFinite else { throw CLIError("option \(name) expects a number, got '\(s)'") }
        return v
    }
}

/// An error reported to the user as a single `error: …` line.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
