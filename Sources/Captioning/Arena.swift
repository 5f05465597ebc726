/// Scratch buffers for one forward/backward pass, freed together when the arena goes away. After `reset()`
/// the same sequence of requests gets the same blocks back, so a step repeated on an arena kept across
/// steps neither allocates nor faults in fresh pages.
final class Arena {
    private var blocks: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private var cursor = 0

    /// `count` floats (at least one is allocated), zeroed unless `zeroed` is false (then uninitialised).
    func alloc(_ count: Int, zeroed: Bool = true) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        if cursor < blocks.count && blocks[cursor].capacity < n {
            blocks[cursor].pointer.deallocate()
            blocks[cursor] = (UnsafeMutablePointer<Float>.allocate(capacity: n), n)
        } else if cursor == blocks.count {
            blocks.append((UnsafeMutablePointer<Float>.allocate(capacity: n), n))
        }
        let p = blocks[cursor].pointer
        cursor += 1
        if zeroed { p.initialize(repeating: 0, count: n) }
        return p
    }

    /// Makes every block available again (their contents become garbage).
    func reset() { cursor = 0 }

    deinit { for b in blocks { b.pointer.deallocate() } }
}
