import Captioning
import Vision

/// `caption distill`: train a small CNN to reproduce a pretrained encoder's region features
enum DistillCommand: Command {
    static let name = "distill"
    static let summary = "train a small CNN to reproduce a pretrained encoder's region features"
    static let help = """
    usage: caption distill --teacher NAME --teacher-weights FILE --data DATASET --out FILE.safetensors
                           [--epochs N] [--batch-size N] [--learning-rate X] [--seed N] [--limit N] [--resume]
                           [--width X] [--teacher-mode cached|online] [options]

    Trains the small CNN student (random initialisation) to reproduce the teacher's region features of the
    train split's images (both see each image resized to 224x224, as `--encoder small` preprocesses it):
    MSE on the feature maps, Adam with a cosine learning-rate decay, seeded random flips (and crops with
    --teacher-mode online). After every epoch the student's features of the val split are compared with the
    teacher's (MSE, relative MSE = MSE / teacher variance, cosine) and the best student so far is written to
    FILE: a small CNN encoder file for `caption train --encoder small --encoder-weights FILE` (which embeds
    it in the captioning model) and `caption features --encoder small`.
    Beside FILE: FILE-without-.safetensors + `.checkpoint.safetensors` (written atomically every epoch, every
    --checkpoint-every batches and on Ctrl-C, which exits 0; rerun the same command with --resume to continue
    exactly) and `.log.jsonl` (one JSON line per epoch). Progress (epoch, step, loss, img/s, ETA) on stderr.

    teacher:
      --teacher NAME       mobilenet_v2 | resnet18 | resnet34 | resnet50 | small (a small CNN file; without
                           --teacher-weights a random network, only for tests)
      --teacher-weights F  the teacher's weights (.safetensors)
      --teacher-mode M     cached (default): the teacher encodes each image once (feature cache), training
                           flips mirror its maps, no crops; online: the teacher runs on every augmented
                           batch, with random crops (see --min-crop) and exact targets (slower)
      --cache DIR          feature cache (default $CAPTION_CACHE or ~/.cache/caption/features)

    data:
    \(CommandSupport.datasetHelp)
      --limit N            distill on the first N train images (and validate on the first N/5 val images)
      --val-limit N        validate on the first N val images (default: all)

    student and training:
      --width X            channel multiplier of the student (default 1: 16..512 channels, 1.46 M parameters
                           with mobilenet_v2's 1280-channel projection)
      --epochs N (10)  --batch-size N (32)  --learning-rate X (2e-3)  --seed N (0)  --weight-decay X (0)
      --cosine-weight X    weight of an extra 1 - cosine loss term per region (default 0)
      --hint-weight X      weight of the teacher's hints (FitNets): its inner maps at strides 8 and 16
                           (and MobileNetV2's 320-channel bottleneck) regressed from the student's stages
                           through trainable 1x1 convolutions, each scaled like the final map; default 1
                           in online mode with mobilenet_v2 or a resnet teacher, else 0 (online only)
      --min-crop X         smallest crop area fraction in online mode (default 0.5; 1 = no crops)
      --no-flip            no random horizontal flips
      --checkpoint-every N checkpoint every N batches within an epoch (default 100; 0 = at epoch ends only)
      --out FILE           the student encoder file to write
      --resume             continue the run whose checkpoint is beside --out
      --quiet              no progress or status lines (warnings, errors and the result only)
    """

