import Testing
import Foundation
import FHIRModels
@testable import Validation

enum TerminologyFixtures {
    /// Repository root (Tests/ValidationTests/TerminologyTests.swift is two levels down).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let storeDirectory = repoRoot.appendingPathComponent("Terminologies").path
    static let sharedReference = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference")
    static var hasSharedReference: Bool {
        FileManager.default.fileExists(atPath: sharedReference.appendingPathComponent("fhir-r4/valuesets-and-codesystems.json").path)
    }

    /// The committed store, loaded once.
    static let store: TerminologyStore = {
        do { return try TerminologyStore.load(directory: storeDirectory) } catch { fatalError("cannot load the terminology store: \(error)") }
    }()

    static let nos = "https://mos.esante.gouv.fr/NOS/"
    static let j250 = nos + "JDV_J250-MotifStatutPersonnePriseChargeUnite/FHIR/JDV-J250-MotifStatutPersonnePriseChargeUnite"
    static let j251 = nos + "JDV_J251-MotifStatutPersonnePriseChargeESMS/FHIR/JDV-J251-MotifStatutPersonnePriseChargeESMS"
    static let j252 = nos + "JDV_J252-StatutPersonnePriseChargeESMS/FHIR/JDV-J252-StatutPersonnePriseChargeESMS"
    static let j253 = nos + "JDV_J253-StatutPersonnePriseChargeUnite/FHIR/JDV-J253-StatutPersonnePriseChargeUnite"
    static let j30 = nos + "JDV_J30-TemporaliteAccueil-ROR/FHIR/JDV-J30-TemporaliteAccueil-ROR"
    static let j264 = nos + "JDV_J264-ModeEtCentreDePriseEnCharge-MDPH/FHIR/JDV-J264-ModeEtCentreDePriseEnCharge-MDPH"
    static let r357 = nos + "TRE_R357-StatutPersonnePriseCharge/FHIR/TRE-R357-StatutPersonnePriseCharge"
    static let r358 = nos + "TRE_R358-MotifStatutPersonnePriseCharge/FHIR/TRE-R358-MotifStatutPersonnePriseCharge"
    static let r240 = nos + "TRE_R240-TemporaliteAccueil/FHIR/TRE-R240-TemporaliteAccueil"
    static let r213 = nos + "TRE_R213-ModePriseEnCharge/FHIR/TRE-R213-ModePriseEnCharge"
    static let r81 = nos + "TRE_R81-Civilite/FHIR/TRE-R81-Civilite"
}

@Suite struct TerminologyNOSTests {
    let store = TerminologyFixtures.store
    typealias F = TerminologyFixtures

    @Test(arguments: ["37", "39", "47", "48", "71", "72"])
    func j252MembersAreValid(_ code: String) {
        let r = store.validate(code: code, system: F.r357, display: nil, valueSet: F.j252)
        #expect(r.outcome == .valid, "\(r.message)")
    }

    @Test func j253MembersAndNonMembers() {
        for code in ["180", "184", "188"] {
            #expect(store.validate(code: code, system: F.r357, display: nil, valueSet: F.j253).outcome == .valid)
        }
        // 47 is a status of R357 used by J252 (ESMS level), not by J253 (unit level). R357 itself is not
        // in the store, so the answer is "not in the value set", not "unknown code".
        let r = store.validate(code: "47", system: F.r357, display: nil, valueSet: F.j253)
        #expect(r.outcome == .notInValueSet)
        #expect(r.message.contains("J253"))
    }

    @Test func j251AndJ250Members() {
        for code in ["86", "109", "127", "174"] {
            #expect(store.validate(code: code, system: F.r358, display: nil, valueSet: F.j251).outcome == .valid, "J251 \(code)")
        }
        for code in ["84", "126", "253"] {
            #expect(store.validate(code: code, system: F.r358, display: nil, valueSet: F.j250).outcome == .valid, "J250 \(code)")
        }
        // 84 exists in R358 but is only in J250.
        #expect(store.validate(code: "84", system: F.r358, display: nil, valueSet: F.j251).outcome == .notInValueSet)
        // 9999 is not in R358, which the store holds completely.
        #expect(store.validate(code: "9999", system: F.r358, display: nil, valueSet: F.j251).outcome == .unknownCode)
    }

