import Foundation
import FHIRModels
import Validation

/// `fhir-gateway conformance-tests [CASES_DIR] [--all-tier-a|--gateway-core] [--verbose]`: runs the HL7
/// validator test cases (tier A of `r4-validator-index.json`) with the project's stores and compares
/// with the Java reference outcomes. Exit status 1 when any run disagrees.
enum ConformanceTestsCommand {
    static let usage = "usage: fhir-gateway conformance-tests [CASES_DIR] [--all-tier-a|--gateway-core] [--verbose]"

    static func run(_ args: [String]) -> Int32 {
        var directory = "../shared/reference/fhir-test-cases"
        var selection = HL7TestCases.Selection.gatewayCore
        var verbose = false
        for a in args {
            switch a {
            case "--all-tier-a": selection = .allTierA
            case "--gateway-core": selection = .gatewayCore
            case "--verbose": verbose = true
            case let o where o.hasPrefix("--"): ValidateCommand.fail("unknown option \(o)\n\(usage)"); return 2
            default: directory = a
            }
        }
        do {
            let cases = try HL7TestCases.loadCases(directory: directory)
            let runner = try HL7TestCases.Runner(directory: directory)
            let results = runner.run(cases, selection: selection)
            print(HL7TestCases.report(results, selection: selection, verbose: verbose))
            return results.allSatisfy(\.passed) ? 0 : 1
        } catch {
            ValidateCommand.fail("\(error)")
            return 2
        }
    }
}
