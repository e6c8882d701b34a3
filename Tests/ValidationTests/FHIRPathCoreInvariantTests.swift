import Testing
import Foundation
import FHIRModels
@testable import Validation

/// Every `constraint.expression` of the R4 core StructureDefinitions compiles (with its context type),
/// and evaluating them over the official R4 examples raises no FHIRPath error.
@Suite struct FHIRPathCoreInvariantTests {
    static let reference = FHIRPathSuiteTests.reference

    struct Constraint {
        var key: String, path: String, contextType: String?, expression: String
        /// Repeated on an element from a base definition (`ele-1` everywhere, `dom-*` on each resource).
        var inherited: Bool
        /// From a profile (`SimpleQuantity`, `MoneyQuantity`), not from the type itself.
        var profile: Bool
    }

    /// The FHIR type an element path denotes (`Patient.contact` backbone, `Timing.repeat`, `Quantity`).
    static func contextType(_ path: String) -> String? {
        let model = ModelInfo.r4
        if model.type(named: path) != nil { return path }
        let parts = path.split(separator: ".").map(String.init)
        guard var t = model.type(named: parts[0]) else { return nil }
        for p in parts.dropFirst() {
            guard !p.hasSuffix("[x]"),
                  let e = model.elements(of: t).first(where: { model[element: $0].name == p && !model[element: $0].isChoice }),
                  model[element: e].types.count == 1, model[element: e].types[0] >= 0 else { return nil }
            t = model[element: e].types[0]
        }
        return model[type: t].name
    }

    static func loadConstraints() throws -> [Constraint]? {
        var out: [Constraint] = []
        for file in ["profiles-types.json", "profiles-resources.json"] {
            let url = reference.appendingPathComponent("fhir-r4/" + file)
            guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
            let bundle = try JSONValue.parse(Array(data))
            for entry in bundle["entry"]?.array ?? [] {
                guard let sd = entry["resource"], sd["resourceType"]?.string == "StructureDefinition" else { continue }
                for element in sd["snapshot"]?["element"]?.array ?? [] {
                    let path = element["path"]?.string ?? ""
                    for c in element["constraint"]?.array ?? [] {
                        guard let expr = c["expression"]?.string, let key = c["key"]?.string else { continue }
                        var inherited = false
                        if let source = c["source"]?.string, let name = source.split(separator: "/").last,
                           String(name) != sd["type"]?.string { inherited = true }
                        out.append(Constraint(key: key, path: path, contextType: contextType(path),
                                              expression: FHIRPathCorrections.expression(key: key, published: expr),
                                              inherited: inherited, profile: sd["derivation"]?.string == "constraint"))
                    }
                }
            }
        }
        return out
    }

    @Test func allCoreConstraintsCompile() throws {
        guard let constraints = try Self.loadConstraints() else { print("R4 definitions not found; skipped"); return }
        var failures: [String] = []
        var typed = 0
        for c in constraints {
            do {
                _ = try FHIRPathExpression(c.expression, contextType: c.contextType)
                if c.contextType != nil { typed += 1 }
            } catch {
                failures.append("\(c.key) on \(c.path): \(c.expression) → \(error)")
            }
        }
        print("R4 core constraints: \(constraints.count - failures.count) of \(constraints.count) compile (\(typed) type-checked against their context)")
        for f in failures { print("  FAIL \(f)") }
        #expect(constraints.count > 8000)
        #expect(failures.isEmpty)
    }

    /// Constraints by the type they apply to, with those of base types (`DomainResource`, `Element`).
    static func constraintsByType(_ constraints: [Constraint]) throws -> [ModelInfo.TypeID: [(String, FHIRPathExpression)]] {
        let model = ModelInfo.r4
        var own: [ModelInfo.TypeID: [(String, FHIRPathExpression)]] = [:]
        for c in constraints where !c.inherited && !c.profile {
            guard let name = c.contextType, let t = model.type(named: name), name == c.path || model[type: t].kind == .backbone else { continue }
            own[t, default: []].append((c.key, try FHIRPathExpression(c.expression, contextType: name)))
        }
        var all: [ModelInfo.TypeID: [(String, FHIRPathExpression)]] = [:]
        for t in 0..<ModelInfo.TypeID(model.types.count) {
            var list: [(String, FHIRPathExpression)] = []
            var cur = t
            while cur >= 0 { list += own[cur] ?? []; cur = model[type: cur].base }
            all[t] = list
        }
        return all
    }

