import Testing
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import FHIRModels
@testable import Validation

/// Runs the HL7 FHIRPath R4 test suite (`fhir-test-cases/r4/fhirpath/tests-fhir-r4.xml`).
/// Inputs are the suite's own files (mostly XML, read with `FHIRXMLReader`).
@Suite struct FHIRPathSuiteTests {
    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/reference")

    struct Case {
        var group = "", name = "", inputFile: String?, predicate = false, mode: String?, ordered = true
        var expression = "", invalid: String?, outputs: [(type: String?, text: String)] = []
        var isModeTest = false
    }

    final class SuiteReader: NSObject, XMLParserDelegate {
        var cases: [Case] = []
        var current: Case?
        var group = ""
        var text = ""
        var outputType: String?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes a: [String: String] = [:]) {
            text = ""
            switch name {
            case "group": group = a["name"] ?? ""
            case "test", "modeTest":
                var c = Case()
                c.group = group; c.name = a["name"] ?? ""; c.inputFile = a["inputfile"]
                c.predicate = a["predicate"] == "true"; c.mode = a["mode"]; c.ordered = a["ordered"] != "false"
                c.isModeTest = name == "modeTest"
                current = c
            case "expression":
                current?.invalid = a["invalid"]
                if let m = a["mode"] { current?.mode = m }
            case "output": outputType = a["type"]
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            switch name {
            case "expression": current?.expression = text
            case "output": current?.outputs.append((outputType, text))
            case "test", "modeTest": if let c = current { cases.append(c) }; current = nil
            default: break
            }
            text = ""
        }
    }

    static func loadCases() -> [Case]? {
        let url = reference.appendingPathComponent("fhir-test-cases/r4/fhirpath/tests-fhir-r4.xml")
        guard let parser = XMLParser(contentsOf: url) else { return nil }
        let reader = SuiteReader()
        parser.delegate = reader
        guard parser.parse() else { return nil }
        return reader.cases
    }

    /// A suite input file, read as published (`.xml` with the FHIR XML reader, `.json` with the JSON reader).
    static func loadInput(_ file: String) -> ElementTree? {
        guard let data = FileManager.default.contents(atPath: reference.appendingPathComponent("fhir-test-cases/r4/" + file).path) else {
            return nil
        }
        if file.hasSuffix(".xml") { return try? FHIRXMLReader.read(Array(data)) }
        return try? FHIRJSONReader.read(Array(data))
    }

    /// Why a test is not run, or nil to run it.
    static func skipReason(_ c: Case, inputAvailable: Bool) -> String? {
        if c.isModeTest { return "lenient mode (\(c.mode ?? "")): this engine implements strict FHIRPath only" }
        if !inputAvailable { return "input \(c.inputFile ?? "") not available (no JSON twin, or unreadable)" }
        if c.expression.contains("memberOf(") { return "needs a terminology server (memberOf)" }
        return nil
    }

    static func render(_ v: FHIRPathValue, _ tree: ElementTree) -> (type: String, text: String) {
        switch v {
        case .node(let id): return (tree.typeName(id) ?? "?", tree.value(id) ?? "<\(tree.name(id))>")
        case .boolean(let b): return ("boolean", b ? "true" : "false")
        case .string(let s): return ("string", s)
        case .integer(let i): return ("integer", String(i))
        case .decimal: return ("decimal", v.description)
        case .date(let d): return ("date", "@" + d.description)
        case .dateTime(let d): return ("dateTime", "@" + d.description)
        case .time(let d): return ("time", "@T" + d.description)
        case .quantity(let q): return ("Quantity", q.description)
        }
    }

    static func matches(_ actual: (type: String, text: String), _ expected: (type: String?, text: String)) -> Bool {
        if let t = expected.type, t != actual.type { return false }
        if expected.type == "decimal" || (expected.type == nil && actual.type == "decimal") {
            return Decimal(string: actual.text) == Decimal(string: expected.text)
        }
        if actual.type == "Quantity", expected.type == nil || expected.type == "Quantity" {
            // Compare value numerically (`1.5865 'cm'` = `1.58650000 'cm'`) and the unit as written.
            let a = actual.text.split(separator: " ", maxSplits: 1), e = expected.text.split(separator: " ", maxSplits: 1)
            return a.count == 2 && e.count == 2 && a[1] == e[1] && Decimal(string: String(a[0])) == Decimal(string: String(e[0]))
        }
        if actual.type == "date" || actual.type == "dateTime" || actual.type == "time" || actual.type == "instant" {
            let a = actual.text.hasPrefix("@") ? String(actual.text.dropFirst()) : actual.text
            let e = expected.text.hasPrefix("@") ? String(expected.text.dropFirst()) : expected.text
            return a == e
        }
        return actual.text == expected.text
    }

