/// Bulk float16 <-> float32 conversion (IEEE binary16: subnormals, infinities and NaN preserved;
/// narrowing rounds to nearest even). Lowered to F16C `vcvtph2ps`/`vcvtps2ph` on x86-64-v3.
public enum HalfConversion {
    /// Widens `count` half-precision bit patterns.
    public static func toFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let rs = UnsafeRawPointer(src), rd = UnsafeMutableRawPointer(dst)
        while i + 8 <= count {
            let h = rs.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt16>.self)
            let f = SIMD8<Float>(unsafeBitCast(h, to: SIMD8<Float16>.self))
            rd.storeBytes(of: f, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { dst[i] = Float(Float16(bitPattern: src[i])); i += 1 }
    }

    /// Narrows `count` floats to half-precision bit patterns (round to nearest even).
    public static func toHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        var i = 0
        let rs = UnsafeRawPointer(src), rd = UnsafeMutableRawPointer(dst)
        while i + 8 <= count {
            let f = rs.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let h = unsafeBitCast(SIMD8<Float16>(f), to: SIMD8<UInt16>.self)
            rd.storeBytes(of: h, toByteOffset: i * 2, as: SIMD8<UInt16>.self)
            i += 8
        }
        while i < count { dst[i] = Float16(src[i]).bitPattern; i += 1 }
    }

    public static func toFloat(_ bits: [UInt16]) -> [Float] {
        if bits.isEmpty { return [] }
        return [Float](unsafeUninitializedCapacity: bits.count) { out, c in
            bits.withUnsafeBufferPointer { toFloat($0.baseAddress!, out.baseAddress!, count: bits.count) }
            c = bits.count
        }
    }

    public static func toHalf(_ values: [Float]) -> [UInt16] {
        if values.isEmpty { return [] }
        return [UInt16](unsafeUninitializedCapacity: values.count) { out, c in
            values.withUnsafeBufferPointer { toHalf($0.baseAddress!, out.baseAddress!, count: values.count) }
            c = values.count
        }
    }
}

extension Tensor {
    /// A tensor from half-precision bit patterns.
    public init(shape: [Int], halfBits: [UInt16]) {
        precondition(halfBits.count == Tensor.elementCount(shape), "\(halfBits.count) values for shape \(shape)")
        self.init(shape: shape) { p in
            if halfBits.isEmpty { return }
            halfBits.withUnsafeBufferPointer { HalfConversion.toFloat($0.baseAddress!, p, count: halfBits.count) }
        }
    }

    /// The elements as half-precision bit patterns.
    public var halfBits: [UInt16] { withUnsafeBufferPointer { HalfConversion.toHalf(Array($0)) } }
}
