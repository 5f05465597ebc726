import XCTest
@testable import Metrics

final class CaptionFilesTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func refs(_ s: String) throws -> CaptionFiles.References { try CaptionFiles.parseReferences(bytes(s), name: "refs.txt") }
    func hyps(_ s: String) throws -> CaptionFiles.Hypotheses { try CaptionFiles.parseHypotheses(bytes(s), name: "hyps.txt") }

    func assertError(_ body: @autoclosure () throws -> Any, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("no error, expected \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual("\(error)", expected, file: file, line: line)
        }
    }

    func testFlickrTokenFormatAndPlainFormat() throws {
        let r = try refs("a.jpg#0\tA dog .\na.jpg#1\tA brown dog\nb.jpg\tA cat\n\nb.jpg\tAnother cat\n")
        XCTAssertEqual(r.order, ["a.jpg", "b.jpg"])
        XCTAssertEqual(r.captions["a.jpg"], ["A dog .", "A brown dog"])
        XCTAssertEqual(r.captions["b.jpg"], ["A cat", "Another cat"])
        let h = try hyps("a.jpg\tA dog\nb.jpg\t\n")
        XCTAssertEqual(h.captions, ["a.jpg": "A dog", "b.jpg": ""])
        XCTAssertEqual(h.order, ["a.jpg", "b.jpg"])
        // #N only when N is digits
        XCTAssertEqual(try hyps("x#y\tcap").order, ["x#y"])
        // a tab inside the caption stays in it
        XCTAssertEqual(try hyps("x\tone\ttwo").captions["x"], "one\ttwo")
    }

    func testBOMAndCRLFAccepted() throws {
        let r = try CaptionFiles.parseReferences([0xEF, 0xBB, 0xBF] + bytes("a.jpg#0\tA dog\r\na.jpg#1\tA cat\r\n"), name: "r")
        XCTAssertEqual(r.captions["a.jpg"], ["A dog", "A cat"])
        let h = try CaptionFiles.parseHypotheses([0xEF, 0xBB, 0xBF] + bytes("a.jpg\tA dog\r\n"), name: "h")
        XCTAssertEqual(h.captions["a.jpg"], "A dog")
    }

    func testBadLines() {
        assertError(try refs("a.jpg\tok\nno tab here\n"), "refs.txt:2: expected IMAGE<TAB>caption, found no tab")
        assertError(try hyps("a.jpg\tone\nb.jpg\ttwo\na.jpg\tthree\n"), "hyps.txt:3: second hypothesis for image a.jpg (the first is on line 1)")
        assertError(try hyps("a.jpg#0\tone\na.jpg#1\ttwo\n"), "hyps.txt:2: second hypothesis for image a.jpg (the first is on line 1)")
        assertError(try refs(""), "refs.txt: no captions (empty file)")
        assertError(try hyps("\n\n  \n"), "hyps.txt: no captions (empty file)")
        assertError(try refs("\tcaption\n"), "refs.txt:1: empty image name before the tab")
        assertError(try CaptionFiles.parseReferences(bytes("a\tok\n") + [0x61, 0x09, 0xFF, 0xFE, 0x0A], name: "r"), "r:2: not valid UTF-8")
        assertError(try CaptionFiles.parseHypotheses(bytes("a\t" + String(repeating: "x", count: 200)), name: "h", maxLineBytes: 100),
                    "h:1: line is longer than the limit of 100 bytes")
        assertError(try CaptionFiles.readHypotheses("/nonexistent/hyps.txt"), "cannot open /nonexistent/hyps.txt: No such file or directory")
    }

    func testCOCOResults() throws {
        let h = try hyps(#"[{"image_id": 42, "caption": "A dog."}, {"image_id": "7", "caption": "a cat", "score": 0.5}]"#)
        XCTAssertEqual(h.captions, ["42": "A dog.", "7": "a cat"])
        XCTAssertEqual(h.order, ["42", "7"])
        assertError(try hyps(#"[{"image_id": 1, "caption": "a"}, {"image_id": 1, "caption": "b"}]"#),
                    "hyps.txt: second hypothesis for image 1 (results 0 and 1)")
        assertError(try hyps(#"[{"image_id": 1}]"#), "hyps.txt: result 0 lacks a string \"caption\"")
        assertError(try hyps(#"[{"image_id": 1.5, "caption": "a"}]"#), "hyps.txt: result 0 has a non-integer image_id 1.5")
        assertError(try hyps(#"[{"caption": "a"}]"#), "hyps.txt: result 0 lacks an integer or string \"image_id\"")
        assertError(try hyps(#"[1]"#), "hyps.txt: result 0 is not an object")
        assertError(try hyps(#"{"a": 1}"#), "hyps.txt: a COCO results file must be a JSON array of {\"image_id\", \"caption\"}")
        assertError(try hyps("[]"), "hyps.txt: no captions (empty results array)")
        XCTAssertThrowsError(try hyps("[{\"image_id\": 1, \"caption\": \"a\""))
    }

    func testCOCOCaptions() throws {
        let r = try refs(#"""
        {"info": {}, "images": [{"id": 9, "file_name": "COCO_val2014_000000000009.jpg"}, {"id": 3, "file_name": "three.jpg"}],
         "annotations": [{"image_id": 9, "id": 1, "caption": "A plate of food."}, {"image_id": 3, "id": 2, "caption": "A bus"},
                         {"image_id": 9, "id": 3, "caption": "Broccoli and rice"}]}
        """#)
        XCTAssertEqual(r.captions, ["9": ["A plate of food.", "Broccoli and rice"], "3": ["A bus"]])
        XCTAssertEqual(r.order, ["9", "3"])
        XCTAssertEqual(r.fileNames["three.jpg"], "3")
        assertError(try refs(#"{"images": []}"#), "refs.txt: a COCO captions file must be an object with an \"annotations\" array")
        assertError(try refs(#"{"annotations": [{"image_id": 1, "caption": 5}]}"#), "refs.txt: annotations[0] lacks a string \"caption\"")
        assertError(try refs(#"{"annotations": []}"#), "refs.txt: no captions (empty annotations array)")
    }
}
