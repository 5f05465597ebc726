/// One subcommand of `caption`. Each lives in its own file under `Commands/`.
protocol Command {
    /// The word after `caption`.
    static var name: String { get }
    /// One line for `caption --help`.
    static var summary: String { get }
    /// The full `--help` text.
    static var help: String { get }
    /// Runs with the arguments after the command name. Throws `CLIError` (or any error) on failure.
    static func run(_ arguments: [String]) throws
}
