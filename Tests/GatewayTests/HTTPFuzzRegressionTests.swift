import Testing
import Foundation
@testable import Gateway

/// Replays `Fixtures/fuzz/http/` (seeds and crashers of `scripts/fuzz http`) through the request parser,
/// whole and byte by byte: no crash, and both feedings reach the same verdict.
@Suite struct HTTPFuzzRegressionTests {
    @Test func replayCorpus() throws {
        let dir = TestSupport.repoRoot.appendingPathComponent("Fixtures/fuzz/http")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(files.count >= 5)
        var accepted = 0, refused = 0
        for f in files {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(f)))
            let (a, b) = HTTPRequestParser.wholeAndTrickled(bytes)
            switch (a, b) {
            case (.request(let x)?, .request(let y)?): #expect(x == y, "\(f)"); accepted += 1
            case (nil, nil): refused += 1
            case (.needMore?, .needMore?): break
            default: Issue.record("\(f): whole and byte-by-byte feeding disagree")
            }
        }
        #expect(accepted > 0 && refused > 0)
    }
}
