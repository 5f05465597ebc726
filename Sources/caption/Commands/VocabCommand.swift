import Captioning
import SafeTensors
import Text

/// `caption vocab`: build a vocabulary from a dataset's train split
enum VocabCommand: Command {
    static let name = "vocab"
    static let summary = "build a vocabulary from a dataset's train split"
    static let help = """
    usage: caption vocab --data DATASET [--min-count N] --out FILE

    Counts the words of the train split's captions (training tokenizer: lower-case, punctuation dropped,
    `t-shirt` kept whole) and writes the vocabulary JSON: the special tokens <pad> <start> <end> <unk>, then
    the words with at least N occurrences by descending count, with their counts. Written atomically.

    \(CommandSupport.datasetHelp)
      --split S            the split to count (default train)
      --min-count N        minimum count of a kept word (default 5)
      --out FILE           where to write the JSON
    """

    static func run(_ arguments: [String]) throws {
        let a = try Arguments(arguments, valued: CommandSupport.datasetOptions.union(["--min-count", "--out", "--split"]), flags: [])
        guard a.positionals.isEmpty else { throw CLIError("unexpected argument '\(a.positionals[0])' (see --help)") }
        let out = try a.required("--out")
        let minCount = try a.int("--min-count", default: 5, range: 1...1_000_000)
        let dataset = try CommandSupport.dataset(a)
        let images = try dataset.split(a.value("--split") ?? "train")
        let captions = images.flatMap { $0.captions.map(CaptionTokenizer.words) }
        let vocab = Vocabulary(counting: captions, minCount: minCount)
        try FileBytes.writeAtomically(Array(vocab.json().utf8), to: out)
        let tokens = captions.reduce(0) { $0 + $1.count }
        let unknown = captions.reduce(0) { $0 + vocab.encode($1).ids.filter { $0 == Vocabulary.unknown }.count }
        let rate = Double(unknown) / Double(max(tokens, 1)) * 100
        print("\(vocab.count) tokens (\(vocab.count - Vocabulary.specialTokens.count) words with count >= \(minCount), + 4 specials) from \(captions.count) captions of \(images.count) images; <unk> rate \(CommandSupport.fixed(rate, 2)) %; written to \(out)")
    }
}
