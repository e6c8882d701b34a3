import Testing
import Foundation
import FHIRModels
@testable import Validation

/// Mutated official examples must never trap the validator, and mutations that break a rule are seen.
@Suite struct ValidatorRobustnessTests {
    /// Deterministic generator (tests must be reproducible).
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
    }

    static func mutate(_ v: JSONValue, _ rng: inout SplitMix, depth: Int = 0) -> JSONValue {
        switch v {
        case .object(var members):
            guard !members.isEmpty else { return v }
            let i = Int.random(in: 0..<members.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where members[i].0 != "resourceType": members.remove(at: i)
            case 1: members[i].1 = .number("12345678901")
            case 2: members[i].1 = .object([])
            case 3: members[i].1 = .string(" bad value ")
            default: members[i].1 = mutate(members[i].1, &rng, depth: depth + 1)
            }
            return .object(members)
        case .array(var items):
            guard !items.isEmpty else { return v }
            let i = Int.random(in: 0..<items.count, using: &rng)
            if Bool.random(using: &rng) { items.append(items[i]) } else { items[i] = mutate(items[i], &rng, depth: depth + 1) }
            return .array(items)
        default:
            return v
        }
    }

    @Test func mutatedExamplesNeverTrap() throws {
        guard let defs = BundleDefinitions.core else { return }
        let dir = TestPaths.r4.appendingPathComponent("examples")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        let validator = Validator(definitions: defs, terminology: ValidatorExamplesTests.store)
        var rng = SplitMix(state: 20261121)
        var validated = 0, withIssues = 0
        for f in files.sorted() where f.hasSuffix(".json") {
            let data = try [UInt8](Data(contentsOf: dir.appendingPathComponent(f)))
            guard data.count < 200_000, let original = try? JSONValue.parse(data) else { continue }
            for _ in 0..<3 {
                var m = original
                for _ in 0..<Int.random(in: 1...4, using: &rng) { m = Self.mutate(m, &rng) }
                guard let tree = try? FHIRJSONReader.read(m.serialized()) else { continue }
                let issues = validator.validate(tree)
                validated += 1
                if !issues.isEmpty { withIssues += 1 }
                for i in issues { #expect(i.expression != nil && !i.message.isEmpty) }
            }
        }
        print("[validator] mutated examples: \(validated) validated, \(withIssues) with issues")
        #expect(validated > 1500)
        #expect(withIssues * 10 > validated * 8, "most mutations break something")
    }
}
