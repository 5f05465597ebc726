// Progressive (SOF2) block decoders: DC first and refinement scans, AC first and refinement scans with
// end-of-band runs and successive approximation, as libjpeg's jdphuff.c decodes them.

extension JPEGDecoder {
    /// DC first scan: the difference, shifted by Al.
    @inline(__always)
    static func decodeDCFirst(_ st: inout JPEGScanState, _ block: UnsafeMutablePointer<Int16>,
                              _ t: JPEGHuffmanTable, _ k: Int) throws(ImageError) {
        let s = try st.reader.decode(t)
        st.preds[k] += st.reader.receiveExtend(s)
        block[0] = Int16(truncatingIfNeeded: st.preds[k] << st.al)
    }

    /// DC refinement: one more bit of precision.
    @inline(__always)
    static func decodeDCRefine(_ st: inout JPEGScanState, _ block: UnsafeMutablePointer<Int16>) {
        if st.reader.getBit() != 0 { block[0] |= Int16(truncatingIfNeeded: 1 << st.al) }
    }

    /// AC first scan over the band Ss...Se.
    @inline(__always)
    static func decodeACFirst(_ st: inout JPEGScanState, _ block: UnsafeMutablePointer<Int16>,
                              _ t: JPEGHuffmanTable) throws(ImageError) {
        if st.eobrun > 0 { st.eobrun -= 1; return }
        var k = st.ss
        let se = st.se, al = st.al
        let nat = jpegNaturalOrderPointer
        while k <= se {
            if st.reader.count < 16 { st.reader.fill() }
            let e = t.acFast[Int(truncatingIfNeeded: st.reader.bits &>> UInt64(64 - JPEGHuffmanTable.lookaheadBits))]
            if (e >> 12) & 15 != 0 {
                let len = Int(e & 0xFF)
                st.reader.bits &<<= UInt64(len)
                st.reader.count -= len
                k += Int((e >> 8) & 15)
                block[nat[k]] = Int16(truncatingIfNeeded: Int(e >> 16) << al)
                k += 1
                continue
            }
            let rs = try st.reader.decode(t)
            let r = rs >> 4, s = rs & 15
            if s != 0 {
                k += r
                let v = st.reader.receiveExtend(s)
                block[nat[k]] = Int16(truncatingIfNeeded: v << al)
            } else if r == 15 {
                k += 15
            } else {
                var run = 1 << r
                if r != 0 { run += st.reader.getBits(r) }
                st.eobrun = run - 1
                break
            }
            k += 1
        }
    }

    /// AC refinement scan: correction bits for coefficients already nonzero, and new coefficients of +-1 << Al.
    static func decodeACRefine(_ st: inout JPEGScanState, _ block: UnsafeMutablePointer<Int16>,
                               _ t: JPEGHuffmanTable) throws(ImageError) {
        let p1 = Int16(truncatingIfNeeded: 1 << st.al)
        let m1 = Int16(truncatingIfNeeded: -1 << st.al)
        let se = st.se
        var k = st.ss
        if st.eobrun == 0 {
            while k <= se {
                let rs = try st.reader.decode(t)
                var r = rs >> 4
                var s: Int16 = 0
                if rs & 15 != 0 {
                    // Anything but size 1 is corrupt; libjpeg warns and goes on.
                    s = st.reader.getBit() != 0 ? p1 : m1
                } else if r != 15 {
                    st.eobrun = 1 << r
                    if r != 0 { st.eobrun += st.reader.getBits(r) }
                    break
                }
                // Skip already-nonzero coefficients (refining them) and r zero ones.
                repeat {
                    let pos = jpegNaturalOrderPointer[k]
                    let c = block[pos]
                    if c != 0 {
                        if st.reader.getBit() != 0 && c & p1 == 0 {
                            block[pos] = c >= 0 ? c &+ p1 : c &+ m1
                        }
                    } else {
                        r -= 1
                        if r < 0 { break }
                    }
                    k += 1
                } while k <= se
                if s != 0 { block[jpegNaturalOrderPointer[k]] = s }
                k += 1
            }
        }
        if st.eobrun > 0 {
            while k <= se {
                let pos = jpegNaturalOrderPointer[k]
                let c = block[pos]
                if c != 0 && st.reader.getBit() != 0 && c & p1 == 0 {
                    block[pos] = c >= 0 ? c &+ p1 : c &+ m1
                }
                k += 1
            }
            st.eobrun -= 1
        }
    }
}
