/// Zero-initialised scratch buffers for one forward/backward pass, freed together when the arena goes away.
final class Arena {
    private var blocks: [UnsafeMutablePointer<Float>] = []

    /// `count` zeroed floats (at least one is allocated).
    func alloc(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        blocks.append(p)
        return p
    }

    deinit { for b in blocks { b.deallocate() } }
}
