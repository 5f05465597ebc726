import Captioning
import SafeTensors
import Tensors
import Vision

/// `caption features`: write an encoder's feature maps to a safetensors file
enum FeaturesCommand: Command {
    static let name = "features"
    static let summary = "write an encoder's feature maps to a safetensors file"
    static let help = """
    usage: caption features --encoder NAME [--encoder-weights FILE] IMAGE|DIR... --out FILE.safetensors
                            [--preprocessing P] [--batch-size N] [--quiet]

    Runs the encoder on each image (a directory means the images directly inside it) and writes its last
    feature map as a float32 tensor [C, H, W] named by the image's file name (e.g. `dog.jpg`: [1280, 7, 7]
    for mobilenet_v2, [512, 7, 7] for resnet18/34, [2048, 7, 7] for resnet50). Two images with the same file
    name are refused. The file is written atomically, once every image has been encoded: a bad image is one
    error line naming it and leaves no output. `__metadata__` holds encoder, preprocessing, weights_sha256.

      --encoder NAME       resnet18 | resnet34 | resnet50 | mobilenet_v2 | small
      --encoder-weights F  the encoder's weights (.safetensors; torchvision names for resnet*, the
                           dequantized MobileNetV2 file, or a small CNN written by `caption distill`)
      --preprocessing P    imagenet | mobilenet | direct (default: the encoder's own)
      --batch-size N       images per encoder call (default 8)
      --out FILE           the safetensors file to write
      --quiet              no progress line
    """

    static func run(_ arguments: [String]) throws {
        let a = try Arguments(arguments, valued: ["--encoder", "--encoder-weights", "--out", "--batch-size", "--preprocessing"],
                              flags: ["--quiet"])
        let name = try a.required("--encoder")
        guard EncoderCatalog.names.contains(name) else {
            throw CLIError("--encoder expects one of \(EncoderCatalog.names.joined(separator: ", ")), got '\(name)'")
        }
        let out = try a.required("--out")
        guard !a.positionals.isEmpty else { throw CLIError("no image given (see --help)") }
        let batch = try a.int("--batch-size", default: 8, range: 1...4096)
        var pre: Preprocessing? = nil
        if let p = a.value("--preprocessing") {
            guard let v = Preprocessing(rawValue: p) else { throw CLIError("--preprocessing expects imagenet, mobilenet or direct, got '\(p)'") }
            pre = v
        }
        try ImagePaths.checkOutput(out)
        let paths = try ImagePaths.expand(a.positionals)
        var seen: [String: String] = [:]
        for p in paths {
            let base = FileSystem.baseName(p)
            if let other = seen[base] {
                throw CLIError("two images are named \(base) (\(other) and \(p)): tensors are named by file name, encode them separately")
            }
            seen[base] = p
        }
        let weights = a.value("--encoder-weights")
        if name == "small" && weights == nil {
            throw CLIError("encoder small needs --encoder-weights FILE (a small CNN written by `caption distill`)")
        }
        if name != "small" && weights == nil {
            throw CLIError("encoder \(name) needs its pretrained weights: pass --encoder-weights FILE")
        }
        let encoder = try LoadedEncoder(name: name, weights: weights)
        let preprocessing = pre ?? encoder.preprocessing

        var writer = SafeTensorsWriter()
        var shape: [Int] = []
        let progress = a.flag("--quiet") || paths.count <= batch ? nil : ProgressReporter("features", total: paths.count, unit: "img")
        var s = 0
        while s < paths.count {
            let chunk = Array(paths[s..<min(s + batch, paths.count)])
            var inputs: [Tensor] = []
            for p in chunk { inputs.append(try encoder.input(path: p, preprocessing: preprocessing)) }
            let f = encoder.features(stackImages(inputs))
            shape = Array(f.shape.dropFirst())
            let per = f.count / max(chunk.count, 1)
            let values = f.scalars
            for (i, p) in chunk.enumerated() {
                try writer.add(name: FileSystem.baseName(p), floats: Array(values[(i * per)..<((i + 1) * per)]), shape: shape)
            }
            s += chunk.count
            progress?.update(s)
        }
        progress?.finish()
        var meta = ["encoder": name, "preprocessing": preprocessing.rawValue, "images": String(paths.count),
                    "shape": "[" + shape.map(String.init).joined(separator: ", ") + "]"]
        if let sha = encoder.weightsSHA256 { meta["weights_sha256"] = sha }
        try writer.write(to: out, metadata: meta)
        CommandSupport.out("\(paths.count) feature map\(paths.count == 1 ? "" : "s") \(shape) written to \(out)")
    }
}
