import Testing
import Foundation
import FHIRModels
@testable import Validation

/// Engine behaviour the HL7 suite does not pin down: API contract, errors, environment, hooks.
@Suite struct FHIRPathTests {
    static let patient = #"""
    {"resourceType":"Patient","id":"p1",
     "contained":[{"resourceType":"Organization","id":"org1","name":"Acme"}],
     "extension":[{"url":"http://example.org/birthPlace","valueString":"Lyon"}],
     "active":true,
     "name":[{"use":"official","family":"Durand","given":["Zoé","Anne"]},{"use":"usual","given":["Zaza"]}],
     "birthDate":"1980-02-29","_birthDate":{"extension":[{"url":"http://example.org/time","valueTime":"10:15:00"}]},
     "deceasedBoolean":false,
     "managingOrganization":{"reference":"#org1"},
     "multipleBirthInteger":2}
    """#

    static func tree(_ json: String = patient) throws -> ElementTree { try FHIRJSONReader.read(Array(json.utf8)) }

    func eval(_ expr: String, _ tree: ElementTree, env: FHIRPathEnvironment = .init()) throws -> [FHIRPathValue] {
        try FHIRPathExpression(expr).evaluate(tree, node: tree.root, environment: env)
    }

    func strings(_ expr: String, _ tree: ElementTree) throws -> [String] {
        try eval(expr, tree).map { v in
            if case .node(let id) = v { return tree.value(id) ?? "<\(tree.name(id))>" }
            return v.description
        }
    }

    @Test func navigatesTypedTreeAndChoiceElements() throws {
        let t = try Self.tree()
        #expect(try strings("Patient.name.given", t) == ["Zoé", "Anne", "Zaza"])
        #expect(try strings("name.where(use = 'official').family", t) == ["Durand"])
        #expect(try strings("deceased", t) == ["false"])
        #expect(try strings("deceased.ofType(boolean)", t) == ["false"])
        #expect(try strings("deceased is boolean", t) == ["true"])
        #expect(try strings("multipleBirth.ofType(integer) + 1", t) == ["3"])
        #expect(try strings("birthDate.extension('http://example.org/time').value", t) == ["10:15:00"])
        #expect(try strings("extension('http://example.org/birthPlace').value", t) == ["Lyon"])
        #expect(try strings("name[1].given", t) == ["Zaza"])
        #expect(try strings("birthDate.hasValue() and active.hasValue() and name.hasValue().not()", t) == ["true"])
    }

    @Test func primitivesConvertByFHIRType() throws {
        let t = try Self.tree()
        let birth = try eval("birthDate", t)
        #expect(birth.first?.text(in: t) == "1980-02-29")
        #expect(try eval("name[0]", t).first?.text(in: t) == "Patient.name[0]")
        if case .date(let d)? = birth.first?.systemValue(in: t) { #expect(d.precision == .day) } else { Issue.record("no date") }
        #expect(try eval("name[0]", t).first?.systemValue(in: t) == nil)
        #expect(try strings("birthDate = @1980-02-29", t) == ["true"])
        #expect(try strings("birthDate + 1 year", t) == ["1981-02-28"])
        #expect(try strings("birthDate < @1980-03", t) == ["true"]) // decided at month precision
        #expect(try strings("birthDate < @1980-02", t) == []) // equal as far as both go: unknown
        #expect(try strings("birthDate.getValue() is Date", t) == ["true"])
        #expect(try strings("active and true", t) == ["true"])
        #expect(try strings("multipleBirth.ofType(integer) / 4", t) == ["0.5"])
    }

    @Test func resolvesContainedAndHooks() throws {
        let t = try Self.tree()
        #expect(try strings("managingOrganization.resolve().name", t) == ["Acme"])
        #expect(try strings("contained.ofType(Organization).id", t) == ["org1"])
        var env = FHIRPathEnvironment()
        env.memberOf = { value, tree, vs in
            guard vs == "http://hl7.org/fhir/ValueSet/name-use" else { return nil }
            if case .node(let id) = value { return ["official", "usual"].contains(tree.value(id) ?? "") }
            return false
        }
        #expect(try eval("name.use.memberOf('http://hl7.org/fhir/ValueSet/name-use').allTrue()", t, env: env) == [.boolean(true)])
        #expect(try eval("name.use.memberOf('http://other').empty()", t, env: env) == [.boolean(true)])
        env.variables["who"] = [.string("Durand")]
        #expect(try eval("name.family = %who", t, env: env) == [.boolean(true)])
        #expect(try eval("%resource.id", t).count == 1)
        #expect(try eval("%`vs-name-use`", t) == [.string("http://hl7.org/fhir/ValueSet/name-use")])
        #expect(throws: FHIRPathError.self) { try eval("%nope", t) }
        env.variables["n"] = [.integer(5)]
        #expect(try eval("%n-1", t, env: env) == [.integer(4)])
        #expect(try eval("%vs-name-use", t) == [.string("http://hl7.org/fhir/ValueSet/name-use")])
        #expect(try eval("%\"ext-x\"", t) == [.string("http://hl7.org/fhir/StructureDefinition/x")])
    }

    @Test func errorsCarryKindAndPosition() throws {
        func error(_ text: String) -> FHIRPathError? {
            do { _ = try FHIRPathExpression(text); return nil } catch { return error }
        }
        #expect(error("name.given.")?.kind == .syntax)
        #expect(error("name.given.")?.position == 11)
        #expect(error("name.foo(1)")?.kind == .semantic)
        #expect(error("'unterminated")?.position == 0)
        #expect(error("1 + + ") != nil)
        #expect(error("@2015-13-01") != nil)
        #expect(error("name.as(Nope)")?.kind == .semantic)
        #expect(error(String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000))?.kind == .syntax)
        #expect(error(String(repeating: "-", count: 5000) + "1")?.kind == .syntax)
        #expect(error("1" + String(repeating: " + 1", count: 5000))?.kind == .syntax)
        #expect(error("true" + String(repeating: " implies true", count: 5000))?.kind == .syntax)
        #expect(error("1" + String(repeating: " + 1", count: 100)) == nil)
        #expect(error(String(repeating: "(", count: 30) + "1" + String(repeating: ")", count: 30)) == nil)
        do {
            _ = try FHIRPathExpression("Patient.nam", contextType: "Patient")
            Issue.record("unknown member accepted")
        } catch {
            #expect(error.kind == .semantic)
            #expect(error.message.contains("nam"))
            #expect(error.position == 8)
        }
        let t = try Self.tree()
        do {
            _ = try FHIRPathExpression("name.given.single()").evaluate(t, node: t.root)
            Issue.record("single() on three items accepted")
        } catch {
            #expect(error.kind == .execution)
        }
    }

    @Test func invariantSemantics() throws {
        let t = try Self.tree()
        #expect(try FHIRPathExpression("name.where(use = 'nickname').exists().not() or {}").isTrue(t, node: t.root))
        #expect(try FHIRPathExpression("{}").isTrue(t, node: t.root))
        #expect(try !FHIRPathExpression("active.not()").isTrue(t, node: t.root))
        #expect(try FHIRPathExpression("name.family").isTrue(t, node: t.root)) // a single non-Boolean item counts as true
        #expect(throws: FHIRPathError.self) { try FHIRPathExpression("name.given").isTrue(t, node: t.root) }
        // Evaluated on a nested node: $this, %context and %resource.
        let name = t.child(t.root, "name")!
        let expr = try FHIRPathExpression("given.count() = 2 and %resource.id = 'p1' and %context.use = 'official'")
        #expect(try expr.isTrue(t, node: name))
    }

    @Test func precedenceAndThreeValuedLogic() throws {
        let t = try Self.tree()
        #expect(try eval("1 + 2 * 3 = 7 and 10 div 3 = 3 and 10 mod 3 = 1", t) == [.boolean(true)])
        #expect(try eval("{} and false", t) == [.boolean(false)])
        #expect(try eval("{} and true", t) == [])
        #expect(try eval("{} or true", t) == [.boolean(true)])
        #expect(try eval("false implies {}", t) == [.boolean(true)])
        #expect(try eval("(1 | 2 | 2).count()", t) == [.integer(3 - 1)])
        #expect(try eval("-2.abs() = 2", t) == [.boolean(false)]) // polarity binds looser than invocation
        #expect(try eval("(-2).abs()", t) == [.integer(2)])
        #expect(try eval("'a' & {} & 'b'", t) == [.string("ab")])
        #expect(try eval("1.5 '[lb_av]' > 500 'g'", t) == [.boolean(true)])
        #expect(try eval("@2014-01-25T14:30:14.559+01:00 = @2014-01-25T13:30:14.559Z", t) == [.boolean(true)])
    }

    @Test func arithmeticEdgesDoNotTrap() throws {
        let t = try Self.tree()
        #expect(try eval("(-9223372036854775807 - 1) div -1", t) == [])
        #expect(try eval("(-9223372036854775807 - 1) mod -1", t) == [])
        #expect(try eval("-(-9223372036854775807 - 1)", t) == [])
        #expect(try eval("(-9223372036854775807 - 1).abs()", t) == [])
        #expect(try eval("9223372036854775807 + 1", t) == [])
        #expect(try eval("1.power(2000000000)", t) == [.integer(1)])
        #expect(try eval("2.power(62)", t) == [.integer(1 << 62)])
        #expect(try eval("2.power(64)", t) == [])
        #expect(try eval("5 div 0", t) == [])
        #expect(throws: FHIRPathError.self) { try eval("@2020-01-01 + 100000000000000000000 years", t) }
        #expect(try strings("@2020-01-31 + 1 month", t) == ["2020-02-29"])
        #expect(try strings("@2020-03-01T00:30:00.005Z - 1 hour", t) == ["2020-02-29T23:30:00.005Z"])
        #expect(try strings("@T23:30 + 2 hours", t) == ["01:30"])
        #expect(try eval("'abc'.encode('hex')", t) == [.string("616263")])
    }

    @Test func decimalsKeepTheirScale() throws {
        let t = try Self.tree(#"{"resourceType":"Observation","status":"final","code":{"text":"w"},"valueQuantity":{"value":1.50,"unit":"kg"}}"#)
        #expect(FHIRPathDecimal("1.50")?.description == "1.50")
        #expect(FHIRPathDecimal("1.50") == FHIRPathDecimal("1.5"))
        #expect(FHIRPathDecimal("2.5e2")?.description == "250")
        #expect(try eval("value.value.toString()", t) == [.string("1.50")])
        #expect(try eval("(value.value + 0.001).toString()", t) == [.string("1.501")])
        #expect(try eval("value.value ~ 1.5", t) == [.boolean(true)])
        #expect(try eval("1.5 ~ 1.54", t) == [.boolean(true)]) // compared at the coarser precision
        #expect(try eval("1.50.precision()", t) == [.integer(2)])
        #expect(try eval("(1.5 * 2.00).toString()", t) == [.string("3.000")])
    }

    /// Compile once, evaluate many times: prints the cost per evaluation (debug builds are ~10x slower).
    @Test func evaluationThroughput() throws {
        let t = try Self.tree()
        let exprs = try [
            "name.where(use = 'official').given.exists()",
            "hasValue() or (children().count() > id.count())",
            "birthDate < @2000-01-01 and active",
            "contained.where(('#' + id in %resource.descendants().reference).not()).empty()",
        ].map { try FHIRPathExpression($0, contextType: "Patient") }
        let rounds = 2_000
        let start = Date()
        var trues = 0
        for _ in 0..<rounds {
            for e in exprs where try e.isTrue(t, node: t.root) { trues += 1 }
        }
        let micros = Date().timeIntervalSince(start) * 1_000_000 / Double(rounds * exprs.count)
        print("FHIRPath: \(String(format: "%.1f", micros)) µs per evaluation (\(exprs.count) invariants × \(rounds))")
        #expect(trues == rounds * exprs.count)
        #expect(micros < 5_000)
    }

    /// Random token soup: compiling and evaluating must fail cleanly, never trap.
    @Test func randomExpressionsFailCleanly() throws {
        let t = try Self.tree()
        let vocabulary = ["name", "given", ".", "(", ")", "[", "]", "0", "1", "2.5", "'a'", "@2020", "@T10:00", "+", "-", "*", "/",
                          "div", "mod", "&", "|", "=", "!=", "~", "<", ">=", "and", "or", "xor", "implies", "in", "contains",
                          "is", "as", "Patient", "String", "where", "select", "exists", "first", "skip", "substring", "$this",
                          "$index", "$total", "%resource", "%x", "{}", ",", "iif", "aggregate", "repeat", "children",
                          "descendants", "4 'mg'", "3 days", "`div`", "true", "not", "ofType", "count", "trace", "extension"]
        var rng = SystemRandomNumberGenerator()
        var compiled = 0
        for _ in 0..<3000 {
            let n = Int.random(in: 1...12, using: &rng)
            let text = (0..<n).map { _ in vocabulary.randomElement(using: &rng)! }.joined(separator: " ")
            guard let expr = try? FHIRPathExpression(text) else { continue }
            compiled += 1
            _ = try? expr.evaluate(t, node: t.root)
            _ = try? expr.isTrue(t, node: t.root)
        }
        #expect(compiled > 0)
    }

    @Test func compiledExpressionIsReusableAcrossTreesAndThreads() async throws {
        let expr = try FHIRPathExpression("name.given.count()")
        let other = try Self.tree(#"{"resourceType":"Patient","name":[{"given":["A"]}]}"#)
        let main = try Self.tree()
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<8 {
                let tree = i % 2 == 0 ? main : other
                group.addTask {
                    guard case .integer(let n)? = try expr.evaluate(tree, node: tree.root).first else { return -1 }
                    return n
                }
            }
            var all: [Int] = []
            for try await n in group { all.append(n) }
            return all.sorted()
        }
        #expect(counts == [1, 1, 1, 1, 3, 3, 3, 3])
    }

    @Test func technicalCorrectionsApplyToPublishedTextOnly() {
        let tim9 = "offset.empty() or (when.exists() and ((when in ('C' | 'CM' | 'CD' | 'CV')).not()))"
        #expect(FHIRPathCorrections.expression(key: "tim-9", published: tim9).contains("when.all("))
        #expect(FHIRPathCorrections.expression(key: "tim-9", published: "offset.empty()") == "offset.empty()")
    }

    @Test func timingTim9CorrectedHandlesRepeatingWhen() throws {
        let json = #"{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medicationCodeableConcept":{"text":"x"},"dosageInstruction":[{"timing":{"repeat":{"when":["MORN","EVE"],"offset":30}}}]}"#
        let t = try Self.tree(json)
        let rep = t.descendant(t.root, "dosageInstruction.timing.repeat")!
        let published = "offset.empty() or (when.exists() and ((when in ('C' | 'CM' | 'CD' | 'CV')).not()))"
        #expect(throws: FHIRPathError.self) { try FHIRPathExpression(published).isTrue(t, node: rep) }
        let fixed = try FHIRPathExpression(FHIRPathCorrections.expression(key: "tim-9", published: published), contextType: "Timing.repeat")
        #expect(try fixed.isTrue(t, node: rep))
    }
}
