import SafeTensors

/// `caption bench --compare FILE`: joins our figures by name and thread count with a document of the
/// baseline's schema (`../shared/bench/baseline.json`, `baseline_median_of_runs.json`, or another
/// `caption bench --json` output) and prints
/// `their median / our median` (> 1: we are faster). Where the baseline also has a `_cached_att` variant of a
/// Show-Attend-Tell figure (the same algorithm as ours), that ratio is printed too.
enum BenchCompare {
    /// `results[threads][name]["median_ms"]` of a baseline document.
    static func medians(path: String, option: String = "--compare") throws -> [String: [String: Double]] {
        let bytes = try BenchData.bytes(path)
        let doc: JSONValue
        do { doc = try JSONValue.parse(bytes) } catch { throw CLIError("\(option) \(path): not JSON (\(error))") }
        // `baseline_median_of_runs.json` keeps the same per-thread objects under "figures".
        guard let results = (doc["results"] ?? doc["figures"])?.objectValue else {
            throw CLIError("\(option) \(path): no \"results\" or \"figures\" object (not a bench document)")
        }
        var out: [String: [String: Double]] = [:]
        for (threads, figs) in results {
            for (name, f) in figs.objectValue ?? [] {
                if let m = f["median_ms"]?.doubleValue, m.isFinite, m > 0 { out[threads, default: [:]][name] = m }
            }
        }
        return out
    }

    /// The ratio table of this run's results, one line per figure present in both.
    static func table(_ results: [BenchResult], baseline: [String: [String: Double]], label: String) -> [String] {
        table(results.map { (name: $0.figure.name, threads: String($0.threads), median: $0.measurement.median) }, baseline: baseline, label: label)
    }

    /// The ratio table of stored medians (`--results FILE`: a `caption bench --json` document, or the median of
    /// several runs made by `../shared/bench/aggregate.py`), in the file's order.
    static func table(ours: [String: [String: Double]], order: [(String, String)], baseline: [String: [String: Double]], label: String) -> [String] {
        table(order.compactMap { t, n in ours[t]?[n].map { (name: n, threads: t, median: $0) } }, baseline: baseline, label: label)
    }

    /// `(threads, name)` of a document's figures in file order.
    static func order(path: String) throws -> [(String, String)] {
        guard let doc = try? JSONValue.parse(try BenchData.bytes(path)),
              let results = (doc["results"] ?? doc["figures"])?.objectValue else { throw CLIError("--results \(path): not a bench document") }
        return results.flatMap { t, figs in (figs.objectValue ?? []).map { (t, $0.0) } }
    }

    static func table(_ ours: [(name: String, threads: String, median: Double)], baseline: [String: [String: Double]], label: String) -> [String] {
        let joined = ours.filter { baseline[$0.threads]?[$0.name] != nil }
        guard !joined.isEmpty else { return ["compare: no figure of this run is in \(label)"] }
        let w = max(24, joined.map { $0.name.count }.max() ?? 0)
        var lines = ["", "ratio to \(label) (their median / ours; > 1 = we are faster):",
                     BenchReport.pad("figure", w) + BenchReport.pad("threads", 9, right: true) + BenchReport.pad("theirs ms", 12, right: true)
                        + BenchReport.pad("ours ms", 12, right: true) + BenchReport.pad("ratio", 9, right: true)]
        for r in joined {
            let t = r.threads
            guard let theirs = baseline[t]?[r.name] else { continue }
            let ours = r.median
            var s = BenchReport.pad(r.name, w) + BenchReport.pad(t, 9, right: true) + BenchReport.pad(BenchReport.fmt(theirs), 12, right: true)
                + BenchReport.pad(BenchReport.fmt(ours), 12, right: true) + BenchReport.pad("x" + BenchReport.fmt(theirs / ours), 9, right: true)
            if let cached = cachedAttentionName(r.name), let c = baseline[t]?[cached] {
                s += "   x\(BenchReport.fmt(c / ours)) vs \(cached.split(separator: "/").dropFirst(2).first ?? "")"
            }
            lines.append(s)
        }
        return lines
    }

    /// `sat_decoder/E512/greedy/batch1` -> `sat_decoder/E512/greedy_cached_att/batch1`.
    static func cachedAttentionName(_ name: String) -> String? {
        let parts = name.split(separator: "/")
        guard parts.count == 4, parts[0] == "sat_decoder" else { return nil }
        return "\(parts[0])/\(parts[1])/\(parts[2])_cached_att/\(parts[3])"
    }
}
