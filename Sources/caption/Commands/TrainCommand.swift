import Captioning
import Vision

/// `caption train`: train a decoder (lstm or transformer) on image/caption pairs
enum TrainCommand: Command {
    static let name = "train"
    static let summary = "train a decoder (lstm or transformer) on image/caption pairs"
    static let help = """
    usage: caption train --data DATASET --encoder NAME [--encoder-weights FILE] [--decoder lstm|transformer]
                         [--vocab FILE] [--epochs N] [--batch-size N] [--learning-rate X] [--seed N] [--out DIR]
                         [--resume] [--limit N] [--no-attention] [--fine-tune-encoder] [options]

    Trains a caption decoder on the frozen encoder's region features (each image is encoded once and cached,
    so later epochs and later runs cost decoder time only; an interrupted extraction continues where it
    stopped). With --fine-tune-encoder the encoder's later blocks train too (see below). After every epoch
    the val split is decoded for real (beam search, not teacher-forced) and scored with BLEU-1..4, CIDEr-D
    and ROUGE-L; the best epoch by BLEU-4 is kept. In DIR: model.safetensors (best epoch: all
    `describe`/`eval` need), checkpoint.safetensors (latest, with optimiser state, for --resume), log.jsonl
    (one JSON line per epoch). The checkpoint is also written every --checkpoint-minutes within an epoch;
    Ctrl-C saves one and exits 0; run the same command with --resume to continue exactly where it stopped.

    data:
    \(CommandSupport.datasetHelp)
      --limit N            train on the first N train images (and the first N/5 val images)
      --val-limit N        validate on the first N val images
      --vocab FILE         vocabulary JSON (default: built from the train captions, see --min-count)
      --min-count N        minimum word count for the built vocabulary (default 5)
      --max-words N        drop training captions longer than N words (default 30)

    encoder:
      --encoder NAME       resnet18 | resnet34 | resnet50 | mobilenet_v2 | small (default small)
      --encoder-weights F  pretrained weights (required for resnet*/mobilenet_v2; recorded by SHA-256);
                           for small: a distilled small CNN (its weights are embedded in the model)
      --preprocessing P    imagenet | mobilenet | direct (default: the encoder's own; `direct` feeds
                           224x224 images unchanged)
      --cache DIR          feature cache (default $CAPTION_CACHE or ~/.cache/caption/features)
      --cache-chunk N      images per saved piece of a feature extraction (default 256): an interrupted
                           extraction (Ctrl-C, kill) continues after the last saved piece on the next run
      --fine-tune-encoder  also train the encoder's later blocks, with their own, lower learning rate and batch
                           norm frozen (folded); the frozen earlier blocks run once per image and their output
                           is cached (float16), so an epoch costs the trained blocks + decoder. The model file
                           then embeds the whole fine-tuned encoder (no --encoder-weights needed to caption)
      --fine-tune-from B   first trained block: resnet* layer1..layer4 (default layer2: layers 2-4);
                           mobilenet_v2 features.1..features.18 (default features.14: the 160-channel blocks at
                           7x7, the 320-channel block and the 1x1 head); small features.1..features.K+1 (default
                           its last stride-2 block, the one that goes to 7x7; K+1 = the projection)
      --encoder-learning-rate X  the trained encoder blocks' Adam learning rate (default --learning-rate / 4:
                           1e-4 with the default 4e-4, the Show-Attend-Tell tutorial's); it follows the decoder's
                           warm-up and plateau decay, and --grad-clip applies to it too

    decoder:
      --decoder D          lstm (Show, Attend and Tell; default) | transformer
      --no-attention       lstm without attention: the mean region only initialises the state
      --embedding-size N   lstm word embedding (512)    --attention-size N  lstm attention (512)
      --hidden-size N      lstm state (512)              --dropout X  (lstm 0.5, transformer 0.1)
      --model-size N       transformer width (512)       --heads N (8)   --ff-size N (2048)   --layers N (3)

    training:
      --epochs N (20)  --batch-size N (32)  --learning-rate X (4e-4)  --seed N (1)  --patience N (4)
      --warmup N       linear learning-rate warm-up steps (default 0; transformer: 500)
      --attention-penalty X  doubly stochastic attention weight (1)   --grad-clip X  clamp gradients (5)
      --val-beam N     beam width of the per-epoch val decode (default 3; 1 = greedy)
      --out DIR        output directory (default runs/caption)
      --resume         continue the run in --out exactly where it stopped
      --checkpoint-minutes M  also checkpoint every M minutes within an epoch (default 10; 0 = at
                              epoch ends and on Ctrl-C only): a killed run loses at most that much
      --init-from M    start from trained model M: its vocabulary, decoder sizes and weights (fine-tuning,
                       e.g. a decoder trained on mobilenet_v2 features adapted to a distilled small CNN)
      --quiet          no progress lines
    """