    @Test func deprecatedCodeIsRefusedNamingTheValueSet() {
        // R358 code 90 "Décès": status deprecated, dateFin 2023-09-22; known in the TRE, not a JDV member.
        let concept = store.codeSystem(F.r358)?["90"]
        #expect(concept?.display == "Décès")
        #expect(concept?.inactiveReason(referenceDate: store.referenceDate) != nil)
        #expect(store.knowsCodeSystem(F.r358))
        for vs in [F.j250, F.j251] {
            let r = store.validate(code: "90", system: F.r358, display: "Décès", valueSet: vs)
            #expect(r.outcome == .notInValueSet)
            #expect(r.message.contains(vs == F.j250 ? "JDV_J250" : "JDV_J251"), "\(r.message)")
            #expect(r.message.contains("deprecated"), "\(r.message)")
            #expect(r.message.contains("2023-09-22"), "\(r.message)")
        }
    }

    @Test func deprecatedCodeRefusedEvenWhenListed() {
        // A value set listing a code the TRE has withdrawn does not make it usable again.
        var s = TerminologyStore(referenceDate: "2026-07-30")
        s.add([(Self.civiliteCodeSystem, "test"),
               (.object([("resourceType", .string("ValueSet")), ("url", .string("urn:test:vs:civ")), ("name", .string("VS_CIV")),
                         ("compose", .object([("include", .array([.object([("system", .string(F.r81)),
                            ("concept", .array([.object([("code", .string("M"))]), .object([("code", .string("MLLE"))])]))])]))]))]), "test")])
        #expect(s.validate(code: "M", system: F.r81, display: nil, valueSet: "urn:test:vs:civ").outcome == .valid)
        let r = s.validate(code: "MLLE", system: F.r81, display: nil, valueSet: "urn:test:vs:civ")
        #expect(r.outcome == .notInValueSet)
        #expect(r.message.contains("VS_CIV") && r.message.contains("2016-09-01"), "\(r.message)")
        // Before its end date the same code is a member.
        var earlier = s
        earlier.referenceDate = "2015-01-01"
        // Status `deprecated` applies whatever the date.
        #expect(earlier.validate(code: "MLLE", system: F.r81, display: nil, valueSet: "urn:test:vs:civ").outcome == .notInValueSet)
    }

    static var civiliteCodeSystem: JSONValue {
        let cs = TerminologyFixtures.store.codeSystem(TerminologyFixtures.r81)!
        return .object([("resourceType", .string("CodeSystem")), ("url", .string(cs.url)), ("content", .string("complete")),
                        ("concept", .array(cs.concepts.map { c in
                            var props: [JSONValue] = []
                            if let s = c.status { props.append(.object([("code", .string("status")), ("valueCode", .string(s))])) }
                            if let e = c.endDate { props.append(.object([("code", .string("dateFin")), ("valueDateTime", .string(e))])) }
                            return .object([("code", .string(c.code)), ("display", .string(c.display ?? "")), ("property", .array(props))])
                        }))])
    }

    @Test func endDateAloneDeprecatesAfterTheReferenceDate() {
        let cs: JSONValue = .object([
            ("resourceType", .string("CodeSystem")), ("url", .string("urn:test:cs:fin")), ("content", .string("complete")),
            ("concept", .array([
                .object([("code", .string("A"))]),
                .object([("code", .string("B")), ("property", .array([.object([("code", .string("dateFin")), ("valueDateTime", .string("2020-01-01T00:00:00+01:00"))])]))]),
                .object([("code", .string("C")), ("property", .array([.object([("code", .string("dateFin")), ("valueDateTime", .string("2030-01-01T00:00:00+01:00"))])]))]),
            ]))])
        let vs: JSONValue = .object([("resourceType", .string("ValueSet")), ("url", .string("urn:test:vs:fin")),
                                     ("compose", .object([("include", .array([.object([("system", .string("urn:test:cs:fin"))])]))]))])
        var s = TerminologyStore(referenceDate: "2026-07-30")
        s.add([(cs, "t"), (vs, "t")])
        #expect(s.validate(code: "A", system: "urn:test:cs:fin", display: nil, valueSet: "urn:test:vs:fin").outcome == .valid)
        #expect(s.validate(code: "B", system: "urn:test:cs:fin", display: nil, valueSet: "urn:test:vs:fin").outcome == .notInValueSet)
        #expect(s.validate(code: "C", system: "urn:test:cs:fin", display: nil, valueSet: "urn:test:vs:fin").outcome == .valid)
        #expect(s.validate(code: "D", system: "urn:test:cs:fin", display: nil, valueSet: "urn:test:vs:fin").outcome == .unknownCode)
    }

