import Testing
import Foundation
import FHIRModels
@testable import Validation

/// The official SDO examples (FSH instances compiled by `FSHInstanceCompiler`, committed under
/// `Fixtures/sdo/`), validated with the project's own stores and validator, and known-bad variants
/// built from them by small JSON edits. See docs/sdo-examples.md.
@Suite struct SDOExamplesTests {
    static let engine: ValidationEngine? = try? ValidationEngine.load(dataDirectory: TestPaths.repoRoot.path)
    static let fixtures = TestPaths.repoRoot.appendingPathComponent("Fixtures/sdo")
    static let reference = TestPaths.sharedReference.path
    static var referenceAvailable: Bool { FileManager.default.fileExists(atPath: reference + "/sdo/fsh/instances") }
    static let sdo = "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/"

    /// The top-level examples of `sdo/fsh/instances`, in source order (file name order, then entity order).
    static let exampleNames = [
        "exemple-esms-bundle-resultat-recherche-notifications-esms",
        "exemple-esms-task",
        "exemple-bundle-resultat-recherche-decision-evaluation",
        "exemple-bundle-resultat-recherche-decision-evaluation-elements",
        "exemple-consent",
        "exemple-esms-document-reference",
    ]

    static func fixture(_ name: String) throws -> JSONValue {
        try JSONValue.parse([UInt8](Data(contentsOf: fixtures.appendingPathComponent(name + ".json"))))
    }

