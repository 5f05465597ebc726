/// `caption score`: score hypothesis captions against references, pycocoevalcap-exact
enum ScoreCommand: Command {
    static let name = "score"
    static let summary = "score hypothesis captions against references, pycocoevalcap-exact"
    static let help = """
    usage: caption score [options]

    score hypothesis captions against references, pycocoevalcap-exact
    (Not implemented yet: see issue 7.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption score is not implemented yet (issue 7)")
    }
}