    @Test func zeroPaddedCodesAreExactStrings() {
        #expect(store.validate(code: "01", system: F.r240, display: "Temporaire", valueSet: F.j30).outcome == .valid)
        #expect(store.validate(code: "02", system: F.r240, display: nil, valueSet: F.j30).outcome == .valid)
        let r = store.validate(code: "1", system: F.r240, display: nil, valueSet: F.j30)
        #expect(r.outcome != .valid)
        #expect(r.outcome == .unknownCode, "\(r.message)")
        #expect(store.validate(code: "001", system: F.r240, display: nil, valueSet: F.j30).outcome != .valid)
        #expect(store.validate(code: " 01", system: F.r240, display: nil, valueSet: F.j30).outcome != .valid)
    }

    @Test func looseDisplayMatching() {
        // J251 gives code 127 the long label; R358 has a short display and the long one as designation.
        let long = store.validate(code: "127", system: F.r358, display: "L'usager a fait valoir ses droits à la retraite (ESAT)", valueSet: F.j251)
        #expect(long.outcome == .valid && long.displayMismatch == nil)
        let short = store.validate(code: "127", system: F.r358, display: "Retraite (ESAT)", valueSet: F.j251)
        #expect(short.outcome == .valid && short.displayMismatch == nil)
        // Case, accents, typographic apostrophe and whitespace are ignored.
        let sloppy = store.validate(code: "127", system: F.r358, display: "l’usager a fait  valoir ses DROITS a la retraite (esat) ", valueSet: F.j251)
        #expect(sloppy.outcome == .valid && sloppy.displayMismatch == nil, "\(sloppy.displayMismatch ?? "")")
        // A designation (short label) of the TRE is accepted too.
        let designation = store.validate(code: "126", system: F.r358, display: "Prise charge invalidité SS", valueSet: F.j250)
        #expect(designation.outcome == .valid && designation.displayMismatch == nil)
        // A wrong label is a display mismatch, never an invalid code.
        let wrong = store.validate(code: "127", system: F.r358, display: "Décès", valueSet: F.j251)
        #expect(wrong.outcome == .valid)
        #expect(wrong.displayMismatch?.contains("Décès") == true)
    }

    @Test func valueSetOverSeveralSystems() {
        // J264: R213 46/47/48 plus SMT tre-r397 238; membership is per (system, code) pair.
        let r397 = "https://smt.esante.gouv.fr/fhir/CodeSystem/tre-r397-categorie-entite-geographique-exercice"
        #expect(store.validate(code: "46", system: F.r213, display: nil, valueSet: F.j264).outcome == .valid)
        #expect(store.validate(code: "238", system: r397, display: nil, valueSet: F.j264).outcome == .valid)
        #expect(store.validate(code: "238", system: F.r213, display: nil, valueSet: F.j264).outcome != .valid)
        // 49 was in the June 2026 version only.
        #expect(store.validate(code: "49", system: F.r213, display: nil, valueSet: F.j264).outcome == .notInValueSet)
        #expect(store.validate(code: "49", system: F.r213, display: nil, valueSet: F.j264 + "|20260601120000").outcome == .valid)
        #expect(store.valueSet(F.j264)?.version == "20260730120000")
    }

    @Test func unknownCodeSystemAndValueSet() {
        let vs = store.validate(code: "47", system: F.r357, display: nil, valueSet: F.nos + "JDV_J999-Nothing/FHIR/JDV-J999-Nothing")
        #expect(vs.outcome == .unknownValueSet)
        #expect(store.validate(code: "47", system: F.r357, display: nil, valueSet: F.j252 + "|19990101").outcome == .unknownValueSet)
        #expect(!store.knowsCodeSystem(F.r357))
        #expect(!store.knowsCodeSystem("http://example.org/nothing"))
        // A system the value set does not draw on.
        let other = store.validate(code: "47", system: "http://example.org/nothing", display: nil, valueSet: F.j252)
        #expect(other.outcome == .notInValueSet)
        // A whole system the store does not hold cannot be checked offline.
        let lang = store.validate(code: "fr-FR", system: "urn:ietf:bcp:47", display: nil, valueSet: "http://hl7.org/fhir/ValueSet/all-languages")
        #expect(lang.outcome == .unknownSystem)
    }