    static func run(_ arguments: [String]) throws {
        let a = try Arguments(arguments, valued: CommandSupport.datasetOptions.union([
            "--teacher", "--teacher-weights", "--teacher-mode", "--out", "--epochs", "--batch-size", "--learning-rate",
            "--seed", "--limit", "--val-limit", "--width", "--weight-decay", "--cosine-weight", "--hint-weight", "--min-crop",
            "--checkpoint-every", "--cache",
        ]), flags: ["--resume", "--no-flip", "--quiet"])
        guard a.positionals.isEmpty else { throw CLIError("unexpected argument '\(a.positionals[0])' (see --help)") }
        let teacher = try a.required("--teacher")
        var c = DistillationRunConfiguration(data: try a.required("--data"), teacher: teacher,
                                             teacherWeights: a.value("--teacher-weights"), out: try a.required("--out"))
        if let f = a.value("--format") {
            guard let v = DatasetFormat(rawValue: f) else {
                throw CLIError("--format expects one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", ")), got '\(f)'")
            }
            c.format = v
        }
        c.images = a.value("--images")
        if let m = a.value("--teacher-mode") {
            guard let v = DistillationTeacherMode(rawValue: m) else { throw CLIError("--teacher-mode expects cached or online, got '\(m)'") }
            c.teacherMode = v
        }
        c.resume = a.flag("--resume")
        c.limit = a.value("--limit") == nil ? nil : try a.int("--limit", default: 0, range: 2...Int.max)
        c.validationLimit = a.value("--val-limit") == nil ? nil : try a.int("--val-limit", default: 0, range: 1...Int.max)
        c.width = try a.double("--width", default: 1)
        guard c.width > 0, c.width <= 8 else { throw CLIError("--width expects a number in (0, 8], got \(c.width)") }
        c.checkpointEvery = try a.int("--checkpoint-every", default: 100, range: 0...Int.max)
        c.cacheDirectory = CommandSupport.cacheDirectory(a)
        c.progress = !a.flag("--quiet")
        var o = DistillationOptions()
        o.epochs = try a.int("--epochs", default: 10, range: 1...100_000)
        o.batchSize = try a.int("--batch-size", default: 32, range: 2...4096)
        o.learningRate = Float(try a.double("--learning-rate", default: 2e-3))
        guard o.learningRate > 0 else { throw CLIError("option --learning-rate expects a positive number, got \(o.learningRate)") }
        o.seed = UInt64(try a.int("--seed", default: 0, range: 0...Int.max))
        o.weightDecay = Float(try a.double("--weight-decay", default: 0))
        o.cosineWeight = Float(try a.double("--cosine-weight", default: 0))
        o.minimumCropArea = Float(try a.double("--min-crop", default: 0.5))
        guard o.weightDecay >= 0 else { throw CLIError("option --weight-decay expects a number >= 0, got \(o.weightDecay)") }
        guard o.cosineWeight >= 0 else { throw CLIError("option --cosine-weight expects a number >= 0, got \(o.cosineWeight)") }
        guard o.minimumCropArea > 0, o.minimumCropArea <= 1 else { throw CLIError("option --min-crop expects a number in (0, 1], got \(o.minimumCropArea)") }
        o.flip = !a.flag("--no-flip")
        c.options = o
        if a.value("--hint-weight") != nil {
            c.hintWeight = Float(try a.double("--hint-weight", default: 0))
            guard let w = c.hintWeight, w >= 0 else { throw CLIError("option --hint-weight expects a number >= 0, got \(c.hintWeight ?? 0)") }
        }

        Interrupt.install()
        let quiet = a.flag("--quiet")
        let r = try DistillationRun(c, log: { if !quiet || $0.hasPrefix("warning") { writeStderr($0) } }).run()
        let best = r.history.filter(\.best).last
        let bestText = best.map { "best val MSE \(CommandSupport.fixed($0.valMSE)) (relative \(CommandSupport.fixed($0.valRelativeMSE)), cosine \(CommandSupport.fixed($0.valCosine))) at epoch \($0.epoch)" } ?? "no epoch completed yet"
        switch r.outcome {
        case .interruptedBeforeTraining:
            writeStderr("interrupted while computing the teacher's features: nothing saved; run the same command again (without --resume)")
        case .interrupted:
            writeStderr("interrupted: checkpoint saved to \(r.checkpointPath) (epoch \(r.state.epoch + 1), batch \(r.state.batchInEpoch)); continue with the same command and --resume")
            if best != nil { writeStderr("\(bestText); student: \(r.outPath)") }
        case .completed:
            CommandSupport.out("distilled \(r.state.epoch) epochs (\(CommandSupport.fixed(r.imagesPerSecond, 1)) img/s); \(bestText); student: \(r.outPath); log: \(r.logPath)")
        }
    }
}
