import Foundation
import FHIRModels

/// Builds the project-owned terminology store (`Terminologies/`) from the reference material
/// (`../shared/reference`). Run by `fhir-gateway import-terminologies [REFERENCE_DIR] [OUT_DIR]`;
/// the output is committed. Output depends only on the sources: same sources, same bytes.
///
/// Areas (one file each): `r4-core.json` (FHIR R4 4.0.1 core value sets and code systems),
/// `nos.json` (ANS NOS JDV/TRE, current and older versions), `sdo-frcore-ror.json` (the SDO and
/// FR Core IGs' own terminology, ROR JDVs not already in `nos`).
public enum TerminologyImporter {
    /// Where each area's resources come from, relative to the reference directory.
    struct SourceSpec {
        enum Kind { case bundle, resources, fsh(canonicalBase: String, version: String?) }
        var area: String
        var directory: String
        /// File name prefix and suffix selecting the files of the directory.
        var prefixes: [String]
        var suffix: String
        var kind: Kind
    }

    static let sources: [SourceSpec] = [
        SourceSpec(area: "r4-core", directory: "fhir-r4", prefixes: ["valuesets-and-codesystems"], suffix: ".json", kind: .bundle),
        SourceSpec(area: "nos", directory: "terminologies/nos", prefixes: ["CodeSystem-", "ValueSet-"], suffix: ".json", kind: .resources),
        SourceSpec(area: "nos", directory: "terminologies/nos/older", prefixes: ["CodeSystem-", "ValueSet-"], suffix: ".json", kind: .resources),
        SourceSpec(area: "sdo-frcore-ror", directory: "ror", prefixes: ["ValueSet-"], suffix: ".json", kind: .resources),
        SourceSpec(area: "sdo-frcore-ror", directory: "sdo/v4.0.7", prefixes: ["CodeSystem-", "ValueSet-"], suffix: ".json", kind: .resources),
        SourceSpec(area: "sdo-frcore-ror", directory: "sdo/fsh/codesystems", prefixes: [""], suffix: ".fsh",
                   kind: .fsh(canonicalBase: "https://interop.esante.gouv.fr/ig/fhir/sdo", version: "4.0.7")),
        SourceSpec(area: "sdo-frcore-ror", directory: "sdo/fsh/valueSets", prefixes: [""], suffix: ".fsh",
                   kind: .fsh(canonicalBase: "https://interop.esante.gouv.fr/ig/fhir/sdo", version: "4.0.7")),
        SourceSpec(area: "sdo-frcore-ror", directory: "frcore", prefixes: ["CodeSystem-", "ValueSet-"], suffix: ".json", kind: .resources),
        SourceSpec(area: "sdo-frcore-ror", directory: "frcore/fsh", prefixes: ["FRCoreCodeSystem"], suffix: ".fsh",
                   kind: .fsh(canonicalBase: "https://hl7.fr/ig/fhir/core", version: nil)),
        SourceSpec(area: "sdo-frcore-ror", directory: "terminologies/fr-core", prefixes: ["CodeSystem-", "ValueSet-"], suffix: ".json", kind: .resources),
    ]

    public static let areas = ["r4-core", "nos", "sdo-frcore-ror"]

    public struct Summary: CustomStringConvertible {
        public var files: [(name: String, bytes: Int, codeSystems: Int, valueSets: Int, concepts: Int)]
        public var referenceDate: String
        public var notes: [String]
        public var description: String {
            var s = "terminology store (reference date \(referenceDate)):\n"
            for f in files {
                s += "  \(f.name): \(f.bytes) bytes, \(f.codeSystems) code systems, \(f.valueSets) value sets, \(f.concepts) concepts\n"
            }
            s += "  total \(files.reduce(0) { $0 + $1.bytes }) bytes"
            for n in notes { s += "\n  note: \(n)" }
            return s
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads the sources under `referenceDirectory` and writes the store into `outputDirectory`.
    @discardableResult
    public static func run(referenceDirectory: String, outputDirectory: String) throws -> Summary {
        let fm = FileManager.default
        let ref = URL(fileURLWithPath: referenceDirectory)
        var sourceRecords: [JSONValue] = []
        var collected: [(resource: JSONValue, source: String, area: String)] = []
        var notes: [String] = []

        for spec in sources {
            let dir = ref.appendingPathComponent(spec.directory)
            guard let names = try? fm.contentsOfDirectory(atPath: dir.path) else {
                throw Failure(description: "missing source directory \(dir.path)")
            }
            for name in names.sorted() where name.hasSuffix(spec.suffix) && spec.prefixes.contains(where: { name.hasPrefix($0) }) {
                let rel = spec.directory + "/" + name
                let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(name)))
                var resources: [JSONValue] = []
                switch spec.kind {
                case .fsh(let base, let version):
                    resources = FSHTerminologyReader.read(String(decoding: bytes, as: UTF8.self), canonicalBase: base, version: version)
                case .bundle, .resources:
                    let v: JSONValue
                    do { v = try JSONValue.parse(bytes) } catch { throw Failure(description: "\(rel): \(error)") }
                    if v["resourceType"]?.string == "Bundle" {
                        resources = (v["entry"]?.array ?? []).compactMap { $0["resource"] }
                    } else {
                        resources = [v]
                    }
                }
                resources = resources.filter {
                    let t = $0["resourceType"]?.string
                    return (t == "CodeSystem" || t == "ValueSet") && $0["url"]?.string != nil
                }
                sourceRecords.append(.object([
                    ("path", .string(rel)), ("area", .string(spec.area)), ("bytes", .number(String(bytes.count))),
                    ("sha256", .string(SHA256.hex(bytes))), ("resources", .number(String(resources.count))),
                ]))
                for r in resources { collected.append((r, rel, spec.area)) }
            }
        }

