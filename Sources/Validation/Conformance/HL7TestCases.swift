import Foundation
import FHIRModels

/// Conformance harness over the HL7 validator test cases (`FHIR/fhir-test-cases`, R4 subset described
/// by `r4-validator-index.json`): each tier-A case is validated with the project's own stores (plus the
/// case's supporting files) and compared with the Java reference validator's outcome: the number of
/// errors (error + fatal) must be equal, and every expression of an expected error must be among ours.
public enum HL7TestCases {
    /// One expected issue of the reference outcome (errors and fatals only are kept).
    public struct ExpectedIssue: Sendable {
        public var expression: String?
        public var message: String
    }

    /// One record of `r4-validator-index.json`.
    public struct Case: Sendable {
        public var name: String
        public var file: String
        public var module: String
        public var tier: String
        public var gatewayCore: Bool
        public var supporting: [String]
        /// The supporting files of the base run when the manifest tells them apart (its `supporting` and
        /// `profiles`): Java loads the profile run's own files (`profile.supporting`, `profile.source`)
        /// only for that run. nil: every file for both runs.
        public var baseSupporting: [String]?
        public var profile: String?
        public var expectedErrors: Int?
        public var expectedProfileErrors: Int?
        public var expectedIssues: [ExpectedIssue]
        public var expectedProfileIssues: [ExpectedIssue]
        public var options: JSONValue
    }

    /// Which records to run.
    public enum Selection: String, Sendable {
        case gatewayCore = "gateway_core"
        case allTierA = "all tier A"
        func includes(_ c: Case) -> Bool {
            guard c.tier == "A-offline" else { return false }
            return self == .allTierA || c.gatewayCore
        }
    }

    /// The comparison of one validation run (the base run, or the run against the case's profile).
    public struct RunResult: Sendable {
        public var caseName: String
        public var module: String
        public var gatewayCore: Bool
        /// "base" or "profile".
        public var kind: String
        public var expectedErrors: Int
        public var ourErrors: [OutcomeIssue]
        public var expected: [ExpectedIssue]
        /// Expected error expressions none of our errors has.
        public var missingExpressions: [String]
        /// Problems met while setting the case up (supporting file not loadable, ...), for the report.
        public var notes: [String]
        public var passed: Bool { ourErrors.count == expectedErrors && missingExpressions.isEmpty }
        public var label: String { kind == "base" ? caseName : caseName + " [profile]" }
    }

    public enum HarnessError: Error, CustomStringConvertible {
        case index(String)
        public var description: String { switch self { case .index(let m): m } }
    }

    // MARK: index

    /// Reads the index and the expected outcomes (outcome files or inline outcomes).
    public static func loadCases(directory: String) throws(HarnessError) -> [Case] {
        guard let index = readJSON(directory + "/r4-validator-index.json") else {
            throw .index("cannot read \(directory)/r4-validator-index.json")
        }
        guard let tests = index["tests"]?.array else { throw .index("r4-validator-index.json: no 'tests' list") }
        var baseFiles: [String: [String]] = [:]
        for t in readJSON(directory + "/validator/manifest.json")?["test-cases"]?.array ?? [] {
            guard let name = t["name"]?.string, ["4.0", "4.0.1"].contains(t["version"]?.string ?? "") else { continue }
            baseFiles[name] = (t["supporting"]?.array ?? []).compactMap(\.string) + (t["profiles"]?.array ?? []).compactMap(\.string)
        }
        return tests.compactMap { t in
            guard let name = t["name"]?.string, let file = t["file"]?.string else { return nil }
            func issues(file: String?, inline: JSONValue?) -> [ExpectedIssue] {
                var outcome: JSONValue?
                if let f = file, f != "inline" { outcome = readJSON(directory + "/validator/" + f) }
                if outcome == nil, let i = inline { outcome = i["outcome"] ?? i }
                return (outcome?["issue"]?.array ?? []).compactMap { i in
                    guard ["error", "fatal"].contains(i["severity"]?.string ?? "") else { return nil }
                    return ExpectedIssue(expression: i["expression"]?.array?.first?.string ?? i["location"]?.array?.first?.string,
                                         message: i["details"]?["text"]?.string ?? i["diagnostics"]?.string ?? "")
                }
            }
            return Case(name: name, file: file, module: t["module"]?.string ?? "",
                        tier: t["tier"]?.string ?? "", gatewayCore: t["gateway_core"]?.bool ?? false,
                        supporting: t["supporting"]?.array?.compactMap(\.string) ?? [],
                        baseSupporting: baseFiles[name],
                        profile: t["profile"]?.string,
                        expectedErrors: t["expected"]?["error"]?.int,
                        expectedProfileErrors: t["expected_profile"]?["error"]?.int,
                        expectedIssues: issues(file: t["outcome_file"]?.string, inline: t["inline_java"]),
                        expectedProfileIssues: issues(file: t["profile_outcome_file"]?.string, inline: t["inline_profile_java"]),
                        options: t["options"] ?? .object([]))
        }
    }