    @Test func coreConstraintsEvaluateOnOfficialExamples() throws {
        guard let constraints = try Self.loadConstraints() else { print("R4 definitions not found; skipped"); return }
        let byType = try Self.constraintsByType(constraints)
        let dir = Self.reference.appendingPathComponent("fhir-r4/examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        var evaluations = 0, falseCount = 0
        var errors: [String] = []
        var falses: [String: Int] = [:]
        let started = Date()
        for file in files.prefix(Self.exampleLimit) {
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(file).path),
                  let tree = try? FHIRJSONReader.read(Array(data)) else { continue }
            for id in 0..<ElementTree.NodeID(tree.nodes.count) {
                let t = tree[id].type
                guard t >= 0, let list = byType[t] else { continue }
                for (key, expr) in list {
                    evaluations += 1
                    do {
                        if try !expr.isTrue(tree, node: id) { falseCount += 1; falses[key, default: 0] += 1 }
                    } catch {
                        errors.append("\(file) \(tree.path(id)) \(key): \(error)")
                    }
                }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        print("R4 core constraints on \(min(files.count, Self.exampleLimit)) examples: \(evaluations) evaluations in \(String(format: "%.1f", seconds)) s, \(falseCount) false, \(errors.count) errors")
        print("  false by key: \(falses.sorted { $0.value > $1.value }.prefix(20).map { "\($0.key)×\($0.value)" }.joined(separator: " "))")
        for e in errors.prefix(40) { print("  ERROR \(e)") }
        #expect(evaluations > 10_000)
        #expect(errors.count == 0)
        // Official examples break only best-practice warnings (dom-6 narrative, nsd-0/pdf-0/tst-0 name
        // patterns); an `error` invariant failing on them would point at the engine.
        #expect(Set(falses.keys).isSubset(of: ["dom-6", "nsd-0", "pdf-0", "tst-0"]), "\(falses)")
    }

    /// Invariants evaluated through `FPFastShape` give the general evaluator's answer on every node of
    /// every official example they apply to.
    @Test func fastShapesAgreeWithTheEvaluatorOnOfficialExamples() throws {
        guard let constraints = try Self.loadConstraints() else { print("R4 definitions not found; skipped"); return }
        let byType = try Self.constraintsByType(constraints).mapValues { $0.filter { $0.1.fastShape != nil } }
        let dir = Self.reference.appendingPathComponent("fhir-r4/examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        var compared = 0, falses = 0, decided = 0
        var disagreements: [String] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(file).path),
                  let tree = try? FHIRJSONReader.read(Array(data)) else { continue }
            for id in 0..<ElementTree.NodeID(tree.nodes.count) {
                let t = tree[id].type
                guard t >= 0, let list = byType[t] else { continue }
                for (key, expr) in list {
                    let fast = try? expr.isTrue(tree, node: id), generic = try? expr.isTrueGeneric(tree, node: id)
                    compared += 1
                    if fast == false { falses += 1 }
                    if expr.fastShape?.decide(tree, id) != nil { decided += 1 }
                    if fast != generic { disagreements.append("\(file) \(tree.path(id)) \(key): fast \(String(describing: fast)), evaluator \(String(describing: generic))") }
                }
            }
        }
        for d in disagreements.prefix(20) { print("  DISAGREE \(d)") }
        #expect(compared > 10_000)
        #expect(decided > 10_000)
        #expect(falses > 0)
        #expect(disagreements.isEmpty)
    }

    /// Shapes recognised, and the same answers as the evaluator on a small tree, node by node (type-name
    /// roots, choice elements, primitives with extensions, unknown names, nested paths).
    @Test func fastShapesOnTheTestPatient() throws {
        let tree = try FHIRPathTests.tree()
        let shaped = ["name.exists()", "Patient.name.given.exists()", "name.given.empty() or active.exists()",
                      "deceased.exists() and multipleBirth.empty()", "birthDate.extension.exists() implies contained.exists()",
                      "contained.name.exists() xor managingOrganization.reference.empty()", "extension.value.exists()",
                      "nope.empty()", "Patient.exists()", "HumanName.given.exists()", "given.exists() or family.empty()",
                      "id.exists() and (text.empty() or text.`div`.exists())", "name.exists().not()",
                      "managingOrganization.reference.startsWith('#').not() or (name.count() > 5)",
                      "name.given.startsWith('Z')", "gender.startsWith('').not() implies name.where(use = 'x').exists()",
                      "birthDate.startsWith('1980') and active.exists()", "active.startsWith('t')", "id.startsWith('p')",
                      "name.exists() or name.count() = 2"]
        for text in shaped {
            let e = try FHIRPathExpression(text)
            #expect(e.fastShape != nil, "\(text) should be a fast shape")
            for id in 0..<ElementTree.NodeID(tree.nodes.count) {
                #expect((try? e.isTrue(tree, node: id)) == (try? e.isTrueGeneric(tree, node: id)), "\(text) at \(tree.path(id))")
            }
        }
        for text in ["name.exists(use = 'official')", "name.count() > 1", "%resource.name.exists()", "name.first().exists()",
                     "name[0].exists()", "(name | contact).exists()", "name.count() > 1 or name.exists()"] {
            #expect(try FHIRPathExpression(text).fastShape == nil, "\(text) is not a fast shape")
        }
    }

    static let exampleLimit = 10_000
}
