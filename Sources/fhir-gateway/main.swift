import Foundation
import FHIRModels
import Validation
import Gateway

let args = Array(CommandLine.arguments.dropFirst())
if args.first == "validate" {
    exit(ValidateCommand.run(Array(args.dropFirst())))
}
/// Prints the error and exits 1 (command-line errors are values; no trap).
func runOrExit(_ body: () throws -> Void) {
    do { try body() } catch {
        FileHandle.standardError.write(Data("fhir-gateway: \(error)\n".utf8))
        exit(1)
    }
}

if args.first == "serve" {
    // Before any thread exists: termination signals are only taken by `serve`'s sigwait (other
    // commands keep the default Ctrl-C behaviour).
    GatewayRunner.blockTerminationSignals()
    // fhir-gateway serve (--sandbox DIR | --config FILE); FHIR_GATEWAY_* environment variables override the file.
    runOrExit {
        var configuration: GatewayConfiguration
        switch (args.count > 2 ? args[1] : nil, args.count > 2 ? args[2] : nil) {
        case ("--sandbox", let dir?):
            configuration = try GatewayConfiguration.load(path: dir + "/gateway.json")
            configuration.sandbox = true
            configuration.sandboxDirectory = URL(fileURLWithPath: dir).standardizedFileURL.path
        case ("--config", let file?):
            configuration = try GatewayConfiguration.load(path: file)
        default:
            throw GatewayRunner.Failure.startup("usage: fhir-gateway serve (--sandbox DIR | --config FILE)")
        }
        try GatewayRunner.run(configuration)
    }
    exit(0)
}
if args.first == "sandbox" {
    // fhir-gateway sandbox init DIR [--host H] [--port N] | sandbox reset DIR
    runOrExit {
        if args.count == 3, args[1] == "reset" {
            let seed = try Sandbox.reset(directory: args[2])
            print("sandbox seed restored in \(args[2]): \(seed["decisions"]?.array?.count ?? 0) decisions, poll from \(seed["pollFrom"]?.string ?? "-")")
            return
        }
        guard args.count >= 3, args[1] == "init" else {
            throw GatewayRunner.Failure.startup("usage: fhir-gateway sandbox init DIR [--host H] [--port N] | fhir-gateway sandbox reset DIR")
        }
        var host = "127.0.0.1", port: UInt16 = 8443
        var i = 3
        while i + 1 < args.count {
            switch args[i] {
            case "--host": host = args[i + 1]
            case "--port": guard let p = UInt16(args[i + 1]) else { throw GatewayRunner.Failure.startup("bad port \(args[i + 1])") }; port = p
            default: throw GatewayRunner.Failure.startup("unknown option \(args[i])")
            }
            i += 2
        }
        try Sandbox.initialize(directory: args[2], host: host, port: port)
        print("sandbox written to \(args[2]) (descriptor: \(args[2])/sandbox.json)")
    }
    exit(0)
}
if args.first == "admin" {
    runOrExit { print(try AdminCommand.run(Array(args.dropFirst())), terminator: "") }
    exit(0)
}
if args.first == "ror" {
    // fhir-gateway ror [--config FILE | --sandbox DIR] (import | refresh | status | pair | create-unit | unpair | state | alert) …
    var ok = true
    runOrExit {
        let (output, succeeded) = try RorCommand.run(Array(args.dropFirst()))
        print(output, terminator: "")
        ok = succeeded
    }
    exit(ok ? 0 : 1)
}
if args.first == "generate-model-info" {
    let ref = args.count > 1 ? args[1] : "../shared/reference/fhir-r4"
    let files = ["profiles-types.json", "profiles-resources.json"].map { ref + "/" + $0 }
    let bundles = try files.map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0))) }
    let src = try ModelInfoGenerator.generate(bundles: bundles)
    try src.write(toFile: "Sources/FHIRModels/Generated/R4ModelData.swift", atomically: true, encoding: .utf8)
    print("wrote Sources/FHIRModels/Generated/R4ModelData.swift")
}
if args.first == "import-terminologies" {
    let ref = args.count > 1 ? args[1] : "../shared/reference"
    let out = args.count > 2 ? args[2] : "Terminologies"
    print(try TerminologyImporter.run(referenceDirectory: ref, outputDirectory: out))
}
if args.first == "terminology-info" {
    print(try TerminologyStore.loadReport(directory: args.count > 1 ? args[1] : nil))
}
if args.first == "import-definitions" {
    // fhir-gateway import-definitions [REFERENCE_DIR] [OUT_DIR]
    let ref = args.count > 1 ? args[1] : "../shared/reference"
    let out = args.count > 2 ? args[2] : "Terminologies/conformance"
    let summary = try ConformanceImporter.run(reference: ref, output: out)
    for f in summary.files {
        print("wrote \(out)/\(f.name): \(f.count) StructureDefinitions, \(f.bytes) bytes, sha256 \(f.sha256)")
    }
    print("total \(summary.totalBytes) bytes; \(summary.skipped.count) skipped")
    for s in summary.skipped { print("  skipped: \(s)") }
}
if args.first == "import-examples" {
    // fhir-gateway import-examples [REFERENCE_DIR] [OUT_DIR]: the official SDO FSH examples as JSON
    let ref = args.count > 1 ? args[1] : "../shared/reference"
    let out = args.count > 2 ? args[2] : "Fixtures/sdo"
    let store = try ConformanceStore(directory: DataDirectory.locate() + "/Terminologies/conformance")
    for path in try SDOExampleImporter.run(reference: ref, output: out, store: store) { print("wrote \(path)") }
}
if args.first == "definitions-stats" {
    // fhir-gateway definitions-stats [STORE_DIR]: load time and counts of the conformance store
    let dir = args.count > 1 ? args[1] : "Terminologies/conformance"
    let start = Date()
    let store = try ConformanceStore(directory: dir)
    let elapsed = Date().timeIntervalSince(start)
    print("\(store.count) StructureDefinitions loaded from \(dir) in \(String(format: "%.3f", elapsed)) s")
}
if args.first == "conformance-tests" {
    exit(ConformanceTestsCommand.run(Array(args.dropFirst())))
}
