import SafeTensors
import Tensors

/// One-line error from loading or saving a state dict.
public struct StateDictError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Maps a module's named parameters and buffers to and from safetensors files (names as
/// PyTorch's `state_dict()`, optionally under a prefix such as `encoder.`).
public enum StateDict {
    /// Keys skipped on load by default: `num_batches_tracked` counters, which this library does not use.
    public static func defaultIgnore(_ key: String) -> Bool { key.hasSuffix("num_batches_tracked") }

    /// Loads every entry of `module` from `file` by name (`prefix + name`), after validating that
    /// all are present with the right shapes; nothing is changed when validation fails.
    /// With `strict`, keys under `prefix` that the module lacks are an error too.
    public static func load(_ module: any Module, from file: SafeTensorsFile, prefix: String = "", strict: Bool = true,
                            ignore: (String) -> Bool = StateDict.defaultIgnore) throws(StateDictError) {
        let entries = module.stateEntries
        for (name, v) in entries {
            let key = prefix + name
            guard file.tensors[key] != nil else { throw StateDictError("missing key '\(key)' in state dict") }
            let s = (try? file.shape(key)) ?? []
            guard s == v.shape else {
                throw StateDictError("shape mismatch for '\(key)': file has \(s), model expects \(v.shape)")
            }
        }
        if strict {
            let known = Set(entries.map { prefix + $0.0 })
            for key in file.names where key.hasPrefix(prefix) && !known.contains(key) && !ignore(key) {
                throw StateDictError("unexpected key '\(key)' in state dict")
            }
        }
        var loaded: [Tensor] = []
        for (name, v) in entries {
            let key = prefix + name
            do {
                loaded.append(Tensor(shape: v.shape, try file.floats(key)))
            } catch {
                throw StateDictError("cannot read '\(key)': \(error)")
            }
        }
        for ((_, v), t) in zip(entries, loaded) { v.value = t }
    }

    /// Loads from a safetensors file path.
    public static func load(_ module: any Module, path: String, prefix: String = "", strict: Bool = true) throws(StateDictError) {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(contentsOf: path) } catch { throw StateDictError("\(path): \(error)") }
        try load(module, from: file, prefix: prefix, strict: strict)
    }

    /// Adds every entry of `module` to `writer` as `prefix + name`.
    public static func add(_ module: any Module, to writer: inout SafeTensorsWriter, prefix: String = "",
                           dtype: SafeTensorsDType = .f32) throws(StateDictError) {
        for (name, v) in module.stateEntries {
            do { try writer.add(name: prefix + name, floats: v.value.scalars, shape: v.shape, dtype: dtype) } catch {
                throw StateDictError("cannot add '\(prefix + name)': \(error)")
            }
        }
    }

    /// Writes `module` alone to `path` (atomically).
    public static func save(_ module: any Module, to path: String, metadata: [String: String] = [:],
                            dtype: SafeTensorsDType = .f32) throws(StateDictError) {
        var w = SafeTensorsWriter()
        try add(module, to: &w, dtype: dtype)
        do { try w.write(to: path, metadata: metadata) } catch { throw StateDictError("\(path): \(error)") }
    }
}
