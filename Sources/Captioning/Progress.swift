#if canImport(Glibc)
import Glibc
#endif

/// Progress of long work on stderr: on a terminal one line redrawn in place with rate and ETA;
/// otherwise (logs, CI) a plain line at most every `interval` seconds, so logs stay readable.
public final class ProgressReporter {
    public let label: String
    public let total: Int
    public let unit: String
    private let interactive: Bool
    private let interval: Double
    private let started: Double
    private let startingAt: Int
    private var lastPrint: Double = -1
    private var lastWidth = 0

    /// - Parameters: `total` items of `unit` (e.g. "img"); `interactive` defaults to whether stderr is a terminal;
    ///   `startingAt`: items already done before this process (a resumed run), left out of the rate.
    public init(_ label: String, total: Int, unit: String, interactive: Bool? = nil, interval: Double = 10, startingAt: Int = 0) {
        self.label = label
        self.startingAt = max(0, startingAt)
        self.total = max(total, 0)
        self.unit = unit
        self.interactive = interactive ?? (isatty(2) != 0)
        self.interval = interactive == true || (interactive == nil && isatty(2) != 0) ? 0.2 : interval
        self.started = ProgressReporter.now()
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Seconds since the reporter was created.
    public var elapsed: Double { ProgressReporter.now() - started }

    /// The text of a progress line for `done` items, e.g. `epoch 2  340/938 img  41.2 img/s  ETA 0:14  loss 3.21`.
    public func line(done: Int, extra: String = "") -> String {
        let e = max(elapsed, 1e-9)
        let rate = Double(max(done - startingAt, 0)) / e
        var s = "\(label)  \(done)/\(total) \(unit)  \(formatRate(rate)) \(unit)/s"
        if done > startingAt, total > done { s += "  ETA \(ProgressReporter.duration(Double(total - done) / rate))" }
        if done >= total, total > 0 { s += "  \(ProgressReporter.duration(e))" }
        if !extra.isEmpty { s += "  " + extra }
        return s
    }

    /// Reports `done` items; prints only when the interval has passed (or at the end).
    public func update(_ done: Int, extra: String = "") {
        let t = elapsed
        guard done >= total || lastPrint < 0 || t - lastPrint >= interval else { return }
        lastPrint = t
        let text = line(done: done, extra: extra)
        if interactive {
            let pad = max(0, lastWidth - text.count)
            write("\r" + text + String(repeating: " ", count: pad))
            lastWidth = text.count
        } else {
            write(text + "\n")
        }
    }

    /// Ends an interactive line.
    public func finish() {
        if interactive && lastWidth > 0 { write("\n") }
        lastWidth = 0
    }

    private func write(_ s: String) { writeStandardError(s) }

    private func formatRate(_ r: Double) -> String {
        r >= 100 ? String(Int(r.rounded())) : String(Double(Int(r * 10)) / 10)
    }

    /// `h:mm:ss` or `m:ss`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60)
        let two = { (v: Int) in v < 10 ? "0\(v)" : "\(v)" }
        return h > 0 ? "\(h):\(two(m)):\(two(sec))" : "\(m):\(two(sec))"
    }
}

/// Writes `s` to standard error as it is (no newline added), retrying short writes; unbuffered, so progress lines
/// and error messages appear at once and in order.
public func writeStandardError(_ s: String) {
    let bytes = Array(s.utf8)
    bytes.withUnsafeBytes { b in
        var off = 0
        while off < b.count {
            let n = Glibc.write(2, b.baseAddress! + off, b.count - off)
            if n <= 0 { break }
            off += n
        }
    }
}