    /// JSON equality with object members in any order (arrays stay ordered).
    static func sameContent(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            let yd = Dictionary(y, uniquingKeysWith: { f, _ in f })
            return x.allSatisfy { k, v in yd[k].map { sameContent(v, $0) } ?? false }
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { sameContent($0, $1) }
        default:
            return a == b
        }
    }

    func profileFindings(_ resource: JSONValue) throws -> [OutcomeIssue] {
        let engine = try #require(Self.engine)
        let profiles = (resource["meta"]?["profile"]?.array ?? []).compactMap(\.string)
        return engine.validator.validate(try FHIRJSONReader.read(resource.serialized()), profiles: profiles)
    }

    func frenchFindings(_ resource: JSONValue) throws -> [OutcomeIssue] {
        FrenchRules.check(try FHIRJSONReader.read(resource.serialized()))
    }

    static func show(_ title: String, _ issues: [OutcomeIssue]) {
        print("[sdo-examples] \(title): \(issues.count) issue(s)" + issues.map { "\n  \($0.description) @\($0.expression ?? "-") rule \($0.rule ?? "-")" }.joined())
    }

    // MARK: (a) the instance compiler against the one example also published as JSON

    @Test(.enabled(if: engine != nil && referenceAvailable))
    func instanceCompilerGivesThePublishedTask() throws {
        let engine = try #require(Self.engine)
        let c = SDOExampleImporter.compiler(tank: try SDOExampleImporter.tank(reference: Self.reference), store: engine.conformance)
        let compiled = try c.instance("exemple-esms-task")
        let published = try JSONValue.parse([UInt8](Data(contentsOf: URL(fileURLWithPath: Self.reference + "/sdo/v4.0.7/Task-exemple-esms-task.json"))))
        #expect(Self.sameContent(compiled, published), "\(compiled.serializedString(pretty: true))")
        // and in the same member and item order (required slices first, as SUSHI writes them)
        #expect(compiled == published)
        #expect(compiled["input"]?.array?.compactMap { $0["type"]?["coding"]?[0]?["code"]?.string }.prefix(4)
                == ["idNat_Struct", "nomESMS", "idDecision", "idNat_Decision"])
        // a broken rule is reported with its place, not skipped
        var broken = c
        broken.tank.instances["exemple-esms-task"]!.rules.append(FSHRule(text: "input[noSuchSlice].valueString = \"x\"", file: "t.fsh", line: 9))
        #expect(throws: FSHError.self) { try broken.instance("exemple-esms-task") }
    }

    /// Rules the official examples do not use: nested soft indexes, `Reference(name)`, numbers, booleans,
    /// an instance of a core resource (no `meta.profile`).
    @Test(.enabled(if: engine != nil))
    func instanceRulesOnACoreResource() throws {
        let engine = try #require(Self.engine)
        var tank = FSHTank()
        try tank.parse("""
        Instance: p1
        InstanceOf: Patient
        Usage: #example
        * active = true
        * name[+].given[+] = "A"
        * name[=].given[+] = "B"
        * name[+].family = "C"
        * multipleBirthInteger = 2
        * generalPractitioner = Reference(org1)
        * gender = #female

        Instance: org1
        InstanceOf: Organization
        * name = "O"
        """, file: "t.fsh")
        let c = FSHInstanceCompiler(tank: tank, canonicalBase: "https://example.org") { engine.conformance.structureDefinition(url: $0) }
        #expect(c.topLevelInstances == ["p1", "org1"])
        let p = try c.instance("p1")
        #expect(p.serializedString() == #"{"resourceType":"Patient","id":"p1","active":true,"name":[{"given":["A","B"]},{"family":"C"}],"gender":"female","multipleBirthInteger":2,"generalPractitioner":[{"reference":"Organization/org1"}]}"#)
        var bad = tank
        bad.instances["p1"]!.rules.append(FSHRule(text: "active = \"yes\"", file: "t.fsh", line: 12))
        #expect(throws: FSHError.self) { try FSHInstanceCompiler(tank: bad, canonicalBase: "", resolve: c.resolve).instance("p1") }
    }

    @Test(.enabled(if: engine != nil && referenceAvailable))
    func committedFixturesAreTheCompiledExamples() throws {
        let engine = try #require(Self.engine)
        let examples = try SDOExampleImporter.examples(reference: Self.reference, store: engine.conformance)
        #expect(examples.map(\.name) == Self.exampleNames)
        for (name, resource) in examples {
            var bytes = resource.serialized(pretty: true)
            bytes.append(0x0A)
            let committed = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent(name + ".json")))
            #expect(committed == bytes, "Fixtures/sdo/\(name).json is stale: run `swift run fhir-gateway import-examples`")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files == Self.exampleNames.map { $0 + ".json" }.sorted())
    }

    // MARK: (b) every official example against its profile

    /// French rules findings expected on the official examples (their placeholder identifiers).
    static let expectedFrench: [String: [(rule: String, expression: String)]] = [
        "exemple-esms-bundle-resultat-recherche-notifications-esms": [
            ("FR-IDNAT-STRUCT-FORMAT", "Bundle.entry[0].resource.input[0].value.ofType(Identifier).value"),
            ("FR-IDNAT-STRUCT-FORMAT", "Bundle.entry[1].resource.input[0].value.ofType(Identifier).value"),
        ],
        "exemple-esms-task": [("FR-IDNAT-STRUCT-FORMAT", "Task.input[0].value.ofType(Identifier).value")],
        "exemple-bundle-resultat-recherche-decision-evaluation": [],
        "exemple-bundle-resultat-recherche-decision-evaluation-elements": [],
        "exemple-consent": [("FR-SDO-CONSENT-SOURCE", "Consent.meta.source")],
        "exemple-esms-document-reference": [],
    ]

    /// Errors that are in the official source itself (not our validator): in the `_elements` bundle the
    /// entries' fullUrl ends in `exemple-esms-documentreference-N-in-bundle` while the inline instances are
    /// named (so have the id) `exemple-esms-documentreference-elements-1-in-bundle` and `…-elemens-2-in-bundle`.
    static let sourceDefects: [String: [String]] = [
        "exemple-bundle-resultat-recherche-decision-evaluation-elements": [
            "Bundle.entry[0]: Resource ID does not match the ID in the entry full URL",
            "Bundle.entry[1]: Resource ID does not match the ID in the entry full URL",
        ],
    ]

    @Test(.enabled(if: engine != nil), arguments: exampleNames)
    func officialExampleIsValid(_ name: String) throws {
        let resource = try Self.fixture(name)
        #expect(resource["meta"]?["profile"]?.array?.count == 1)
        let issues = try profileFindings(resource)
        Self.show(name, issues)
        let errors = issues.filter(\.isError)
        let defects = Self.sourceDefects[name] ?? []
        #expect(errors.count == defects.count, "\(errors)")
        for d in defects {
            let parts = d.components(separatedBy: ": ")
            #expect(errors.contains { $0.expression == parts[0] && $0.message.hasPrefix(parts[1]) }, "\(d)")
        }
        let french = try frenchFindings(resource)
        Self.show(name + " (French rules)", french)
        let got = french.map { "\($0.rule ?? "-") @ \($0.expression ?? "-")" }
        let want = (Self.expectedFrench[name] ?? []).map { "\($0.rule) @ \($0.expression)" }
        #expect(got == want)
    }

    // MARK: (c) known-bad variants

    static func inputIndex(_ task: JSONValue, _ code: String) -> Int? {
        task["input"]?.array?.firstIndex { $0["type"]?["coding"]?[0]?["code"]?.string == code }
    }

    @Test(.enabled(if: engine != nil))
    func wrongTaskStatus() throws {
        var task = try Self.fixture("exemple-esms-task")
        task["status"] = .string("finished")      // not a TaskStatus code
        let issues = try profileFindings(task)
        Self.show("Task.status = finished", issues)
        #expect(issues.contains { $0.isError && $0.expression == "Task.status" && $0.message.contains("pattern") })
        #expect(issues.contains { $0.isError && $0.expression == "Task.status" && $0.message.contains("http://hl7.org/fhir/ValueSet/task-status") })
        #expect(issues.allSatisfy { !$0.isError || $0.expression == "Task.status" })
    }

    @Test(.enabled(if: engine != nil))
    func missingMandatoryInputSlice() throws {
        var task = try Self.fixture("exemple-esms-task")
        var inputs = try #require(task["input"]?.array)
        inputs.remove(at: try #require(Self.inputIndex(task, "idNat_Decision")))
        task["input"] = .array(inputs)
        let issues = try profileFindings(task)
        Self.show("no idNat_Decision", issues)
        let errors = issues.filter(\.isError)
        #expect(errors.count == 1)
        #expect(errors.first?.expression == "Task")
        #expect(errors.first?.message.contains("Slice 'Task.input:idNat_Decision': a matching slice is required, but not found") == true)
    }

    @Test(.enabled(if: engine != nil))
    func wrongTitleForDecisionDocument() throws {
        var doc = try Self.fixture("exemple-bundle-resultat-recherche-decision-evaluation")["entry"]?[0]?["resource"]
        #expect(doc?["type"]?["coding"]?[0]?["code"]?.string == "57830-2")
        doc?["content"]?[0]?["attachment"]?["title"] = .string("Document évaluation")
        let variant = try #require(doc)
        let issues = try profileFindings(variant)
        Self.show("57830-2 titled 'Document évaluation'", issues)
        // The invariant itself is right: FHIRPath evaluates it to false on the variant, true on the example.
        let sd = try #require(Self.engine?.conformance.structureDefinition(url: Self.sdo + "esms-document-reference"))
        let rule = try #require(sd["snapshot"]?["element"]?[0]?["constraint"]?.array?.first { $0["key"]?.string == "regle-NomPieceJointe-type" })
        let expression = try FHIRPathExpression(try #require(rule["expression"]?.string))
        let original = try #require(try Self.fixture("exemple-bundle-resultat-recherche-decision-evaluation")["entry"]?[0]?["resource"])
        let originalTree = try FHIRJSONReader.read(original.serialized()), variantTree = try FHIRJSONReader.read(variant.serialized())
        #expect(try expression.isTrue(originalTree, node: originalTree.root) == true)
        #expect(try expression.isTrue(variantTree, node: variantTree.root) == false)
        // The validator evaluates the profile's FHIRPath invariants: the title rule fires on the document.
        let errors = issues.filter(\.isError)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.expression == "DocumentReference")
        #expect(errors.first?.code == .invariant)
        #expect(errors.first?.message.contains("regle-NomPieceJointe-type") == true)
    }

    @Test(.enabled(if: engine != nil))
    func consentScopeResearch() throws {
        var consent = try Self.fixture("exemple-consent")
        consent["scope"] = TestProfiles.json(#"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"research","display":"Research"}]}"#)
        let issues = try profileFindings(consent)
        Self.show("Consent.scope = research", issues)
        let errors = issues.filter(\.isError)
        #expect(errors.count == 1)
        #expect(errors.first?.expression == "Consent.scope")
        #expect(errors.first?.message.contains("pattern") == true)
    }

    @Test(.enabled(if: engine != nil))
    func statutESMSOutsideJDVJ252() throws {
        var task = try Self.fixture("exemple-esms-task")
        let i = try #require(Self.inputIndex(task, "statutESMS"))
        // 36 is neither an ESMS status (JDV_J252) nor a unit status (JDV_J253, 180–188)
        task["input"]?[i]?["valueCodeableConcept"] = TestProfiles.json(
            #"{"coding":[{"system":"https://mos.esante.gouv.fr/NOS/TRE_R357-StatutPersonnePriseCharge/FHIR/TRE-R357-StatutPersonnePriseCharge","code":"36"}]}"#)
        let issues = try profileFindings(task)
        Self.show("statutESMS 36", issues)
        let errors = issues.filter(\.isError)
        #expect(errors.count == 1)
        #expect(errors.first?.expression == "Task.input[\(i)].value.ofType(CodeableConcept)")
        #expect(errors.first?.message.contains("JDV_J252") == true)
        #expect(try frenchFindings(task).map(\.rule) == ["FR-IDNAT-STRUCT-FORMAT"])
    }

    @Test(.enabled(if: engine != nil))
    func unitStatusWithoutUnitBlock() throws {
        var task = try Self.fixture("exemple-esms-task")
        let block = ["idUnite", "nomUnite", "categorieOrganisation", "modePriseCharge", "dateStatutUnite"]
        task["input"] = .array((task["input"]?.array ?? []).filter { !block.contains($0["type"]?["coding"]?[0]?["code"]?.string ?? "") })
        let i = try #require(Self.inputIndex(task, "statutUnite"))
        let french = try frenchFindings(task)
        Self.show("statutUnite without unit block (French rules)", french)
        let unit = french.filter { $0.rule == "FR-SDO-UNIT-BLOCK" }
        #expect(unit.count == block.count)
        #expect(unit.allSatisfy { $0.severity == .error && $0.code == .required && $0.expression == "Task.input[\(i)]" })
        for code in block { #expect(unit.contains { $0.message.contains(code) }, "\(code)") }
        // The profile says nothing: every unit input is 0..1 and regle-StatutUnite tests type.text, which
        // the slices (on type.coding) never set (sdo-flows.md Q2).
        let issues = try profileFindings(task)
        Self.show("statutUnite without unit block (profile)", issues)
        #expect(issues.filter(\.isError).isEmpty)
    }
}

fileprivate extension JSONValue {
    /// Array item (nil out of range); setting replaces an existing item.
    subscript(_ i: Int) -> JSONValue? {
        get { array.flatMap { i < $0.count ? $0[i] : nil } }
        set {
            guard case .array(var a) = self, i < a.count, let newValue else { return }
            a[i] = newValue
            self = .array(a)
        }
    }
}