    static func readJSON(_ path: String) -> JSONValue? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONValue.parse([UInt8](data), limits: JSONLimits(maxBytes: 64 << 20))
    }

    /// A resource file as JSON: JSON files as they are, XML through the element tree.
    static func readResource(_ path: String) -> Result<JSONValue, HarnessError> {
        guard let data = FileManager.default.contents(atPath: path) else { return .failure(.index("cannot read \(path)")) }
        let bytes = [UInt8](data)
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }
        do {
            if first == UInt8(ascii: "<") {
                let tree = try FHIRXMLReader.read(bytes, limits: JSONLimits(maxBytes: 64 << 20))
                return .success(try JSONValue.parse(FHIRJSONWriter.write(tree), limits: JSONLimits(maxBytes: 64 << 20)))
            }
            return .success(try JSONValue.parse(bytes, limits: JSONLimits(maxBytes: 64 << 20)))
        } catch {
            return .failure(.index("\(path): \(error)"))
        }
    }

    /// Expressions compared without Java's resource comments (`Bundle.entry[0].resource/*Patient/p*/.x`).
    static func normalize(_ expression: String) -> String {
        var out = ""
        var rest = Substring(expression)
        while let open = rest.range(of: "/*") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "*/") else { rest = ""; break }
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    // MARK: running

    /// Runs cases against copies of the given stores (loaded once by the caller).
    public struct Runner: Sendable {
        public let directory: String
        public let conformance: ConformanceStore
        public let terminology: TerminologyStore

        public init(directory: String, conformance: ConformanceStore, terminology: TerminologyStore) {
            self.directory = directory
            self.conformance = conformance
            self.terminology = terminology
        }

        /// The project's stores (`ValidationEngine.load`), once.
        public init(directory: String, dataDirectory: String? = nil) throws(ValidationEngine.LoadError) {
            let engine = try ValidationEngine.load(dataDirectory: dataDirectory)
            self.init(directory: directory, conformance: engine.conformance, terminology: engine.terminology)
        }

        /// The validator options a case asks for (the Java harness's settings that have an equivalent here).
        public static func options(for c: Case) -> ValidatorOptions {
            var options = ValidatorOptions()
            if c.options["security-checks"]?.bool == true { options.securityChecks = true }
            if let examples = c.options["examples"]?.bool { options.allowExampleURLs = examples }
            // The Java harness's reference policy: IGNORE unless the case asks for more.
            let policy = c.options["validateReference"]?.string ?? "IGNORE"
            options.checkUnresolvedReferenceTypes = policy != "IGNORE" && policy != "CHECK_EXISTS"
            return options
        }

        /// The validation set-up of one run: the stores with the given supporting files loaded.
        struct Setup {
            var engine: ValidationEngine
            var notes: [String]
            var profileURL: String?
        }

        func setup(_ c: Case, files: [String]) -> Setup {
            let base = directory + "/validator/"
            var notes: [String] = []
            var conformance = self.conformance
            var terminology = self.terminology
            var options = Self.options(for: c)
            var definitions: [JSONValue] = []
            var profileURL: String?
            for f in files {
                let resource: JSONValue
                switch HL7TestCases.readResource(base + f) {
                case .success(let r): resource = r
                case .failure(let e): notes.append("supporting \(e)"); continue
                }
                if f == c.profile { profileURL = resource["url"]?.string }
                let entries = resource["resourceType"]?.string == "Bundle"
                    ? (resource["entry"]?.array ?? []).compactMap { $0["resource"] } : [resource]
                for r in entries {
                    switch r["resourceType"]?.string {
                    case "StructureDefinition": definitions.append(r)
                    case "ValueSet", "CodeSystem":
                        do { try terminology.load(resource: r, source: f) } catch { notes.append("\(f): \(error)") }
                    case "ImplementationGuide":
                        for g in r["global"]?.array ?? [] {
                            if let type = g["type"]?.string, let p = g["profile"]?.string { options.globalProfiles[type, default: []].append(p) }
                        }
                    default: break
                    }
                }
            }
            if !definitions.isEmpty {
                let report = conformance.load(resources: definitions, lenient: true)
                for failure in report.failures { notes.append("snapshot: \(failure)") }
            }
            return Setup(engine: ValidationEngine(conformance: conformance, terminology: terminology, options: options),
                         notes: notes, profileURL: profileURL)
        }

        public func run(_ c: Case) -> [RunResult] {
            let base = directory + "/validator/"
            var files = c.supporting
            if let p = c.profile, !files.contains(p) { files.append(p) }
            let all = setup(c, files: files)
            let baseFiles = c.baseSupporting.map { b in files.filter { b.contains($0) } } ?? files
            let first = baseFiles == files ? all : setup(c, files: baseFiles)
            let data = FileManager.default.contents(atPath: base + c.file)
            var results: [RunResult] = []
            if let expected = c.expectedErrors {
                let issues = data.map { first.engine.validate([UInt8]($0)) }
                    ?? [OutcomeIssue(severity: .fatal, code: .notFound, message: "cannot read \(c.file)")]
                results.append(compare(c, kind: "base", expected: expected, issues: c.expectedIssues, ours: issues, notes: first.notes))
            }
            if c.profile != nil, let expected = c.expectedProfileErrors {
                var ours: [OutcomeIssue]
                var profileNotes = all.notes
                if let url = all.profileURL, let data {
                    ours = all.engine.validate([UInt8](data), profiles: [url])
                    if all.engine.validator.plan(for: url) == nil { profileNotes.append("profile \(url) not available") }
                } else {
                    ours = data.map { all.engine.validate([UInt8]($0)) } ?? []
                    profileNotes.append("profile \(c.profile ?? "") not loadable")
                }
                results.append(compare(c, kind: "profile", expected: expected, issues: c.expectedProfileIssues, ours: ours, notes: profileNotes))
            }
            return results
        }

        func compare(_ c: Case, kind: String, expected: Int, issues: [ExpectedIssue], ours: [OutcomeIssue], notes: [String]) -> RunResult {
            let errors = ours.filter(\.isError)
            let have = Set(errors.compactMap { $0.expression.map(HL7TestCases.normalize) })
            var missing: [String] = []
            for i in issues {
                guard let e = i.expression.map(HL7TestCases.normalize), !e.isEmpty else { continue }
                if !have.contains(e) && !missing.contains(e) { missing.append(e) }
            }
            return RunResult(caseName: c.name, module: c.module, gatewayCore: c.gatewayCore, kind: kind,
                             expectedErrors: expected, ourErrors: errors, expected: issues,
                             missingExpressions: missing, notes: notes)
        }

        /// Every run of the selected cases, in index order.
        public func run(_ cases: [Case], selection: Selection) -> [RunResult] {
            cases.filter(selection.includes).flatMap(run)
        }
    }

    // MARK: report

    /// Per-module and overall figures, then the final `N passed, M failed` line, then the disagreements
    /// (expected vs ours). `verbose` also lists the passing runs.
    public static func report(_ results: [RunResult], selection: Selection, verbose: Bool = false) -> String {
        var lines: [String] = []
        var modules: [String: (Int, Int)] = [:]
        for r in results { modules[r.module, default: (0, 0)].0 += r.passed ? 1 : 0; modules[r.module, default: (0, 0)].1 += r.passed ? 0 : 1 }
        lines.append("HL7 validator test cases, R4 tier A (\(selection.rawValue)): \(results.count) runs")
        for (m, (p, f)) in modules.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(m): \(p)/\(p + f) agree")
        }
        let core = results.filter(\.gatewayCore)
        if selection == .allTierA {
            lines.append("  (gateway_core: \(core.filter(\.passed).count)/\(core.count) agree)")
        }
        let passed = results.filter(\.passed).count
        lines.append("\(passed) passed, \(results.count - passed) failed")
        for r in results where !r.passed || verbose {
            lines.append("")
            lines.append("\(r.passed ? "PASS" : "FAIL") \(r.label) (\(r.module)): expected \(r.expectedErrors) errors, ours \(r.ourErrors.count)")
            for e in r.expected { lines.append("    java: \(e.expression ?? "-"): \(e.message)") }
            for e in r.ourErrors { lines.append("    ours: \(e.expression ?? "-"): \(e.message)") }
            if !r.missingExpressions.isEmpty { lines.append("    missing expressions: " + r.missingExpressions.joined(separator: ", ")) }
            for n in r.notes { lines.append("    note: \(n)") }
        }
        return lines.joined(separator: "\n")
    }
}
