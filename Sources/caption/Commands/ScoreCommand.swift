import FoundationEssentials
import Metrics
import SafeTensors

/// `caption score`: score hypothesis captions against references, pycocoevalcap-exact
enum ScoreCommand: Command {
    static let name = "score"
    static let summary = "score hypothesis captions against references, pycocoevalcap-exact"
    static let help = """
    usage: caption score --hypotheses FILE --references FILE [--json] [--per-image FILE] [--allow-missing]

    Scores captions made by anything with BLEU-1..4, CIDEr-D and ROUGE-L exactly as pycocoevalcap does
    (its PTB tokenizer, lower-cased, punctuation dropped; no Java or Python needed).

    options:
      --hypotheses FILE   one caption per image: lines IMAGE<TAB>caption, or COCO results JSON
                          [{"image_id": …, "caption": …}]
      --references FILE   any number per image: lines IMAGE#N<TAB>caption or IMAGE<TAB>caption, or a COCO
                          captions file {"images": […], "annotations": [{"image_id", "caption"}…]}
      --json              print one JSON object {"images", "bleu1".."bleu4", "cider", "rouge_l"}, full precision
      --per-image FILE    also write every image's scores: JSON if FILE ends in .json, else tab-separated
      --allow-missing     skip (and report on stderr) images that have a hypothesis but no references or
                          references but no hypothesis, instead of failing on the first one
      --max-line-bytes N  longest caption line accepted (default \(CaptionFiles.defaultMaxLineBytes))

    BLEU and ROUGE-L are on a 0-1 scale (not 0-100); CIDEr-D is pycocoevalcap's (x10, usually 0-3).
    Files are UTF-8 (a byte-order mark and CRLF line ends are fine); a line without a tab is an error.
    """

    static func run(_ arguments: [String]) throws {
        let args = try Arguments(arguments, valued: ["--hypotheses", "--references", "--per-image", "--max-line-bytes"],
                                 flags: ["--json", "--allow-missing"])
        if let extra = args.positionals.first { throw CLIError("unexpected argument '\(extra)' (see --help)") }
        let hypPath = try args.required("--hypotheses")
        let refPath = try args.required("--references")
        let maxLine = try args.int("--max-line-bytes", default: CaptionFiles.defaultMaxLineBytes, range: 1...(1 << 30))
        let hyps = try CaptionFiles.readHypotheses(hypPath, maxLineBytes: maxLine)
        let refs = try CaptionFiles.readReferences(refPath, maxLineBytes: maxLine)

        // Hypotheses named by file against COCO references keyed by image id.
        var hypotheses = hyps.captions
        if !refs.fileNames.isEmpty {
            var remapped: [String: String] = [:]
            for (k, v) in hypotheses {
                let key = refs.captions[k] == nil ? (refs.fileNames[k] ?? k) : k
                if remapped[key] != nil { throw CLIError("\(hypPath): two hypotheses for image \(key)") }
                remapped[key] = v
            }
            hypotheses = remapped
        }
        var references = refs.captions
        let noReferences = hypotheses.keys.filter { references[$0] == nil }.sorted(by: CaptionScorer.imageIdPrecedes)
        let noHypothesis = references.keys.filter { hypotheses[$0] == nil }.sorted(by: CaptionScorer.imageIdPrecedes)
        if args.flag("--allow-missing") {
            if let first = noReferences.first {
                writeStderr("warning: skipping \(noReferences.count) image(s) with a hypothesis but no references (first: \(first))")
                for k in noReferences { hypotheses[k] = nil }
            }
            if let first = noHypothesis.first {
                writeStderr("warning: skipping \(noHypothesis.count) image(s) with references but no hypothesis (first: \(first))")
                for k in noHypothesis { references[k] = nil }
            }
            if hypotheses.isEmpty { throw CLIError("no image has both a hypothesis and references") }
        } else {
            if let first = noReferences.first {
                throw CLIError("image \(first) has a hypothesis in \(hypPath) but no references in \(refPath)"
                               + (noReferences.count > 1 ? " (and \(noReferences.count - 1) more; --allow-missing skips them)" : " (--allow-missing skips it)"))
            }
            if let first = noHypothesis.first {
                throw CLIError("image \(first) has references in \(refPath) but no hypothesis in \(hypPath)"
                               + (noHypothesis.count > 1 ? " (and \(noHypothesis.count - 1) more; --allow-missing skips them)" : " (--allow-missing skips it)"))
            }
        }

        let (scores, images) = try CaptionScorer.scoreImages(hypotheses: hypotheses, references: references)
        if let perImage = args.value("--per-image") {
            try writePerImage(images, hypotheses: hypotheses, to: perImage)
        }
        if args.flag("--json") {
            print(json(scores).serialized())
        } else {
            print(human(scores), terminator: "")
        }
    }

    static func json(_ s: CaptionScores) -> JSONValue {
        .object([("images", .int(s.images)),
                 ("bleu1", .double(s.bleu[0])), ("bleu2", .double(s.bleu[1])), ("bleu3", .double(s.bleu[2])),
                 ("bleu4", .double(s.bleu[3])), ("cider", .double(s.cider)), ("rouge_l", .double(s.rougeL))])
    }

    static func human(_ s: CaptionScores) -> String {
        var out = "images   \(s.images)\n"
        for n in 0..<4 { out += "BLEU-\(n + 1)   \(fixed(s.bleu[n]))\n" }
        out += "CIDEr-D  \(fixed(s.cider))\n"
        out += "ROUGE-L  \(fixed(s.rougeL))\n"
        out += "(BLEU and ROUGE-L on a 0-1 scale; CIDEr-D on pycocoevalcap's x10 scale)\n"
        return out
    }

    /// `x` with 4 decimals, rounded half away from zero.
    static func fixed(_ x: Double, decimals: Int = 4) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let r = (abs(x) * scale).rounded()
        let whole = (r / scale).rounded(.towardZero)
        let frac = Int(r - whole * scale)
        let f = String(frac)
        return (x < 0 && r != 0 ? "-" : "") + String(Int(whole)) + "." + String(repeating: "0", count: decimals - f.count) + f
    }

    static func writePerImage(_ images: [ImageScores], hypotheses: [String: String], to path: String) throws {
        var text = ""
        if path.hasSuffix(".json") {
            let items: [JSONValue] = images.map { im in
                .object([("image", .string(im.image)), ("bleu1", .double(im.bleu[0])), ("bleu2", .double(im.bleu[1])),
                         ("bleu3", .double(im.bleu[2])), ("bleu4", .double(im.bleu[3])), ("cider", .double(im.cider)),
                         ("rouge_l", .double(im.rougeL)), ("hypothesis", .string(hypotheses[im.image] ?? ""))])
            }
            text = JSONValue.array(items).serialized() + "\n"
        } else {
            text = "image\tbleu1\tbleu2\tbleu3\tbleu4\tcider\trouge_l\n"
            for im in images {
                text += ([im.image] + im.bleu.map { "\($0)" } + ["\(im.cider)", "\(im.rougeL)"]).joined(separator: "\t") + "\n"
            }
        }
        do { try FileBytes.writeAtomically(Array(text.utf8), to: path) } catch { throw CLIError(error.description) }
    }
}
