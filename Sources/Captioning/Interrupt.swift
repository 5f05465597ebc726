import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT/SIGTERM while training: the trainer finishes the current step, saves and stops.
let interruptRequested = Atomic<Bool>(false)

/// Installs the SIGINT/SIGTERM handlers used by long-running commands.
public enum Interrupt {
    public static func install() {
        signal(SIGINT) { _ in interruptRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in interruptRequested.store(true, ordering: .relaxed) }
    }

    public static var requested: Bool { interruptRequested.load(ordering: .relaxed) }

    /// For tests.
    public static func request() { interruptRequested.store(true, ordering: .relaxed) }
    public static func reset() { interruptRequested.store(false, ordering: .relaxed) }
}
