import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// `caption bench`: speed figures (median/min/max of repeated runs); build with -c release
enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "speed figures (median/min/max of repeated runs); build with -c release"
    static var help: String {
        var s = """
        usage: caption bench [GROUP ...] [--json] [--out FILE] [--threads 2,1] [--reps N] [--warmup N]
                             [--min-seconds S] [--filter TEXT] [--quick] [--compare BASELINE.json [--results OURS.json]]

        Times each figure: --warmup untimed calls, then timed calls until there are at least --reps (default 5)
        and --min-seconds (default 1) of timing, at most 50; prints median, min and max ms per call, throughput,
        the CPU and the thread count. Build with -c release.

        groups (default: all):

        """
        let w = benchGroups.map { $0.name.count }.max() ?? 0
        for g in benchGroups { s += "  " + g.name + String(repeating: " ", count: w - g.name.count + 2) + g.summary + "\n" }
        s += """
          all\(String(repeating: " ", count: max(0, w - 1)))every group

        options:
          --json           write the JSON document (schema of ../shared/bench/baseline.json) to stdout; table to stderr
          --out FILE       also write the JSON document to FILE
          --threads LIST   thread counts, run in this order (default: \(ThreadPool.defaultThreadCount),1)
          --reps N         minimum timed calls per figure (default 5)
          --warmup N       untimed calls first (default 2)
          --min-seconds S  minimum timing per figure (default 1; 0 for quick runs)
          --filter TEXT    only figures whose name contains TEXT (comma-separated: any of them)
          --compare FILE   a document of the baseline's schema (e.g. ../shared/bench/baseline.json): print
                           their median / ours for every figure name and thread count in both
          --results FILE   with --compare: compare a stored document (a --json output, or aggregate.py's median of
                           several of them) instead of timing anything
          --quick          one untimed call, one timed call, no minimum time (a smoke test; figures are noisy)

        Reference data (the baseline's sample JPEG, golden photos, MobileNetV2 weights, Flickr8k captions) is
        looked up in $CAPTION_SHARED, then ../shared beside the current directory or the binary's repository;
        figures whose files are missing are left out with a note.

        The environment variable CAPTION_THREADS sets the default thread count of every command.
        "cpu ms" is the process CPU time per call: on a busy machine, compare it (divided by the threads) too.
        """
        return s
    }

    static func run(_ arguments: [String]) throws {
        let args = try Arguments(arguments, valued: ["--threads", "--reps", "--warmup", "--min-seconds", "--filter", "--out", "--compare", "--results"],
                                 flags: ["--json", "--quick"])
        var groups: [BenchGroup] = []
        for p in args.positionals.isEmpty ? ["all"] : args.positionals {
            if p == "all" { groups = benchGroups; continue }
            guard let g = benchGroups.first(where: { $0.name == p }) else {
                throw CLIError("unknown bench group '\(p)' (known: \(benchGroups.map(\.name).joined(separator: ", ")), all)")
            }
            if !groups.contains(where: { $0.name == g.name }) { groups.append(g) }
        }
        var settings = BenchSettings()
        let quick = args.flag("--quick")
        settings.reps = try args.int("--reps", default: quick ? 1 : 5, range: 1...100_000)
        settings.warmup = try args.int("--warmup", default: quick ? 1 : 2, range: 0...1000)
        settings.minSeconds = try args.double("--min-seconds", default: quick ? 0 : 1.0)
        if quick { settings.maxReps = 1 }
        // Read the comparison first, so that a bad file fails before minutes of timing.
        let comparePath = args.value("--compare")
        let baseline = try comparePath.map { try BenchCompare.medians(path: $0) }
        if let stored = args.value("--results") {
            guard let baseline, let comparePath else { throw CLIError("option --results needs --compare BASELINE.json") }
            let lines = BenchCompare.table(ours: try BenchCompare.medians(path: stored, option: "--results"), order: try BenchCompare.order(path: stored),
                                           baseline: baseline, label: comparePath)
            for l in lines.drop(while: { $0.isEmpty }) { print(l) }
            return
        }
        guard settings.minSeconds >= 0 else { throw CLIError("option --min-seconds expects a number >= 0") }
        let defaultThreads = ThreadPool.defaultThreadCount
        let threadList = try parseThreads(args.value("--threads") ?? (defaultThreads == 1 ? "1" : "\(defaultThreads),1"))
        let filter = args.value("--filter")
        let filters = filter.map { $0.split(separator: ",").map(String.init).filter { !$0.isEmpty } }
        let selected: (BenchFigure) -> Bool = { f in filters.map { $0.contains { f.name.contains($0) } } ?? true }
        let json = args.flag("--json")
        let say: (String) -> Void = json ? { writeStderr($0) } : { print($0) }

        if let filter, !groups.contains(where: { g in g.figures().contains(where: selected) }) {
            throw CLIError("no figure matches --filter '\(filter)'")
        }
        say("caption bench: \(CPUFeatures.modelName), \(CPUFeatures.onlineProcessors) CPUs, GEMM kernel \(GEMMConfiguration.resolvedKernel)"
            + (GEMMBench.hasOpenBLAS ? ", OpenBLAS comparison on" : ""))
        #if DEBUG
        say("warning: debug build; numbers are meaningless (build with -c release)")
        #endif
        var results: [BenchResult] = []
        let notes = groups.flatMap { $0.notes() }
        let savedThreads = ThreadPool.shared.threadCount
        defer { ThreadPool.shared.threadCount = savedThreads }
        for t in threadList {
            ThreadPool.shared.threadCount = t
            say("\nthreads: \(t)")
            var figures: [(BenchFigure, BenchGroup)] = []
            for g in groups { for f in g.figures() where selected(f) { figures.append((f, g)) } }
            let width = max(24, figures.map { $0.0.name.count }.max() ?? 0)
            if t == threadList.first { for n in notes { say("note: " + n) } }
            say(BenchReport.header(nameWidth: width))
            for (f, g) in figures {
                g.setThreads(t)
                let call = try f.prepare()
                let m = BenchClock.measure(settings, call)
                let r = BenchResult(figure: f, threads: t, measurement: m)
                results.append(r)
                say(BenchReport.line(r, results, nameWidth: width))
            }
        }
        let doc = BenchReport.json(results, settings: settings, notes: notes)
        if let out = args.value("--out") { try writeTextFile(out, doc) }
        if json { print(doc, terminator: "") }
        if let baseline, let comparePath { for l in BenchCompare.table(results, baseline: baseline, label: comparePath) { say(l) } }
    }

    static func parseThreads(_ s: String) throws -> [Int] {
        let parts = s.split(separator: ",", omittingEmptySubsequences: false)
        var out: [Int] = []
        for p in parts {
            guard let v = Int(String(p.filter { $0 != " " })), (1...256).contains(v) else {
                throw CLIError("option --threads expects comma-separated counts in 1...256, got '\(s)'")
            }
            out.append(v)
        }
        return out
    }

    static func writeTextFile(_ path: String, _ text: String) throws {
        guard let f = fopen(path, "w") else { throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        if n != bytes.count || closed != 0 { throw CLIError("cannot write \(path)") }
    }
}
