import SafeTensors

extension CaptionDataset {
    /// Loads a DATASET given as a directory or a file (DESIGN.md lists the forms), detecting its form from the
    /// path unless `format` says it; `images` overrides where the image files are. Captions whose image does not
    /// exist are skipped and counted (see `warning`), so are split-list entries without captions; the Flickr8k
    /// `IMAGE.jpg.1` quirk maps to `IMAGE.jpg` when only that exists. Fails when no captioned image exists at all.
    public static func load(_ path: String, format: DatasetFormat? = nil, images: String? = nil) throws(DatasetError) -> CaptionDataset {
        guard FileSystem.exists(path) else { throw DatasetError("dataset \(path) does not exist") }
        if let images, !FileSystem.isDirectory(images) { throw DatasetError("--images \(images) is not a directory") }
        let source = try DatasetSource.detect(path, format: format)
        return try source.load(imageOverride: images)
    }
}

/// A dataset's files once its form is known.
struct DatasetSource {
    var format: DatasetFormat
    /// The caption file (token file, CSV or JSON).
    var file: String
    /// The directory the dataset lives in (the one given, or the caption file's).
    var base: String

    static func detect(_ path: String, format: DatasetFormat?) throws(DatasetError) -> DatasetSource {
        if FileSystem.isDirectory(path) {
            let entries = FileSystem.list(path) ?? []
            func find(_ f: DatasetFormat) -> String? {
                switch f {
                case .directory:
                    return entries.contains("captions.txt") ? FileSystem.join(path, "captions.txt") : nil
                case .flickr8k:
                    for dir in [path, FileSystem.join(path, "Flickr8k_text")] + entries.map({ FileSystem.join(path, $0) }) {
                        let f = FileSystem.join(dir, "Flickr8k.token.txt")
                        if FileSystem.isFile(f) { return f }
                    }
                    return nil
                case .csv:
                    if entries.contains("captions.txt"), looksLikeCSV(FileSystem.join(path, "captions.txt")) { return FileSystem.join(path, "captions.txt") }
                    return entries.first { $0.lowercased().hasSuffix(".csv") }.map { FileSystem.join(path, $0) }
                case .karpathy:
                    return entries.first { $0.hasPrefix("dataset_") && $0.hasSuffix(".json") }.map { FileSystem.join(path, $0) }
                case .coco:
                    for dir in [path, FileSystem.join(path, "annotations")] {
                        if let f = (FileSystem.list(dir) ?? []).first(where: { $0.hasPrefix("captions_") && $0.hasSuffix(".json") }) {
                            return FileSystem.join(dir, f)
                        }
                    }
                    return nil
                }
            }
            if let format {
                guard let f = find(format) else {
                    throw DatasetError("\(path) holds no \(format.rawValue) caption file (\(DatasetSource.expectation(format)))")
                }
                return DatasetSource(format: format, file: f, base: path)
            }
            // A Kaggle-style captions.txt is a CSV; the flickr8k layout's is tab-separated.
            for f in [DatasetFormat.directory, .flickr8k, .csv, .karpathy, .coco] {
                if f == .directory, let file = find(.directory), looksLikeCSV(file) { continue }
                if let file = find(f) { return DatasetSource(format: f, file: file, base: path) }
            }
            throw DatasetError("cannot tell what dataset \(path) is: expected captions.txt with train/val/test.txt, Flickr8k.token.txt, a CSV, dataset_*.json or captions_*.json (or pass --format)")
        }
        let base = FileSystem.parent(path)
        if let format { return DatasetSource(format: format, file: path, base: base) }
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") { return DatasetSource(format: .csv, file: path, base: base) }
        if lower.hasSuffix(".json") {
            let json = try DatasetParsers.parseJSON(path)
            if json["annotations"] != nil { return DatasetSource(format: .coco, file: path, base: base) }
            if let first = json["images"]?.arrayValue?.first, first["sentences"] != nil || first["split"] != nil {
                return DatasetSource(format: .karpathy, file: path, base: base)
            }
            throw DatasetError("\(path) is neither a Karpathy split file (images[].sentences) nor a COCO captions file (annotations[]); pass --format")
        }
        if looksLikeCSV(path) { return DatasetSource(format: .csv, file: path, base: base) }
        // A token file: the flickr8k layout when train.txt sits beside it, else the Flickr8k distribution.
        let layout = FileSystem.isFile(FileSystem.join(base, "train.txt")) && !FileSystem.isFile(FileSystem.join(base, "Flickr_8k.trainImages.txt"))
        return DatasetSource(format: layout ? .directory : .flickr8k, file: path, base: base)
    }

