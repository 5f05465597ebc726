// Decoding one scan: MCU geometry (interleaved or not), restart intervals, and the sequential
// (baseline / extended) block decoder. Progressive block decoders are in JPEGProgressive.swift.

/// Whole-image coefficient storage of one component (zero-initialised, manually managed).
final class JPEGCoefficients: @unchecked Sendable {
    let p: UnsafeMutablePointer<Int16>
    let count: Int
    init(count: Int) {
        self.count = count
        p = .allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { p.deallocate() }
}

/// What a scan codes, decided from its header.
enum JPEGScanKind { case sequential, dcFirst, dcRefine, acFirst, acRefine }

/// Where the blocks of a scan's MCUs are.
struct MCUGeometry {
    var mcusX: Int
    var mcusY: Int
    var bases: [UnsafeMutablePointer<Int16>]
    var rowStep: [Int]
    var colStep: [Int]
    var blocks: [(k: Int, offset: Int)]
}

/// Per-scan state passed to the block decoders.
struct JPEGScanState {
    var reader: JPEGBitReader
    var eobrun = 0
    /// DC predictions, one per scan component.
    var preds = SIMD4<Int>.zero
    var ss: Int
    var se: Int
    var al: Int
}

extension JPEGDecoder {
    /// Decodes the entropy-coded data of `scan` starting at `pos`; returns the reader, positioned after it.
    func decodeScan(_ scan: JPEGScan, base: UnsafePointer<UInt8>, end: Int, pos: Int) throws(ImageError) -> JPEGBitReader {
        guard var frame else { throw ImageError("corrupt JPEG (scan before frame header)") }
        let ncomp = scan.componentIndices.count
        let kind: JPEGScanKind
        if frame.progressive {
            var bad = false
            if scan.ss == 0 {
                if scan.se != 0 { bad = true }
            } else {
                if scan.ss > scan.se || scan.se > 63 || ncomp != 1 { bad = true }
            }
            if scan.ah != 0 && scan.al != scan.ah - 1 { bad = true }
            if scan.al > 13 { bad = true }
            if bad {
                throw ImageError("corrupt JPEG progression (Ss=\(scan.ss) Se=\(scan.se) Ah=\(scan.ah) Al=\(scan.al))")
            }
            kind = scan.ss == 0 ? (scan.ah == 0 ? .dcFirst : .dcRefine) : (scan.ah == 0 ? .acFirst : .acRefine)
        } else {
            kind = .sequential
        }

        // Latch quantisation tables (libjpeg copies them when a component's first scan starts).
        for ci in scan.componentIndices where frame.components[ci].quant == nil {
            let sel = frame.components[ci].quantSelector
            guard let q = quant[sel] else { throw ImageError("corrupt JPEG (quantisation table \(sel) is not defined)") }
            frame.components[ci].quant = q
        }
        self.frame = frame

        // Huffman tables this scan uses.
        let needDC = kind == .sequential || kind == .dcFirst
        let needAC = kind == .sequential || kind == .acFirst || kind == .acRefine
        var dcTables: [JPEGHuffmanTable] = [], acTables: [JPEGHuffmanTable] = []
        for k in 0..<ncomp {
            if needDC {
                guard let t = dc[scan.dcTable[k]] else { throw ImageError("corrupt JPEG (Huffman table DC\(scan.dcTable[k]) is not defined)") }
                if let r = t.invalidReason { throw ImageError(r) }
                dcTables.append(t)
            }
            if needAC {
                guard let t = ac[scan.acTable[k]] else { throw ImageError("corrupt JPEG (Huffman table AC\(scan.acTable[k]) is not defined)") }
                if let r = t.invalidReason { throw ImageError(r) }
                acTables.append(t)
            }
        }

        // MCU geometry: list of (scan component, block offset x, y) in one MCU.
        var mcuBlocks: [(k: Int, dx: Int, dy: Int)] = []
        let mcusX: Int, mcusY: Int
        if ncomp == 1 {
            let c = frame.components[scan.componentIndices[0]]
            mcusX = c.dataBlocksPerLine; mcusY = c.dataBlocksPerColumn
            mcuBlocks = [(0, 0, 0)]
        } else {
            mcusX = frame.mcusPerLine; mcusY = frame.mcusPerColumn
            for k in 0..<ncomp {
                let c = frame.components[scan.componentIndices[k]]
                for dy in 0..<c.v { for dx in 0..<c.h { mcuBlocks.append((k, dx, dy)) } }
            }
            guard mcuBlocks.count <= 10 else { throw ImageError("corrupt JPEG (sampling factors too large for an interleaved scan)") }
        }
        let comps = scan.componentIndices.map { frame.components[$0] }
        let stores = scan.componentIndices.map { coefficients[$0] }
        let blockH = comps.map(\.h), blockV = comps.map(\.v), stride = comps.map(\.blocksPerLine)
        let single = ncomp == 1

        var st = JPEGScanState(reader: JPEGBitReader(base: base, end: end, pos: pos), ss: scan.ss, se: scan.se, al: scan.al)
        // Block addresses: component base + my * rowStep + mx * colStep + offset within the MCU.
        let bases = stores.map(\.p)
        let rowStep = (0..<ncomp).map { single ? stride[$0] * 64 : blockV[$0] * stride[$0] * 64 }
        let colStep = (0..<ncomp).map { single ? 64 : blockH[$0] * 64 }
        let blocks = mcuBlocks.map { (k: $0.k, offset: ($0.dy * stride[$0.k] + $0.dx) * 64) }
        let geometry = MCUGeometry(mcusX: mcusX, mcusY: mcusY, bases: bases, rowStep: rowStep, colStep: colStep, blocks: blocks)
        switch kind {
        case .sequential:
            try forEachBlock(&st, geometry) { (st, k, block) throws(ImageError) in
                try Self.decodeSequentialBlock(&st.reader, block, dcTables[k], acTables[k], &st.preds[k])
            }
        case .dcFirst:
            try forEachBlock(&st, geometry) { (st, k, block) throws(ImageError) in
                try Self.decodeDCFirst(&st, block, dcTables[k], k)
            }
        case .dcRefine:
            try forEachBlock(&st, geometry) { (st, _, block) throws(ImageError) in
                Self.decodeDCRefine(&st, block)
            }
        case .acFirst:
            let t = acTables[0]
            try forEachBlock(&st, geometry) { (st, _, block) throws(ImageError) in
                try Self.decodeACFirst(&st, block, t)
            }
        case .acRefine:
            let t = acTables[0]
            try forEachBlock(&st, geometry) { (st, _, block) throws(ImageError) in
                try Self.decodeACRefine(&st, block, t)
            }
        }
        // Progressive bookkeeping (used to reject nothing, but kept as libjpeg's coef_bits).
        if frame.progressive {
            for ci in scan.componentIndices {
                for k in scan.ss...scan.se { self.frame?.components[ci].coefBits[k] = scan.al }
            }
        }
        return st.reader
    }

