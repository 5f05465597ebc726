import XCTest
@testable import Captioning

final class ProgressTests: XCTestCase {
    func testDurationFormatting() {
        XCTAssertEqual(ProgressReporter.duration(0), "0:00")
        XCTAssertEqual(ProgressReporter.duration(59.6), "1:00")
        XCTAssertEqual(ProgressReporter.duration(3725), "1:02:05")
        XCTAssertEqual(ProgressReporter.duration(.infinity), "?")
    }

    func testLineShowsCountRateAndETA() {
        let p = ProgressReporter("epoch 1", total: 100, unit: "img", interactive: false)
        let mid = p.line(done: 40, extra: "loss 2.5")
        XCTAssertTrue(mid.hasPrefix("epoch 1  40/100 img  "), mid)
        XCTAssertTrue(mid.contains(" img/s"), mid)
        XCTAssertTrue(mid.contains("ETA "), mid)
        XCTAssertTrue(mid.hasSuffix("loss 2.5"), mid)
        XCTAssertFalse(p.line(done: 100).contains("ETA"))
    }

    /// A resumed run's rate counts only the items done in this process (not hundreds of batches per second).
    func testRateOfAResumedRunLeavesOutEarlierItems() {
        let p = ProgressReporter("epoch 1", total: 1000, unit: "batches", interactive: false, startingAt: 900)
        XCTAssertTrue(p.line(done: 900).contains("  0.0 batches/s"), p.line(done: 900))
        XCTAssertFalse(p.line(done: 900).contains("ETA"))
        usleep(20_000)
        let line = p.line(done: 901)
        let fields = line.components(separatedBy: "  ")
        XCTAssertEqual(fields.count, 4, line)
        let rate = Double(fields[2].replacingOccurrences(of: " batches/s", with: "")) ?? .infinity
        XCTAssertLessThan(rate, 100, line)
        XCTAssertTrue(fields[3].hasPrefix("ETA "), line)
    }
}
