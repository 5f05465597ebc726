import SafeTensors

/// Reading the caption files `caption score` takes (DESIGN.md, "File formats"):
/// - captions / references: UTF-8 lines `IMAGE#N<TAB>caption` or `IMAGE<TAB>caption`, any number per image,
///   or a COCO captions annotation file (`{"images": […], "annotations": [{"image_id", "caption"}…]}`);
/// - hypotheses: lines `IMAGE<TAB>caption`, one per image, or the COCO results JSON `[{"image_id", "caption"}…]`.
/// A UTF-8 byte-order mark and CRLF line ends are accepted; blank lines are skipped; a `#N` suffix (digits)
/// on an image name is dropped on both sides. Every problem is a `MetricsError` naming `file:line`.
public enum CaptionFiles {
    /// The longest caption line accepted, in bytes.
    public static let defaultMaxLineBytes = 10_000

    /// References of each image, in file order.
    public struct References: Sendable, Equatable {
        public var captions: [String: [String]]
        /// For COCO annotation files: `file_name` → image id (as a string), so that hypotheses named by file
        /// can be matched.
        public var fileNames: [String: String]
        /// Image ids in order of first appearance.
        public var order: [String]
    }

    /// Hypotheses, one per image.
    public struct Hypotheses: Sendable, Equatable {
        public var captions: [String: String]
        /// Image ids in file order.
        public var order: [String]
    }

    // MARK: reading files

    public static func readReferences(_ path: String, maxLineBytes: Int = defaultMaxLineBytes) throws(MetricsError) -> References {
        try parseReferences(read(path), name: path, maxLineBytes: maxLineBytes)
    }

    public static func readHypotheses(_ path: String, maxLineBytes: Int = defaultMaxLineBytes) throws(MetricsError) -> Hypotheses {
        try parseHypotheses(read(path), name: path, maxLineBytes: maxLineBytes)
    }

    static func read(_ path: String) throws(MetricsError) -> [UInt8] {
        do { return try FileBytes.read(path, limit: 1 << 31) } catch { throw MetricsError(error.description) }
    }

    // MARK: parsing

    /// Parses a references file (lines or COCO captions JSON); `name` is used in error messages.
    public static func parseReferences(_ bytes: [UInt8], name: String, maxLineBytes: Int = defaultMaxLineBytes) throws(MetricsError) -> References {
        let body = stripBOM(bytes)
        if isJSON(body) { return try cocoReferences(body, name: name, maxCaptionBytes: maxLineBytes) }
        var captions: [String: [String]] = [:]
        var order: [String] = []
        try eachLine(body, name: name, maxLineBytes: maxLineBytes) { (line, image, caption) throws(MetricsError) in
            if captions[image] == nil { order.append(image); captions[image] = [] }
            captions[image]?.append(caption)
        }
        guard !order.isEmpty else { throw MetricsError("\(name): no captions (empty file)") }
        return References(captions: captions, fileNames: [:], order: order)
    }

    /// Parses a hypotheses file (lines or COCO results JSON); a second hypothesis for an image is an error.
    public static func parseHypotheses(_ bytes: [UInt8], name: String, maxLineBytes: Int = defaultMaxLineBytes) throws(MetricsError) -> Hypotheses {
        let body = stripBOM(bytes)
        if isJSON(body) { return try cocoResults(body, name: name, maxCaptionBytes: maxLineBytes) }
        var captions: [String: String] = [:]
        var firstLine: [String: Int] = [:]
        var order: [String] = []
        try eachLine(body, name: name, maxLineBytes: maxLineBytes) { (line, image, caption) throws(MetricsError) in
            if let first = firstLine[image] {
                throw MetricsError("\(name):\(line): second hypothesis for image \(image) (the first is on line \(first))")
            }
            firstLine[image] = line
            captions[image] = caption
            order.append(image)
        }
        guard !order.isEmpty else { throw MetricsError("\(name): no captions (empty file)") }
        return Hypotheses(captions: captions, order: order)
    }

    static func stripBOM(_ b: [UInt8]) -> ArraySlice<UInt8> {
        b.starts(with: [0xEF, 0xBB, 0xBF]) ? b[3...] : b[...]
    }

