/// Named parameters of one model in one contiguous buffer, with a gradient buffer of the same layout.
/// Names and shapes follow PyTorch's state dicts, so a store saves to and loads from safetensors 1:1;
/// contiguity lets optimisers and global-norm clipping run as single loops.
public final class ParameterStore {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    /// Parameter values. Every mutation counts as a new `generation` (caches derived from the values check it).
    public var values: [Float] = [] { didSet { generation &+= 1 } }
    /// Changes whenever `values` is mutated (in place or replaced).
    public private(set) var generation = 0
    public var gradients: [Float] = []

    public init() {}

    /// Reserves room for `count` parameter values (and their gradients) so that registering them does not regrow
    /// and copy the buffers.
    public func reserve(_ count: Int) {
        values.reserveCapacity(count)
        gradients.reserveCapacity(count)
    }

    /// Registers a parameter and returns its offset. Values start at zero.
    @discardableResult
    public func add(_ name: String, shape: [Int]) -> Int {
        precondition(index[name] == nil, "parameter \(name) registered twice")
        let e = Entry(name: name, shape: shape, offset: values.count)
        index[name] = entries.count
        entries.append(e)
        // Appended in place (no temporary arrays): loading a 10 M-parameter model registers every tensor here.
        values.append(contentsOf: repeatElement(0, count: e.count))
        gradients.append(contentsOf: repeatElement(0, count: e.count))
        return e.offset
    }

    public func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    public var count: Int { values.count }

    public func zeroGradients() {
        gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// A copy of one parameter's values.
    public func value(_ name: String) -> [Float] {
        guard let e = entry(name) else { return [] }
        return Array(values[e.offset..<(e.offset + e.count)])
    }

    /// Replaces one parameter's values (count must match).
    public func setValue(_ name: String, _ v: [Float]) {
        guard let e = entry(name) else { preconditionFailure("no parameter \(name)") }
        precondition(v.count == e.count, "parameter \(name): \(v.count) values for shape \(e.shape)")
        values.replaceSubrange(e.offset..<(e.offset + e.count), with: v)
    }

    /// A copy of one parameter's gradient.
    public func gradient(_ name: String) -> [Float] {
        guard let e = entry(name) else { return [] }
        return Array(gradients[e.offset..<(e.offset + e.count)])
    }
}