    @Test func sdoOwnCodeSystemFromFSH() {
        let url = "https://interop.esante.gouv.fr/ig/fhir/sdo/CodeSystem/input-task-sdo-codesystem"
        #expect(store.knowsCodeSystem(url))
        #expect(store.display(system: url, code: "statutESMS") == "statutESMS")
        #expect(store.codeSystem(url)?["idNat_Decision"] != nil)
        #expect(store.codeSystem(url)?.concepts.count == 17)
    }
}

@Suite struct TerminologyR4CoreTests {
    let store = TerminologyFixtures.store

    @Test func requiredBindingsWithVersion() {
        let ts = "http://hl7.org/fhir/ValueSet/task-status|4.0.1"
        #expect(store.validate(code: "requested", system: "http://hl7.org/fhir/task-status", display: "Requested", valueSet: ts).outcome == .valid)
        #expect(store.validate(code: "in-progress", system: nil, display: nil, valueSet: ts).outcome == .valid)
        #expect(store.validate(code: "started", system: "http://hl7.org/fhir/task-status", display: nil, valueSet: ts).outcome == .unknownCode)
        #expect(store.validate(code: "started", system: nil, display: nil, valueSet: ts).outcome != .valid)

        let g = "http://hl7.org/fhir/ValueSet/administrative-gender"
        for code in ["male", "female", "other", "unknown"] {
            #expect(store.validate(code: code, system: "http://hl7.org/fhir/administrative-gender", display: nil, valueSet: g + "|4.0.1").outcome == .valid)
        }
        #expect(store.validate(code: "M", system: nil, display: nil, valueSet: g).outcome != .valid)
        #expect(store.validate(code: "Male", system: nil, display: nil, valueSet: g).outcome != .valid)

        let bt = "http://hl7.org/fhir/ValueSet/bundle-type|4.0.1"
        for code in ["document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection"] {
            #expect(store.validate(code: code, system: nil, display: nil, valueSet: bt).outcome == .valid, "\(code)")
        }
        #expect(store.validate(code: "bundle", system: nil, display: nil, valueSet: bt).outcome != .valid)
    }

    @Test func taskIntentDrawsOnTwoSystemsMinusDirective() {
        let ti = "http://hl7.org/fhir/ValueSet/task-intent|4.0.1"
        #expect(store.validate(code: "order", system: "http://hl7.org/fhir/request-intent", display: nil, valueSet: ti).outcome == .valid)
        #expect(store.validate(code: "unknown", system: "http://hl7.org/fhir/task-intent", display: nil, valueSet: ti).outcome == .valid)
        let directive = store.validate(code: "directive", system: "http://hl7.org/fhir/request-intent", display: nil, valueSet: ti)
        #expect(directive.outcome == .notInValueSet)
        #expect(store.validate(code: "order", system: nil, display: nil, valueSet: ti).outcome == .valid)
    }

    @Test func isAFilterExpandedAtImport() {
        let sib = "http://hl7.org/fhir/ValueSet/sibling-relationship-codes"
        let roleCode = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
        for code in ["SIB", "BRO", "SIS", "HSIB", "TWINBRO"] {
            #expect(store.validate(code: code, system: roleCode, display: nil, valueSet: sib).outcome == .valid, "\(code)")
        }
        #expect(store.validate(code: "MTH", system: roleCode, display: nil, valueSet: sib).outcome == .notInValueSet)
        #expect(store.validate(code: "NOPE", system: roleCode, display: nil, valueSet: sib).outcome == .unknownCode)
        #expect(store.display(system: roleCode, code: "BRO") == "brother")
    }

    @Test func hierarchicalIssueType() {
        let it = "http://hl7.org/fhir/ValueSet/issue-type|4.0.1"
        for code in ["invalid", "structure", "required", "code-invalid", "not-found", "informational"] {
            #expect(store.validate(code: code, system: "http://hl7.org/fhir/issue-type", display: nil, valueSet: it).outcome == .valid, "\(code)")
        }
    }
}

@Suite struct TerminologyLoadTests {
    typealias F = TerminologyFixtures

