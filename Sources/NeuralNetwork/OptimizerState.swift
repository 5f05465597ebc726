import Tensors

/// Saving and restoring optimiser state (for exact resume), keyed by parameter name:
/// Adam `exp_avg.<name>`, `exp_avg_sq.<name>`, `step.<name>` (a one-element tensor);
/// SGD `momentum_buffer.<name>`. Parameters without state (never stepped) have no entries.
extension Adam {
    public func stateTensors(_ named: [(String, Variable)]) -> [(String, Tensor)] {
        named.flatMap { name, p -> [(String, Tensor)] in
            guard let s = states[ObjectIdentifier(p)] else { return [] }
            return [("exp_avg.\(name)", s.m), ("exp_avg_sq.\(name)", s.v), ("step.\(name)", Tensor([Float(s.step)]))]
        }
    }

    /// Restores what `stateTensors` produced; every shape is validated before anything changes.
    public func loadState(_ tensors: [String: Tensor], _ named: [(String, Variable)]) throws(StateDictError) {
        var new: [ObjectIdentifier: State] = [:]
        for (name, p) in named {
            let m = tensors["exp_avg.\(name)"], v = tensors["exp_avg_sq.\(name)"], st = tensors["step.\(name)"]
            if m == nil && v == nil && st == nil { continue }
            guard let m, let v, let st else { throw StateDictError("incomplete Adam state for '\(name)'") }
            guard m.shape == p.shape, v.shape == p.shape, st.count == 1, st[flat: 0] >= 0 else {
                throw StateDictError("Adam state for '\(name)' does not match parameter shape \(p.shape)")
            }
            new[ObjectIdentifier(p)] = State(m: m, v: v, step: Int(st[flat: 0]))
        }
        states = new
    }
}

extension SGD {
    public func stateTensors(_ named: [(String, Variable)]) -> [(String, Tensor)] {
        named.compactMap { name, p in buffers[ObjectIdentifier(p)].map { ("momentum_buffer.\(name)", $0) } }
    }

    public func loadState(_ tensors: [String: Tensor], _ named: [(String, Variable)]) throws(StateDictError) {
        var new: [ObjectIdentifier: Tensor] = [:]
        for (name, p) in named {
            guard let b = tensors["momentum_buffer.\(name)"] else { continue }
            guard b.shape == p.shape else { throw StateDictError("momentum buffer for '\(name)' has shape \(b.shape), expected \(p.shape)") }
            new[ObjectIdentifier(p)] = b
        }
        buffers = new
    }
}