    static func expectation(_ f: DatasetFormat) -> String {
        switch f {
        case .directory: return "expected captions.txt, train.txt, val.txt, test.txt and images/"
        case .flickr8k: return "expected Flickr8k.token.txt and Flickr_8k.{train,dev,test}Images.txt"
        case .csv: return "expected a CSV with header image,caption"
        case .karpathy: return "expected dataset_*.json"
        case .coco: return "expected captions_*.json, or annotations/captions_*.json"
        }
    }

    /// Whether the first line of a file is a CSV header naming an image column.
    static func looksLikeCSV(_ path: String) -> Bool {
        guard let text = try? DatasetParsers.readText(path), let first = DatasetParsers.lines(text).first else { return false }
        let l = first.lowercased()
        return !l.contains("\t") && (l.hasPrefix("image,") || l.hasPrefix("\"image\",") || l.contains(",caption"))
    }

    /// Split lists beside the caption file or in the dataset directory: `train.txt`/`val.txt`/`test.txt`, else the
    /// Flickr8k distribution's `Flickr_8k.{train,dev,test}Images.txt`.
    func splitLists() throws(DatasetError) -> [String: [String]]? {
        let dirs = [FileSystem.parent(file), base]
        let patterns: [[(String, String)]] = [
            [("train", "Flickr_8k.trainImages.txt"), ("val", "Flickr_8k.devImages.txt"), ("test", "Flickr_8k.testImages.txt")],
            [("train", "train.txt"), ("val", "val.txt"), ("test", "test.txt")],
        ]
        let order = format == .flickr8k ? patterns : patterns.reversed()
        for set in order {
            for dir in dirs {
                var out: [String: [String]] = [:]
                for (split, name) in set {
                    let p = FileSystem.join(dir, name)
                    if FileSystem.isFile(p) { out[split] = try DatasetParsers.nameList(p) }
                }
                if !out.isEmpty { return out }
            }
        }
        return nil
    }

    func imageCandidates() -> [String] {
        let up = FileSystem.parent(base)
        switch format {
        case .directory:
            return [FileSystem.join(base, "images"), FileSystem.join(base, "Images"), base]
        case .flickr8k:
            var out: [String] = []
            for root in [base, FileSystem.parent(file), FileSystem.parent(FileSystem.parent(file))] {
                for sub in ["Flicker8k_Dataset", "Flickr8k_Dataset", "Flickr8k_Dataset/Flicker8k_Dataset", "Flickr8k_Dataset/Flickr8k_Dataset", "Images", "images"] {
                    out.append(FileSystem.join(root, sub))
                }
                out.append(root)
            }
            return out
        case .csv:
            return [FileSystem.join(base, "Images"), FileSystem.join(base, "images"), base]
        case .karpathy:
            return [FileSystem.join(base, "images"), FileSystem.join(base, "Images"), base, up,
                    FileSystem.join(base, "Flicker8k_Dataset"), FileSystem.join(up, "images")]
        case .coco:
            // captions_val2014.json -> val2014/ beside the annotations folder.
            let stem = FileSystem.baseName(file).replacingOccurrences("captions_", "").replacingOccurrences(".json", "")
            return [FileSystem.join(base, stem), FileSystem.join(up, stem), FileSystem.join(base, "images"), FileSystem.join(up, "images"), base, up]
        }
    }

