/// `caption distill`: train a small CNN to reproduce a pretrained encoder's region features
enum DistillCommand: Command {
    static let name = "distill"
    static let summary = "train a small CNN to reproduce a pretrained encoder's region features"
    static let help = """
    usage: caption distill [options]

    train a small CNN to reproduce a pretrained encoder's region features
    (Not implemented yet: see issue 10.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption distill is not implemented yet (issue 10)")
    }
}
