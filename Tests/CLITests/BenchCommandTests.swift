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
}
