import Foundation
import FHIRModels
@testable import Validation

/// Test-only locations.
enum TestPaths {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sharedReference = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference")
    static let r4 = sharedReference.appendingPathComponent("fhir-r4")
    /// The 715 official examples are reference data: tests that read them are skipped without `../shared`.
    static var r4ExamplesAvailable: Bool { FileManager.default.fileExists(atPath: r4.appendingPathComponent("examples").path) }
}

/// Test-only `StructureDefinitionProvider`: the R4 core definitions (they carry snapshots) read from the
/// official bundles in `../shared/reference/fhir-r4`, plus definitions added by the test.
final class BundleDefinitions: StructureDefinitionProvider, @unchecked Sendable {
    private var byURL: [String: JSONValue] = [:]
    private let lock = NSLock()

    /// Shared instance over the core bundles; nil when the reference data is absent.
    static let core: BundleDefinitions? = {
        let files = ["profiles-types.json", "profiles-resources.json", "extension-definitions.json", "profiles-others.json"]
        let d = BundleDefinitions()
        for f in files {
            guard let data = FileManager.default.contents(atPath: TestPaths.r4.appendingPathComponent(f).path),
                  let bundle = try? JSONValue.parse([UInt8](data), limits: JSONLimits(maxBytes: 64 << 20)) else { return nil }
            for e in bundle["entry"]?.array ?? [] {
                guard let r = e["resource"], r["resourceType"]?.string == "StructureDefinition", let u = r["url"]?.string else { continue }
                d.byURL[u] = r
            }
        }
        return d
    }()

    init() {}

    /// The core definitions plus `extra` (test profiles, with snapshots).
    init(core: BundleDefinitions, extra: [JSONValue]) {
        byURL = core.byURL
        for e in extra { if let u = e["url"]?.string { byURL[u] = e } }
    }

    var count: Int { lock.withLock { byURL.count } }

    func structureDefinition(url: String) -> JSONValue? {
        lock.withLock { byURL[url] ?? url.split(separator: "|").first.flatMap { byURL[String($0)] } }
    }
}

/// Test-only terminology: value sets as explicit lists of (system, code, display).
struct TinyTerminology: TerminologyProvider {
    struct Concept: Sendable { var system: String; var code: String; var display: String? }
    var valueSets: [String: [Concept]]

    func validate(code: String, system: String?, display: String?, valueSet: String) -> CodeValidation {
        guard let concepts = valueSets[valueSet] else {
            return CodeValidation(outcome: .unknownValueSet, message: "value set \(valueSet) is unknown")
        }
        guard let c = concepts.first(where: { $0.code == code && (system == nil || $0.system == system) }) else {
            let known = concepts.contains { $0.system == system }
            return CodeValidation(outcome: known || system == nil ? .notInValueSet : .unknownSystem, message: "code '\(code)' is not in \(valueSet)")
        }
        if let d = display, let expected = c.display, d != expected {
            return CodeValidation(outcome: .valid, displayMismatch: "'\(d)' should be '\(expected)'", message: "display mismatch")
        }
        return CodeValidation(outcome: .valid, message: "ok")
    }

    func knowsCodeSystem(_ url: String) -> Bool { valueSets.values.contains { $0.contains { $0.system == url } } }
}

/// Builds a profile snapshot for tests from a core definition: copies the base snapshot, then applies
/// edits per element id and inserts extra elements (slices and their children) after a given id.
enum TestProfiles {
    static func derive(from base: JSONValue, url: String, edits: [String: [(String, JSONValue)]] = [:],
                       insertAfter: [String: [JSONValue]] = [:]) -> JSONValue {
        var sd = base
        sd["url"] = .string(url)
        sd["derivation"] = .string("constraint")
        sd["baseDefinition"] = base["url"]
        sd["version"] = nil
        var out: [JSONValue] = []
        for e in base["snapshot"]?["element"]?.array ?? [] {
            var el = e
            let id = el["id"]?.string ?? ""
            for (k, v) in edits[id] ?? [] { el[k] = v }
            out.append(el)
            for extra in insertAfter[id] ?? [] { out.append(extra) }
        }
        sd["snapshot"] = .object([("element", .array(out))])
        sd["differential"] = nil
        return sd
    }

    static func element(_ id: String, path: String, sliceName: String? = nil, min: Int, max: String,
                        _ more: [(String, JSONValue)] = []) -> JSONValue {
        var m: [(String, JSONValue)] = [("id", .string(id)), ("path", .string(path))]
        if let s = sliceName { m.append(("sliceName", .string(s))) }
        m.append(("min", .number(String(min))))
        m.append(("max", .string(max)))
        return .object(m + more)
    }

    static func json(_ text: String) -> JSONValue { try! JSONValue.parse(Array(text.utf8)) }
}
