import Foundation
import FHIRModels
import Validation

let args = Array(CommandLine.arguments.dropFirst())
if args.first == "validate" {
    exit(ValidateCommand.run(Array(args.dropFirst())))
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
