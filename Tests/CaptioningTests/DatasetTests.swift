import XCTest
@testable import Captioning

/// The DATASET forms of DESIGN.md, on hand-written fixtures (image files are empty placeholders: loading only
/// checks that they exist), and on ../shared/data/flickr8k when present.
final class DatasetTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/datasets").path

    func fixture(_ name: String) -> String { DatasetTests.fixtures + "/" + name }

    func names(_ images: [CaptionedImage]) -> [String] { images.map(\.name) }

    func testLayoutDirectoryWithBOMAndCRLFAndMissingImage() throws {
        let d = try CaptionDataset.load(fixture("layout"))
        XCTAssertEqual(d.format, .directory)
        XCTAssertEqual(names(try d.split("train")), ["a.jpg", "b.jpg"])
        XCTAssertEqual(names(try d.split("val")), ["c.jpg"])
        XCTAssertEqual(names(try d.split("test")), ["d.jpg"], "e.jpg does not exist")
        let a = try d.split("train")[0]
        XCTAssertEqual(a.captions, ["A dog runs .", "A brown dog is running on the grass ."], "no BOM, no \\r")
        XCTAssertTrue(a.path.hasSuffix("layout/images/a.jpg"), a.path)
        XCTAssertEqual(try d.split("test")[0].captions, ["A woman, smiling ."])
        XCTAssertEqual(d.missingImages, ["e.jpg"])
        XCTAssertEqual(d.skippedCaptions, 2)
        XCTAssertEqual(names(d.all), ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
        XCTAssertNotNil(d.warning)
        XCTAssertTrue(d.warning!.contains("1 image"), d.warning!)
        XCTAssertEqual(names(try d.split("dev")), ["c.jpg"])
        XCTAssertThrowsError(try d.split("restval2"))
        // The captions file given directly finds the same layout.
        let f = try CaptionDataset.load(fixture("layout/captions.txt"))
        XCTAssertEqual(f.format, .directory)
        XCTAssertEqual(names(try f.split("train")), ["a.jpg", "b.jpg"])
    }

    func testFlickr8kDistributionWithJpgDot1Quirk() throws {
        let d = try CaptionDataset.load(fixture("flickr8k"))
        XCTAssertEqual(d.format, .flickr8k)
        XCTAssertTrue(d.imageDirectory.hasSuffix("Flicker8k_Dataset"), d.imageDirectory)
        XCTAssertEqual(names(try d.split("train")), ["p1.jpg", "p4.jpg"])
        XCTAssertEqual(try d.split("train")[1].captions, ["The quirky name maps to p4 .", "A second caption for p4 ."])
        XCTAssertEqual(names(try d.split("val")), ["p2.jpg"])
        XCTAssertEqual(names(try d.split("test")), ["p3.jpg"])
        XCTAssertEqual(d.missingImages, ["p5.jpg.1"])
        XCTAssertEqual(d.skippedCaptions, 1)
        XCTAssertEqual(d.uncaptionedImages, ["p9.jpg"])
        // The token file itself, with the format forced.
        let t = try CaptionDataset.load(fixture("flickr8k/Flickr8k_text/Flickr8k.token.txt"), format: .flickr8k)
        XCTAssertEqual(names(try t.split("train")), ["p1.jpg", "p4.jpg"])
    }

    func testKaggleCSVWithQuotedFields() throws {
        let d = try CaptionDataset.load(fixture("kaggle"))
        XCTAssertEqual(d.format, .csv)
        XCTAssertEqual(names(d.all), ["k1.jpg", "k2.jpg", "k3.jpg"])
        XCTAssertEqual(d.all[0].captions, ["A child in a pink dress is climbing up a set of stairs in an entry way .", "A girl, going into a wooden building ."])
        XCTAssertEqual(d.all[1].captions, ["A dog says \"woof\" loudly ."])
        XCTAssertEqual(d.all[2].captions, ["A caption\nover two lines ."])
        XCTAssertNotNil(d.splitNote, "no split lists: a hash split")
        let union = Set(try d.split("train").map(\.name) + d.split("val").map(\.name) + d.split("test").map(\.name))
        XCTAssertEqual(union, ["k1.jpg", "k2.jpg", "k3.jpg"])
        // The same file, asked for as a CSV by path.
        let f = try CaptionDataset.load(fixture("kaggle/captions.txt"))
        XCTAssertEqual(f.format, .csv)
        XCTAssertEqual(f.all.count, 3)
    }

    func testCSVParserEdgeCases() throws {
        let r = try DatasetParsers.csvRecords("image,caption\r\nx.jpg,\"a, b\"\"c\"\"\"\r\ny.jpg,plain\r\n\r\n", path: "t.csv")
        XCTAssertEqual(r, [["image", "caption"], ["x.jpg", "a, b\"c\""], ["y.jpg", "plain"]])
        XCTAssertThrowsError(try DatasetParsers.csvRecords("image,caption\nx.jpg,\"open", path: "t.csv")) { e in
            XCTAssertTrue("\(e)".contains("unterminated"), "\(e)")
        }
    }

    func testKarpathySplitWithRestval() throws {
        let d = try CaptionDataset.load(fixture("karpathy/dataset_flickr8k.json"))
        XCTAssertEqual(d.format, .karpathy)
        XCTAssertEqual(names(try d.split("train")), ["j1.jpg", "j2.jpg"], "restval is train")
        XCTAssertEqual(try d.split("train")[0].captions, ["A red car .", "A car that is red ."])
        XCTAssertEqual(names(try d.split("val")), ["j3.jpg"])
        XCTAssertEqual(names(try d.split("test")), ["j4.jpg"])
        XCTAssertEqual(try CaptionDataset.load(fixture("karpathy")).format, .karpathy)
    }

    func testCOCOCaptions() throws {
        let d = try CaptionDataset.load(fixture("coco"))
        XCTAssertEqual(d.format, .coco)
        XCTAssertTrue(d.imageDirectory.hasSuffix("val2014"), d.imageDirectory)
        XCTAssertEqual(names(try d.split("val")), ["COCO_val2014_000000000002.jpg", "COCO_val2014_000000000001.jpg"])
        XCTAssertEqual(try d.split("val")[1].captions, ["A plate of food.", "Some food on a plate"])
        XCTAssertEqual(d.missingImages, ["COCO_val2014_000000000003.jpg"])
        XCTAssertThrowsError(try d.split("test"))
    }

    func testImagesOverrideAndErrors() throws {
        // Pointing --images elsewhere: no image exists there, which is an error naming the file.
        XCTAssertThrowsError(try CaptionDataset.load(fixture("layout"), images: fixture("kaggle/Images"))) { e in
            XCTAssertTrue("\(e)".contains("none of the"), "\(e)")
        }
        XCTAssertThrowsError(try CaptionDataset.load(fixture("nope")))
        XCTAssertThrowsError(try CaptionDataset.load(fixture("layout"), format: .karpathy)) { e in
            XCTAssertTrue("\(e)".contains("dataset_"), "\(e)")
        }
        let tmp = NSTemporaryDirectory() + "dataset-bad-\(getpid()).txt"
        try "a.jpg#0 no tab here\n".write(toFile: tmp, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        XCTAssertThrowsError(try CaptionDataset.load(tmp, format: .flickr8k)) { e in
            XCTAssertTrue("\(e)".contains(":1:"), "\(e)")
        }
    }

    func testSharedFlickr8k() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/flickr8k").path
        guard FileManager.default.fileExists(atPath: dir + "/captions.txt") else {
            throw XCTSkip("../shared not found: skipping the Flickr8k dataset test")
        }
        let d = try CaptionDataset.load(dir)
        XCTAssertEqual(d.format, .directory)
        for (split, n) in [("train", 6000), ("val", 1000), ("test", 1000)] {
            let s = try d.split(split)
            XCTAssertEqual(s.count, n, split)
            XCTAssertTrue(s.allSatisfy { $0.captions.count == 5 }, split)
        }
        XCTAssertEqual(d.all.count, 8091)
        XCTAssertTrue(d.missingImages.isEmpty)
        XCTAssertNil(d.warning)
    }
}
