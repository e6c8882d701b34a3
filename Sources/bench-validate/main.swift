import Foundation
import FHIRModels
import Validation

/// Throughput benchmark for the FHIR core: run through `scripts/bench-validate` (release build).
/// Usage: bench-validate [--rounds N] FILE...   Prints MB/s and resources/s per phase.

struct Corpus {
    var files: [(name: String, bytes: [UInt8])]
    var totalBytes: Int { files.reduce(0) { $0 + $1.bytes.count } }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Best-of-N wall time of one pass over the corpus.
func measure(_ name: String, corpus: Corpus, rounds: Int, _ body: ([UInt8]) -> Int) -> Double {
    var best = Double.infinity
    var sink = 0
    for _ in 0..<rounds {
        let t0 = monotonicSeconds()
        for f in corpus.files { sink &+= body(f.bytes) }
        best = min(best, monotonicSeconds() - t0)
    }
    let mb = Double(corpus.totalBytes) / 1e6
    print(String(format: "%-34@ %8.1f MB/s %10.0f resources/s  (%.3f s per pass, check %d)",
                 name as NSString, mb / best, Double(corpus.files.count) / best, best, sink % 1000))
    return mb / best
}

var args = Array(CommandLine.arguments.dropFirst())
var rounds = 5
if let i = args.firstIndex(of: "--rounds"), i + 1 < args.count {
    rounds = Int(args[i + 1]) ?? 5
    args.removeSubrange(i...(i + 1))
}
/// `--definitions DIR`: a directory of FHIR Bundles of StructureDefinitions with snapshots
/// (e.g. `../shared/reference/fhir-r4`); adds the validation phases.
var definitionsDirectory: String?
if let i = args.firstIndex(of: "--definitions"), i + 1 < args.count {
    definitionsDirectory = args[i + 1]
    args.removeSubrange(i...(i + 1))
}

/// StructureDefinitions read from the `profiles-*.json` / `extension-definitions.json` bundles of a directory.
struct BundleDirectoryDefinitions: StructureDefinitionProvider {
    let byURL: [String: JSONValue]
    init(directory: String) {
        var m: [String: JSONValue] = [:]
        for f in ["profiles-types.json", "profiles-resources.json", "profiles-others.json", "extension-definitions.json"] {
            guard let d = FileManager.default.contents(atPath: directory + "/" + f),
                  let bundle = try? JSONValue.parse([UInt8](d)) else { continue }
            for e in bundle["entry"]?.array ?? [] {
                if let r = e["resource"], r["resourceType"]?.string == "StructureDefinition", let u = r["url"]?.string { m[u] = r }
            }
        }
        byURL = m
    }
    func structureDefinition(url: String) -> JSONValue? { byURL[url] }
}
let corpus = Corpus(files: args.compactMap { path in
    guard let d = FileManager.default.contents(atPath: path) else { return nil }
    return (path, [UInt8](d))
})
print("corpus: \(corpus.files.count) files, \(String(format: "%.2f", Double(corpus.totalBytes) / 1e6)) MB, best of \(rounds) rounds")
_ = measure("JSON tape only", corpus: corpus, rounds: rounds) { b in (try? JSONReader.parse(b).nodes.count) ?? 0 }
_ = measure("parse (JSON -> element tree)", corpus: corpus, rounds: rounds) { b in (try? FHIRJSONReader.read(b).nodes.count) ?? 0 }
if let dir = definitionsDirectory {
    let defs = BundleDirectoryDefinitions(directory: dir)
    let validator = Validator(definitions: defs, terminology: nil)
    let trees = corpus.files.compactMap { try? FHIRJSONReader.read($0.bytes) }
    for t in trees { _ = validator.validate(t) }  // compile the plans outside the measurement
    var i = 0
    _ = measure("validate (core, no terminology)", corpus: corpus, rounds: rounds) { _ in
        defer { i = (i + 1) % trees.count }
        return validator.validate(trees[i]).count
    }
    _ = measure("parse + validate", corpus: corpus, rounds: rounds) { b in
        guard let t = try? FHIRJSONReader.read(b) else { return 0 }
        return validator.validate(t).count
    }
}
