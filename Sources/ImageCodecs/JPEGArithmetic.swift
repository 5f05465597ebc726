// Arithmetic-coded JPEG (SOF9 sequential, SOF10 progressive), as libjpeg's jdarith.c decodes it:
// the QM-coder of T.81 Annex D with the statistics areas and conditioning of Annex F / G.

/// Table D.3 packed as libjpeg's jaricom.c: Qe << 16 | Next_Index_MPS << 8 | Switch_MPS << 7 | Next_Index_LPS.
private let jpegAritab: [Int] = {
    let t: [(Int, Int, Int, Int)] = [
        (0x5a1d, 1, 1, 1), (0x2586, 14, 2, 0), (0x1114, 16, 3, 0), (0x080b, 18, 4, 0), (0x03d8, 20, 5, 0),
        (0x01da, 23, 6, 0), (0x00e5, 25, 7, 0), (0x006f, 28, 8, 0), (0x0036, 30, 9, 0), (0x001a, 33, 10, 0),
        (0x000d, 35, 11, 0), (0x0006, 9, 12, 0), (0x0003, 10, 13, 0), (0x0001, 12, 13, 0), (0x5a7f, 15, 15, 1),
        (0x3f25, 36, 16, 0), (0x2cf2, 38, 17, 0), (0x207c, 39, 18, 0), (0x17b9, 40, 19, 0), (0x1182, 42, 20, 0),
        (0x0cef, 43, 21, 0), (0x09a1, 45, 22, 0), (0x072f, 46, 23, 0), (0x055c, 48, 24, 0), (0x0406, 49, 25, 0),
        (0x0303, 51, 26, 0), (0x0240, 52, 27, 0), (0x01b1, 54, 28, 0), (0x0144, 56, 29, 0), (0x00f5, 57, 30, 0),
        (0x00b7, 59, 31, 0), (0x008a, 60, 32, 0), (0x0068, 62, 33, 0), (0x004e, 63, 34, 0), (0x003b, 32, 35, 0),
        (0x002c, 33, 9, 0), (0x5ae1, 37, 37, 1), (0x484c, 64, 38, 0), (0x3a0d, 65, 39, 0), (0x2ef1, 67, 40, 0),
        (0x261f, 68, 41, 0), (0x1f33, 69, 42, 0), (0x19a8, 70, 43, 0), (0x1518, 72, 44, 0), (0x1177, 73, 45, 0),
        (0x0e74, 74, 46, 0), (0x0bfb, 75, 47, 0), (0x09f8, 77, 48, 0), (0x0861, 78, 49, 0), (0x0706, 79, 50, 0),
        (0x05cd, 48, 51, 0), (0x04de, 50, 52, 0), (0x040f, 50, 53, 0), (0x0363, 51, 54, 0), (0x02d4, 52, 55, 0),
        (0x025c, 53, 56, 0), (0x01f8, 54, 57, 0), (0x01a4, 55, 58, 0), (0x0160, 56, 59, 0), (0x0125, 57, 60, 0),
        (0x00f6, 58, 61, 0), (0x00cb, 59, 62, 0), (0x00ab, 61, 63, 0), (0x008f, 61, 32, 0), (0x5b12, 65, 65, 1),
        (0x4d04, 80, 66, 0), (0x412c, 81, 67, 0), (0x37d8, 82, 68, 0), (0x2fe8, 83, 69, 0), (0x293c, 84, 70, 0),
        (0x2379, 86, 71, 0), (0x1edf, 87, 72, 0), (0x1aa9, 87, 73, 0), (0x174e, 72, 74, 0), (0x1424, 72, 75, 0),
        (0x119c, 74, 76, 0), (0x0f6b, 74, 77, 0), (0x0d51, 75, 78, 0), (0x0bb6, 77, 79, 0), (0x0a40, 77, 48, 0),
        (0x5832, 80, 81, 1), (0x4d1c, 88, 82, 0), (0x438e, 89, 83, 0), (0x3bdd, 90, 84, 0), (0x34ee, 91, 85, 0),
        (0x2eae, 92, 86, 0), (0x299a, 93, 87, 0), (0x2516, 86, 71, 0), (0x5570, 88, 89, 1), (0x4ca9, 95, 90, 0),
        (0x44d9, 96, 91, 0), (0x3e22, 97, 92, 0), (0x3824, 99, 93, 0), (0x32b4, 99, 94, 0), (0x2e17, 93, 86, 0),
        (0x56a8, 95, 96, 1), (0x4f46, 101, 97, 0), (0x47e5, 102, 98, 0), (0x41cf, 103, 99, 0), (0x3c3d, 104, 100, 0),
        (0x375e, 99, 93, 0), (0x5231, 105, 102, 0), (0x4c0f, 106, 103, 0), (0x4639, 107, 104, 0), (0x415e, 103, 99, 0),
        (0x5627, 105, 106, 1), (0x50e7, 108, 107, 0), (0x4b85, 109, 103, 0), (0x5597, 110, 109, 0), (0x504f, 111, 107, 0),
        (0x5a10, 110, 111, 1), (0x5522, 112, 109, 0), (0x59eb, 112, 111, 1), (0x5a1d, 113, 113, 0),
    ]
    return t.map { $0.0 << 16 | $0.2 << 8 | $0.3 << 7 | $0.1 }
}()

