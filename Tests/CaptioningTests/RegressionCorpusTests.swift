import XCTest
import Foundation
@testable import Captioning
import Metrics
import Text
import Vision

/// The regression corpus (Tests/Corpus/<fuzz target>/) through the library parsers each file was found with:
/// every one throws (none traps). The command-line side is CLITests' RegressionCorpusTests.
final class RegressionCorpusLibraryTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Corpus")

    func files(_ kind: String) throws -> [String] {
        let dir = Self.corpus.appendingPathComponent(kind).path
        guard FileManager.default.fileExists(atPath: dir) else { return [] }  // git keeps no empty directory
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted().map { dir + "/" + $0 }
    }

    func name(_ path: String) -> String { (path as NSString).lastPathComponent }

    func testImagesThrow() throws {
        for kind in ["jpeg", "png", "pnm", "bmp"] {
            for path in try files(kind) {
                XCTAssertThrowsError(try loadCaptionImage(path: path), "\(kind)/\(name(path))")
            }
        }
    }

    func testSafeTensorsFilesThrowAsModels() throws {
        for path in try files("safetensors") {
            XCTAssertThrowsError(try CaptionModel.load(path), name(path))
        }
    }

    func testMetadataThrows() throws {
        for path in try files("metadata") {
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            switch name(path).prefix(while: { $0 != "-" }) {
            case "config":
                XCTAssertThrowsError(try CaptionDecoder(try ModelFile.decodeJSON(ModelConfig.self, text, what: "config")), name(path))
            case "vocab":
                XCTAssertThrowsError(try Vocabulary(json: text), name(path))
            case "smallcnn":
                XCTAssertThrowsError(try SmallCNNConfiguration(parsing: text), name(path))
            case "options":
                XCTAssertThrowsError(try ModelFile.decodeJSON(TrainingOptions.self, text, what: "training.options"), name(path))
            case "state":
                XCTAssertThrowsError(try ModelFile.decodeJSON(TrainingState.self, text, what: "training.state").validate(), name(path))
            default:
                XCTFail("\(name(path)): unknown metadata kind")
            }
        }
    }

    func testCaptionFilesThrow() throws {
        for path in try files("captions") {
            switch name(path).prefix(while: { $0 != "-" }) {
            case "hyp": XCTAssertThrowsError(try CaptionFiles.readHypotheses(path), name(path))
            case "ref": XCTAssertThrowsError(try CaptionFiles.readReferences(path), name(path))
            case "token": XCTAssertThrowsError(try DatasetParsers.tokenFile(path), name(path))
            case "csv": XCTAssertThrowsError(try DatasetParsers.csvFile(path), name(path))
            case "karpathy": XCTAssertThrowsError(try DatasetParsers.karpathy(try DatasetParsers.parseJSON(path), path: path), name(path))
            case "coco": XCTAssertThrowsError(try DatasetParsers.coco(try DatasetParsers.parseJSON(path), path: path), name(path))
            default: XCTFail("\(name(path)): unknown caption file kind")
            }
        }
    }
}
