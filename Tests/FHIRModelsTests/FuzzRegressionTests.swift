import Testing
import Foundation
@testable import FHIRModels

/// Replays every file of `Fixtures/fuzz/<corpus>/` (seeds and crashers found by `scripts/fuzz`) through
/// the reader of that corpus. A crash kills the test process; a reader must either return a result or
/// throw its parse error, within a bounded time. Each corpus directory needs a replayer below: add
/// yours (xml, fhirpath, …) when you add a corpus.
@Suite struct FuzzRegressionTests {
    enum Outcome { case parsed, refused }

    /// Corpus directory name → how one input is replayed.
    static let replayers: [String: @Sendable ([UInt8]) -> Outcome] = [
        "json": replayJSON,
        "xml": replayXML,
    ]

    /// Corpora replayed by another test target (their reader lives in a module this target does not import).
    static let replayedElsewhere: [String: String] = ["http": "GatewayTests/HTTPFuzzRegressionTests", "fhirpath": "ValidationTests/FHIRPathFuzzRegressionTests",
                                                               "cda": "MappersTests/CDAFuzzRegressionTests"]

    static func replayXML(_ bytes: [UInt8]) -> Outcome {
        let tree: ElementTree
        do {
            tree = try FHIRXMLReader.read(bytes)
        } catch {
            #expect(!error.message.isEmpty)
            return .refused
        }
        #expect(tree.structuralProblem() == nil)
        // What XML accepted must survive the JSON writer and read back.
        #expect((try? FHIRJSONReader.read(FHIRJSONWriter.write(tree, pretty: false))) != nil)
        _ = FHIRXMLWriter.write(tree, pretty: true)
        return .parsed
    }

    static let corpusRoot = Fixtures.repoRoot.appendingPathComponent("Fixtures/fuzz")

    static func replayJSON(_ bytes: [UInt8]) -> Outcome {
        let tree: ElementTree
        do {
            tree = try FHIRJSONReader.read(bytes)
        } catch {
            // Typed throws: the only possible error is FHIRParseError; its location must be inside the text.
            #expect(error.location.line >= 1 && error.location.column >= 1, "\(error)")
            #expect(!error.message.isEmpty)
            return .refused
        }
        #expect(!tree.nodes.isEmpty)
        #expect(tree.structuralProblem() == nil)
        // The same bytes through the raw reader and the ordered value must round-trip.
        if let value = try? JSONValue.parse(bytes) {
            #expect((try? JSONValue.parse(value.serialized())) == value)
        }
        return .parsed
    }

    static func corpora() -> [String] {
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: corpusRoot.path)) ?? []
        return dirs.filter { var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: corpusRoot.appendingPathComponent($0).path, isDirectory: &d) && d.boolValue
        }.sorted()
    }

    @Test func everyCorpusHasAReplayer() {
        let dirs = Self.corpora()
        #expect(dirs.contains("json"))
        for d in dirs { #expect(Self.replayers[d] != nil || Self.replayedElsewhere[d] != nil, "Fixtures/fuzz/\(d) has no replayer in FuzzRegressionTests") }
    }

    @Test(arguments: corpora()) func replayCorpus(_ corpus: String) throws {
        guard let replay = Self.replayers[corpus] else { return }
        let dir = Self.corpusRoot.appendingPathComponent(corpus)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(!files.isEmpty)
        var parsed = 0, refused = 0
        for f in files {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(f)))
            let start = ContinuousClock.now
            switch replay(bytes) {
            case .parsed: parsed += 1
            case .refused: refused += 1
            }
            // Guards against hangs and quadratic blow-ups (inputs are small; debug build).
            #expect(ContinuousClock.now - start < .seconds(5), "\(corpus)/\(f) took too long")
        }
        // A corpus holds both well-formed and malformed inputs.
        #expect(parsed > 0 && refused > 0, "\(corpus): \(parsed) parsed, \(refused) refused")
    }

    /// Crasher (index -1): `_x` without `x` on a complex or resource element. Now kept as unknown content.
    @Test func loneShadowOnComplexElementIsKeptAndReported() throws {
        for json in [#"{"resourceType":"Patient","_maritalStatus":{"id":"m"}}"#, #"{"resourceType":"Patient","_contained":{}}"#,
                     #"{"resourceType":"Bundle","entry":[{"_resource":{}}]}"#] {
            let tree = try FHIRJSONReader.read(Array(json.utf8))
            #expect(tree.issues.contains { $0.message.contains("only allowed for primitive elements") }, "\(json)")
            // One unknown subtree, rooted at the `_x` member.
            let unknown = (0..<Int32(tree.nodes.count)).filter { tree[$0].flags.contains(.unknown) && !tree[tree[$0].parent].flags.contains(.unknown) }
            #expect(unknown.count == 1 && tree.name(unknown[0]).hasPrefix("_"), "\(json)")
        }
        // With the value present, the element is read and the shadow kept aside.
        let tree = try FHIRJSONReader.read(Array(#"{"resourceType":"Patient","_name":[{"id":"a"}],"name":[{"family":"F"}]}"#.utf8))
        #expect(tree.value(tree.descendant(0, "name.family")!) == "F")
        #expect(tree.child(0, "_name") != nil)
    }

    @Test func jsonSeedsBehaveAsNamed() throws {
        let dir = Self.corpusRoot.appendingPathComponent("json")
        func outcome(_ name: String) throws -> Outcome {
            Self.replayJSON(try [UInt8](Data(contentsOf: dir.appendingPathComponent(name))))
        }
        for good in ["patient-primitives.json", "task-sdo.json", "bundle-contained.json", "bom.json", "escapes.json", "deep-extensions.json",
                     "crash-shadow-on-complex.json", "crash-shadow-on-contained.json", "crash-shadow-on-entry-resource.json"] {
            #expect(try outcome(good) == .parsed, "\(good)")
        }
        for bad in ["invalid-utf8.json", "duplicate-key.json", "trailing-comma.json", "truncated.json", "lone-surrogate.json",
                    "array-root.json", "empty.json", "unknown-type.json", "deep-arrays.json", "bad-numbers.json"] {
            #expect(try outcome(bad) == .refused, "\(bad)")
        }
    }
}