    /// Runs one case; nil when it passes, else why it failed.
    static func run(_ c: Case, _ tree: ElementTree) -> String? {
        let result: [FHIRPathValue]
        do {
            let expr = try FHIRPathExpression(c.expression, contextType: tree.typeName(tree.root))
            result = try expr.evaluate(tree, node: tree.root)
        } catch {
            return c.invalid != nil ? nil : "error: \(error)"
        }
        if let inv = c.invalid { return "expected a \(inv) error, got \(result.map { render($0, tree).text })" }
        var actual = result.map { render($0, tree) }
        if c.predicate { actual = [("boolean", result.isEmpty ? "false" : "true")] }
        guard actual.count == c.outputs.count else {
            return "expected \(c.outputs.map { "\($0.type ?? ""):\($0.text)" }), got \(actual.map { "\($0.type):\($0.text)" })"
        }
        if c.ordered {
            for (a, e) in zip(actual, c.outputs) where !matches(a, e) {
                return "expected \(e.type ?? ""):\(e.text), got \(a.type):\(a.text)"
            }
        } else {
            var remaining = actual
            for e in c.outputs {
                guard let i = remaining.firstIndex(where: { matches($0, e) }) else { return "missing \(e.type ?? ""):\(e.text) in \(actual)" }
                remaining.remove(at: i)
            }
        }
        return nil
    }

    struct Tally { var passed = 0, failures: [String] = [], skipped: [String: Int] = [:] }

    static func runSuite(_ cases: [Case], load: (String) -> ElementTree?) -> Tally {
        var trees: [String: ElementTree?] = [:]
        var t = Tally()
        for c in cases {
            let file = c.inputFile ?? "patient-example.xml"
            if trees[file] == nil { trees[file] = .some(load(file)) }
            let tree = trees[file]!
            if let why = skipReason(c, inputAvailable: tree != nil) { t.skipped[why, default: 0] += 1; continue }
            if let failure = run(c, tree!) {
                t.failures.append("\(c.group)/\(c.name): \(c.expression.replacingOccurrences(of: "\n", with: " ")) → \(failure)")
            } else {
                t.passed += 1
            }
        }
        return t
    }

    static func report(_ title: String, _ t: Tally) {
        print("\(title): \(t.passed) passed, \(t.failures.count) failed, \(t.skipped.values.reduce(0, +)) skipped")
        for (why, n) in t.skipped.sorted(by: { $0.key < $1.key }) { print("  skipped \(n): \(why)") }
        for f in t.failures { print("  FAIL \(f)") }
    }

    @Test func hl7FHIRPathSuite() throws {
        guard let cases = Self.loadCases() else {
            print("FHIRPath suite not found under \(Self.reference.path); skipped")
            return
        }
        #expect(cases.count >= 900)
        let t = Self.runSuite(cases, load: Self.loadInput)
        Self.report("FHIRPath suite", t)
        #expect(t.passed + t.failures.count > 0)
        // Floor: the pass count reached; it must not regress.
        #expect(t.passed >= Self.floor, "\(t.passed) passed of \(t.passed + t.failures.count)")
    }

    /// The same cases on the JSON twins of the XML inputs: both readers must give the same answers.
    @Test func hl7FHIRPathSuiteOnJSONTwins() throws {
        guard let cases = Self.loadCases() else { return }
        let t = Self.runSuite(cases, load: Self.loadJSONTwin)
        Self.report("FHIRPath suite on JSON twins", t)
        let xml = Self.runSuite(cases.filter { c in Self.loadJSONTwin(c.inputFile ?? "patient-example.xml") != nil }, load: Self.loadInput)
        #expect(t.passed == xml.passed, "JSON \(t.passed) vs XML \(xml.passed)")
        #expect(t.passed >= Self.jsonFloor)
    }

    /// The JSON twin of a suite input (official examples), or nil when there is none.
    static func loadJSONTwin(_ file: String) -> ElementTree? {
        guard file.hasSuffix(".xml") else { return loadInput(file) }
        let path = reference.appendingPathComponent("fhir-test-cases/r4/examples/\(file.dropLast(4)).json").path
        guard var data = FileManager.default.contents(atPath: path) else { return nil }
        if file == "observation-example.xml" { data = Data(patchObservation(String(decoding: data, as: UTF8.self)).utf8) }
        return try? FHIRJSONReader.read(Array(data))
    }

    /// The suite's observation-example.xml carries a `patient-age` extension that the published JSON
    /// example lacks; it is added so both are the same instance.
    static func patchObservation(_ json: String) -> String {
        let ext = #""extension": [{"url": "http://example.com/fhir/StructureDefinition/patient-age", "valueAge": {"value": 41, "system": "http://unitsofmeasure.org", "code": "a"}}],"#
        return json.replacingOccurrences(of: #""resourceType": "Observation","#, with: #""resourceType": "Observation", "# + ext)
    }

    static let floor = 931
    static let jsonFloor = 917
}