    func load(imageOverride: String?) throws(DatasetError) -> CaptionDataset {
        // (name, path relative to the image root, captions), in file order.
        var entries: [(name: String, relative: String, captions: [String])] = []
        var splits: [String: [String]]? = nil
        var note: String? = nil
        switch format {
        case .directory, .flickr8k, .csv:
            let g = format == .csv ? try DatasetParsers.csvFile(file) : try DatasetParsers.tokenFile(file)
            entries = g.names.map { ($0, $0, g.captions[$0] ?? []) }
            splits = try splitLists()
        case .karpathy:
            let list = try DatasetParsers.karpathy(try DatasetParsers.parseJSON(file), path: file)
            var s: [String: [String]] = [:]
            for im in list {
                let rel = im.subdirectory.map { FileSystem.join($0, im.name) } ?? im.name
                entries.append((im.name, rel, im.captions))
                s[im.split, default: []].append(im.name)
            }
            splits = s
        case .coco:
            let g = try DatasetParsers.coco(try DatasetParsers.parseJSON(file), path: file)
            entries = g.names.map { ($0, $0, g.captions[$0] ?? []) }
            let stem = FileSystem.baseName(file).lowercased()
            if let s = ["train", "val", "test"].first(where: { stem.contains($0) }) { splits = [s: g.names] }
        }
        guard !entries.isEmpty else { throw DatasetError("\(file) holds no captions") }

        // The image root: the override, else the first candidate holding the first captioned images.
        var root = imageOverride ?? ""
        if imageOverride == nil {
            let probe = entries.prefix(20)
            let candidates = imageCandidates().filter(FileSystem.isDirectory)
            root = candidates.first { dir in
                probe.contains { FileSystem.isFile(FileSystem.join(dir, $0.relative)) || FileSystem.isFile(FileSystem.join(dir, $0.name)) }
            } ?? candidates.first ?? base
        }

        var byName: [String: CaptionedImage] = [:]
        var order: [String] = []
        var missing: [String] = []
        var missingSet: Set<String> = []
        var skipped = 0
        for e in entries {
            var name = e.name
            var path = FileSystem.join(root, e.relative)
            if !FileSystem.isFile(path), e.relative != e.name, FileSystem.isFile(FileSystem.join(root, e.name)) {
                path = FileSystem.join(root, e.name)
            }
            if !FileSystem.isFile(path), let stripped = DatasetSource.withoutCopySuffix(e.name),
               FileSystem.isFile(FileSystem.join(root, stripped)) {
                name = stripped
                path = FileSystem.join(root, stripped)
            }
            guard FileSystem.isFile(path) else {
                if missingSet.insert(e.name).inserted { missing.append(e.name) }
                skipped += e.captions.count
                continue
            }
            if e.captions.isEmpty { continue }
            if byName[name] == nil {
                order.append(name)
                byName[name] = CaptionedImage(name: name, path: path, captions: e.captions)
            } else {
                byName[name]!.captions += e.captions
            }
        }
        guard !order.isEmpty else {
            throw DatasetError("none of the \(entries.count) images named in \(file) exists in \(root) (e.g. \(entries[0].relative)); pass --images DIR")
        }
        let all = order.compactMap { byName[$0] }
        if splits == nil {
            // No split lists: a stable hash split, 80 % train, 10 % val, 10 % test.
            var s: [String: [String]] = ["train": [], "val": [], "test": []]
            for n in order {
                let h = FeatureCache.fingerprint(Array(n.utf8)) % 10
                s[h == 0 ? "test" : h == 1 ? "val" : "train"]!.append(n)
            }
            splits = s
            note = "no split lists found: images split 80/10/10 by a hash of their names"
        }
        var out: [String: [CaptionedImage]] = [:]
        var uncaptioned: [String] = []
        for (split, names) in splits ?? [:] {
            var seen: Set<String> = []
            var list: [CaptionedImage] = []
            for n in names where seen.insert(n).inserted {
                if let im = byName[n] ?? DatasetSource.withoutCopySuffix(n).flatMap({ byName[$0] }) {
                    list.append(im)
                } else if !missingSet.contains(n) {
                    uncaptioned.append(n)
                }
            }
            out[split] = list
        }
        return CaptionDataset(format: format, imageDirectory: root, splits: out, all: all, missingImages: missing,
                              skippedCaptions: skipped, uncaptionedImages: uncaptioned.sorted(), splitNote: note)
    }

    /// `x.jpg.1` -> `x.jpg` (the Flickr8k token file's duplicate-name quirk); nil for other names.
    static func withoutCopySuffix(_ name: String) -> String? {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        let tail = name[name.index(after: dot)...]
        guard !tail.isEmpty, tail.allSatisfy(\.isNumber) else { return nil }
        let stem = String(name[..<dot])
        return FileSystem.isImageName(stem) ? stem : nil
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
