/// `caption bench`: speed figures (median/min/max of repeated runs); build with -c release
enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "speed figures (median/min/max of repeated runs); build with -c release"
    static let help = """
    usage: caption bench [options]

    speed figures (median/min/max of repeated runs); build with -c release
    (Not implemented yet: see issue 3.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption bench is not implemented yet (issue 3)")
    }
}
