// Inter-block smoothing of libjpeg-turbo 3.x (jdcoefct.c decompress_smooth_data): for progressive
// files whose first nine AC coefficients are not all known to full precision (a scan script that never
// refines them), libjpeg estimates the missing ones from the DC values of the 5x5 neighbouring blocks,
// and when no AC data at all was sent, re-estimates DC too. Pillow decodes such files this way.

extension JPEGDecoder {
    /// libjpeg's smoothing_ok: progressive, every component has latched, nonzero quantisers at the ten
    /// positions used and some DC data, and some of zig-zag coefficients 1...9 are not exact.
    static func smoothingApplies(_ frame: JPEGFrame) -> Bool {
        guard frame.progressive else { return false }
        var useful = false
        for c in frame.components {
            guard let q = c.quant else { return false }
            for pos in [0, 1, 8, 16, 9, 2, 3, 10, 17, 24] where q[pos] == 0 { return false }
            if c.coefBits[0] < 0 { return false }
            for k in 1...9 where c.coefBits[k] != 0 { useful = true }
        }
        return useful
    }

    /// Writes into `ws` block (bx, by) of component `c` with the smoothing estimates applied.
    static func smoothBlock(_ c: JPEGComponent, _ coef: UnsafePointer<Int16>, totalIMCURows: Int,
                            bx: Int, by: Int, q: [Int32], ws: UnsafeMutablePointer<Int16>) {
        let bits = c.coefBits
        let v = c.v, hib = c.dataBlocksPerColumn
        // Which neighbouring rows libjpeg uses (its row arithmetic, including the last iMCU row).
        let r = by / v, blockRow = by % v
        let blockRows = r < totalIMCURows - 1 ? v : (hib % v == 0 ? v : hib % v)
        let ibr = r * blockRows + blockRow, ibrs = blockRows * totalIMCURows
        let last = c.blocksPerColumn - 1
        let prev = ibr > 0 ? by - 1 : by
        let prevPrev = ibr > 1 ? by - 2 : prev
        let next = ibr < ibrs - 1 ? min(by + 1, last) : by
        let nextNext = ibr < ibrs - 2 ? min(by + 2, last) : next
        let rowsUsed = [prevPrev, prev, by, next, nextNext]
        let lastCol = c.dataBlocksPerLine - 1
        // dc[i][j]: DC of row rowsUsed[i], column bx + j - 2 (clamped): libjpeg's DC01...DC25.
        var d = [Int](repeating: 0, count: 26)
        for i in 0..<5 {
            for j in 0..<5 {
                let x = min(max(bx + j - 2, 0), lastCol)
                d[1 + 5 * i + j] = Int(coef[(rowsUsed[i] * c.blocksPerLine + x) * 64])
            }
        }
        for i in 0..<64 { ws[i] = coef[(by * c.blocksPerLine + bx) * 64 + i] }
        let changeDC = (1...9).allSatisfy { bits[$0] == -1 }
        let q00 = Int(q[0])

        @inline(__always) func estimate(_ zz: Int, _ pos: Int, _ sum: Int) {
            let al = bits[zz]
            guard al != 0 && ws[pos] == 0 else { return }
            let qk = Int(q[pos])
            let num = q00 * sum
            var pred: Int
            if num >= 0 {
                pred = ((qk << 7) + num) / (qk << 8)
                if al > 0 && pred >= (1 << al) { pred = (1 << al) - 1 }
            } else {
                pred = ((qk << 7) - num) / (qk << 8)
                if al > 0 && pred >= (1 << al) { pred = (1 << al) - 1 }
                pred = -pred
            }
            ws[pos] = Int16(truncatingIfNeeded: pred)
        }
        if changeDC {
            estimate(1, 1, -d[1] - d[2] + d[4] + d[5] - 3 * d[6] + 13 * d[7] - 13 * d[9] + 3 * d[10]
                     - 3 * d[11] + 38 * d[12] - 38 * d[14] + 3 * d[15] - 3 * d[16] + 13 * d[17]
                     - 13 * d[19] + 3 * d[20] - d[21] - d[22] + d[24] + d[25])
            estimate(2, 8, -d[1] - 3 * d[2] - 3 * d[3] - 3 * d[4] - d[5] - d[6] + 13 * d[7] + 38 * d[8]
                     + 13 * d[9] - d[10] + d[16] - 13 * d[17] - 38 * d[18] - 13 * d[19] + d[20] + d[21]
                     + 3 * d[22] + 3 * d[23] + 3 * d[24] + d[25])
            estimate(3, 16, d[3] + 2 * d[7] + 7 * d[8] + 2 * d[9] - 5 * d[12] - 14 * d[13] - 5 * d[14]
                     + 2 * d[17] + 7 * d[18] + 2 * d[19] + d[23])
            estimate(4, 9, -d[1] + d[5] + 9 * d[7] - 9 * d[9] - 9 * d[17] + 9 * d[19] + d[21] - d[25])
            estimate(5, 2, 2 * d[7] - 5 * d[8] + 2 * d[9] + d[11] + 7 * d[12] - 14 * d[13] + 7 * d[14]
                     + d[15] + 2 * d[17] - 5 * d[18] + 2 * d[19])
            estimate(6, 3, d[7] - d[9] + 2 * d[12] - 2 * d[14] + d[17] - d[19])
            estimate(7, 10, d[7] - 3 * d[8] + d[9] - d[17] + 3 * d[18] - d[19])
            estimate(8, 17, d[7] - d[9] - 3 * d[12] + 3 * d[14] + d[17] - d[19])
            estimate(9, 24, d[7] + 2 * d[8] + d[9] - d[17] - 2 * d[18] - d[19])
            let s1 = -2 * d[1] - 6 * d[2] - 8 * d[3] - 6 * d[4] - 2 * d[5] - 6 * d[6] + 6 * d[7] + 42 * d[8]
                + 6 * d[9] - 6 * d[10] - 8 * d[11] + 42 * d[12] + 152 * d[13]
            let s2 = 42 * d[14] - 8 * d[15] - 6 * d[16] + 6 * d[17] + 42 * d[18] + 6 * d[19] - 6 * d[20]
                - 2 * d[21] - 6 * d[22] - 8 * d[23] - 6 * d[24] - 2 * d[25]
            let num = q00 * (s1 + s2)
            let pred = num >= 0 ? ((q00 << 7) + num) / (q00 << 8) : -(((q00 << 7) - num) / (q00 << 8))
            ws[0] = Int16(truncatingIfNeeded: pred)
        } else {
            estimate(1, 1, -7 * d[11] + 50 * d[12] - 50 * d[14] + 7 * d[15])
            estimate(2, 8, -7 * d[3] + 50 * d[8] - 50 * d[18] + 7 * d[23])
            estimate(3, 16, -d[3] + 13 * d[8] - 24 * d[13] + 13 * d[18] - d[23])
            estimate(4, 9, d[10] + d[16] - 10 * d[17] + 10 * d[19] - d[2] - d[20] + d[22] - d[24] + d[4]
                     - d[6] + 10 * d[7] - 10 * d[9])
            estimate(5, 2, -d[11] + 13 * d[12] - 24 * d[13] + 13 * d[14] - d[15])
        }
    }
}
