import Foundation
import FHIRModels
import Validation

/// Throughput benchmark for the FHIR core, run through `scripts/bench-validate` (release build).
/// Usage: bench-validate [--rounds N] [--phase tape|parse|core|full] [--warmup] [--corpus NAME] FILE...
/// `--phase` runs one phase only; `--warmup` runs one untimed pass first (plans compiled, caches filled),
/// so that `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*timedPass*'` counts only
/// steady-state passes.
/// Phases: raw JSON tape; parse to the typed element tree; parse + core validation (no terminology,
/// no invariants); parse + full validation (core, meta.profile, terminology bindings, FHIRPath invariants,
/// French rules). Prints MB/s and resources/s per phase, start-up time and resident memory.

struct Corpus {
    var name: String
    var files: [(path: String, bytes: [UInt8])]
    var totalBytes: Int { files.reduce(0) { $0 + $1.bytes.count } }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func residentMB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}

/// One timed pass over the corpus (not inlined: the callgrind toggle point).
@inline(never)
func timedPass(_ corpus: Corpus, _ body: ([UInt8]) -> Int) -> Int {
    var sink = 0
    for f in corpus.files { sink &+= body(f.bytes) }
    return sink
}

/// Best-of-N wall time of one pass over the corpus.
@discardableResult
func measure(_ name: String, corpus: Corpus, rounds: Int, _ body: ([UInt8]) -> Int) -> Double {
    let phase = name.trimmingCharacters(in: .whitespaces)
    if let only = onlyPhase, !phase.hasPrefix(phasePrefixes[only] ?? only) { return 0 }
    if warmup { for f in corpus.files { _ = body(f.bytes) } }
    var best = Double.infinity
    var sink = 0
    for _ in 0..<rounds {
        let t0 = monotonicSeconds()
        sink &+= timedPass(corpus, body)
        best = min(best, monotonicSeconds() - t0)
    }
    let mb = Double(corpus.totalBytes) / 1e6
    let label = (name + String(repeating: " ", count: max(0, 44 - name.count)))
    print(String(format: "%@ %8.1f MB/s %9.0f resources/s  (%.4f s per pass; check %d)",
                 label, mb / best, Double(corpus.files.count) / best, best, sink % 997))
    return mb / best
}

var args = Array(CommandLine.arguments.dropFirst())
var rounds = 5
nonisolated(unsafe) var onlyPhase: String?
nonisolated(unsafe) var warmup = false
/// `--dump FILE`: writes every issue of the full validation of every file (to compare two builds).
var dumpPath: String?
let phasePrefixes = ["tape": "JSON tape", "parse": "parse (", "core": "parse + core", "full": "parse + profiles"]
var corpora: [Corpus] = []
var current = Corpus(name: "files", files: [])
var i = 0
while i < args.count {
    if args[i] == "--rounds", i + 1 < args.count { rounds = Int(args[i + 1]) ?? 5; i += 2; continue }
    if args[i] == "--phase", i + 1 < args.count { onlyPhase = args[i + 1]; i += 2; continue }
    if args[i] == "--warmup" { warmup = true; i += 1; continue }
    if args[i] == "--dump", i + 1 < args.count { dumpPath = args[i + 1]; i += 2; continue }
    if args[i] == "--corpus", i + 1 < args.count {
        if !current.files.isEmpty { corpora.append(current) }
        current = Corpus(name: args[i + 1], files: [])
        i += 2
        continue
    }
    if let d = FileManager.default.contents(atPath: args[i]) { current.files.append((args[i], [UInt8](d))) }
    i += 1
}
if !current.files.isEmpty { corpora.append(current) }

let t0 = monotonicSeconds()
let engine: ValidationEngine
do { engine = try ValidationEngine.load() } catch { print("\(error)"); exit(2) }
let startup = monotonicSeconds() - t0
var coreOptions = ValidatorOptions()
coreOptions.checkInvariants = false
let coreOnly = Validator(definitions: engine.conformance, terminology: nil, invariants: nil, options: coreOptions)
print(String(format: "start-up: definitions (%d) and terminologies loaded in %.3f s, resident memory %.0f MB",
             engine.conformance.count, startup, residentMB()))

if let dumpPath {
    var out = ""
    for corpus in corpora {
        for f in corpus.files {
            out += "== \(f.path)\n"
            for i in engine.validate(f.bytes) {
                out += "\(i.severity.rawValue) \(i.code.rawValue) \(i.expression ?? "-") @\(i.location.map { "\($0.line):\($0.column)" } ?? "-") [\(i.rule ?? "")] \(i.message)\n"
            }
        }
    }
    _ = FileManager.default.createFile(atPath: dumpPath, contents: Data(out.utf8))
    exit(0)
}

for corpus in corpora {
    print("corpus \(corpus.name): \(corpus.files.count) files, \(String(format: "%.2f", Double(corpus.totalBytes) / 1e6)) MB, best of \(rounds) rounds")
    measure("  JSON tape only", corpus: corpus, rounds: rounds) { b in (try? JSONReader.parse(b).nodes.count) ?? 0 }
    measure("  parse (JSON -> typed element tree)", corpus: corpus, rounds: rounds) { b in (try? FHIRJSONReader.read(b).nodes.count) ?? 0 }
    measure("  parse + core validation", corpus: corpus, rounds: rounds) { b in
        guard let t = try? FHIRJSONReader.read(b) else { return 0 }
        return coreOnly.validate(t).count
    }
    measure("  parse + profiles + terminology + invariants", corpus: corpus, rounds: rounds) { b in engine.validate(b).count }
}
print(String(format: "resident memory after the runs: %.0f MB", residentMB()))