/// The QM decoder's registers and statistics areas (16 DC areas of 64 bins, 16 AC areas of 256, one fixed bin).
final class JPEGArithmeticDecoder {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos: Int
    var c = 0, a = 0, ct = -16
    var atMarker = false
    /// The data ended (not just a marker): the file is truncated.
    var hitEnd = false
    let stats: UnsafeMutablePointer<UInt8>
    let aritab: [Int] = jpegAritab
    static let dcOffset = 0, acOffset = 16 * 64, fixedOffset = 16 * 64 + 16 * 256

    init(base: UnsafePointer<UInt8>, end: Int, pos: Int) {
        self.base = base; self.end = end; self.pos = pos
        stats = .allocate(capacity: Self.fixedOffset + 4)
        stats.initialize(repeating: 0, count: Self.fixedOffset + 4)
        stats[Self.fixedOffset] = 113
    }
    deinit { stats.deallocate() }

    func dcStats(_ t: Int) -> UnsafeMutablePointer<UInt8> { stats + Self.dcOffset + 64 * t }
    func acStats(_ t: Int) -> UnsafeMutablePointer<UInt8> { stats + Self.acOffset + 256 * t }
    var fixedBin: UnsafeMutablePointer<UInt8> { stats + Self.fixedOffset }

    func resetRegisters() { c = 0; a = 0; ct = -16 }

    /// One binary decision with adaptive statistics bin `st` (arith_decode).
    func decode(_ st: UnsafeMutablePointer<UInt8>) -> Int {
        while a < 0x8000 {
            ct -= 1
            if ct < 0 {
                var data = 0
                if !atMarker {
                    if pos < end {
                        let ff = pos
                        data = Int(base[pos]); pos += 1
                        if data == 0xFF {
                            while pos < end && base[pos] == 0xFF { pos += 1 }
                            if pos < end && base[pos] == 0 {
                                data = 0xFF; pos += 1
                            } else {
                                // A marker (or the end of data): supply zeros from here on.
                                atMarker = true; hitEnd = pos >= end; pos = ff; data = 0
                            }
                        }
                    } else {
                        atMarker = true; hitEnd = true
                    }
                }
                c = c << 8 | data
                ct += 8
                if ct < 0 {
                    ct += 1
                    if ct == 0 { a = 0x8000 }
                }
            }
            a <<= 1
        }
        var sv = Int(st.pointee)
        var qe = aritab[sv & 0x7F]
        let nl = qe & 0xFF; qe >>= 8
        let nm = qe & 0xFF; qe >>= 8
        var temp = a - qe
        a = temp
        temp <<= ct
        if c >= temp {
            c -= temp
            if a < qe {
                a = qe
                st.pointee = UInt8(truncatingIfNeeded: (sv & 0x80) ^ nm)
            } else {
                a = qe
                st.pointee = UInt8(truncatingIfNeeded: (sv & 0x80) ^ nl)
                sv ^= 0x80
            }
        } else if a < 0x8000 {
            if a < qe {
                st.pointee = UInt8(truncatingIfNeeded: (sv & 0x80) ^ nl)
                sv ^= 0x80
            } else {
                st.pointee = UInt8(truncatingIfNeeded: (sv & 0x80) ^ nm)
            }
        }
        return sv >> 7
    }
}

