/// `caption classify`: ImageNet top-K of an encoder: a sanity check of its weights
enum ClassifyCommand: Command {
    static let name = "classify"
    static let summary = "ImageNet top-K of an encoder: a sanity check of its weights"
    static let help = """
    usage: caption classify [options]

    ImageNet top-K of an encoder: a sanity check of its weights
    (Not implemented yet: see issue 6.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption classify is not implemented yet (issue 6)")
    }
}