        // One resource per url|version: the most recent `date` wins, then the first in source order.
        var chosen: [String: Int] = [:]
        var order: [String] = []
        for (i, item) in collected.enumerated() {
            let r = item.resource
            let key = (r["resourceType"]?.string ?? "") + " " + (r["url"]?.string ?? "") + "|" + (r["version"]?.string ?? "")
            if let j = chosen[key] {
                let newer = (datePart(r["date"]?.string) ?? "") > (datePart(collected[j].resource["date"]?.string) ?? "")
                let loser = newer ? j : i
                if newer { chosen[key] = i }
                if collected[loser].resource != collected[chosen[key]!].resource {
                    notes.append("\(key): kept \(collected[chosen[key]!].source), dropped differing copy \(collected[loser].source)")
                }
            } else {
                chosen[key] = i
                order.append(key)
            }
        }
        let kept = order.map { collected[chosen[$0]!] }
        let supplements = kept.filter { $0.resource["content"]?.string == "supplement" }
        if !supplements.isEmpty {
            notes.append("\(supplements.count) CodeSystem supplement(s) not kept: " + supplements.compactMap { $0.resource["url"]?.string }.joined(separator: ", "))
        }
        let referenceDate = kept.compactMap { datePart($0.resource["date"]?.string) }.max() ?? "1970-01-01"

        var store = TerminologyStore(referenceDate: referenceDate)
        store.add(kept.map { ($0.resource, $0.source) })
        let areaOf = Dictionary(kept.map { ($0.source, $0.area) }, uniquingKeysWith: { a, _ in a })

        let unresolved = store.allValueSets.filter(\.isUnresolved)
        if !unresolved.isEmpty {
            notes.append("\(unresolved.count) value set(s) only partly expanded offline (filters on or imports of unavailable content): "
                         + unresolved.map(\.label).joined(separator: ", "))
        }

        let out = URL(fileURLWithPath: outputDirectory)
        try fm.createDirectory(at: out, withIntermediateDirectories: true)
        var fileRecords: [JSONValue] = []
        var summaryFiles: [(name: String, bytes: Int, codeSystems: Int, valueSets: Int, concepts: Int)] = []
        for area in areas {
            let css = store.allCodeSystems.filter { areaOf[$0.source] == area }
            let vss = store.allValueSets.filter { areaOf[$0.source] == area }
            let bytes = TerminologyStoreFile.encode(area: area, codeSystems: css, valueSets: vss)
            let name = area + ".json"
            try Data(bytes).write(to: out.appendingPathComponent(name))
            let concepts = css.reduce(0) { $0 + $1.concepts.count }
            summaryFiles.append((name, bytes.count, css.count, vss.count, concepts))
            fileRecords.append(.object([
                ("name", .string(name)), ("bytes", .number(String(bytes.count))), ("sha256", .string(SHA256.hex(bytes))),
                ("codeSystems", .number(String(css.count))), ("valueSets", .number(String(vss.count))),
                ("concepts", .number(String(concepts))),
            ]))
        }
        let manifest: JSONValue = .object([
            ("format", .string("fhir-gateway terminology store")),
            ("formatVersion", .number(String(TerminologyStoreFile.formatVersion))),
            ("referenceDate", .string(referenceDate)),
            ("generated", .string("\(referenceDate) (most recent resource date in the sources; not the clock)")),
            ("generator", .string("fhir-gateway import-terminologies")),
            ("files", .array(fileRecords)),
            ("sources", .array(sourceRecords)),
            ("notes", .array(notes.map { .string($0) })),
        ])
        var manifestBytes = manifest.serialized(pretty: true)
        manifestBytes.append(0x0A)
        try Data(manifestBytes).write(to: out.appendingPathComponent("manifest.json"))
        return Summary(files: summaryFiles, referenceDate: referenceDate, notes: notes)
    }
}
