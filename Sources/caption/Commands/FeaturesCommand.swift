/// `caption features`: write an encoder's feature maps to a safetensors file
enum FeaturesCommand: Command {
    static let name = "features"
    static let summary = "write an encoder's feature maps to a safetensors file"
    static let help = """
    usage: caption features [options]

    write an encoder's feature maps to a safetensors file
    (Not implemented yet: see issue 6.)
    """
    static func run(_ arguments: [String]) throws {
        throw CLIError("caption features is not implemented yet (issue 6)")
    }
}
