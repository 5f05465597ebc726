import XCTest
import Foundation

/// `caption bench` in its quickest form: the JSON document has the baseline's schema.
final class BenchCommandTests: XCTestCase {
    func testGEMMJSONHasBaselineSchema() throws {
        let r = try CLIRunner.run(["bench", "gemm", "--json", "--reps", "1", "--warmup", "0", "--min-seconds", "0",
                                   "--threads", "1,2", "--filter", "gemm/64x2048x512"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let machine = try XCTUnwrap(doc["machine"] as? [String: Any])
        XCTAssertNotNil(machine["lscpu_model_name"] as? String)
        let results = try XCTUnwrap(doc["results"] as? [String: Any])
        XCTAssertEqual(Set(results.keys), ["1", "2"])
        for t in ["1", "2"] {
            let figs = try XCTUnwrap(results[t] as? [String: Any])
            let f = try XCTUnwrap(figs["gemm/64x2048x512"] as? [String: Any], "\(figs.keys)")
            for key in ["median_ms", "min_ms", "max_ms", "reps", "items_per_call", "per_item_median_ms", "items_per_s_median"] {
                let v = try XCTUnwrap(f[key] as? Double, key)
                XCTAssertTrue(v.isFinite && v > 0, "\(key) = \(v)")
            }
            XCTAssertEqual(f["item"] as? String, "GFLOP")
            XCTAssertEqual(f["items_per_call"] as? Double ?? 0, 2 * 64 * 2048 * 512 / 1e9, accuracy: 1e-12)
            XCTAssertLessThanOrEqual(f["min_ms"] as? Double ?? 1, f["median_ms"] as? Double ?? 0)
            XCTAssertNotNil(f["shape"] as? String)
        }
    }

    func testBadArgumentsAreOneErrorLine() throws {
        for args in [["bench", "nosuch"], ["bench", "gemm", "--threads", "0"], ["bench", "gemm", "--reps", "x"],
                     ["bench", "gemm", "--filter", "no figure has this name"]] {
            let r = try CLIRunner.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            XCTAssertEqual(lines.count, 1, "\(args): \(r.stderr)")
        }
    }

    /// `<repo>/../shared`, if present (the metrics and JPEG figures need it).
    private var sharedDirectory: URL? {
        let url = CLIRunner.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")
        return FileManager.default.fileExists(atPath: url.appendingPathComponent("bench").path) ? url : nil
    }

    /// One small figure of each group added for issue 11, in one process: every result has the baseline's fields,
    /// names follow the baseline, and `--compare` joins by name and thread count and prints their/our ratio.
    func testEveryGroupQuickFigureAndCompare() throws {
        // A baseline document with a made-up figure of ours; the ratio must be theirs / ours.
        let baseline = FileManager.default.temporaryDirectory.appendingPathComponent("bench-baseline-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: baseline) }
        try #"{"schema": "swift-caption/pytorch-cpu-baseline/v1", "results": {"1": {"sat_decoder/E512/greedy/batch1": {"median_ms": 1000000}, "sat_decoder/E512/greedy_cached_att/batch1": {"median_ms": 500000}, "not/ours": {"median_ms": 3}}, "2": {"sat_decoder/E512/greedy/batch1": {"median_ms": 7}}}}"#
            .write(to: baseline, atomically: true, encoding: .utf8)
        let wanted = ["preprocess/png_341x256_synthetic/batch1", "sat_decoder/E512/greedy/batch1", "sat_decoder/E512/train_step/batch32",
                      "small_cnn/distill_step/batch32", "decode_image/png", "end_to_end/resnet18+sat_beam5/batch1", "metrics/"]
        let r = try CLIRunner.run(["bench", "encoder", "decode", "train", "metrics", "decode-image", "end_to_end", "--json",
                                   "--reps", "1", "--warmup", "0", "--min-seconds", "0", "--threads", "1",
                                   "--filter", wanted.joined(separator: ","), "--compare", baseline.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        let results = try XCTUnwrap(doc["results"] as? [String: Any])
        XCTAssertEqual(Set(results.keys), ["1"])
        let figs = try XCTUnwrap(results["1"] as? [String: Any])
        var expected: Set<String> = ["preprocess/png_341x256_synthetic/batch1", "sat_decoder/E512/greedy/batch1",
                                     "sat_decoder/E512/train_step/batch32", "small_cnn/distill_step/batch32",
                                     "end_to_end/resnet18+sat_beam5/batch1"]
        if sharedDirectory != nil {
            expected.formUnion(["metrics/score_flickr8k_holdout/all", "decode_image/png_640x427"])
        } else {
            expected.insert("decode_image/png_500x375_synthetic")
            XCTAssertTrue(r.stderr.contains("note: metrics:"), r.stderr)
        }
        XCTAssertEqual(Set(figs.keys), expected)
        let notes = try XCTUnwrap(doc["notes"] as? [String])
        XCTAssertEqual(notes.contains { $0.hasPrefix("metrics:") }, sharedDirectory == nil, "\(notes)")
        for (name, value) in figs {
            let f = try XCTUnwrap(value as? [String: Any], name)
            for key in ["median_ms", "min_ms", "max_ms", "reps", "items_per_call", "per_item_median_ms", "items_per_s_median"] {
                let v = try XCTUnwrap(f[key] as? Double, "\(name) \(key)")
                XCTAssertTrue(v.isFinite && v > 0, "\(name) \(key) = \(v)")
            }
            XCTAssertEqual(f["reps"] as? Double, 1, name)
            let median = f["median_ms"] as? Double ?? 0, perItem = f["per_item_median_ms"] as? Double ?? 0
            XCTAssertEqual(perItem * (f["items_per_call"] as? Double ?? 0), median, accuracy: median * 1e-9, name)
            XCTAssertNotNil(f["item"] as? String, name)
            XCTAssertNotNil(f["shape"] as? String, name)
        }
        let ours = try XCTUnwrap((figs["sat_decoder/E512/greedy/batch1"] as? [String: Any])?["median_ms"] as? Double)
        // Exactly one ratio line: the figure in both at 1 thread (the "2" entry and "not/ours" do not join).
        let all = r.stderr.split(separator: "\n")
        let header = try XCTUnwrap(all.firstIndex { $0.hasPrefix("ratio to ") }, r.stderr)
        let lines = all[(header + 2)...]
        XCTAssertEqual(lines.count, 1, r.stderr)
        let ratioLine = try XCTUnwrap(lines.first)
        XCTAssertTrue(ratioLine.hasPrefix("sat_decoder/E512/greedy/batch1 "), String(ratioLine))
        let fields = ratioLine.split(separator: " ")
        XCTAssertEqual(fields[1], "1", String(ratioLine))
        let ratio = try XCTUnwrap(Double(fields[4].dropFirst()), String(ratioLine))
        XCTAssertEqual(ratio, 1_000_000 / ours, accuracy: 1_000_000 / ours * 0.01, String(ratioLine))
        XCTAssertTrue(ratioLine.contains("vs greedy_cached_att"), String(ratioLine))
        XCTAssertFalse(r.stderr.contains("not/ours"), r.stderr)
    }

    /// `--compare A --results B` joins two stored documents (B in the median-of-runs layout, "figures") without timing.
    func testCompareStoredResults() throws {
        let dir = FileManager.default.temporaryDirectory
        let a = dir.appendingPathComponent("bench-a-\(getpid()).json"), b = dir.appendingPathComponent("bench-b-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        try #"{"results": {"2": {"x/y/batch1": {"median_ms": 30}, "only/theirs": {"median_ms": 1}}}}"#.write(to: a, atomically: true, encoding: .utf8)
        try #"{"figures": {"2": {"x/y/batch1": {"median_ms": 12}, "only/ours": {"median_ms": 1}}, "1": {"x/y/batch1": {"median_ms": 5}}}}"#
            .write(to: b, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["bench", "--compare", a.path, "--results", b.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("x/y/batch1") || $0.hasPrefix("only/") }
        XCTAssertEqual(rows.count, 1, r.stdout)
        XCTAssertEqual(rows.first?.split(separator: " ").map(String.init), ["x/y/batch1", "2", "30.00", "12.00", "x2.500"], r.stdout)
    }

    func testCompareWithBadFileIsOneErrorLine() throws {
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bench-bad-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: bad) }
        try "{\"results\": [1, 2".write(to: bad, atomically: true, encoding: .utf8)
        for path in [bad.path, "/nonexistent/baseline.json"] {
            let r = try CLIRunner.run(["bench", "gemm", "--filter", "gemm/64x2048x512", "--quick", "--compare", path])
            XCTAssertNotEqual(r.status, 0, path)
            let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            XCTAssertEqual(lines.count, 1, "\(path): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(path), r.stderr)
        }
    }
}
