#if canImport(Glibc)
import Glibc
import Tensors
#endif

/// Timing of one figure: per-call milliseconds after warm-up, and how busy the rest of the machine was.
struct BenchMeasurement {
    var times: [Double]
    /// Process CPU time (all threads) per call, ms: on a loaded machine, `cpu / threads` bounds the unloaded time.
    var cpuTimes: [Double]
    /// Share of the machine's CPU time (all cores) used by other processes or stolen while timing, 0...1 (nil if unknown).
    var otherCPUShare: Double?
    var median: Double {
        let s = times.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var min: Double { times.min() ?? 0 }
    var cpuMedian: Double { let s = cpuTimes.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
    var max: Double { times.max() ?? 0 }
}

/// Repetition control: `warmup` untimed calls, then timed calls until at least `reps` calls and
/// `minSeconds` of timing, at most `max(reps, maxReps)` calls.
struct BenchSettings {
    var warmup = 2
    var reps = 5
    var minSeconds = 1.0
    var maxReps = 50
}

enum BenchClock {
    /// Monotonic time in milliseconds.
    static func nowMs() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
    }

    /// CPU time of the whole process in milliseconds.
    static func processCPUMs() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
    }

    static func measure(_ settings: BenchSettings, _ call: () -> Void) -> BenchMeasurement {
        for _ in 0..<settings.warmup { call() }
        let before = CPUSample.now()
        var times: [Double] = [], cpu: [Double] = []
        var total = 0.0
        while times.count < settings.reps || (total < settings.minSeconds * 1000 && times.count < Swift.max(settings.reps, settings.maxReps)) {
            let c0 = processCPUMs()
            let t0 = nowMs()
            call()
            let dt = nowMs() - t0
            cpu.append(processCPUMs() - c0)
            times.append(dt)
            total += dt
        }
        let after = CPUSample.now()
        return BenchMeasurement(times: times, cpuTimes: cpu, otherCPUShare: CPUSample.otherShare(before, after))
    }
}

/// Jiffies from `/proc/stat` (whole machine) and `/proc/self/stat` (this process).
struct CPUSample {
    var busy: Double, total: Double, mine: Double

    static func now() -> CPUSample? {
        guard let stat = readSmallFile("/proc/stat"), let line = stat.split(separator: "\n").first,
              line.hasPrefix("cpu ") else { return nil }
        let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 8 else { return nil }
        // user nice system idle iowait irq softirq steal
        let idle = v[3] + v[4]
        let total = v[0..<8].reduce(0, +)
        guard let me = readSmallFile("/proc/self/stat"), let close = me.lastIndex(of: ")") else { return nil }
        let f = me[me.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14, stime 15 (1-based over the whole line).
        guard f.count > 12, let ut = Double(f[11]), let st = Double(f[12]) else { return nil }
        return CPUSample(busy: total - idle, total: total, mine: ut + st)
    }

    static func otherShare(_ a: CPUSample?, _ b: CPUSample?) -> Double? {
        guard let a, let b, b.total > a.total else { return nil }
        let other = (b.busy - a.busy) - (b.mine - a.mine)
        return Swift.max(0, Swift.min(1, other / (b.total - a.total)))
    }
}

func readSmallFile(_ path: String) -> String? { CPUFeatures.readTextFile(path) }
