/// `caption summary`: layers, output shapes and parameter counts of a model
enum SummaryCommand: Command {
    static let name = "summary"
    static let summary = "layers, output shapes and parameter counts of a model"
    static let help = """
    usage: caption summary [options]

    layers, output shapes and parameter counts of a model
    (Not implemented yet: see issue 8.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption summary is not implemented yet (issue 8)")
    }
}
