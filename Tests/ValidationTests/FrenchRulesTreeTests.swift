import Testing
import Foundation
import FHIRModels
@testable import Validation

/// An esms-task built from the official SDO v4.0.7 example (`Task-exemple-esms-task.json`, read from
/// ../shared/reference when present; otherwise the same inputs written here), edited per test.
struct SDOTaskFixture {
    var json: JSONValue
    static let cs = SDORules.inputCodeSystem

    static let officialURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/reference/sdo/v4.0.7/Task-exemple-esms-task.json")

    static func official() throws -> SDOTaskFixture {
        if let data = try? Data(contentsOf: officialURL) {
            return SDOTaskFixture(json: try JSONValue.parse([UInt8](data)))
        }
        return SDOTaskFixture(json: try JSONValue.parse(Array(fallback.utf8)))
    }

    /// The official example's content, for machines without the shared reference.
    static let fallback: String = {
        func input(_ code: String, _ value: String) -> String {
            #"{"type":{"coding":[{"system":"\#(cs)","code":"\#(code)"}]},\#(value)}"#
        }
        let r357 = SDORules.statusCodeSystem
        let inputs = [
            input("idNat_Struct", #""valueIdentifier":{"value":"value idNat_Struct"}"#),
            input("nomESMS", #""valueString":"value nomESMS""#),
            input("idDecision", #""valueIdentifier":{"value":"IdDecision"}"#),
            input("idNat_Decision", #""valueIdentifier":{"value":"IdNat_Decision"}"#),
            input("statutESMS", #""valueCodeableConcept":{"coding":[{"system":"\#(r357)","code":"48","display":"Usager sorti"}]}"#),
            input("dateStatutESMS", #""valueDate":"2012-10-25""#),
            input("idUnite", #""valueIdentifier":{"value":"idUnite"}"#),
            input("nomUnite", #""valueString":"test NomUnite""#),
            input("categorieOrganisation", #""valueCodeableConcept":{"coding":[{"system":"https://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation","code":"01"}]}"#),
            input("temporaliteAccueil", #""valueCodeableConcept":{"coding":[{"system":"https://mos.esante.gouv.fr/NOS/TRE_R240-TemporaliteAccueil/FHIR/TRE-R240-TemporaliteAccueil","code":"01"}]}"#),
            input("accueilSequentiel", #""valueBoolean":true"#),
            input("modePriseCharge", #""valueCodeableConcept":{"coding":[{"system":"https://mos.esante.gouv.fr/NOS/TRE_R213-ModePriseEnCharge/FHIR/TRE-R213-ModePriseEnCharge","code":"47"}]}"#),
            input("statutUnite", #""valueCodeableConcept":{"coding":[{"system":"\#(r357)","code":"188","display":"Fin de prise en charge"}]}"#),
            input("dateStatutUnite", #""valueDate":"2021-10-25""#),
            input("motifUnite", #""valueCodeableConcept":{"coding":[{"system":"https://mos.esante.gouv.fr/NOS/TRE_R358-MotifStatutPersonnePriseCharge/FHIR/TRE-R358-MotifStatutPersonnePriseCharge","code":"89"}]}"#),
        ]
        return #"{"resourceType":"Task","id":"exemple-esms-task","meta":{"lastUpdated":"2017-01-01T00:00:00.000Z","profile":["https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-task"]},"status":"completed","intent":"plan","input":["#
            + inputs.joined(separator: ",") + "]}"
    }()

    var inputs: [JSONValue] {
        get { json["input"]?.array ?? [] }
        set { json["input"] = .array(newValue) }
    }

    static func code(of input: JSONValue) -> String? {
        input["type"]?["coding"]?.array?.first?["code"]?.string
    }

    func index(of code: String) -> Int? { inputs.firstIndex { Self.code(of: $0) == code } }

    mutating func remove(_ codes: String...) {
        inputs.removeAll { Self.code(of: $0).map(codes.contains) ?? false }
    }

    mutating func set(_ code: String, _ key: String, _ value: JSONValue) {
        guard let i = index(of: code) else { Issue.record("no input \(code)"); return }
        var all = inputs
        all[i][key] = value
        inputs = all
    }

    /// Makes the example's placeholder idNat_Struct a real one (so tests see only the rule under test).
    mutating func realIdNatStruct(_ value: String = "1750712184") {
        set("idNat_Struct", "valueIdentifier", .object([("value", .string(value))]))
    }

    func issues() throws -> [OutcomeIssue] {
        FrenchRules.check(try FHIRJSONReader.read(json.serialized()))
    }
}

func rules(_ issues: [OutcomeIssue]) -> [String] { issues.compactMap(\.rule) }

@Suite struct FrenchRulesTaskTests {
    @Test func officialExampleOnlyHasItsPlaceholderIdNatStruct() throws {
        let task = try SDOTaskFixture.official()
        let issues = try task.issues()
        #expect(rules(issues) == ["FR-IDNAT-STRUCT-FORMAT"], "\(issues)")
        #expect(issues.first?.expression == "Task.input[0].value.ofType(Identifier).value")
        #expect(issues.first?.location != nil)
        var fixed = task
        fixed.realIdNatStruct()
        #expect(try fixed.issues().isEmpty)
    }

    @Test func unitStatusWithoutUnitBlock() throws {
        var task = try SDOTaskFixture.official()
        task.realIdNatStruct()
        task.remove("idUnite", "nomUnite", "categorieOrganisation", "modePriseCharge", "dateStatutUnite")
        let status = try #require(task.index(of: "statutUnite"))
        let issues = try task.issues()
        #expect(issues.count == 5, "\(issues)")
        #expect(issues.allSatisfy { $0.rule == "FR-SDO-UNIT-BLOCK" && $0.severity == .error && $0.code == .required })
        #expect(issues.allSatisfy { $0.expression == "Task.input[\(status)]" })
        for code in SDORules.unitBlock {
            #expect(issues.contains { $0.message.contains("'\(code)' is missing") }, "\(code)")
        }
    }

    @Test func eachMissingUnitBlockInputIsReported() throws {
        for missing in SDORules.unitBlock {
            var task = try SDOTaskFixture.official()
            task.realIdNatStruct()
            task.remove(missing)
            let issues = try task.issues()
            #expect(rules(issues) == ["FR-SDO-UNIT-BLOCK"], "\(missing): \(issues)")
            #expect(issues.first?.message.contains("'\(missing)'") == true)
        }
    }

    @Test func unitStatusIsMatchedOnCodingNotText() throws {
        // The published invariant looks at type.text; adding a matching text to another input must not
        // satisfy the rule, and a coding-only statutUnite must trigger it.
        var task = try SDOTaskFixture.official()
        task.realIdNatStruct()
        task.remove("idUnite")
        task.set("nomUnite", "type", .object([
            ("coding", .array([.object([("system", .string(SDOTaskFixture.cs)), ("code", .string("nomUnite"))])])),
            ("text", .string("idUnite")),
        ]))
        let issues = try task.issues()
        #expect(rules(issues) == ["FR-SDO-UNIT-BLOCK"], "\(issues)")
    }

    @Test func unitInputsWithoutUnitStatus() throws {
        var task = try SDOTaskFixture.official()
        task.realIdNatStruct()
        task.remove("statutUnite")
        let issues = try task.issues()
        let errors = issues.filter { $0.rule == "FR-SDO-UNIT-STATUS-MISSING" }
        #expect(errors.count == 6, "\(issues)")   // idUnite, nomUnite, categorieOrganisation, modePriseCharge, dateStatutUnite, motifUnite
        #expect(errors.allSatisfy { $0.severity == .error })
        let idUnite = try #require(task.index(of: "idUnite"))
        #expect(errors.contains { $0.expression == "Task.input[\(idUnite)]" && $0.message.contains("'idUnite'") })
        let warnings = issues.filter { $0.rule == "FR-SDO-UNIT-ATTRIBUTE-ORPHAN" }
        #expect(warnings.count == 2 && warnings.allSatisfy { $0.severity == .warning })
        #expect(issues.count == 8)
    }

    @Test func esmsOnlyStatusIsClean() throws {
        var task = try SDOTaskFixture.official()
        task.realIdNatStruct("373282932000074")
        task.remove("idUnite", "nomUnite", "categorieOrganisation", "temporaliteAccueil", "accueilSequentiel",
                    "modePriseCharge", "statutUnite", "dateStatutUnite", "motifUnite")
        #expect(try task.issues().isEmpty)
        // Identity only (statuses are 0..1): still clean.
        task.remove("statutESMS", "dateStatutESMS")
        #expect(try task.issues().isEmpty)
    }

    @Test func esmsMotifOrDateWithoutEsmsStatus() throws {
        var task = try SDOTaskFixture.official()
        task.realIdNatStruct()
        task.remove("statutESMS")
        let issues = try task.issues()
        #expect(rules(issues) == ["FR-SDO-ESMS-STATUS-MISSING"], "\(issues)")
        let date = try #require(task.index(of: "dateStatutESMS"))
        #expect(issues.first?.expression == "Task.input[\(date)]")
    }

    @Test func statusAtTheWrongLevel() throws {
        var task = try SDOTaskFixture.official()
        task.realIdNatStruct()
        // 186 "Usager pris en charge" is a unit status (JDV_J253) sent as statutESMS.
        task.set("statutESMS", "valueCodeableConcept", .object([("coding", .array([.object([
            ("system", .string(SDORules.statusCodeSystem)), ("code", .string("186"))])]))]))
        // 47 "Usager entré" is an ESMS status (JDV_J252) sent as statutUnite.
        task.set("statutUnite", "valueCodeableConcept", .object([("coding", .array([.object([
            ("system", .string(SDORules.statusCodeSystem)), ("code", .string("47"))])]))]))
        let issues = try task.issues()
        #expect(rules(issues) == ["FR-SDO-STATUS-LEVEL", "FR-SDO-STATUS-LEVEL"], "\(issues)")
        let esms = try #require(task.index(of: "statutESMS"))
        #expect(issues.contains { $0.expression == "Task.input[\(esms)].value.ofType(CodeableConcept).coding[0]" && $0.message.contains("JDV_J253") })
        #expect(issues.contains { $0.message.contains("'Usager entré'") && $0.message.contains("statutESMS") })
    }

    @Test func idNatStructKeysInTheTask() throws {
        var task = try SDOTaskFixture.official()
        task.realIdNatStruct("1750712185")
        #expect(rules(try task.issues()) == ["FR-FINESS-KEY"])
        task.realIdNatStruct("373282932000075")
        #expect(rules(try task.issues()) == ["FR-SIRET-KEY"])
        task.realIdNatStruct("750712184")
        #expect(rules(try task.issues()) == ["FR-IDNAT-STRUCT-FORMAT"])
        // Also when the identifier carries the idNat_Struct system: checked once, with SDO prefixes only.
        task.set("idNat_Struct", "valueIdentifier", .object([("system", .string(IdNatStruct.system)), ("value", .string("2552100554"))]))
        #expect(rules(try task.issues()) == ["FR-IDNAT-STRUCT-FORMAT"])
    }

    @Test func legacyTextOnlyInputsAreFlagged() throws {
        var task = try SDOTaskFixture.official()
        task.realIdNatStruct()
        task.set("nomESMS", "type", .object([("text", .string("nomESMS"))]))
        let issues = try task.issues()
        #expect(rules(issues) == ["FR-SDO-INPUT-NOT-CODED"], "\(issues)")
        #expect(issues.first?.severity == .warning)
        #expect(issues.first?.message.contains("type.text only") == true)
        let nom = try #require(task.index(of: "nomESMS") ?? task.inputs.firstIndex { $0["type"]?["text"]?.string == "nomESMS" })
        #expect(issues.first?.expression == "Task.input[\(nom)].type")
        // A statutUnite coded without the SDO system is not seen by the unit rule: the warning says why.
        task.set("statutUnite", "type", .object([("coding", .array([.object([("code", .string("statutUnite"))])]))]))
        task.remove("idUnite")
        let more = try task.issues()
        #expect(rules(more).sorted() == ["FR-SDO-INPUT-NOT-CODED", "FR-SDO-INPUT-NOT-CODED", "FR-SDO-UNIT-STATUS-MISSING", "FR-SDO-UNIT-STATUS-MISSING",
                                         "FR-SDO-UNIT-STATUS-MISSING", "FR-SDO-UNIT-STATUS-MISSING", "FR-SDO-UNIT-STATUS-MISSING",
                                         "FR-SDO-UNIT-ATTRIBUTE-ORPHAN", "FR-SDO-UNIT-ATTRIBUTE-ORPHAN"].sorted(), "\(more)")
        #expect(more.contains { $0.message.contains("a coding without system") })
    }

    @Test func tasksInsideABundleAreChecked() throws {
        var task = try SDOTaskFixture.official()
        task.realIdNatStruct()
        task.remove("dateStatutUnite")
        let bundle = JSONValue.object([("resourceType", .string("Bundle")), ("type", .string("searchset")),
                                       ("entry", .array([.object([("resource", task.json)])]))])
        let issues = FrenchRules.check(try FHIRJSONReader.read(bundle.serialized()))
        #expect(rules(issues) == ["FR-SDO-UNIT-BLOCK"])
        #expect(issues.first?.expression?.hasPrefix("Bundle.entry[0].resource.input[") == true)
    }

    @Test func nonSDOTasksAreIgnored() throws {
        let json = #"{"resourceType":"Task","status":"completed","intent":"plan","input":[{"type":{"coding":[{"system":"http://example.org","code":"statutUnite"}]},"valueString":"x"}]}"#
        #expect(FrenchRules.check(try FHIRJSONReader.read(Array(json.utf8))).isEmpty)
    }
}

@Suite struct FrenchRulesIdentifierTests {
    func check(_ json: String) throws -> [OutcomeIssue] {
        FrenchRules.check(try FHIRJSONReader.read(Array(json.utf8)))
    }

    @Test func patientINS() throws {
        let issues = try check(#"""
        {"resourceType":"Patient","identifier":[
          {"system":"http://hopital.fr/ipp","value":"IPP-1"},
          {"use":"official","system":"urn:oid:1.2.250.1.213.1.4.8","value":"255081416802538"},
          {"use":"official","system":"urn:oid:1.2.250.1.213.1.4.9","value":"260058815400244"},
          {"system":"urn:oid:1.2.250.1.213.1.4.8","value":"284052A321025"},
          {"system":"urn:oid:1.2.250.1.213.1.4.10","value":"284052B32102579"}]}
        """#)
        #expect(rules(issues) == ["FR-INS-KEY", "FR-INS-FORMAT"], "\(issues)")
        #expect(issues[0].expression == "Patient.identifier[2].value")
        #expect(issues[0].message.hasPrefix("INS-NIA"))
        #expect(issues[0].location?.line == 4)
        #expect(issues[1].expression == "Patient.identifier[3].value")
        #expect(issues.allSatisfy { $0.severity == .error && $0.code == .value })
    }

    @Test func organisationIdentifiers() throws {
        let issues = try check(#"""
        {"resourceType":"Organization","identifier":[
          {"system":"https://finess.esante.gouv.fr","value":"440000000"},
          {"system":"urn:oid:1.2.250.1.71.4.2.2","value":"1440000000"},
          {"system":"https://sirene.fr","value":"73282932000074"},
          {"system":"http://sirene.fr","value":"552100555"},
          {"system":"urn:oid:1.2.250.1.71.4.2.2","value":"1750712184"},
          {"system":"https://finess.esante.gouv.fr","value":"2B0000123"}]}
        """#)
        #expect(rules(issues) == ["FR-FINESS-KEY", "FR-FINESS-KEY", "FR-SIREN-KEY"], "\(issues)")
        #expect(issues.map(\.expression) == ["Organization.identifier[0].value", "Organization.identifier[1].value", "Organization.identifier[3].value"])
    }

    @Test func identifiersInContainedResources() throws {
        let issues = try check(#"""
        {"resourceType":"Encounter","status":"finished","class":{"code":"IMP"},
         "contained":[{"resourceType":"Patient","id":"p","identifier":[{"system":"urn:oid:1.2.250.1.213.1.4.8","value":"255081416802539"}]}]}
        """#)
        #expect(rules(issues) == ["FR-INS-KEY"])
        #expect(issues.first?.expression == "Encounter.contained[0].identifier[0].value")
    }

    @Test func esmsConsentSource() throws {
        func consent(_ source: String) -> String {
            #"{"resourceType":"Consent","meta":{"source":"\#(source)","profile":["\#(SDORules.consentProfile)"]},"status":"active","scope":{"text":"x"},"category":[{"text":"x"}]}"#
        }
        #expect(try check(consent("1750712184")).isEmpty)
        #expect(rules(try check(consent("1750712185"))) == ["FR-FINESS-KEY"])
        #expect(rules(try check(consent("750712184"))) == ["FR-IDNAT-STRUCT-FORMAT"])
        let uuid = try check(consent("urn:uuid:53fefa32-fcbb-4ff8-8a92-55ee120877b7"))
        #expect(rules(uuid) == ["FR-SDO-CONSENT-SOURCE"])
        #expect(uuid.first?.severity == .warning)
        #expect(uuid.first?.expression == "Consent.meta.source")
        // Without the esms-consent profile, meta.source is not an idNat_Struct.
        let plain = #"{"resourceType":"Consent","meta":{"source":"750712184"},"status":"active","scope":{"text":"x"},"category":[{"text":"x"}]}"#
        #expect(try check(plain).isEmpty)
    }

    @Test func outcomeCarriesTheRuleCode() throws {
        let issues = try check(#"{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.250.1.213.1.4.8","value":"1"}]}"#)
        let outcome = String(decoding: OperationOutcomeBuilder.json(issues), as: UTF8.self)
        #expect(outcome.contains(#""code":"FR-INS-FORMAT""#))
        #expect(outcome.contains(#""expression":["Patient.identifier[0].value"]"#))
    }
}

@Suite struct FrenchRulesCorpusTests {
    /// Every fuzz seed/crasher the JSON reader accepts goes through the French rules: no crash, and every
    /// issue has a rule code, an expression and a location.
    @Test func fuzzCorpusThroughTheRules() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz/json")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        var trees = 0, found: Set<String> = []
        for f in files {
            guard let tree = try? FHIRJSONReader.read([UInt8](Data(contentsOf: dir.appendingPathComponent(f)))) else { continue }
            trees += 1
            for i in FrenchRules.check(tree) {
                #expect(i.rule != nil && i.expression != nil && i.location != nil, "\(f): \(i)")
                if let r = i.rule { found.insert(r) }
            }
        }
        #expect(trees >= 5)
        // task-sdo.json: inputs without the SDO coding; consent-esms.json is clean; patient-primitives.json too.
        #expect(found == ["FR-SDO-INPUT-NOT-CODED"], "\(found)")
    }
}
