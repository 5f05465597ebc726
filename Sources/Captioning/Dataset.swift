/// One image of a dataset split with its reference captions (raw text, as in the source file).
public struct CaptionedImage: Sendable, Equatable {
    /// The image's name as the dataset spells it (`1000268201_693b08cb0e.jpg`, `COCO_val2014_000000391895.jpg`).
    public var name: String
    /// Where the image file is.
    public var path: String
    /// Its captions, in file order.
    public var captions: [String]

    public init(name: String, path: String, captions: [String]) {
        self.name = name
        self.path = path
        self.captions = captions
    }
}

/// The on-disk forms a `DATASET` argument can take (DESIGN.md).
public enum DatasetFormat: String, Sendable, CaseIterable {
    /// A directory like `../shared/data/flickr8k`: `images/`, `captions.txt` (`IMAGE#N<TAB>caption`), `train.txt`, `val.txt`, `test.txt`.
    case directory
    /// The Flickr8k distribution: `Flickr8k.token.txt`, `Flickr_8k.{train,dev,test}Images.txt` and the image folder.
    case flickr8k
    /// A CSV with header `image,caption` (Kaggle's Flickr8k `captions.txt`) and an image folder.
    case csv
    /// A Karpathy split JSON (`dataset_flickr8k.json`, `dataset_coco.json`); `restval` counts as train.
    case karpathy
    /// A COCO captions annotation file (`captions_val2014.json`).
    case coco
}

/// A dataset problem, as one line.
public struct DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Images with captions, split into `train`, `val` and `test` (plus `all`, every captioned image that exists).
/// Load any DATASET form with `CaptionDataset.load(_:format:images:)`.
public struct CaptionDataset: Sendable {
    /// The standard split names.
    public static let splitNames = ["train", "val", "test"]

    public var format: DatasetFormat
    /// Where the images were looked for.
    public var imageDirectory: String
    /// Split name -> images, in the split file's order (file order when the dataset has no split lists).
    public var splits: [String: [CaptionedImage]]
    /// Every captioned image that exists, in caption-file order.
    public var all: [CaptionedImage]
    /// Images named by captions or split lists that do not exist on disk (skipped).
    public var missingImages: [String]
    /// Caption rows skipped because their image does not exist.
    public var skippedCaptions: Int
    /// Images of split lists that have no caption (skipped).
    public var uncaptionedImages: [String]
    /// How the splits were made, when the dataset has none of its own (e.g. a hash split of a CSV).
    public var splitNote: String?

    /// The images of `name` (`train`, `val`, `test` or `all`); `dev` and `validation` mean `val`.
    public func split(_ name: String) throws(DatasetError) -> [CaptionedImage] {
        let key = ["dev": "val", "validation": "val", "restval": "train"][name] ?? name
        if key == "all" { return all }
        guard let s = splits[key] else {
            throw DatasetError("the dataset has no split '\(name)' (it has: \((splits.keys.sorted() + ["all"]).joined(separator: ", ")))")
        }
        return s
    }

    /// One line for stderr describing skipped data, or nil when nothing was skipped.
    public var warning: String? {
        var parts: [String] = []
        if !missingImages.isEmpty {
            let example = missingImages[0]
            parts.append("\(missingImages.count) image\(missingImages.count == 1 ? "" : "s") named in the captions do not exist in \(imageDirectory) (e.g. \(example)); their \(skippedCaptions) caption\(skippedCaptions == 1 ? "" : "s") skipped")
        }
        if !uncaptionedImages.isEmpty {
            parts.append("\(uncaptionedImages.count) image\(uncaptionedImages.count == 1 ? "" : "s") of the split lists have no caption (e.g. \(uncaptionedImages[0])); skipped")
        }
        return parts.isEmpty ? nil : "warning: " + parts.joined(separator: "; ")
    }

    /// A one-line summary such as `flickr8k layout: train 6000, val 1000, test 1000 images (40455 captions)`.
    public var summary: String {
        let counts = CaptionDataset.splitNames.compactMap { n in splits[n].map { "\(n) \($0.count)" } }
        let captions = all.reduce(0) { $0 + $1.captions.count }
        return "\(format.rawValue) dataset: \(counts.joined(separator: ", ")) images (\(all.count) captioned images, \(captions) captions)"
    }
}
