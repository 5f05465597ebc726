/// Builds a safetensors file: tensors in the order added, a deterministic header (keys in insertion order,
/// `__metadata__` first with sorted keys), padded with spaces to a multiple of 8 bytes as the reference writer does.
public struct SafeTensorsWriter: Sendable {
    private var entries: [(name: String, dtype: SafeTensorsDType, shape: [Int], data: [UInt8])] = []
    private var seen: Set<String> = []

    public init() {}

    /// Adds a float tensor stored as F32 or F16 (rounded to nearest even).
    public mutating func add(name: String, floats: [Float], shape: [Int], dtype: SafeTensorsDType = .f32) throws(SafeTensorsError) {
        guard shape.reduce(1, *) == floats.count else {
            throw SafeTensorsError("tensor '\(name)': \(floats.count) values do not fill shape \(shape)")
        }
        var data: [UInt8]
        switch dtype {
        case .f32:
            data = [UInt8](repeating: 0, count: floats.count * 4)
            data.withUnsafeMutableBytes { out in
                for (i, f) in floats.enumerated() { out.storeBytes(of: f.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            }
        case .f16:
            data = [UInt8](repeating: 0, count: floats.count * 2)
            data.withUnsafeMutableBytes { out in
                for (i, f) in floats.enumerated() { out.storeBytes(of: Float16(f).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            }
        default:
            throw SafeTensorsError("tensor '\(name)': writing floats as \(dtype.rawValue) is not supported (F32 or F16)")
        }
        try add(name: name, raw: data, dtype: dtype, shape: shape)
    }

    /// Adds 64-bit integers as I64.
    public mutating func add(name: String, int64s: [Int64], shape: [Int]) throws(SafeTensorsError) {
        var data = [UInt8](repeating: 0, count: int64s.count * 8)
        data.withUnsafeMutableBytes { out in
            for (i, v) in int64s.enumerated() { out.storeBytes(of: v.littleEndian, toByteOffset: 8 * i, as: Int64.self) }
        }
        try add(name: name, raw: data, dtype: .i64, shape: shape)
    }

    /// Adds already-encoded little-endian bytes.
    public mutating func add(name: String, raw: [UInt8], dtype: SafeTensorsDType, shape: [Int]) throws(SafeTensorsError) {
        guard name != "__metadata__", !name.isEmpty else { throw SafeTensorsError("invalid tensor name '\(name)'") }
        guard !seen.contains(name) else { throw SafeTensorsError("tensor '\(name)' added twice") }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) * dtype.byteSize == raw.count else {
            throw SafeTensorsError("tensor '\(name)': \(raw.count) bytes do not match \(dtype.rawValue) shape \(shape)")
        }
        seen.insert(name)
        entries.append((name, dtype, shape, raw))
    }

    /// The complete file.
    public func serialized(metadata: [String: String] = [:]) -> [UInt8] {
        var header: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            header.append(("__metadata__", .object(metadata.keys.sorted().map { ($0, .string(metadata[$0]!)) })))
        }
        var offset = 0
        for e in entries {
            header.append((e.name, .object([
                ("dtype", .string(e.dtype.rawValue)),
                ("shape", .array(e.shape.map { .int($0) })),
                ("data_offsets", .array([.int(offset), .int(offset + e.data.count)])),
            ])))
            offset += e.data.count
        }
        var json = Array(JSONValue.object(header).serialized().utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + offset)
        var n = UInt64(json.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xFF)); n >>= 8 }
        out += json
        for e in entries { out += e.data }
        return out
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    public func write(to path: String, metadata: [String: String] = [:]) throws(SafeTensorsError) {
        try FileBytes.writeAtomically(serialized(metadata: metadata), to: path)
    }
}