    static func run(_ arguments: [String]) throws {
        let a = try Arguments(arguments, valued: CommandSupport.datasetOptions.union([
            "--decoder", "--encoder", "--encoder-weights", "--preprocessing", "--vocab", "--min-count", "--epochs",
            "--batch-size", "--learning-rate", "--seed", "--out", "--limit", "--val-limit", "--val-beam", "--patience",
            "--max-words", "--cache", "--embedding-size", "--attention-size", "--hidden-size", "--dropout", "--model-size",
            "--heads", "--ff-size", "--layers", "--warmup", "--attention-penalty", "--grad-clip", "--init-from",
            "--fine-tune-from", "--encoder-learning-rate", "--cache-chunk", "--checkpoint-minutes",
        ]), flags: ["--resume", "--no-attention", "--fine-tune-encoder", "--quiet"])
        guard a.positionals.isEmpty else { throw CLIError("unexpected argument '\(a.positionals[0])' (see --help)") }
        let fineTune = a.flag("--fine-tune-encoder")
        if !fineTune, let o = ["--fine-tune-from", "--encoder-learning-rate"].first(where: { a.value($0) != nil }) {
            throw CLIError("\(o) needs --fine-tune-encoder")
        }
        var c = TrainingRunConfiguration(data: try a.required("--data"))
        if let f = a.value("--format") {
            guard let v = DatasetFormat(rawValue: f) else {
                throw CLIError("--format expects one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", ")), got '\(f)'")
            }
            c.format = v
        }
        c.images = a.value("--images")
        c.decoder = a.value("--decoder") ?? "lstm"
        guard ["lstm", "transformer"].contains(c.decoder) else { throw CLIError("--decoder expects lstm or transformer, got '\(c.decoder)'") }
        c.encoder = a.value("--encoder") ?? "small"
        guard EncoderCatalog.names.contains(c.encoder) else {
            throw CLIError("--encoder expects one of \(EncoderCatalog.names.joined(separator: ", ")), got '\(c.encoder)'")
        }
        c.encoderWeights = a.value("--encoder-weights")
        if let p = a.value("--preprocessing") {
            guard let v = Preprocessing(rawValue: p) else { throw CLIError("--preprocessing expects imagenet, mobilenet or direct, got '\(p)'") }
            c.preprocessing = v
        }
        c.vocabulary = a.value("--vocab")
        c.minCount = try a.int("--min-count", default: 5, range: 1...1_000_000)
        c.maxCaptionWords = try a.int("--max-words", default: 30, range: 1...1000)
        c.outDirectory = a.value("--out") ?? "runs/caption"
        c.resume = a.flag("--resume")
        c.initFrom = a.value("--init-from")
        c.limit = a.value("--limit") == nil ? nil : try a.int("--limit", default: 0, range: 1...Int.max)
        c.validationLimit = a.value("--val-limit") == nil ? nil : try a.int("--val-limit", default: 0, range: 1...Int.max)
        c.validationBeam = try a.int("--val-beam", default: 3, range: 1...100)
        c.cacheDirectory = CommandSupport.cacheDirectory(a)
        c.featureSaveEvery = try a.int("--cache-chunk", default: 256, range: 1...10_000_000)
        c.progress = !a.flag("--quiet")
        let minutes = try a.double("--checkpoint-minutes", default: 10)
        guard minutes >= 0 else { throw CLIError("--checkpoint-minutes expects a number >= 0, got \(minutes)") }
        c.checkpointInterval = minutes * 60
        var o = TrainingOptions()
        o.epochs = try a.int("--epochs", default: 20, range: 1...100_000)
        o.batchSize = try a.int("--batch-size", default: 32, range: 1...100_000)
        o.learningRate = Float(try positive(a, "--learning-rate", 4e-4))
        o.seed = UInt64(try a.int("--seed", default: 1, range: 0...Int.max))
        o.patience = try a.int("--patience", default: 4, range: 1...100_000)
        o.warmupSteps = try a.int("--warmup", default: c.decoder == "transformer" ? 500 : 0, range: 0...10_000_000)
        o.attentionPenalty = Float(try a.double("--attention-penalty", default: 1))
        o.gradientClip = Float(try a.double("--grad-clip", default: 5))
        if fineTune {
            o.encoderLearningRate = Float(try positive(a, "--encoder-learning-rate", Double(o.learningRate) / 4))
            o.fineTuneFrom = a.value("--fine-tune-from")
        }
        c.options = o
        let dropout = try a.double("--dropout", default: c.decoder == "lstm" ? 0.5 : 0.1)
        guard (0..<1).contains(dropout) else { throw CLIError("--dropout expects a number in [0, 1), got \(dropout)") }
        c.lstm.embedding = try a.int("--embedding-size", default: 512, range: 1...65536)
        c.lstm.attention = try a.int("--attention-size", default: 512, range: 1...65536)
        c.lstm.hidden = try a.int("--hidden-size", default: 512, range: 1...65536)
        c.lstm.dropout = Float(dropout)
        c.lstm.useAttention = !a.flag("--no-attention")
        c.transformer.model = try a.int("--model-size", default: 512, range: 1...65536)
        c.transformer.heads = try a.int("--heads", default: 8, range: 1...1024)
        c.transformer.feedForward = try a.int("--ff-size", default: 2048, range: 1...262_144)
        c.transformer.layers = try a.int("--layers", default: 3, range: 1...64)
        c.transformer.dropout = Float(dropout)

        Interrupt.install()
        let run = TrainingRun(c, log: { writeStderr($0) })
        let r = try run.run()
        let best = r.state.bestEpoch > 0 ? "best val BLEU-4 \(CommandSupport.fixed(r.state.bestBleu4)) at epoch \(r.state.bestEpoch)" : "no epoch completed yet"
        switch r.outcome {
        case .interrupted:
            writeStderr("interrupted: checkpoint saved to \(r.checkpointPath) (epoch \(r.state.epoch + 1), batch \(r.state.batchInEpoch)); continue with the same command and --resume")
            if r.state.bestEpoch > 0 { writeStderr("\(best); model: \(r.modelPath)") }
        case .earlyStopped:
            CommandSupport.out("stopped early after epoch \(r.state.epoch) (\(r.state.epochsWithoutImprovement) epochs without improvement); \(best); model: \(r.modelPath); log: \(r.logPath)")
        case .completed:
            CommandSupport.out("trained \(r.state.epoch) epochs; \(best); model: \(r.modelPath); log: \(r.logPath)")
        }
    }

    static func positive(_ a: Arguments, _ name: String, _ d: Double) throws -> Double {
        let v = try a.double(name, default: d)
        guard v > 0 else { throw CLIError("option \(name) expects a positive number, got \(v)") }
        return v
    }
}
