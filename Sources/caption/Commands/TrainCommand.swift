/// `caption train`: train a decoder (lstm or transformer) on image/caption pairs
enum TrainCommand: Command {
    static let name = "train"
    static let summary = "train a decoder (lstm or transformer) on image/caption pairs"
    static let help = """
    usage: caption train [options]

    train a decoder (lstm or transformer) on image/caption pairs
    (Not implemented yet: see issue 8.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption train is not implemented yet (issue 8)")
    }
}
