import Foundation
import FHIRModels
import Validation

/// `fhir-gateway validate [--profile URL]… [--load FILE]… [--summary] FILE…`
/// One OperationOutcome per file (preceded by `== PATH` when there are several files), or with
/// `--summary` exactly one line per file: `PATH: N errors, M warnings`. Exit status 1 when any file
/// has an error.
enum ValidateCommand {
    static let usage = "usage: fhir-gateway validate [--profile URL]... [--load FILE]... [--summary] FILE..."

    static func run(_ args: [String]) -> Int32 {
        var profiles: [String] = []
        var loads: [String] = []
        var files: [String] = []
        var summary = false
        var i = 0
        while i < args.count {
            switch args[i] {
            case "--profile", "--load":
                guard i + 1 < args.count else { fail("\(args[i]) needs a value\n\(usage)"); return 2 }
                if args[i] == "--profile" { profiles.append(args[i + 1]) } else { loads.append(args[i + 1]) }
                i += 2
            case "--summary": summary = true; i += 1
            case let a where a.hasPrefix("--"): fail("unknown option \(a)\n\(usage)"); return 2
            default: files.append(args[i]); i += 1
            }
        }
        guard !files.isEmpty else { fail(usage); return 2 }
        var extra: [(name: String, resource: JSONValue)] = []
        for path in loads {
            guard let data = FileManager.default.contents(atPath: path) else { fail("--load \(path): cannot read the file"); return 2 }
            do {
                let tree = try ValidationEngine.read([UInt8](data))
                extra.append((path, try JSONValue.parse(FHIRJSONWriter.write(tree, pretty: false))))
            } catch {
                fail("--load \(path): \(error)"); return 2
            }
        }
        let engine: ValidationEngine
        do { engine = try ValidationEngine.load(extra: extra) } catch { fail("\(error)"); return 2 }
        var anyError = false
        for path in files {
            let issues: [OutcomeIssue]
            if let data = FileManager.default.contents(atPath: path) {
                issues = engine.validate([UInt8](data), profiles: profiles)
            } else {
                issues = [OutcomeIssue(severity: .fatal, code: .notFound, message: "cannot read \(path)")]
            }
            let errors = issues.filter(\.isError).count
            let warnings = issues.filter { $0.severity == .warning }.count
            anyError = anyError || errors > 0
            if summary {
                print("\(path): \(errors) errors, \(warnings) warnings")
            } else {
                if files.count > 1 { print("== \(path)") }
                print(String(decoding: OperationOutcomeBuilder.json(issues, pretty: true), as: UTF8.self))
            }
        }
        return anyError ? 1 : 0
    }

    static func fail(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