    /// Runs `body` on every block of every MCU of a scan, handling restart markers (which reset the DC
    /// predictions and the EOB run) and stopping as soon as the data has run out.
    @inline(__always)
    func forEachBlock(_ st: inout JPEGScanState, _ g: MCUGeometry,
                      _ body: (inout JPEGScanState, Int, UnsafeMutablePointer<Int16>) throws(ImageError) -> Void) throws(ImageError) {
        var expectedRST = 0
        var m = 0
        let interval = restartInterval
        for my in 0..<g.mcusY {
            for mx in 0..<g.mcusX {
                if interval > 0 && m > 0 && m % interval == 0 {
                    if st.reader.overran { throw st.reader.exhaustedError() }
                    guard let mk = st.reader.nextMarker() else { throw ImageError("truncated JPEG data") }
                    guard mk == 0xD0 + UInt8(expectedRST) else {
                        throw ImageError("corrupt JPEG data (expected restart marker RST\(expectedRST))")
                    }
                    expectedRST = (expectedRST + 1) & 7
                    st.preds = .zero
                    st.eobrun = 0
                }
                for b in g.blocks {
                    try body(&st, b.k, g.bases[b.k] + my * g.rowStep[b.k] + mx * g.colStep[b.k] + b.offset)
                }
                if st.reader.overran { throw st.reader.exhaustedError() }
                m += 1
            }
        }
    }

    /// One block of a sequential scan (libjpeg's decode_mcu).
    @inline(__always)
    static func decodeSequentialBlock(_ r: inout JPEGBitReader, _ block: UnsafeMutablePointer<Int16>,
                                      _ dct: JPEGHuffmanTable, _ act: JPEGHuffmanTable, _ pred: inout Int) throws(ImageError) {
        let s = try r.decode(dct)
        pred += r.receiveExtend(s)
        block[0] = Int16(truncatingIfNeeded: pred)
        var k = 1
        let nat = jpegNaturalOrderPointer
        while k < 64 {
            if r.count < 16 { r.fill() }
            let e = act.acFast[Int(truncatingIfNeeded: r.bits &>> UInt64(64 - JPEGHuffmanTable.lookaheadBits))]
            if e != 0 {
                let len = Int(e & 0xFF)
                r.bits &<<= UInt64(len)
                r.count -= len
                let run = Int((e >> 8) & 15)
                if (e >> 12) & 15 != 0 {
                    k += run
                    block[nat[k]] = Int16(truncatingIfNeeded: e >> 16)
                    k += 1
                    continue
                }
                if run != 15 { break }
                k += 16
                continue
            }
            let rs = try r.decode(act)
            let run = rs >> 4, size = rs & 15
            if size != 0 {
                k += run
                block[nat[k]] = Int16(truncatingIfNeeded: r.receiveExtend(size))
            } else {
                if run != 15 { break }
                k += 15
            }
            k += 1
        }
    }
}
