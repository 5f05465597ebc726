import Captioning
import Tensors
import Vision

/// `caption classify`: ImageNet top-K of an encoder: a sanity check of its weights
enum ClassifyCommand: Command {
    static let name = "classify"
    static let summary = "ImageNet top-K of an encoder: a sanity check of its weights"
    static let help = """
    usage: caption classify IMAGE|DIR... [--encoder NAME] --encoder-weights FILE [--top K] [--json]

    Runs the encoder's ImageNet classifier on each image (a directory means the images directly inside it)
    and prints the K most probable of the 1000 ImageNet classes with their softmax probabilities, e.g.

      chelsea.png
        0.5123  tiger cat  (282)

    mobilenet_v2 has 1001 outputs (index 0 = background, shown as `background` with class -1); resnet*
    need weights that include `fc.*`. The small CNN has no classifier.

      --encoder NAME       resnet18 | resnet34 | resnet50 | mobilenet_v2 (default mobilenet_v2)
      --encoder-weights F  the encoder's weights (.safetensors)
      --top K              classes per image (default 5)
      --batch-size N       images per call (default 8)
      --json               [{"image", "top": [{"class", "name", "probability"}, ...]}, ...] on stdout
    """

    static func run(_ arguments: [String]) throws {
        let a = try Arguments(arguments, valued: ["--encoder", "--encoder-weights", "--top", "--batch-size"], flags: ["--json"])
        let name = a.value("--encoder") ?? "mobilenet_v2"
        guard EncoderCatalog.names.contains(name) else {
            throw CLIError("--encoder expects one of \(EncoderCatalog.names.joined(separator: ", ")), got '\(name)'")
        }
        guard name != "small" else { throw CLIError("encoder small has no ImageNet classifier (use resnet18/34/50 or mobilenet_v2)") }
        let weights = try a.required("--encoder-weights")
        let k = try a.int("--top", default: 5, range: 1...1001)
        let batch = try a.int("--batch-size", default: 8, range: 1...4096)
        guard !a.positionals.isEmpty else { throw CLIError("no image given (see --help)") }
        let paths = try ImagePaths.expand(a.positionals)
        let encoder = try LoadedEncoder(name: name, weights: weights, classifier: true)

        var results: [(String, [(index: Int, name: String, probability: Float)])] = []
        var s = 0
        while s < paths.count {
            let chunk = Array(paths[s..<min(s + batch, paths.count)])
            var inputs: [Tensor] = []
            for p in chunk { inputs.append(try encoder.input(path: p)) }
            let logits = try encoder.logits(stackImages(inputs))
            for (p, top) in zip(chunk, ImageNetClasses.top(logits, k: k)) { results.append((p, top)) }
            s += chunk.count
        }
        let background = name == "mobilenet_v2"
        func classIndex(_ i: Int) -> Int { background ? i - 1 : i }
        if a.flag("--json") {
            let items = results.map { path, top in
                "{\"image\": \(CommandSupport.json(path)), \"top\": ["
                    + top.map { "{\"class\": \(classIndex($0.index)), \"name\": \(CommandSupport.json($0.name)), \"probability\": \(CommandSupport.json(Double($0.probability)))}" }
                        .joined(separator: ", ") + "]}"
            }
            CommandSupport.out("[" + items.joined(separator: ",\n ") + "]")
        } else {
            var text = ""
            for (path, top) in results {
                text += path + "\n"
                for t in top { text += "  \(CommandSupport.fixed(Double(t.probability)))  \(t.name)  (\(classIndex(t.index)))\n" }
            }
            print(text, terminator: "")
        }
    }
}
