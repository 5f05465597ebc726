import XCTest
import Tensors

final class GEMMTests: XCTestCase {
    func testSmallProductMatchesHandComputed() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]        // 2x3
        let b: [Float] = [7, 8, 9, 10, 11, 12]     // 3x2
        var c = [Float](repeating: .nan, count: 4)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            sgemm(.noTranspose, .noTranspose, m: 2, n: 2, k: 3, alpha: 1, a: pa.baseAddress!, lda: 3,
                  b: pb.baseAddress!, ldb: 2, beta: 0, c: pc.baseAddress!, ldc: 2)
        } } }
        XCTAssertEqual(c, [58, 64, 139, 154])
    }
}
