/// Heap storage of a tensor: `count` float32 values, 64-byte aligned. Shared between `Tensor`
/// values and copied on the first write to a shared buffer (copy-on-write), so it is never
/// mutated while shared and is safe to send between threads.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// Uninitialised storage of `count` floats (at least one element is allocated).
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "negative element count")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    @usableFromInline func copy() -> TensorStorage {
        let s = TensorStorage(uninitializedCount: count)
        s.pointer.update(from: pointer, count: count)
        return s
    }

    deinit { pointer.deallocate() }
}

/// A dense, row-major (C-contiguous) float32 tensor with value semantics.
///
/// Copies share storage until one of them is written (copy-on-write). All operations return
/// new contiguous tensors; `reshaped` shares storage. Shape mismatches are programming errors
/// and stop the program with a message naming the shapes.
public struct Tensor: Sendable {
    /// Extent of each dimension; `[]` is a scalar (one element).
    public internal(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// Element count of a shape; stops on negative extents.
    public static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape {
            precondition(d >= 0, "negative dimension in shape \(shape)")
            let (p, o) = n.multipliedReportingOverflow(by: d)
            precondition(!o, "shape \(shape) overflows")
            n = p
        }
        return n
    }

    /// A zero-filled tensor.
    public init(shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: Tensor.elementCount(shape), repeating: 0)
    }

    /// A tensor whose every element is `value`.
    public init(shape: [Int], repeating value: Float) {
        self.shape = shape
        storage = TensorStorage(count: Tensor.elementCount(shape), repeating: value)
    }

    /// A tensor holding `values` in row-major order; `values.count` must match the shape.
    public init(shape: [Int], _ values: [Float]) {
        let n = Tensor.elementCount(shape)
        precondition(values.count == n, "\(values.count) values for shape \(shape)")
        self.shape = shape
        storage = TensorStorage(uninitializedCount: n)
        values.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: n) }
    }

    /// A 1-D tensor of `values`.
    public init(_ values: [Float]) { self.init(shape: [values.count], values) }

    /// A scalar (rank-0) tensor.
    public init(scalar: Float) { self.init(shape: [], repeating: scalar) }

    /// A tensor with uninitialised contents that `body` must fill completely.
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutablePointer<Float>) -> Void) {
        self.shape = shape
        storage = TensorStorage(uninitializedCount: Tensor.elementCount(shape))
        body(storage.pointer)
    }

    @usableFromInline init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }
    public static func filled(_ shape: [Int], _ value: Float) -> Tensor { Tensor(shape: shape, repeating: value) }
    /// A zero tensor with the shape of `other`.
    public static func zeros(like other: Tensor) -> Tensor { Tensor(shape: other.shape) }

    /// `[0, 1, …, n-1]` as floats.
    public static func arange(_ n: Int) -> Tensor {
        Tensor(shape: [n]) { p in for i in 0..<n { p[i] = Float(i) } }
    }

    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// The single element of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item of a tensor of shape \(shape)")
        return storage.pointer[0]
    }

    /// Read-only access to the contiguous elements.
    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Mutable access to the elements; copies the storage first if it is shared.
    @inlinable public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Raw pointer for reading (valid while `self` is alive and unchanged).
    @inlinable public var readPointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

    @inlinable public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// Element at a flat (row-major) index.
    @inlinable public subscript(flat i: Int) -> Float {
        get { precondition(i >= 0 && i < count, "flat index \(i) out of range \(count)"); return storage.pointer[i] }
        set { precondition(i >= 0 && i < count, "flat index \(i) out of range \(count)"); makeUnique(); storage.pointer[i] = newValue }
    }

    /// Flat offset of a multi-index.
    public func offset(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) for shape \(shape)")
        var o = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            o = o * d + i
        }
        return o
    }

    /// Element at a multi-index.
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[offset(index)] }
        set { let o = offset(index); makeUnique(); storage.pointer[o] = newValue }
    }

    /// Same elements viewed with another shape (storage is shared). One extent may be `-1`.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let k = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != k }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            s[k] = count / known
        }
        precondition(Tensor.elementCount(s) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: s, storage: storage)
    }

    /// Strides (in elements) of the row-major layout.
    public static func strides(of shape: [Int]) -> [Int] {
        var st = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { st[i] = acc; acc *= shape[i] }
        return st
    }
}

extension Tensor: Equatable {
    /// Exact equality of shapes and elements (NaN is unequal to itself).
    public static func == (a: Tensor, b: Tensor) -> Bool {
        guard a.shape == b.shape else { return false }
        for i in 0..<a.count where a.storage.pointer[i] != b.storage.pointer[i] { return false }
        return true
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let n = min(count, 8)
        let head = (0..<n).map { String(storage.pointer[$0]) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > n ? ", …" : "")])"
    }
}

extension Tensor {
    /// Largest absolute element-wise difference to `other` (shapes must match).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shapes \(shape) and \(other.shape) differ")
        var m: Float = 0
        for i in 0..<count {
            let d = Swift.abs(storage.pointer[i] - other.storage.pointer[i])
            if d > m || d.isNaN { m = d.isNaN ? .nan : d; if d.isNaN { break } }
        }
        return m
    }

    /// Whether all elements are within `atol + rtol * |other|`.
    public func isClose(to other: Tensor, atol: Float = 1e-5, rtol: Float = 1e-5) -> Bool {
        guard shape == other.shape else { return false }
        for i in 0..<count {
            let a = storage.pointer[i], b = other.storage.pointer[i]
            if !(Swift.abs(a - b) <= atol + rtol * Swift.abs(b)) { return false }
        }
        return true
    }
}
