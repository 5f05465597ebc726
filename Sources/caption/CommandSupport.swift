import Captioning
import SafeTensors
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the dataset/model commands (train, eval, describe, vocab, summary).
enum CommandSupport {
    /// Options every command that reads a DATASET accepts.
    static let datasetOptions: Set<String> = ["--data", "--format", "--images"]

    static let datasetHelp = """
      --data DATASET       a flickr8k-style directory (images/, captions.txt, train/val/test.txt), a Flickr8k
                           distribution (Flickr8k.token.txt + Flickr_8k.*Images.txt), a CSV `image,caption`,
                           a Karpathy split JSON, or a COCO captions JSON
      --format F           directory | flickr8k | csv | karpathy | coco (default: detected from the path)
      --images DIR         where the images are (default: found beside the captions)
    """

    /// Loads `--data` with `--format`/`--images`, printing the skipped-data warning on stderr.
    static func dataset(_ a: Arguments) throws -> CaptionDataset {
        let path = try a.required("--data")
        var format: DatasetFormat? = nil
        if let f = a.value("--format") {
            guard let v = DatasetFormat(rawValue: f) else {
                throw CLIError("--format expects one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", ")), got '\(f)'")
            }
            format = v
        }
        let d = try CaptionDataset.load(path, format: format, images: a.value("--images"))
        if let w = d.warning { writeStderr(w) }
        return d
    }

    /// The feature cache directory: `--cache`, `$CAPTION_CACHE`, `$XDG_CACHE_HOME/caption/features`, `~/.cache/caption/features`.
    static func cacheDirectory(_ a: Arguments) -> String {
        if let c = a.value("--cache") { return c }
        if let v = getenv("CAPTION_CACHE"), v.pointee != 0 { return String(cString: v) }
        if let v = getenv("XDG_CACHE_HOME"), v.pointee != 0 { return String(cString: v) + "/caption/features" }
        if let v = getenv("HOME"), v.pointee != 0 { return String(cString: v) + "/.cache/caption/features" }
        return ".caption-cache/features"
    }

    /// Writes text to stdout unbuffered-safe (flushes).
    static func out(_ s: String) {
        print(s)
    }

    static func flush() { fflush(nil) }

    /// `0.1234` with 4 decimals.
    static func fixed(_ v: Double, _ digits: Int = 4) -> String {
        guard v.isFinite else { return "\(v)" }
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        let r = (abs(v) * p).rounded()
        let whole = Int(r / p), frac = Int(r) - whole * Int(p)
        let f = String(frac)
        return (v < 0 && r > 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: digits - f.count) + f
    }

    /// A JSON string literal.
    static func json(_ s: String) -> String { JSONValue.quoted(s) }

    /// A JSON number (finite doubles; non-finite become null).
    static func json(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Loads a model and the encoder it needs.
    static func model(_ path: String, encoderWeights: String?) throws -> (CaptionModel, RegionEncoder) {
        let m = try CaptionModel.load(path)
        guard let file = m.file else { throw CLIError("\(path): not a model file") }
        do {
            return (m, try EncoderCatalog.make(for: m.config.encoder, model: file, weights: encoderWeights))
        } catch {
            // Name the model file (the error may be about its embedded encoder) unless the message already does.
            let d = "\(error)"
            throw CLIError(d.contains(path) ? d : "\(path): \(d)")
        }
    }

    /// Parses `--length-penalty`: `none`, `average:ALPHA` (or just ALPHA), `gnmt:ALPHA`; absent: nil (the model's default, `CaptionModel.searchOptions`).
    static func lengthPenalty(_ a: Arguments) throws -> LengthPenalty? {
        guard let s = a.value("--length-penalty") else { return nil }
        let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
        if parts == ["none"] { return LengthPenalty.none }
        let kind = parts.count == 2 ? parts[0] : "average"
        guard let alpha = Double(parts.last ?? ""), alpha.isFinite, alpha >= 0 else {
            throw CLIError("--length-penalty expects none, ALPHA, average:ALPHA or gnmt:ALPHA, got '\(s)'")
        }
        switch kind {
        case "average": return .average(alpha: alpha)
        case "gnmt": return .gnmt(alpha: alpha)
        default: throw CLIError("--length-penalty expects none, ALPHA, average:ALPHA or gnmt:ALPHA, got '\(s)'")
        }
    }
}
