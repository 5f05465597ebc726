import Tensors

/// A layer or model: owns parameters (and buffers such as BatchNorm running statistics) under
/// PyTorch state-dict names, so a `state_dict()` maps 1:1 to `stateDict`.
public protocol Module: AnyObject {
    /// Trainable parameters, named as in PyTorch (`weight`, `encoder_att.bias`, …), submodules included.
    var namedParameters: [(String, Variable)] { get }
    /// Non-trainable state saved in state dicts (`running_mean`, …). Default: none.
    var namedBuffers: [(String, Variable)] { get }
    /// Switches training behaviour (dropout, batch statistics). Containers forward it. Default: no-op.
    func setTraining(_ training: Bool)
}

extension Module {
    public var namedBuffers: [(String, Variable)] { [] }
    public func setTraining(_ training: Bool) {}
    /// The parameters without names.
    public var parameters: [Variable] { namedParameters.map(\.1) }
    /// Parameters and buffers, in declaration order.
    public var stateEntries: [(String, Variable)] { namedParameters + namedBuffers }
    /// Total number of parameter elements.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.1.value.count } }
    /// Clears all parameter gradients.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
    /// Freezes (or unfreezes) every parameter.
    public func setRequiresGrad(_ on: Bool) { for p in parameters { p.requiresGrad = on } }
}

/// Prefixes names with `prefix.`.
public func prefixed(_ prefix: String, _ entries: [(String, Variable)]) -> [(String, Variable)] {
    entries.map { ("\(prefix).\($0.0)", $0.1) }
}

/// A new trainable leaf.
@inline(__always) func parameter(_ t: Tensor) -> Variable { Variable(t, requiresGrad: true) }

/// Modules applied in order, named `0`, `1`, … as in `nn.Sequential`.
public final class Sequential: Module {
    public let layers: [any Module & UnaryLayer]
    public init(_ layers: [any Module & UnaryLayer]) { self.layers = layers }
    public var namedParameters: [(String, Variable)] {
        layers.enumerated().flatMap { prefixed(String($0.offset), $0.element.namedParameters) }
    }
    public var namedBuffers: [(String, Variable)] {
        layers.enumerated().flatMap { prefixed(String($0.offset), $0.element.namedBuffers) }
    }
    public func setTraining(_ training: Bool) { for l in layers { l.setTraining(training) } }
    public func callAsFunction(_ x: Variable) -> Variable { layers.reduce(x) { $1.forward($0) } }
}

/// A module with a single input and output.
public protocol UnaryLayer {
    func forward(_ x: Variable) -> Variable
}