/// Arithmetic conditioning parameters from DAC segments for tables 0...15 (defaults L = 0, U = 1, Kx = 5).
struct JPEGArithmeticConditioning {
    var dcL = [Int](repeating: 0, count: 16)
    var dcU = [Int](repeating: 1, count: 16)
    var acK = [Int](repeating: 5, count: 16)

    mutating func parse(_ s: ArraySlice<UInt8>) throws(ImageError) {
        let p = Array(s)
        guard p.count % 2 == 0 else { throw ImageError("corrupt JPEG arithmetic conditioning segment") }
        for i in stride(from: 0, to: p.count, by: 2) {
            let index = Int(p[i]), val = Int(p[i + 1])
            guard index < 32 else { throw ImageError("corrupt JPEG arithmetic conditioning table \(index)") }
            if index >= 16 {
                acK[index - 16] = val
            } else {
                dcL[index] = val & 15; dcU[index] = val >> 4
                guard dcL[index] <= dcU[index] else { throw ImageError("corrupt JPEG arithmetic conditioning value") }
            }
        }
    }
}

private let arithmeticCorrupt = ImageError("corrupt JPEG data (bad arithmetic code)")

extension JPEGDecoder {
    /// Decodes an arithmetic-coded scan; returns the position after its data.
    func decodeArithmeticScan(_ scan: JPEGScan, kind: JPEGScanKind, geometry g: MCUGeometry,
                              base: UnsafePointer<UInt8>, end: Int, pos: Int) throws(ImageError) -> Int {
        let ad = JPEGArithmeticDecoder(base: base, end: end, pos: pos)
        let ncomp = scan.componentIndices.count
        let cond = arithmeticConditioning
        let progressive = kind != .sequential
        var lastDC = [Int](repeating: 0, count: ncomp)
        var dcContext = [Int](repeating: 0, count: ncomp)
        func resetStatistics() {
            for k in 0..<ncomp {
                if !progressive || (scan.ss == 0 && scan.ah == 0) {
                    ad.dcStats(scan.dcTable[k]).initialize(repeating: 0, count: 64)
                    lastDC[k] = 0; dcContext[k] = 0
                }
                if !progressive || scan.ss != 0 {
                    ad.acStats(scan.acTable[k]).initialize(repeating: 0, count: 256)
                }
            }
            ad.resetRegisters()
        }
        resetStatistics()

        /// DC difference (F.19-F.24), updating the conditioning context of scan component k.
        func decodeDC(_ k: Int) throws(ImageError) {
            let tbl = scan.dcTable[k]
            var st = ad.dcStats(tbl) + dcContext[k]
            if ad.decode(st) == 0 {
                dcContext[k] = 0
                return
            }
            let sign = ad.decode(st + 1)
            st += 2 + sign
            var m = ad.decode(st)
            if m != 0 {
                st = ad.dcStats(tbl) + 20
                while ad.decode(st) != 0 {
                    m <<= 1
                    if m == 0x8000 { throw arithmeticCorrupt }
                    st += 1
                }
            }
            if m < (1 << cond.dcL[tbl]) >> 1 {
                dcContext[k] = 0
            } else if m > (1 << cond.dcU[tbl]) >> 1 {
                dcContext[k] = 12 + sign * 4
            } else {
                dcContext[k] = 4 + sign * 4
            }
            var v = m
            st += 14
            while true {
                m >>= 1
                if m == 0 { break }
                if ad.decode(st) != 0 { v |= m }
            }
            v += 1
            if sign != 0 { v = -v }
            lastDC[k] += v
        }

        /// AC coefficients ss...se of a first (or sequential) pass, scaled by `al`.
        func decodeAC(_ k: Int, _ block: UnsafeMutablePointer<Int16>, ss: Int, se: Int, al: Int) throws(ImageError) {
            let tbl = scan.acTable[k]
            var i = ss
            while i <= se {
                var st = ad.acStats(tbl) + 3 * (i - 1)
                if ad.decode(st) != 0 { break }  // EOB
                while ad.decode(st + 1) == 0 {
                    st += 3; i += 1
                    if i > se { throw arithmeticCorrupt }
                }
                let sign = ad.decode(ad.fixedBin)
                st += 2
                var m = ad.decode(st)
                if m != 0 {
                    if ad.decode(st) != 0 {
                        m <<= 1
                        st = ad.acStats(tbl) + (i <= cond.acK[tbl] ? 189 : 217)
                        while ad.decode(st) != 0 {
                            m <<= 1
                            if m == 0x8000 { throw arithmeticCorrupt }
                            st += 1
                        }
                    }
                }
                var v = m
                st += 14
                while true {
                    m >>= 1
                    if m == 0 { break }
                    if ad.decode(st) != 0 { v |= m }
                }
                v += 1
                if sign != 0 { v = -v }
                block[jpegNaturalOrderPointer[i]] = Int16(truncatingIfNeeded: v << al)
                i += 1
            }
        }

        func decodeACRefine(_ k: Int, _ block: UnsafeMutablePointer<Int16>) throws(ImageError) {
            let tbl = scan.acTable[k]
            let p1 = Int16(truncatingIfNeeded: 1 << scan.al), m1 = Int16(truncatingIfNeeded: -1 << scan.al)
            var kex = scan.se
            while kex > 0 && block[jpegNaturalOrderPointer[kex]] == 0 { kex -= 1 }
            var i = scan.ss
            while i <= scan.se {
                var st = ad.acStats(tbl) + 3 * (i - 1)
                if i > kex && ad.decode(st) != 0 { break }
                while true {
                    let pos = jpegNaturalOrderPointer[i]
                    let c = block[pos]
                    if c != 0 {
                        if ad.decode(st + 2) != 0 { block[pos] = c < 0 ? c &+ m1 : c &+ p1 }
                        break
                    }
                    if ad.decode(st + 1) != 0 {
                        block[pos] = ad.decode(ad.fixedBin) != 0 ? m1 : p1
                        break
                    }
                    st += 3; i += 1
                    if i > scan.se { throw arithmeticCorrupt }
                }
                i += 1
            }
        }

        var expectedRST = 0
        var m = 0
        for my in 0..<g.mcusY {
            for mx in 0..<g.mcusX {
                if restartInterval > 0 && m > 0 && m % restartInterval == 0 {
                    var r = JPEGBitReader(base: base, end: end, pos: ad.pos)
                    guard let mk = r.nextMarker() else { throw ImageError("truncated JPEG data") }
                    guard mk == 0xD0 + UInt8(expectedRST) else {
                        throw ImageError("corrupt JPEG data (expected restart marker RST\(expectedRST))")
                    }
                    expectedRST = (expectedRST + 1) & 7
                    ad.pos = r.pos
                    ad.atMarker = false
                    resetStatistics()
                }
                for b in g.blocks {
                    let k = b.k
                    let block = g.bases[k] + my * g.rowStep[k] + mx * g.colStep[k] + b.offset
                    switch kind {
                    case .sequential:
                        try decodeDC(k)
                        block[0] = Int16(truncatingIfNeeded: lastDC[k])
                        try decodeAC(k, block, ss: 1, se: 63, al: 0)
                    case .dcFirst:
                        try decodeDC(k)
                        block[0] = Int16(truncatingIfNeeded: lastDC[k] << scan.al)
                    case .dcRefine:
                        if ad.decode(ad.fixedBin) != 0 { block[0] |= Int16(truncatingIfNeeded: 1 << scan.al) }
                    case .acFirst:
                        try decodeAC(k, block, ss: scan.ss, se: scan.se, al: scan.al)
                    case .acRefine:
                        try decodeACRefine(k, block)
                    }
                }
                if ad.hitEnd { throw ImageError("truncated JPEG data") }
                m += 1
            }
        }
        return ad.pos
    }
}
