#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensors

/// The 1000 ImageNet-1k classes, in torchvision's order and spelling (`ImageNetClassNames.swift`, generated).
/// Models with 1001 outputs (MobileNetV2 from TF-slim) put `background` at index 0 and class `i` at `i + 1`.
public enum ImageNetClasses {
    /// torchvision's name of output `index`; with `background`, index 0 is `"background"` and `i` is class `i - 1`.
    /// Out-of-range indices give `"class <index>"`.
    public static func name(_ index: Int, background: Bool = false) -> String {
        let i = background ? index - 1 : index
        if background && index == 0 { return "background" }
        return names.indices.contains(i) ? names[i] : "class \(index)"
    }

    /// The full synonym list of output `index` (`"tabby, tabby cat"`), indexed as `name`.
    public static func synonyms(_ index: Int, background: Bool = false) -> String {
        let i = background ? index - 1 : index
        if background && index == 0 { return "background" }
        return synonyms.indices.contains(i) ? synonyms[i] : "class \(index)"
    }

    /// The `k` most probable classes of one row of logits (softmax in float64; ties keep the lower index).
    /// 1001 logits are read with `background` first; any other count uses indices as they are.
    public static func top(_ logits: [Float], k: Int = 5) -> [(index: Int, name: String, probability: Float)] {
        guard !logits.isEmpty else { return [] }
        let background = logits.count == 1001
        let m = Double(logits.max()!)
        let e = logits.map { exp(Double($0) - m) }
        let total = e.reduce(0, +)
        let order = logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        return order.prefix(max(k, 0)).map { ($0, name($0, background: background), Float(e[$0] / total)) }
    }

    /// `top` for each row of `[N, classes]` logits.
    public static func top(_ logits: Tensor, k: Int = 5) -> [[(index: Int, name: String, probability: Float)]] {
        precondition(logits.rank == 2, "top-k expects [N, classes] logits, got \(logits.shape)")
        let c = logits.shape[1], v = logits.scalars
        return (0..<logits.shape[0]).map { top(Array(v[($0 * c)..<(($0 + 1) * c)]), k: k) }
    }
}
