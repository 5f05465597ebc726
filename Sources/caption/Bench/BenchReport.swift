import SafeTensors
import Tensors

/// The result of one figure at one thread count.
struct BenchResult {
    let figure: BenchFigure
    let threads: Int
    let measurement: BenchMeasurement
}

/// Machine description and the `--json` document (schema of `../shared/bench/baseline.json`).
enum BenchReport {
    static var machine: [(String, BenchJSON)] {
        let f = CPUFeatures.flags
        var flags: [(String, BenchJSON)] = []
        for name in ["avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl"] { flags.append((name, .bool(f.contains(name)))) }
        return [
            ("lscpu_model_name", .string(CPUFeatures.modelName)),
            ("cpus", .string(String(CPUFeatures.onlineProcessors))),
            ("flags", .object(flags)),
            ("gemm_kernel", .string(GEMMConfiguration.resolvedKernel.description)),
            ("program", .string("caption \(captionVersion)")),
            ("openblas", .bool(GEMMBench.hasOpenBLAS)),
        ]
    }

    static func json(_ results: [BenchResult], settings: BenchSettings, notes: [String] = []) -> String {
        var byThreads: [(String, BenchJSON)] = []
        var order: [Int] = []
        for r in results where !order.contains(r.threads) { order.append(r.threads) }
        for t in order {
            var figs: [(String, BenchJSON)] = []
            for r in results where r.threads == t {
                let m = r.measurement, med = m.median
                var fields: [(String, BenchJSON)] = [
                    ("median_ms", .number(med)), ("min_ms", .number(m.min)), ("max_ms", .number(m.max)),
                    ("reps", .number(Double(m.times.count))), ("items_per_call", .number(r.figure.itemsPerCall)),
                    ("item", .string(r.figure.item)), ("per_item_median_ms", .number(med / r.figure.itemsPerCall)),
                    ("items_per_s_median", .number(r.figure.itemsPerCall / (med / 1000))), ("shape", .string(r.figure.shape)),
                ]
                fields.append(("cpu_median_ms", .number(m.cpuMedian)))
                if let o = m.otherCPUShare { fields.append(("other_cpu_share", .number((o * 10000).rounded() / 10000))) }
                figs.append((r.figure.name, .object(fields)))
            }
            byThreads.append((String(t), .object(figs)))
        }
        let doc: BenchJSON = .object([
            ("schema", .string("swift-caption/bench/v1")),
            ("settings", .object([("warmup", .number(Double(settings.warmup))), ("min_reps", .number(Double(settings.reps))),
                                  ("min_seconds", .number(settings.minSeconds)), ("max_reps", .number(Double(settings.maxReps)))])),
            ("machine", .object(machine)),
            ("results", .object(byThreads)),
            ("notes", .array(notes.map { .string($0) })),
        ])
        return doc.rendered(indent: 0) + "\n"
    }

    /// One line of the human table: name, median/min/max ms, reps, throughput, ratio to the reference.
    static func line(_ r: BenchResult, _ all: [BenchResult], nameWidth: Int) -> String {
        let m = r.measurement
        var s = pad(r.figure.name, nameWidth) + "  "
        s += pad(fmt(m.median), 10, right: true) + pad(fmt(m.min), 10, right: true) + pad(fmt(m.max), 10, right: true)
        s += pad(String(m.times.count), 6, right: true) + pad(fmt(m.cpuMedian), 10, right: true)
        s += "  " + pad(fmt(r.figure.itemsPerCall / (m.median / 1000)), 10, right: true) + " " + r.figure.item + "/s"
        if let ref = r.figure.reference, let other = all.first(where: { $0.threads == r.threads && $0.figure.name == ref }) {
            s += "   x\(fmt(other.measurement.median / m.median)) vs \(ref)"
        }
        if let o = m.otherCPUShare, o > 0.05 { s += "   (busy machine: \(Int((o * 100).rounded()))% other)" }
        return s
    }

    static func header(nameWidth: Int) -> String {
        pad("figure", nameWidth) + "  " + pad("median ms", 10, right: true) + pad("min", 10, right: true) + pad("max", 10, right: true)
            + pad("reps", 6, right: true) + pad("cpu ms", 10, right: true) + "  " + pad("throughput", 10, right: true)
    }

    static func fmt(_ v: Double) -> String {
        if !v.isFinite { return "-" }
        let a = abs(v)
        let digits = a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 3 : 4
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (v * scale).rounded() / scale
        var s = String(r)
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        }
        return s
    }

    /// `s` padded with spaces to `w` characters; a right-aligned value wider than its column keeps one leading space,
    /// so that columns never run together.
    static func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
        if s.count >= w { return right ? " " + s : s }
        return right ? String(repeating: " ", count: w - s.count) + s : s + String(repeating: " ", count: w - s.count)
    }
}

/// A minimal JSON value for writing (keys keep their order).
indirect enum BenchJSON {
    case string(String), number(Double), bool(Bool), object([(String, BenchJSON)]), array([BenchJSON])

    func rendered(indent: Int) -> String {
        let pad = String(repeating: " ", count: indent + 1)
        let close = String(repeating: " ", count: indent)
        switch self {
        case .string(let s): return BenchJSON.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .number(let d):
            if !d.isFinite { return "null" }
            if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
            return String(d)
        case .array(let a):
            if a.isEmpty { return "[]" }
            return "[\n" + a.map { pad + $0.rendered(indent: indent + 1) }.joined(separator: ",\n") + "\n" + close + "]"
        case .object(let o):
            if o.isEmpty { return "{}" }
            return "{\n" + o.map { pad + BenchJSON.quote($0.0) + ": " + $0.1.rendered(indent: indent + 1) }.joined(separator: ",\n")
                + "\n" + close + "}"
        }
    }

    static func quote(_ s: String) -> String { JSONValue.quoted(s) }
}
