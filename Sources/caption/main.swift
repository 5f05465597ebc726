import FoundationEssentials
import Captioning
#if canImport(Glibc)
import Glibc
#endif

/// The version printed by `caption --version`.
let captionVersion = "0.1.0"

/// Every subcommand, in the order `--help` lists them.
let commands: [any Command.Type] = [
    DescribeCommand.self, EvalCommand.self, ScoreCommand.self, TrainCommand.self, VocabCommand.self,
    ClassifyCommand.self, SummaryCommand.self, DistillCommand.self, FeaturesCommand.self, ExportCommand.self, BenchCommand.self,
]

@MainActor func topLevelHelp() -> String {
    var s = """
    caption \(captionVersion): image captioning in one binary (CNN encoder + LSTM-attention or transformer decoder)

    usage: caption <command> [options]
           caption <command> --help

    commands:

    """
    let width = commands.map { $0.name.count }.max() ?? 0
    for c in commands {
        s += "  " + c.name + String(repeating: " ", count: width - c.name.count + 2) + c.summary + "\n"
    }
    s += "\nEvery command prints one `error: …` line and exits non-zero on bad input.\n"
    return s
}

/// One line on stderr (a newline is added when missing).
func writeStderr(_ s: String) {
    writeStandardError(s.hasSuffix("\n") ? s : s + "\n")
}

/// Keeps freed memory in the process for reuse instead of handing it back to the kernel on every `free`.
/// glibc's default serves large blocks with `mmap` and returns them with `munmap` as soon as they are freed
/// (and trims the heap top); with two threads every `munmap` also costs a TLB shoot-down between the CPUs,
/// and every reuse faults in fresh zeroed pages. Decoding one image after another took 0.81 ms per
/// preprocessed 341x256 JPEG instead of 0.34 ms (15,700 page faults instead of 1,800 over `caption bench
/// decode-image encoder --filter preprocess`); MobileNetV2 at batch 16 (77 MB activations) 110 ms instead of
/// 75 (400 k page faults instead of 82 k). So every block comes from the heap (`M_MMAP_MAX` 0: a thread
/// arena that cannot hold a block falls back to the main one), and up to 512 MiB of free heap top is kept.
func keepFreedMemory() {
    #if canImport(Glibc)
    // `mallopt` (<malloc.h>) is not in Swift's Glibc module: look it up.
    // M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3, M_MMAP_MAX = -4.
    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
    let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
    _ = mallopt(-3, 32 << 20)
    _ = mallopt(-4, 0)
    _ = mallopt(-1, 512 << 20)
    #endif
}

@MainActor func mainEntry() -> Int32 {
    keepFreedMemory()
    let argv = Array(CommandLine.arguments.dropFirst())
    guard let first = argv.first else {
        print(topLevelHelp(), terminator: "")
        return 0
    }
    switch first {
    case "--help", "-h", "help":
        if first == "help", argv.count > 1, let c = commands.first(where: { $0.name == argv[1] }) {
            print(c.help)
        } else {
            print(topLevelHelp(), terminator: "")
        }
        return 0
    case "--version", "-V":
        print("caption \(captionVersion)")
        return 0
    default:
        break
    }
    guard let command = commands.first(where: { $0.name == first }) else {
        writeStderr("error: unknown command '\(first)' (run `caption --help` for the list)")
        return 2
    }
    let rest = Array(argv.dropFirst())
    if rest.contains("--help") || rest.contains("-h") {
        print(command.help)
        return 0
    }
    do {
        try command.run(rest)
        return 0
    } catch is SilentFailure {
        return 1
    } catch let e as CLIError {
        writeStderr("error: \(e.description)")
        return 1
    } catch {
        writeStderr("error: \(error)")
        return 1
    }
}

// Past a file-size limit (`ulimit -f`), write() then fails with EFBIG and the error is reported (the temporary
// file removed, the previous file kept) instead of the process being killed by SIGXFSZ.
signal(SIGXFSZ, SIG_IGN)
exit(mainEntry())
