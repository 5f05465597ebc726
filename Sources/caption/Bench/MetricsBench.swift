import Metrics

/// `caption bench metrics`: what `caption score` does on all of Flickr8k (`../shared/data/flickr8k/captions.txt`):
/// read the file, hold caption #0 of each image out as its hypothesis, score it against the other four
/// (PTB tokenization, BLEU-1..4, CIDEr-D, ROUGE-L). Left out with a note when the file is absent.
enum MetricsBench {
    static var group: BenchGroup { BenchGroup(name: "metrics",
                                  summary: "caption score on Flickr8k hold-one-out (8091 images, 40455 captions; needs ../shared)",
                                  figures: figures, notes: notes) }

    static let captions = BenchData.file("data/flickr8k/captions.txt")

    static func notes() -> [String] {
        captions == nil ? ["metrics: ../shared/data/flickr8k/captions.txt not found: skipping the Flickr8k scoring figure"] : []
    }

    static func figures() -> [BenchFigure] {
        guard let captions else { return [] }
        return [BenchFigure(name: "metrics/score_flickr8k_holdout/all",
                            shape: "captions.txt (8091 images x 5): hold #0 out, PTB tokenize, BLEU-1..4, CIDEr-D, ROUGE-L vs the other 4",
                            itemsPerCall: 8091, item: "images") {
            _ = try CaptionFiles.holdOut(captions)
            return {
                guard let (h, r) = try? CaptionFiles.holdOut(captions), let s = try? CaptionScorer.score(hypotheses: h, references: r)
                else { return }
                benchSink &+= s.images
            }
        }]
    }
}
