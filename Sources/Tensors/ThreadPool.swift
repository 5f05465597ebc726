#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A persistent pool of worker threads for data-parallel loops (`parallelFor`).
///
/// Workers are created on first use and then sleep on a condition variable between jobs (after
/// a short spin), so a parallel call costs a wake-up, never a thread creation. The calling thread
/// always takes part. A `parallelFor` issued while another one is running (nested, or from a
/// second thread) runs serially on its caller, so kernels may call each other freely.
///
/// The thread count defaults to the environment variable `CAPTION_THREADS` when it holds a
/// positive integer, else to the number of online processors; set `threadCount` to change it.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool used by `sgemm` and the other kernels.
    public static let shared = ThreadPool(threadCount: ThreadPool.defaultThreadCount)

    /// `CAPTION_THREADS` if set to a positive integer (at most 256), else the online processor count.
    public static var defaultThreadCount: Int {
        if let e = getenv("CAPTION_THREADS"), let v = Int(String(cString: e)), v > 0 { return min(v, 256) }
        return CPUFeatures.onlineProcessors
    }

    private let requested: Atomic<Int>
    private let busy = Atomic<Bool>(false)
    private let published = Atomic<Int>(0)      // generation, readable without the lock (spinning)
    private let nextIndex = Atomic<Int>(0)

    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private let done: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `lock`:
    private var generation = 0
    private var job: Job?
    private var participants = 0
    private var attached = 0
    private var workers = 0

    /// Work of one `parallelFor`: the loop body and its extent.
    private final class Job: @unchecked Sendable {
        let body: (Int, Int) -> Void
        let count: Int
        init(_ body: @escaping (Int, Int) -> Void, _ count: Int) { self.body = body; self.count = count }
    }

    /// A pool that runs loops on `threadCount` threads (the caller plus `threadCount - 1` workers).
    public init(threadCount: Int) {
        requested = Atomic(max(1, threadCount))
        lock = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
    }

    /// Threads a loop may use, including the caller (at least 1).
    public var threadCount: Int {
        get { requested.load(ordering: .relaxed) }
        set { requested.store(max(1, min(newValue, 256)), ordering: .relaxed) }
    }

    /// Runs `body(i)` for every `i` in `0..<count`, spread over the pool's threads; returns when all are done.
    /// Iterations may run concurrently and in any order: each must touch memory no other one writes.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        parallelFor(count, maxThreads: threadCount) { i, _ in body(i) }
    }

    /// Runs `body(i, worker)` for every `i` in `0..<count` on at most `maxThreads` threads; `worker` is a
    /// stable index in `0..<maxThreads` of the thread running it (0 is the caller), for per-thread scratch.
    public func parallelFor(_ count: Int, maxThreads: Int, _ body: (Int, Int) -> Void) {
        if count <= 0 { return }
        let t = min(maxThreads, threadCount, count)
        if t <= 1 || !busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            for i in 0..<count { body(i, 0) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            let j = Job(escaping, count)
            pthread_mutex_lock(lock)
            while workers < t - 1 { startWorker(id: workers + 1); workers += 1 }
            nextIndex.store(0, ordering: .relaxed)
            job = j
            participants = t - 1
            generation += 1
            published.store(generation, ordering: .releasing)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(lock)

            while true {
                let i = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= count { break }
                escaping(i, 0)
            }
            // Close the job: late workers find nothing; wait for the ones still attached.
            pthread_mutex_lock(lock)
            job = nil
            while attached > 0 { pthread_cond_wait(done, lock) }
            pthread_mutex_unlock(lock)
        }
        busy.store(false, ordering: .releasing)
    }

    @inline(never)
    private static func drain(_ j: Job, _ next: borrowing Atomic<Int>, _ id: Int) {
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= j.count { break }
            j.body(i, id)
        }
    }

    private func startWorker(id: Int) {
        let context = Unmanaged.passRetained(WorkerContext(pool: self, id: id)).toOpaque()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var tid = pthread_t()
        let rc = pthread_create(&tid, &attr, { arg in
            let ctx = Unmanaged<WorkerContext>.fromOpaque(arg!).takeRetainedValue()
            ctx.pool.workerLoop(id: ctx.id)
            return nil
        }, context)
        pthread_attr_destroy(&attr)
        precondition(rc == 0, "ThreadPool: pthread_create failed (\(rc))")
    }

    private final class WorkerContext {
        let pool: ThreadPool
        let id: Int
        init(pool: ThreadPool, id: Int) { self.pool = pool; self.id = id }
    }

    private func workerLoop(id: Int) {
        var seen = 0
        while true {
            // Spin briefly: back-to-back parallel loops then skip the sleep/wake round trip.
            var spins = 0
            while published.load(ordering: .acquiring) == seen && spins < 20000 { spins += 1 }
            pthread_mutex_lock(lock)
            while generation == seen { pthread_cond_wait(wake, lock) }
            seen = generation
            if job == nil || id > participants { pthread_mutex_unlock(lock); continue }
            // The only owned reference: released before detaching, so the caller's closure never outlives it.
            var current = job
            attached += 1
            pthread_mutex_unlock(lock)
            ThreadPool.drain(current.unsafelyUnwrapped, nextIndex, id)
            current = nil
            pthread_mutex_lock(lock)
            attached -= 1
            if attached == 0 { pthread_cond_signal(done) }
            pthread_mutex_unlock(lock)
        }
    }
}

/// Runs `body(i)` for `i` in `0..<count` on `ThreadPool.shared` (see `ThreadPool.parallelFor`).
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    ThreadPool.shared.parallelFor(count, body)
}
