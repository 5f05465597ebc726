import SafeTensors
import Metrics

/// Parsers of the caption files behind each DATASET form. They work on text (BOM removed, CRLF accepted) and
/// report malformed input as a `DatasetError` naming the file and line.
enum DatasetParsers {
    /// Captions grouped by image, in order of first appearance.
    struct Grouped {
        var names: [String] = []
        var captions: [String: [String]] = [:]

        mutating func add(_ name: String, _ caption: String) {
            if captions[name] == nil { names.append(name); captions[name] = [] }
            captions[name]!.append(caption)
        }
    }

    /// The longest caption (or caption line) accepted, in bytes: the limit of `caption score`.
    static let maxCaptionBytes = CaptionFiles.defaultMaxLineBytes

    /// Throws when `caption` is above `maxCaptionBytes`; `location` names the file and line or record.
    static func checkLength(_ caption: some StringProtocol, _ location: @autoclosure () -> String) throws(DatasetError) {
        guard caption.utf8.count <= maxCaptionBytes else {
            throw DatasetError("\(location()): caption of \(caption.utf8.count) bytes is above the limit of \(maxCaptionBytes) bytes")
        }
    }

    /// The whole file as text, without a UTF-8 byte-order mark.
    static func readText(_ path: String) throws(DatasetError) -> String {
        var bytes: [UInt8]
        do { bytes = try FileBytes.read(path) } catch { throw DatasetError(error.description) }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Lines without their `\n` / `\r\n` terminators (a final empty line is dropped). Split on bytes: Swift
    /// treats `\r\n` as one `Character`, so a `Character` split would miss CRLF line ends.
    static func lines(_ text: String) -> [Substring] {
        var out: [Substring] = []
        var line: [UInt8] = []
        for b in text.utf8 {
            if b == 10 {
                if line.last == 13 { line.removeLast() }
                out.append(Substring(String(decoding: line, as: UTF8.self)))
                line.removeAll(keepingCapacity: true)
            } else {
                line.append(b)
            }
        }
        if !line.isEmpty {
            if line.last == 13 { line.removeLast() }
            out.append(Substring(String(decoding: line, as: UTF8.self)))
        }
        return out
    }

    static func trimmed(_ s: Substring) -> String {
        var t = s
        while let f = t.first, f == " " || f == "\t" || f == "\r" { t.removeFirst() }
        while let l = t.last, l == " " || l == "\t" || l == "\r" { t.removeLast() }
        return String(t)
    }

    /// `IMAGE#N<TAB>caption` or `IMAGE<TAB>caption` lines (the Flickr8k token format).
    static func tokenFile(_ path: String) throws(DatasetError) -> Grouped {
        try tokenLines(try readText(path), path: path)
    }

    /// The token format parsed from text; `path` names the file in errors.
    static func tokenLines(_ text: String, path: String) throws(DatasetError) -> Grouped {
        var g = Grouped()
        for (i, line) in lines(text).enumerated() {
            try checkLength(line, "\(path):\(i + 1)")
            if trimmed(line).isEmpty { continue }
            guard let tab = line.firstIndex(of: "\t") else {
                throw DatasetError("\(path):\(i + 1): expected IMAGE#N<TAB>caption, found no tab")
            }
            var key = line[..<tab]
            if let hash = key.lastIndex(of: "#"), !key[key.index(after: hash)...].isEmpty,
               key[key.index(after: hash)...].allSatisfy(\.isNumber) {
                key = key[..<hash]
            }
            let name = trimmed(key)
            let caption = trimmed(line[line.index(after: tab)...])
            guard !name.isEmpty else { throw DatasetError("\(path):\(i + 1): empty image name") }
            if caption.isEmpty { continue }
            g.add(name, caption)
        }
        return g
    }

    /// A list of image names, one a line (split files).
    static func nameList(_ path: String) throws(DatasetError) -> [String] {
        lines(try readText(path)).map(trimmed).filter { !$0.isEmpty }
    }

    /// RFC 4180 CSV: quoted fields may hold commas, newlines and doubled quotes.
    static func csvRecords(_ text: String, path: String) throws(DatasetError) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field: [Unicode.Scalar] = []
        var inQuotes = false
        var atFieldStart = true
        var line = 1
        var it = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endField() { record.append(String(String.UnicodeScalarView(field))); field = []; atFieldStart = true }
        while let c = pending ?? it.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let n = it.next() {
                        if n == "\"" { field.append("\"") } else { inQuotes = false; pending = n }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where atFieldStart:
                inQuotes = true
                atFieldStart = false
            case ",":
                endField()
            case "\r":
                continue
            case "\n":
                endField()
                if !(record.count == 1 && record[0].isEmpty) { records.append(record) }
                record = []
                line += 1
            default:
                field.append(c)
                atFieldStart = false
            }
        }
        if inQuotes { throw DatasetError("\(path):\(line): unterminated quoted field") }
        if !field.isEmpty || !record.isEmpty {
            endField()
            if !(record.count == 1 && record[0].isEmpty) { records.append(record) }
        }
        return records
    }

    /// A CSV with a header naming `image` and `caption` columns (any order, other columns ignored).
    static func csvFile(_ path: String) throws(DatasetError) -> Grouped {
        try csvCaptions(try readText(path), path: path)
    }

    /// The CSV form parsed from text; `path` names the file in errors.
    static func csvCaptions(_ text: String, path: String) throws(DatasetError) -> Grouped {
        let records = try csvRecords(text, path: path)
        guard let header = records.first else { throw DatasetError("\(path) is empty") }
        let names = header.map { $0.trimmingSpaces.lowercased() }
        guard let ic = names.firstIndex(where: { ["image", "image_name", "filename", "file_name"].contains($0) }),
              let cc = names.firstIndex(where: { ["caption", "comment", "text", "sentence"].contains($0) }) else {
            throw DatasetError("\(path): the CSV header must name an 'image' and a 'caption' column (found: \(header.joined(separator: ",")))")
        }
        var g = Grouped()
        for (i, r) in records.dropFirst().enumerated() {
            guard r.count > max(ic, cc) else {
                throw DatasetError("\(path): record \(i + 2) has \(r.count) field\(r.count == 1 ? "" : "s"), expected \(header.count)")
            }
            try checkLength(r[cc], "\(path): record \(i + 2)")
            let name = r[ic].trimmingSpaces, caption = r[cc].trimmingSpaces
            if name.isEmpty || caption.isEmpty { continue }
            g.add(name, caption)
        }
        return g
    }

    static func parseJSON(_ path: String) throws(DatasetError) -> JSONValue {
        try parseJSON(text: try readText(path), path: path)
    }

    static func parseJSON(text: String, path: String) throws(DatasetError) -> JSONValue {
        do { return try JSONValue.parse(Array(text.utf8), maxDepth: 32) } catch {
            throw DatasetError("\(path): invalid JSON: \(error.description)")
        }
    }

    /// One image of a Karpathy split file.
    struct KarpathyImage {
        var name: String
        var subdirectory: String?
        var split: String
        var captions: [String]
    }

    /// `images[]` with `filename`, optional `filepath`, `split` and `sentences[].raw`.
    static func karpathy(_ json: JSONValue, path: String) throws(DatasetError) -> [KarpathyImage] {
        guard let images = json["images"]?.arrayValue else { throw DatasetError("\(path): no 'images' array (not a Karpathy split file)") }
        var out: [KarpathyImage] = []
        out.reserveCapacity(images.count)
        for (i, im) in images.enumerated() {
            guard let name = im["filename"]?.stringValue, !name.isEmpty else {
                throw DatasetError("\(path): images[\(i)] has no 'filename'")
            }
            guard let split = im["split"]?.stringValue else { throw DatasetError("\(path): images[\(i)] (\(name)) has no 'split'") }
            var captions: [String] = []
            for s in im["sentences"]?.arrayValue ?? [] {
                if let raw = s["raw"]?.stringValue {
                    try checkLength(raw, "\(path): images[\(i)] (\(name))")
                    let t = raw.trimmingSpaces
                    if !t.isEmpty { captions.append(t) }
                } else if let tokens = s["tokens"]?.arrayValue {
                    let caption = tokens.compactMap(\.stringValue).joined(separator: " ")
                    try checkLength(caption, "\(path): images[\(i)] (\(name))")
                    captions.append(caption)
                }
            }
            out.append(KarpathyImage(name: name, subdirectory: im["filepath"]?.stringValue, split: split == "restval" ? "train" : split,
                                     captions: captions))
        }
        return out
    }

    /// `images[].id/file_name` and `annotations[].image_id/caption`; images in `images` order.
    static func coco(_ json: JSONValue, path: String) throws(DatasetError) -> Grouped {
        guard let images = json["images"]?.arrayValue, let annotations = json["annotations"]?.arrayValue else {
            throw DatasetError("\(path): a COCO captions file needs 'images' and 'annotations' arrays")
        }
        func key(_ v: JSONValue?) -> String? {
            guard let v else { return nil }
            if case .number(let s) = v { return s }
            return v.stringValue
        }
        var nameOf: [String: String] = [:]
        var order: [String] = []
        for (i, im) in images.enumerated() {
            guard let id = key(im["id"]), let file = im["file_name"]?.stringValue else {
                throw DatasetError("\(path): images[\(i)] needs 'id' and 'file_name'")
            }
            if nameOf[id] == nil { order.append(id) }
            nameOf[id] = file
        }
        var byImage: [String: [String]] = [:]
        for (i, a) in annotations.enumerated() {
            guard let id = key(a["image_id"]), let caption = a["caption"]?.stringValue else {
                throw DatasetError("\(path): annotations[\(i)] needs 'image_id' and 'caption'")
            }
            guard nameOf[id] != nil else { throw DatasetError("\(path): annotations[\(i)] refers to image id \(id), which is not in 'images'") }
            try checkLength(caption, "\(path): annotations[\(i)]")
            let t = caption.trimmingSpaces
            if !t.isEmpty { byImage[id, default: []].append(t) }
        }
        var g = Grouped()
        for id in order {
            guard let file = nameOf[id] else { continue }
            for c in byImage[id] ?? [] { g.add(file, c) }
        }
        return g
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line breaks.
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" || f == "\r\n" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" || l == "\r\n" { s.removeLast() }
        return String(s)
    }
}