    static func isJSON(_ b: ArraySlice<UInt8>) -> Bool {
        guard let first = b.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else { return false }
        return first == UInt8(ascii: "[") || first == UInt8(ascii: "{")
    }

    /// `IMAGE#N` → `IMAGE` when N is all digits.
    public static func imageName(_ s: Substring) -> String {
        if let hash = s.lastIndex(of: "#") {
            let suffix = s[s.index(after: hash)...]
            if !suffix.isEmpty, suffix.allSatisfy({ $0.isASCII && $0.isNumber }) { return String(s[..<hash]) }
        }
        return String(s)
    }

    /// Calls `body(lineNumber, image, caption)` for every non-blank line.
    static func eachLine(_ bytes: ArraySlice<UInt8>, name: String, maxLineBytes: Int,
                         _ body: (Int, String, String) throws(MetricsError) -> Void) throws(MetricsError) {
        var lineNumber = 0
        var start = bytes.startIndex
        while start < bytes.endIndex {
            lineNumber += 1
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.endIndex
            var lineEnd = end
            if lineEnd > start, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let raw = bytes[start..<lineEnd]
            start = end < bytes.endIndex ? end + 1 : end
            if raw.count > maxLineBytes {
                throw MetricsError("\(name):\(lineNumber): line is longer than the limit of \(maxLineBytes) bytes")
            }
            if raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0B || $0 == 0x0C }) { continue }
            guard String(validating: raw, as: UTF8.self) != nil else {
                throw MetricsError("\(name):\(lineNumber): not valid UTF-8")
            }
            guard let tab = raw.firstIndex(of: 0x09) else {
                throw MetricsError("\(name):\(lineNumber): expected IMAGE<TAB>caption, found no tab")
            }
            var keyStart = raw.startIndex, keyEnd = tab
            while keyStart < keyEnd, raw[keyStart] == 0x20 { keyStart += 1 }
            while keyEnd > keyStart, raw[keyEnd - 1] == 0x20 { keyEnd -= 1 }
            let image = imageName(Substring(String(decoding: raw[keyStart..<keyEnd], as: UTF8.self)))
            guard !image.isEmpty else { throw MetricsError("\(name):\(lineNumber): empty image name before the tab") }
            try body(lineNumber, image, String(decoding: raw[(tab + 1)...], as: UTF8.self))
        }
    }

    /// The hold-one-out protocol on a Flickr8k-style `IMAGE#N<TAB>caption` file: caption `#hypothesis` of each
    /// image is its hypothesis, the others its references (images without that caption are left out).
    /// `caption bench metrics` and the tests score Flickr8k this way.
    public static func holdOut(_ path: String, hypothesis: Int = 0) throws(MetricsError)
        -> (hypotheses: [String: String], references: [String: [String]]) {
        var hyps: [String: String] = [:], refs: [String: [String]] = [:]
        let want = String(hypothesis)
        let body = stripBOM(try read(path))
        var lineNumber = 0
        var start = body.startIndex
        while start < body.endIndex {
            lineNumber += 1
            let end = body[start...].firstIndex(of: 0x0A) ?? body.endIndex
            var lineEnd = end
            if lineEnd > start, body[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let raw = body[start..<lineEnd]
            start = end < body.endIndex ? end + 1 : end
            if raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard String(validating: raw, as: UTF8.self) != nil else { throw MetricsError("\(path):\(lineNumber): not valid UTF-8") }
            guard let tab = raw.firstIndex(of: 0x09), let hash = raw[..<tab].lastIndex(of: UInt8(ascii: "#")) else {
                throw MetricsError("\(path):\(lineNumber): expected IMAGE#N<TAB>caption")
            }
            let image = String(decoding: raw[..<hash], as: UTF8.self), caption = String(decoding: raw[(tab + 1)...], as: UTF8.self)
            if raw[(hash + 1)..<tab].elementsEqual(want.utf8) {
                if hyps[image] != nil { throw MetricsError("\(path):\(lineNumber): second caption #\(want) for image \(image)") }
                hyps[image] = caption
            } else {
                refs[image, default: []].append(caption)
            }
        }
        for k in refs.keys where hyps[k] == nil { refs[k] = nil }
        for k in hyps.keys where refs[k] == nil { hyps[k] = nil }
        return (hyps, refs)
    }

    // MARK: COCO JSON

    static func parseJSON(_ b: ArraySlice<UInt8>, name: String) throws(MetricsError) -> JSONValue {
        do { return try JSONValue.parse(b) } catch {
            throw MetricsError("\(name): \(error.description)")
        }
    }

    /// A COCO image id: a JSON integer or string.
    static func imageId(_ v: JSONValue?, name: String, what: String) throws(MetricsError) -> String {
        switch v {
        case .number(let s)?:
            guard let i = Int(s) else { throw MetricsError("\(name): \(what) has a non-integer image_id \(s)") }
            return String(i)
        case .string(let s)?:
            guard !s.isEmpty else { throw MetricsError("\(name): \(what) has an empty image_id") }
            return s
        default:
            throw MetricsError("\(name): \(what) lacks an integer or string \"image_id\"")
        }
    }

    /// Throws when a JSON caption is longer than the line limit of the line formats.
    static func checkLength(_ caption: String, _ max: Int, _ location: @autoclosure () -> String) throws(MetricsError) {
        guard caption.utf8.count <= max else {
            throw MetricsError("\(location()): caption of \(caption.utf8.count) bytes is above the limit of \(max) bytes")
        }
    }

    static func cocoResults(_ b: ArraySlice<UInt8>, name: String, maxCaptionBytes: Int = defaultMaxLineBytes) throws(MetricsError) -> Hypotheses {
        guard let items = try parseJSON(b, name: name).arrayValue else {
            throw MetricsError("\(name): a COCO results file must be a JSON array of {\"image_id\", \"caption\"}")
        }
        var captions: [String: String] = [:]
        var firstIndex: [String: Int] = [:]
        var order: [String] = []
        for (k, item) in items.enumerated() {
            guard item.objectValue != nil else { throw MetricsError("\(name): result \(k) is not an object") }
            let id = try imageId(item["image_id"], name: name, what: "result \(k)")
            guard let caption = item["caption"]?.stringValue else {
                throw MetricsError("\(name): result \(k) lacks a string \"caption\"")
            }
            try checkLength(caption, maxCaptionBytes, "\(name): result \(k)")
            if let first = firstIndex[id] {
                throw MetricsError("\(name): second hypothesis for image \(id) (results \(first) and \(k))")
            }
            firstIndex[id] = k
            captions[id] = caption
            order.append(id)
        }
        guard !order.isEmpty else { throw MetricsError("\(name): no captions (empty results array)") }
        return Hypotheses(captions: captions, order: order)
    }

    static func cocoReferences(_ b: ArraySlice<UInt8>, name: String, maxCaptionBytes: Int = defaultMaxLineBytes) throws(MetricsError) -> References {
        let root = try parseJSON(b, name: name)
        guard root.objectValue != nil, let annotations = root["annotations"]?.arrayValue else {
            throw MetricsError("\(name): a COCO captions file must be an object with an \"annotations\" array")
        }
        var fileNames: [String: String] = [:]
        if let images = root["images"] {
            guard let list = images.arrayValue else { throw MetricsError("\(name): \"images\" must be an array") }
            for (k, im) in list.enumerated() {
                guard im.objectValue != nil else { throw MetricsError("\(name): images[\(k)] is not an object") }
                let id = try imageId(im["id"], name: name, what: "images[\(k)]")
                if let f = im["file_name"]?.stringValue { fileNames[f] = id }
            }
        }
        var captions: [String: [String]] = [:]
        var order: [String] = []
        for (k, a) in annotations.enumerated() {
            guard a.objectValue != nil else { throw MetricsError("\(name): annotations[\(k)] is not an object") }
            let id = try imageId(a["image_id"], name: name, what: "annotations[\(k)]")
            guard let caption = a["caption"]?.stringValue else {
                throw MetricsError("\(name): annotations[\(k)] lacks a string \"caption\"")
            }
            try checkLength(caption, maxCaptionBytes, "\(name): annotations[\(k)]")
            if captions[id] == nil { order.append(id); captions[id] = [] }
            captions[id]?.append(caption)
        }
        guard !order.isEmpty else { throw MetricsError("\(name): no captions (empty annotations array)") }
        return References(captions: captions, fileNames: fileNames, order: order)
    }
}
