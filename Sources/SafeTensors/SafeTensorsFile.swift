/// Where one tensor lives in a safetensors file.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let byteRange: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file read into memory: 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data.
///
/// The header is validated strictly before anything else is allocated: a header longer than the file or
/// than `maximumHeaderBytes`, offsets out of range, overlapping or leaving holes, a byte count that does
/// not match dtype x shape, or a malformed header all give one `SafeTensorsError`, never a crash.
public struct SafeTensorsFile: Sendable {
    /// Largest header accepted (100 MiB); checked before the header is read.
    public static let maximumHeaderBytes = 100 << 20

    /// The string pairs of `__metadata__`.
    public let metadata: [String: String]
    /// Every tensor by name.
    public let tensors: [String: SafeTensorInfo]
    private let bytes: [UInt8]
    private let dataStart: Int

    /// Tensor names, sorted.
    public var names: [String] { tensors.keys.sorted() }

    /// Reads and validates the file at `path`.
    public init(contentsOf path: String) throws(SafeTensorsError) {
        let data: [UInt8]
        do {
            data = try FileBytes.read(path)
        } catch {
            throw SafeTensorsError(error.description)
        }
        try self.init(bytes: data)
    }

    /// Validates an in-memory file.
    public init(bytes: [UInt8]) throws(SafeTensorsError) {
        guard bytes.count >= 8 else {
            throw SafeTensorsError("not a safetensors file: \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        var n: UInt64 = 0
        for k in 0..<8 { n |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        guard n <= UInt64(Self.maximumHeaderBytes) else {
            throw SafeTensorsError("safetensors header of \(n) bytes exceeds the limit of \(Self.maximumHeaderBytes) bytes")
        }
        guard n <= UInt64(bytes.count - 8) else {
            throw SafeTensorsError("truncated safetensors file: header of \(n) bytes but only \(bytes.count - 8) bytes follow")
        }
        guard n >= 2 else { throw SafeTensorsError("safetensors header too short (\(n) bytes)") }
        let headerLength = Int(n)
        let header: JSONValue
        do {
            header = try JSONValue.parse(bytes[8..<(8 + headerLength)], maxDepth: 8)
        } catch {
            throw SafeTensorsError("safetensors header: \(error.description)")
        }
        guard let members = header.objectValue else { throw SafeTensorsError("safetensors header is not a JSON object") }
        let dataLength = bytes.count - 8 - headerLength
        var meta: [String: String] = [:]
        var infos: [String: SafeTensorInfo] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                guard let pairs = value.objectValue else { throw SafeTensorsError("__metadata__ is not an object of strings") }
                for (k, v) in pairs {
                    guard let s = v.stringValue else { throw SafeTensorsError("__metadata__ value for '\(k)' is not a string") }
                    meta[k] = s
                }
                continue
            }
            guard infos[name] == nil else { throw SafeTensorsError("tensor '\(name)' appears twice in the header") }
            infos[name] = try Self.tensorInfo(name: name, value, dataLength: dataLength)
        }
        // The data section must be covered exactly: no overlaps, no holes.
        let sorted = infos.values.sorted { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }
        var cursor = 0
        for t in sorted {
            if t.byteRange.lowerBound < cursor {
                throw SafeTensorsError("tensor '\(t.name)' overlaps another tensor's bytes")
            }
            if t.byteRange.lowerBound > cursor {
                throw SafeTensorsError("safetensors data has a hole at bytes \(cursor)..<\(t.byteRange.lowerBound) before '\(t.name)'")
            }
            cursor = t.byteRange.upperBound
        }
        guard cursor == dataLength else {
            throw SafeTensorsError("safetensors data has \(dataLength - cursor) unindexed bytes at the end (truncated or padded file)")
        }
        metadata = meta
        tensors = infos
        self.bytes = bytes
        dataStart = 8 + headerLength
    }

    private static func tensorInfo(name: String, _ value: JSONValue, dataLength: Int) throws(SafeTensorsError) -> SafeTensorInfo {
        guard value.objectValue != nil else { throw SafeTensorsError("header entry '\(name)' is not an object") }
        guard let dtypeName = value["dtype"]?.stringValue else { throw SafeTensorsError("tensor '\(name)' has no dtype") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError("tensor '\(name)' has unsupported dtype \(dtypeName)")
        }
        guard let dims = value["shape"]?.arrayValue else { throw SafeTensorsError("tensor '\(name)' has no shape") }
        var shape: [Int] = []
        var count = 1
        for d in dims {
            guard let v = d.intValue, v >= 0 else { throw SafeTensorsError("tensor '\(name)' has an invalid dimension") }
            let (p, overflow) = count.multipliedReportingOverflow(by: v)
            guard !overflow, p <= dataLength else {
                throw SafeTensorsError("tensor '\(name)' of shape \(dims.map { $0.intValue ?? -1 }) does not fit in the file")
            }
            count = p
            shape.append(v)
        }
        guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
              let begin = offsets[0].intValue, let end = offsets[1].intValue else {
            throw SafeTensorsError("tensor '\(name)' has no valid data_offsets")
        }
        guard begin >= 0, begin <= end, end <= dataLength else {
            throw SafeTensorsError("tensor '\(name)' data_offsets [\(begin), \(end)] are outside the \(dataLength) data bytes")
        }
        guard end - begin == count * dtype.byteSize else {
            throw SafeTensorsError("tensor '\(name)': \(end - begin) bytes for \(dtype.rawValue) shape \(shape) (expected \(count * dtype.byteSize))")
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    private func info(_ name: String) throws(SafeTensorsError) -> SafeTensorInfo {
        guard let t = tensors[name] else { throw SafeTensorsError("no tensor named '\(name)'") }
        return t
    }

    /// The shape of tensor `name`.
    public func shape(_ name: String) throws(SafeTensorsError) -> [Int] { try info(name).shape }

    /// The raw little-endian bytes of tensor `name`.
    public func rawBytes(_ name: String) throws(SafeTensorsError) -> ArraySlice<UInt8> {
        let t = try info(name)
        return bytes[(dataStart + t.byteRange.lowerBound)..<(dataStart + t.byteRange.upperBound)]
    }

    /// Tensor `name` as float32: F32 as stored, F16 and BF16 widened exactly (subnormals included), F64 rounded.
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        let t = try info(name)
        guard [.f32, .f16, .bf16, .f64].contains(t.dtype) else {
            throw SafeTensorsError("tensor '\(name)' is \(t.dtype.rawValue), not a floating-point type")
        }
        let n = t.elementCount
        let start = dataStart + t.byteRange.lowerBound
        return bytes.withUnsafeBytes { raw -> [Float] in
            let p = raw.baseAddress! + start
            return [Float](unsafeUninitializedCapacity: n) { out, c in
                switch t.dtype {
                case .f32:
                    for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case .f16:
                    for i in 0..<n { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
                case .bf16:
                    for i in 0..<n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
                default:
                    for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                }
                c = n
            }
        }
    }

    /// Tensor `name` as bytes (U8, I8 or BOOL).
    public func uint8s(_ name: String) throws(SafeTensorsError) -> [UInt8] {
        let t = try info(name)
        guard t.dtype == .u8 || t.dtype == .i8 || t.dtype == .bool else {
            throw SafeTensorsError("tensor '\(name)' is \(t.dtype.rawValue), not U8")
        }
        return Array(try rawBytes(name))
    }

    /// Tensor `name` as 64-bit integers (I64, I32, U8 and the other integer types widened).
    public func int64s(_ name: String) throws(SafeTensorsError) -> [Int64] {
        let t = try info(name)
        guard ![.f64, .f32, .f16, .bf16].contains(t.dtype) else {
            throw SafeTensorsError("tensor '\(name)' is \(t.dtype.rawValue), not an integer type")
        }
        let raw = try rawBytes(name)
        let n = t.elementCount
        return raw.withUnsafeBytes { p -> [Int64] in
            switch t.dtype {
            case .i64: return (0..<n).map { Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            case .u64: return (0..<n).map { Int64(truncatingIfNeeded: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            case .i32: return (0..<n).map { Int64(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
            case .u32: return (0..<n).map { Int64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            case .i16: return (0..<n).map { Int64(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
            case .u16: return (0..<n).map { Int64(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
            case .i8: return (0..<n).map { Int64(Int8(bitPattern: p[$0])) }
            default: return (0..<n).map { Int64(p[$0]) }
            }
        }
    }
}