    static let bundle: JSONValue = {
        let text = #"""
        {"resourceType":"Bundle","type":"collection","entry":[
          {"resource":{"resourceType":"ValueSet","url":"urn:test:vs:kids","version":"1","name":"Kids",
            "compose":{"include":[{"system":"urn:test:cs:tree","filter":[{"property":"concept","op":"descendent-of","value":"root"}]}],
                       "exclude":[{"system":"urn:test:cs:tree","concept":[{"code":"b2"}]}]}}},
          {"resource":{"resourceType":"CodeSystem","url":"urn:test:cs:tree","version":"1","content":"complete",
            "property":[{"code":"colour","type":"code"}],
            "concept":[{"code":"root","display":"Root","concept":[
                {"code":"a","display":"A","property":[{"code":"colour","valueCode":"red"}],"concept":[{"code":"a1","display":"A one"}]},
                {"code":"b","display":"B","concept":[{"code":"b1"},{"code":"b2"}]}]},
              {"code":"other","display":"Other","property":[{"code":"colour","valueCode":"red"}]}]}},
          {"resource":{"resourceType":"ValueSet","url":"urn:test:vs:red","name":"Red",
            "compose":{"include":[{"system":"urn:test:cs:tree","filter":[{"property":"colour","op":"=","value":"red"}]}]}}},
          {"resource":{"resourceType":"ValueSet","url":"urn:test:vs:redkids","name":"RedKids",
            "compose":{"include":[{"valueSet":["urn:test:vs:kids|1","urn:test:vs:red"]}]}}},
          {"resource":{"resourceType":"ValueSet","url":"urn:test:vs:isa","name":"IsA",
            "compose":{"include":[{"system":"urn:test:cs:tree","filter":[{"property":"concept","op":"is-a","value":"b"}]}]}}},
          {"resource":{"resourceType":"ValueSet","url":"urn:test:vs:nos","name":"WithJ30",
            "compose":{"include":[{"valueSet":["https://mos.esante.gouv.fr/NOS/JDV_J30-TemporaliteAccueil-ROR/FHIR/JDV-J30-TemporaliteAccueil-ROR"]}]}}},
          {"resource":{"resourceType":"ValueSet","url":"urn:test:vs:missing","name":"Missing",
            "compose":{"include":[{"valueSet":["urn:test:vs:nowhere"]}]}}}
        ]}
        """#
        return try! JSONValue.parse(Array(text.utf8))
    }()

    @Test func loadBundleOfValueSets() throws {
        var s = F.store
        try s.load(resource: Self.bundle)
        let sys = "urn:test:cs:tree"
        // descendent-of root, minus b2
        for code in ["a", "a1", "b", "b1"] { #expect(s.validate(code: code, system: sys, display: nil, valueSet: "urn:test:vs:kids").outcome == .valid, "\(code)") }
        #expect(s.validate(code: "root", system: sys, display: nil, valueSet: "urn:test:vs:kids").outcome == .notInValueSet)
        #expect(s.validate(code: "b2", system: sys, display: nil, valueSet: "urn:test:vs:kids|1").outcome == .notInValueSet)
        #expect(s.validate(code: "zz", system: sys, display: nil, valueSet: "urn:test:vs:kids").outcome == .unknownCode)
        // property filter, and intersection of two imported value sets
        #expect(s.validate(code: "other", system: sys, display: nil, valueSet: "urn:test:vs:red").outcome == .valid)
        #expect(s.validate(code: "a", system: sys, display: "a", valueSet: "urn:test:vs:redkids").outcome == .valid)
        #expect(s.validate(code: "other", system: sys, display: nil, valueSet: "urn:test:vs:redkids").outcome == .notInValueSet)
        // is-a includes the code itself
        #expect(s.validate(code: "b", system: sys, display: nil, valueSet: "urn:test:vs:isa").outcome == .valid)
        #expect(s.validate(code: "b2", system: sys, display: nil, valueSet: "urn:test:vs:isa").outcome == .valid)
        #expect(s.validate(code: "a", system: sys, display: nil, valueSet: "urn:test:vs:isa").outcome == .notInValueSet)
        // import of a value set from the compiled store
        #expect(s.validate(code: "01", system: F.r240, display: nil, valueSet: "urn:test:vs:nos").outcome == .valid)
        // import of a value set nobody has
        #expect(s.validate(code: "a", system: sys, display: nil, valueSet: "urn:test:vs:missing").outcome == .unknownValueSet)
        #expect(s.knowsCodeSystem(sys))
        #expect(s.display(system: sys, code: "a1") == "A one")
        // The shared store is a value: unchanged.
        #expect(F.store.valueSet("urn:test:vs:kids") == nil)
    }

    @Test func loadedCodeSystemResolvesPendingFilter() throws {
        var s = TerminologyStore(referenceDate: "2026-01-01")
        let vs: JSONValue = try JSONValue.parse(Array(#"""
        {"resourceType":"ValueSet","url":"urn:test:vs:late","compose":{"include":[{"system":"urn:test:cs:late","filter":[{"property":"concept","op":"is-a","value":"x"}]}]}}
        """#.utf8))
        try s.load(resource: vs)
        #expect(s.validate(code: "x1", system: "urn:test:cs:late", display: nil, valueSet: "urn:test:vs:late").outcome == .unknownSystem)
        let cs: JSONValue = try JSONValue.parse(Array(#"""
        {"resourceType":"CodeSystem","url":"urn:test:cs:late","content":"complete","concept":[{"code":"x","concept":[{"code":"x1"}]},{"code":"y"}]}
        """#.utf8))
        try s.load(resource: cs)
        #expect(s.validate(code: "x1", system: "urn:test:cs:late", display: nil, valueSet: "urn:test:vs:late").outcome == .valid)
        #expect(s.validate(code: "y", system: "urn:test:cs:late", display: nil, valueSet: "urn:test:vs:late").outcome == .notInValueSet)
    }

    @Test func fragmentCodeSystemIsUndecidable() throws {
        var s = TerminologyStore(referenceDate: "2026-01-01")
        try s.load(resource: try JSONValue.parse(Array(#"""
        {"resourceType":"Bundle","entry":[
         {"resource":{"resourceType":"CodeSystem","url":"urn:test:cs:frag","content":"fragment","concept":[{"code":"k"}]}},
         {"resource":{"resourceType":"ValueSet","url":"urn:test:vs:frag","compose":{"include":[{"system":"urn:test:cs:frag"}]}}}]}
        """#.utf8)))
        #expect(s.validate(code: "k", system: "urn:test:cs:frag", display: nil, valueSet: "urn:test:vs:frag").outcome == .valid)
        #expect(s.validate(code: "z", system: "urn:test:cs:frag", display: nil, valueSet: "urn:test:vs:frag").outcome == .unknownSystem)
        #expect(!s.knowsCodeSystem("urn:test:cs:frag"))
    }

    @Test func refusesOtherResources() {
        var s = TerminologyStore(referenceDate: "2026-01-01")
        #expect(throws: TerminologyStore.LoadError.self) { try s.load(resource: .object([("resourceType", .string("Patient"))])) }
        #expect(throws: TerminologyStore.LoadError.self) { try s.load(resource: .object([("resourceType", .string("ValueSet"))])) }
    }

    @Test func storeLoadTime() throws {
        let start = ContinuousClock.now
        let s = try TerminologyStore.load(directory: F.storeDirectory)
        let elapsed = ContinuousClock.now - start
        let concepts = s.allCodeSystems.reduce(0) { $0 + $1.concepts.count }
        print("terminology store: \(s.allCodeSystems.count) code systems, \(s.allValueSets.count) value sets, \(concepts) concepts loaded in \(elapsed)")
        #expect(s.allValueSets.count > 1300)
        #expect(s.referenceDate == "2026-07-30")
    }

    @Test func concurrentReaders() async {
        let s = F.store
        let ok = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<8 {
                group.addTask {
                    (0..<200).allSatisfy { j in
                        let code = (i + j) % 2 == 0 ? "01" : "02"
                        return s.validate(code: code, system: F.r240, display: nil, valueSet: F.j30).outcome == .valid
                    }
                }
            }
            var all = true
            for await r in group { all = all && r }
            return all
        }
        #expect(ok)
    }
}

@Suite struct TerminologyImportTests {
    typealias F = TerminologyFixtures

    @Test(.enabled(if: TerminologyFixtures.hasSharedReference))
    func importIsReproducibleAndMatchesTheCommittedStore() throws {
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory.appendingPathComponent("term-import-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: tmp) }
        let a = tmp.appendingPathComponent("a").path, b = tmp.appendingPathComponent("b").path
        try TerminologyImporter.run(referenceDirectory: F.sharedReference.path, outputDirectory: a)
        try TerminologyImporter.run(referenceDirectory: F.sharedReference.path, outputDirectory: b)
        let names = try fm.contentsOfDirectory(atPath: a).sorted()
        #expect(names == ["manifest.json", "nos.json", "r4-core.json", "sdo-frcore-ror.json"])
        for n in names {
            let x = try Data(contentsOf: URL(fileURLWithPath: a).appendingPathComponent(n))
            let y = try Data(contentsOf: URL(fileURLWithPath: b).appendingPathComponent(n))
            #expect(x == y, "\(n) differs between two runs")
            let committed = try? Data(contentsOf: URL(fileURLWithPath: F.storeDirectory).appendingPathComponent(n))
            #expect(committed == x, "\(n) differs from the committed store: run `fhir-gateway import-terminologies`")
        }
    }

    @Test func manifestRecordsTheFilesItLists() throws {
        let dir = URL(fileURLWithPath: F.storeDirectory)
        let manifest = try JSONValue.parse([UInt8](try Data(contentsOf: dir.appendingPathComponent("manifest.json"))))
        var total = 0
        for f in manifest["files"]?.array ?? [] {
            let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(f["name"]!.string!)))
            #expect(SHA256.hex(bytes) == f["sha256"]?.string)
            #expect(bytes.count == f["bytes"]?.int)
            total += bytes.count
        }
        print("terminology store size: \(total) bytes")
        #expect(total < 5_000_000)
        #expect((manifest["sources"]?.array?.count ?? 0) > 20)
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func fshCodeSystemHierarchyAndValueSetRules() {
        let fsh = """
        Alias: $x = http://example.org/cs
        CodeSystem: MyCS
        Id: my-cs
        Title: "My CS"
        Description: \"\"\"
        Long: text
        \"\"\"
        * ^caseSensitive = true
        * #a "A" "def of a"
        * #b "B"
          * #b1 "B one"
        * #"c d" "C D"
        ValueSet: MyVS
        Id: my-vs
        * include codes from system $x
        * $x#zz "ZZ"
        * exclude $x#a
        """
        let r = FSHTerminologyReader.read(fsh, canonicalBase: "http://example.org/ig", version: "1.0")
        #expect(r.count == 2)
        #expect(r[0]["url"]?.string == "http://example.org/ig/CodeSystem/my-cs")
        #expect(r[0]["version"]?.string == "1.0")
        #expect(r[0]["caseSensitive"]?.bool == true)
        let cs = TerminologyResources.codeSystem(r[0], source: "t")
        #expect(cs?.concepts.map(\.code) == ["a", "b", "b1", "c d"])
        #expect(cs?["b1"]?.parents == ["b"])
        #expect(cs?["a"]?.display == "A")
        let inc = r[1]["compose"]?["include"]?.array
        #expect(inc?.count == 2)
        #expect(inc?.first?["system"]?.string == "http://example.org/cs")
        #expect(r[1]["compose"]?["exclude"]?.array?.first?["concept"]?.array?.first?["code"]?.string == "a")
    }
}

@Suite struct DataDirectoryTests {
    @Test func environmentWins() {
        #expect(DataDirectory.locate(environment: ["FHIR_GATEWAY_DATA": "/srv/data"], executablePath: "/x/y", currentDirectory: "/tmp") == "/srv/data")
    }

    @Test func walksUpFromTheExecutable() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("datadir-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: root) }
        try fm.createDirectory(at: root.appendingPathComponent("Terminologies"), withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: root.appendingPathComponent("Terminologies/manifest.json"))
        let bin = root.appendingPathComponent(".build/debug")
        try fm.createDirectory(at: bin, withIntermediateDirectories: true)
        let found = DataDirectory.locate(environment: [:], executablePath: bin.appendingPathComponent("fhir-gateway").path, currentDirectory: "/nowhere")
        #expect(URL(fileURLWithPath: found).standardizedFileURL.path == root.standardizedFileURL.path)
        // Nothing found: the current directory.
        #expect(DataDirectory.locate(environment: [:], executablePath: "/usr/bin/true", currentDirectory: "/cwd") == "/cwd")
    }

    @Test func testBinaryFindsThisCheckout() {
        // The test runner lives under .build/ of this checkout, which holds the committed store.
        let found = DataDirectory.locate(environment: [:])
        #expect(FileManager.default.fileExists(atPath: DataDirectory.terminologies(in: found) + "/manifest.json"))
    }
}
