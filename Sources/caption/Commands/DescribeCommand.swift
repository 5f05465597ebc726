import Captioning
import ImageCodecs
import SafeTensors
import Tensors
import Vision

/// `caption describe`: caption images with a trained model
enum DescribeCommand: Command {
    static let name = "describe"
    static let summary = "caption images with a trained model"
    static let help = """
    usage: caption describe IMAGE|DIR... [--model FILE] [--beam N] [--max-length N] [--n-best K] [--json]
                            [--attention-map OUT.png]

    Prints one line per image, `IMAGE<TAB>caption`. Directories expand to the images in them (sorted by name;
    .jpg .jpeg .png .ppm .pgm .pnm). An image that cannot be read gives one `error: IMAGE: …` line on stderr;
    the others are still captioned, and the exit status is 1 at the end (as `ls` does with a missing file).

      --model FILE         the model (default: $CAPTION_MODEL, else Models/default.safetensors beside the
                           binary, in its repository or in the current directory)
      --encoder-weights F  the pretrained encoder weights the model was trained with (unless embedded)
      --beam N             beam width (default 3; 1 = greedy)
      --max-length N       longest caption in words (default 20)
      --min-length N       shortest caption in words (default 0)
      --n-best K           keep the K best distinct captions per image (JSON: `n_best`; text: K lines)
      --no-repeat-ngram N  never repeat an n-gram of N words (default 0 = off)
      --length-penalty P   ALPHA (score / length^ALPHA; default 0.75 with beams, chosen on
                           Flickr8k val; none for --beam 1) | none | gnmt:ALPHA
      --allow-unknown      let captions contain <unk>
      --batch N            images encoded and decoded together (default 16)
      --json               a JSON array of {"image", "caption", "log_prob", "score", "n_best": [{"caption",
                           "log_prob", "score"}]} (score: log_prob after the length penalty, the ranking)
      --attention-map OUT.png  a PNG grid per image, one tile per generated word: the image as the encoder saw it
                           with the attention over its regions overlaid (LSTM: its soft attention; transformer:
                           last layer's cross-attention averaged over heads). With several images, OUT-NAME.png.
    """

    static func run(_ arguments: [String]) throws {
        let a = try Arguments(arguments, valued: [
            "--model", "--encoder-weights", "--beam", "--max-length", "--min-length", "--n-best", "--no-repeat-ngram",
            "--length-penalty", "--batch", "--attention-map",
        ], flags: ["--json", "--allow-unknown"])
        guard !a.positionals.isEmpty else { throw CLIError("no image given (usage: caption describe IMAGE|DIR... [--model FILE])") }
        let beam = try a.int("--beam", default: 3, range: 1...100)
        let nBest = try a.int("--n-best", default: 1, range: 1...100)
        let options = (maxLength: try a.int("--max-length", default: 20, range: 1...200),
                       minLength: try a.int("--min-length", default: 0, range: 0...200),
                       noRepeat: try a.int("--no-repeat-ngram", default: 0, range: 0...20),
                       penalty: try CommandSupport.lengthPenalty(a))
        let batch = try a.int("--batch", default: 16, range: 1...10_000)
        var paths: [String] = []
        var failures = 0
        for p in a.positionals {
            if FileSystem.isDirectory(p) {
                let found = (FileSystem.list(p) ?? []).filter(FileSystem.isImageName).map { FileSystem.join(p, $0) }.filter(FileSystem.isFile)
                if found.isEmpty { writeStderr("error: \(p): no images in this directory"); failures += 1 }
                paths += found
            } else {
                paths.append(p)
            }
        }
        let modelPath = try a.value("--model") ?? ModelLocator.defaultModel()
        let (model, encoder) = try CommandSupport.model(modelPath, encoderWeights: a.value("--encoder-weights"))
        let search = model.searchOptions(beam: beam, maxLength: options.maxLength, nBest: nBest, lengthPenalty: options.penalty,
                                         noRepeatNgram: options.noRepeat, minLength: options.minLength, allowUnknown: a.flag("--allow-unknown"))
        let json = a.flag("--json")
        let attentionMap = a.value("--attention-map")
        if attentionMap != nil && model.config.decoder == "lstm" && model.config.lstm?.useAttention == false {
            throw CLIError("--attention-map needs a model with attention (this one was trained with --no-attention)")
        }
        var jsonItems: [String] = []
        var start = 0
        while start < paths.count {
            let chunk = Array(paths[start..<min(start + batch, paths.count)])
            start += chunk.count
            var inputs: [Tensor] = []
            var good: [String] = []
            var pixels: [RGBImage] = []
            for p in chunk {
                do {
                    if attentionMap != nil {
                        let (px, input) = try encoder.inputWithPixels(path: p)
                        pixels.append(px)
                        inputs.append(input)
                    } else {
                        inputs.append(try encoder.input(path: p))
                    }
                    good.append(p)
                } catch {
                    writeStderr("error: \(error)")
                    failures += 1
                }
            }
            if good.isEmpty { continue }
            let features = encoder.features(inputs)
            let results = model.decode(features: features, imageCount: good.count, options: search, batch: batch)
            for (i, (p, hyps)) in zip(good, results).enumerated() {
                if let attentionMap, let best = hyps.first {
                    let target = paths.count == 1 ? attentionMap : suffixed(attentionMap, FileSystem.baseName(p))
                    let words = model.vocabulary.decode(best.tokens.map { Int32($0) })
                    let grid = model.config.encoder.gridSize
                    let png = encodePNG(AttentionMap.render(image: pixels[i], words: words, weights: best.attention,
                                                            gridHeight: grid, gridWidth: grid))
                    do { try FileBytes.writeAtomically(png, to: target) } catch {
                        writeStderr("error: \(error)")
                        failures += 1
                    }
                }
                if json {
                    let best = hyps.first
                    let nb = hyps.map { "{\"caption\": \(CommandSupport.json(model.caption($0))), \"log_prob\": \(CommandSupport.json($0.logProbability)), \"score\": \(CommandSupport.json($0.score))}" }
                    jsonItems.append("  {\"image\": \(CommandSupport.json(p)), \"caption\": \(CommandSupport.json(best.map(model.caption) ?? "")), \"log_prob\": \(CommandSupport.json(best?.logProbability ?? -Double.infinity)), \"score\": \(CommandSupport.json(best?.score ?? -Double.infinity)), \"n_best\": [\(nb.joined(separator: ", "))]}")
                } else {
                    for h in hyps.prefix(nBest) { CommandSupport.out("\(p)\t\(model.caption(h))") }
                }
            }
            CommandSupport.flush()
        }
        if json { CommandSupport.out(jsonItems.isEmpty ? "[]" : "[\n" + jsonItems.joined(separator: ",\n") + "\n]") }
        if failures > 0 {
            CommandSupport.flush()
            throw SilentFailure()
        }
    }
}

/// `out.png` + `photo.jpg` -> `out-photo.png`.
func suffixed(_ path: String, _ name: String) -> String {
    let stem = name.split(separator: ".").dropLast().joined(separator: ".")
    let tag = stem.isEmpty ? name : stem
    if let dot = path.lastIndex(of: "."), !path[dot...].contains("/") {
        return String(path[..<dot]) + "-" + tag + String(path[dot...])
    }
    return path + "-" + tag + ".png"
}

/// Exits with status 1 without another `error:` line (the failures were already reported one by one).
struct SilentFailure: Error {}
