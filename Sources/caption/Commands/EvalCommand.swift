/// `caption eval`: caption a dataset split and score it (BLEU-1..4, CIDEr-D, ROUGE-L)
enum EvalCommand: Command {
    static let name = "eval"
    static let summary = "caption a dataset split and score it (BLEU-1..4, CIDEr-D, ROUGE-L)"
    static let help = """
    usage: caption eval [options]

    caption a dataset split and score it (BLEU-1..4, CIDEr-D, ROUGE-L)
    (Not implemented yet: see issue 9.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption eval is not implemented yet (issue 9)")
    }
}
