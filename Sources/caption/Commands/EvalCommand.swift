import Captioning
import SafeTensors

/// `caption eval`: caption a dataset split and score it (BLEU-1..4, CIDEr-D, ROUGE-L)
enum EvalCommand: Command {
    static let name = "eval"
    static let summary = "caption a dataset split and score it (BLEU-1..4, CIDEr-D, ROUGE-L)"
    static let help = """
    usage: caption eval --model FILE --data DATASET [--split test] [--beam N] [--limit N] [--predictions FILE] [--json]

    Captions every image of a split with batched beam search and scores the captions against the split's raw
    references (pycocoevalcap protocol: BLEU-1..4, CIDEr-D, ROUGE-L). Prints the figures, images/s and seconds.

    \(CommandSupport.datasetHelp)
      --model FILE         the model (model.safetensors of a training run)
      --encoder-weights F  the pretrained encoder weights the model was trained with (unless embedded)
      --split S            train | val | test | all (default test)
      --limit N            the first N images of the split
      --beam N             beam width (default 3; 1 = greedy)
      --max-length N       longest caption in words (default 20)
      --length-penalty P   ALPHA (score / length^ALPHA; default 0.75 with beams, chosen on
                           Flickr8k val; none for --beam 1) | none | gnmt:ALPHA
      --batch N            images decoded together (default 32)
      --cache DIR          feature cache (default $CAPTION_CACHE or ~/.cache/caption/features)
      --predictions FILE   also write the captions: `IMAGE<TAB>caption` lines, or a COCO results JSON
                           `[{"image_id", "caption"}]` when FILE ends in .json
      --json               print {"images","beam","bleu1".."bleu4","cider","rouge_l","seconds","images_per_s"}
    """

    static func run(_ arguments: [String]) throws {
        let a = try Arguments(arguments, valued: CommandSupport.datasetOptions.union([
            "--model", "--encoder-weights", "--split", "--limit", "--beam", "--max-length", "--length-penalty", "--batch",
            "--cache", "--predictions",
        ]), flags: ["--json", "--quiet"])
        guard a.positionals.isEmpty else { throw CLIError("unexpected argument '\(a.positionals[0])' (see --help)") }
        let modelPath = try a.required("--model")
        let beam = try a.int("--beam", default: 3, range: 1...100)
        let maxLength = try a.int("--max-length", default: 20, range: 1...200)
        let batch = try a.int("--batch", default: 32, range: 1...100_000)
        let penalty = try CommandSupport.lengthPenalty(a)
        let started = CommandSupport.now()
        let (model, encoder) = try CommandSupport.model(modelPath, encoderWeights: a.value("--encoder-weights"))
        let dataset = try CommandSupport.dataset(a)
        var images = try dataset.split(a.value("--split") ?? "test")
        if a.value("--limit") != nil { images = Array(images.prefix(try a.int("--limit", default: 0, range: 1...Int.max))) }
        guard !images.isEmpty else { throw CLIError("the split has no images") }
        let progress = !a.flag("--quiet")

        let spec = model.config.encoder
        let cache = FeatureCache(directory: CommandSupport.cacheDirectory(a))
        let features = try cache.features(encoderKey: encoder.cacheKey, images: images.map(\.path), regions: spec.regions,
                                          channels: spec.channels, chunk: 16, progressLabel: progress ? "features" : nil) { chunk in
            try encoder.encode(paths: chunk)
        }
        let options = model.searchOptions(beam: beam, maxLength: maxLength, lengthPenalty: penalty)
        let reporter = progress ? ProgressReporter("decode (beam \(beam))", total: images.count, unit: "img") : nil
        let hyps = model.decode(features: features, imageCount: images.count, options: options, batch: batch, progress: reporter)
        var hypotheses: [String: String] = [:]
        var references: [String: [String]] = [:]
        var ordered: [(String, String)] = []
        for (im, h) in zip(images, hyps) {
            let caption = h.first.map(model.caption) ?? ""
            hypotheses[im.name] = caption
            references[im.name] = im.captions
            ordered.append((im.name, caption))
        }
        let scores = try scoreCaptions(hypotheses: hypotheses, references: references)
        let seconds = CommandSupport.now() - started
        if let p = a.value("--predictions") { try writePredictions(ordered, to: p) }
        let rate = Double(images.count) / max(seconds, 1e-9)
        if a.flag("--json") {
            let b = scores.bleu
            CommandSupport.out("{\"images\": \(images.count), \"beam\": \(beam), \"bleu1\": \(CommandSupport.json(b[0])), \"bleu2\": \(CommandSupport.json(b[1])), \"bleu3\": \(CommandSupport.json(b[2])), \"bleu4\": \(CommandSupport.json(b[3])), \"cider\": \(CommandSupport.json(scores.cider)), \"rouge_l\": \(CommandSupport.json(scores.rougeL)), \"seconds\": \(CommandSupport.json(seconds)), \"images_per_s\": \(CommandSupport.json(rate))}")
        } else {
            let f = { CommandSupport.fixed($0) }
            CommandSupport.out("""
            images   \(images.count) (\(a.value("--split") ?? "test") split), beam \(beam)
            BLEU-1   \(f(scores.bleu[0]))
            BLEU-2   \(f(scores.bleu[1]))
            BLEU-3   \(f(scores.bleu[2]))
            BLEU-4   \(f(scores.bleu[3]))
            CIDEr-D  \(f(scores.cider))
            ROUGE-L  \(f(scores.rougeL))
            speed    \(CommandSupport.fixed(rate, 1)) images/s, \(CommandSupport.fixed(seconds, 1)) s
            """)
        }
    }

    /// `IMAGE<TAB>caption` lines, or the COCO results JSON when the path ends in `.json`; written atomically.
    static func writePredictions(_ rows: [(String, String)], to path: String) throws {
        var text = ""
        if path.lowercased().hasSuffix(".json") {
            text = "[\n" + rows.map { "  {\"image_id\": \(CommandSupport.json($0.0)), \"caption\": \(CommandSupport.json($0.1))}" }.joined(separator: ",\n") + "\n]\n"
        } else {
            for (n, c) in rows { text += "\(n)\t\(c)\n" }
        }
        try FileBytes.writeAtomically(Array(text.utf8), to: path)
    }
}
