/// One timed figure of `caption bench`: a named piece of work, set up once, then called repeatedly.
struct BenchFigure {
    /// Name in the baseline's style (`gemm/1024x1024x1024`, `layers/lstm_cell/...`).
    let name: String
    /// What the work is, for humans (shapes, layouts).
    let shape: String
    /// Items one call processes (`GFLOP` for GEMM, images, captions, tokens …) and their unit.
    let itemsPerCall: Double
    let item: String
    /// Another figure (same thread count) whose median this one is compared to, printed as `name / reference`.
    var reference: String? = nil
    /// Builds the inputs (untimed) and returns the call to time.
    let prepare: () throws -> () -> Void
}

/// A family of figures run by `caption bench <group>`: one file per group under `Bench/`, each an enum with a
/// `static let group = BenchGroup(...)`, listed in `benchGroups`.
struct BenchGroup {
    /// The word on the command line (`gemm`, `layers`, …).
    let name: String
    /// One line for `caption bench --help`.
    let summary: String
    /// The figures, in order. Called once per thread count; set up nothing here (use `BenchFigure.prepare`).
    let figures: () -> [BenchFigure]
    /// Called before each figure, after `ThreadPool.shared.threadCount` is set (e.g. for other libraries).
    var setThreads: (Int) -> Void = { _ in }
    /// Lines printed before the group runs (e.g. figures left out because `../shared` is absent).
    var notes: () -> [String] = { [] }
}

/// Every group `caption bench` knows, in the order `all` runs them. Add a group by adding it here.
var benchGroups: [BenchGroup] {
    [GEMMBench.group, LayersBench.group, EncoderBench.group, DecodeBench.group, TrainBench.group, MetricsBench.group,
     DecodeImageBench.group, EndToEndBench.group]
}
