/// `caption describe`: caption images with a trained model
enum DescribeCommand: Command {
    static let name = "describe"
    static let summary = "caption images with a trained model"
    static let help = """
    usage: caption describe [options]

    caption images with a trained model
    (Not implemented yet: see issue 9.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption describe is not implemented yet (issue 9)")
    }
}
