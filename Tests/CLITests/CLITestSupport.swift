import XCTest
import Foundation

/// A tiny synthetic dataset (flickr8k layout, PPM images written here) and one model trained on it with the
/// small encoder, shared by the command tests so `caption train` runs once per test process.
final class CLIFixture: @unchecked Sendable {
    nonisolated(unsafe) static var cached: CLIFixture?

    let root: String
    var data: String { root + "/data" }
    var cache: String { root + "/cache" }
    var runDirectory: String { root + "/run" }
    var model: String { runDirectory + "/model.safetensors" }
    var trainResult: CLIResult!

    static let colours: [(String, [UInt8])] = [
        ("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 40, 220]), ("white", [250, 250, 250]),
        ("black", [5, 5, 5]), ("yellow", [240, 230, 20]), ("purple", [140, 30, 160]), ("orange", [250, 140, 10]),
    ]

    /// The arguments of the shared training run (tiny sizes, 2 epochs).
    func trainArguments(out: String, epochs: Int = 2) -> [String] {
        ["train", "--data", data, "--encoder", "small", "--decoder", "lstm", "--epochs", String(epochs), "--batch-size", "4",
         "--embedding-size", "16", "--attention-size", "16", "--hidden-size", "24", "--learning-rate", "0.01",
         "--min-count", "1", "--out", out, "--cache", cache, "--seed", "3", "--quiet"]
    }

    static func shared() throws -> CLIFixture {
        if let c = cached { return c }
        let f = try CLIFixture()
        cached = f
        return f
    }

    private init() throws {
        root = NSTemporaryDirectory() + "caption-cli-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root + "/data/images", withIntermediateDirectories: true)
        var captions = ""
        var names: [String] = []
        for (i, (colour, rgb)) in CLIFixture.colours.enumerated() {
            let name = "\(colour).ppm"
            names.append(name)
            try CLIFixture.writePPM(root + "/data/images/" + name, size: 24, rgb: rgb, stripe: i)
            captions += "\(name)#0\tA \(colour) square .\n\(name)#1\tThe picture is \(colour) .\n"
        }
        try captions.write(toFile: data + "/captions.txt", atomically: true, encoding: .utf8)
        try names.prefix(6).joined(separator: "\n").write(toFile: data + "/train.txt", atomically: true, encoding: .utf8)
        try names.suffix(2).joined(separator: "\n").write(toFile: data + "/val.txt", atomically: true, encoding: .utf8)
        try names.suffix(2).joined(separator: "\n").write(toFile: data + "/test.txt", atomically: true, encoding: .utf8)
        trainResult = try CLIRunner.run(trainArguments(out: runDirectory))
    }

    /// A binary PPM (P6): a solid colour with a darker horizontal stripe at a position set by `stripe`.
    static func writePPM(_ path: String, size: Int, rgb: [UInt8], stripe: Int) throws {
        var bytes = Array("P6\n\(size) \(size)\n255\n".utf8)
        for y in 0..<size {
            for _ in 0..<size {
                let dark = (y / 3) == stripe
                bytes += rgb.map { dark ? $0 / 3 : $0 }
            }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Every tensor of a safetensors file whose name starts with `prefix`, as raw little-endian bytes (read here
    /// with Foundation, independently of the project's reader).
    static func tensors(_ path: String, prefix: String) throws -> [String: Data] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = d.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: d.subdata(in: 8..<(8 + n))) as! [String: Any]
        var out: [String: Data] = [:]
        for (k, v) in header where k.hasPrefix(prefix) {
            let info = v as! [String: Any]
            let offsets = info["data_offsets"] as! [Int]
            out[k] = d.subdata(in: (8 + n + offsets[0])..<(8 + n + offsets[1]))
        }
        return out
    }

    static func metadata(_ path: String) throws -> [String: String] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = d.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: d.subdata(in: 8..<(8 + n))) as! [String: Any]
        return header["__metadata__"] as? [String: String] ?? [:]
    }
}

/// A `caption` process running in the background, its stderr read as it comes.
final class BackgroundCaption: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var errText = ""
    private let errPipe = Pipe(), outPipe = Pipe()

    init(_ arguments: [String]) throws {
        process.executableURL = CLIRunner.executable
        process.arguments = arguments
        process.standardError = errPipe
        process.standardOutput = outPipe
        process.standardInput = FileHandle.nullDevice
        errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.errText += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        outPipe.fileHandleForReading.readabilityHandler = { h in _ = h.availableData }
        try process.run()
    }

    var stderr: String { lock.lock(); defer { lock.unlock() }; return errText }

    /// Waits until stderr contains `text` (or the process ends, or `timeout` passes); true when it appeared.
    func wait(for text: String, timeout: Double = 20) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if stderr.contains(text) { return true }
            if !process.isRunning { return stderr.contains(text) }
            usleep(2000)
        }
        return false
    }

    func finish() -> Int32 {
        process.waitUntilExit()
        errPipe.fileHandleForReading.readabilityHandler = nil
        outPipe.fileHandleForReading.readabilityHandler = nil
        if let rest = try? errPipe.fileHandleForReading.readToEnd() {
            lock.lock(); errText += String(decoding: rest, as: UTF8.self); lock.unlock()
        }
        return process.terminationStatus
    }
}

/// A hostile input's outcome: a non-zero exit that is not a signal, and exactly one `error:` line naming `name`.
func assertOneErrorLine(_ r: CLIResult, naming name: String, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertNotEqual(r.status, 0, context, file: file, line: line)
    XCTAssertLessThan(r.status, 128, "\(context): killed by a signal", file: file, line: line)
    let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
    XCTAssertEqual(lines.count, 1, "\(context): \(r.stderr)", file: file, line: line)
    XCTAssertTrue(lines.first?.contains(name) ?? false, "\(context): the error names \(name): \(r.stderr)", file: file, line: line)
}
