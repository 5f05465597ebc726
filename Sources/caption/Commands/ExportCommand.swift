import Captioning
import SafeTensors

/// `caption export`: a captioning model ready to ship (float16 weights, no training state)
enum ExportCommand: Command {
    static let name = "export"
    static let summary = "write a model for shipping: float16 weights, training state removed"
    static let help = """
    usage: caption export --model FILE --out FILE [--float32] [--keep-training-state]

    Reads a captioning model or training checkpoint and writes it again for shipping (atomically): weights
    stored as float16 (half the size; widened to float32 when loaded), optimiser moments and training state
    dropped, so the file holds only what `caption describe` needs: config, vocabulary, decoder and (for an
    embedded encoder) encoder weights. Prints the size and the parameter count.

      --model FILE            the model or checkpoint to read
      --out FILE              where to write the exported model
      --float32               keep float32 weights
      --keep-training-state   keep the training metadata (optimiser tensors are always dropped)
    """

    static func run(_ arguments: [String]) throws {
        let a = try Arguments(arguments, valued: ["--model", "--out"], flags: ["--float32", "--keep-training-state"])
        guard a.positionals.isEmpty else { throw CLIError("unexpected argument '\(a.positionals[0])' (see --help)") }
        let input = try a.required("--model"), out = try a.required("--out")
        var model: ModelFile
        do { model = try ModelFile(contentsOf: input) } catch { throw CLIError(error.description) }
        for k in model.tensors.keys where k.hasPrefix("optimizer.") { model.tensors[k] = nil }
        if !a.flag("--keep-training-state") {
            for k in model.extraMetadata.keys where k.hasPrefix("training.") || k.hasPrefix("optimizer.") { model.extraMetadata[k] = nil }
        }
        let half = !a.flag("--float32")
        do {
            let bytes = try model.serialized(halfPrecision: half)
            try FileBytes.writeAtomically(bytes, to: out)
            let params = model.tensors.values.reduce(0) { $0 + $1.values.count }
            print("\(out): \(params) values as \(half ? "float16" : "float32"), \(bytes.count) bytes")
        } catch {
            throw CLIError("\(out): \(error.description)")
        }
    }
}
