/// `caption vocab`: build a vocabulary from a dataset's train split
enum VocabCommand: Command {
    static let name = "vocab"
    static let summary = "build a vocabulary from a dataset's train split"
    static let help = """
    usage: caption vocab [options]

    build a vocabulary from a dataset's train split
    (Not implemented yet: see issue 7.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption vocab is not implemented yet (issue 7)")
    }
}
