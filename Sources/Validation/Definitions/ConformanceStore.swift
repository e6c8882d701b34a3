import Foundation
import FHIRModels

/// Failure to load definitions into a `ConformanceStore`.
public enum ConformanceStoreError: Error, Sendable, CustomStringConvertible {
    case unreadable(String)
    case notADefinition(String)
    case snapshot([SnapshotError])

    public var description: String {
        switch self {
        case .unreadable(let s): return s
        case .notADefinition(let s): return s
        case .snapshot(let errors): return errors.map(\.description).joined(separator: "\n")
        }
    }
}

/// The project's StructureDefinitions: the compiled store under `Terminologies/conformance` plus
/// definitions loaded for one run (`--load`). Every definition held has a snapshot (generated at load
/// time when it came as a differential only). A value type: build it (mutating `load`), then share it;
/// readers of an unchanging value are thread-safe.
public struct ConformanceStore: StructureDefinitionProvider, Sendable {
    /// url → every version loaded, in load order (the last one wins for unversioned look-ups).
    private var byURL: [String: [JSONValue]] = [:]
    /// type → urls of the definitions constraining or defining it, in load order.
    private var byType: [String: [String]] = [:]
    private var order: [String] = []

    /// What a bulk load did.
    public struct LoadReport: Sendable {
        public var loaded: [String] = []
        public var generated: [String] = []
        public var failures: [SnapshotError] = []
        /// Differential elements skipped by a lenient load (their definition was loaded without them).
        public var warnings: [SnapshotError] = []
    }

    /// A look-up result: `exactVersion` is false when `url|version` named a version that is not loaded
    /// and another version of the same canonical was returned.
    public struct Lookup: Sendable {
        public var definition: JSONValue
        public var exactVersion: Bool
    }

    public init() {}

    /// Loads the compiled store written by `ConformanceImporter` (the files listed in `manifest.json`).
    public init(directory: String) throws(ConformanceStoreError) {
        let manifest = try Self.readJSON(directory + "/manifest.json")
        guard let files = manifest["files"]?.array else {
            throw .unreadable("\(directory)/manifest.json: no 'files' list")
        }
        for f in files {
            guard let name = f["name"]?.string else { continue }
            let bundle = try Self.readJSON(directory + "/" + name)
            for entry in bundle["entry"]?.array ?? [] {
                if let r = entry["resource"] { add(r) }
            }
        }
    }

    static func readJSON(_ path: String) throws(ConformanceStoreError) -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable("cannot read \(path)") }
        do { return try JSONValue.parse([UInt8](data)) } catch { throw .unreadable("\(path): \(error)") }
    }

    // MARK: readers

    public func structureDefinition(url: String) -> JSONValue? { lookup(url: url)?.definition }

    /// `url` or `url|version`; an unknown version falls back to the last loaded version of the canonical
    /// (reported by `exactVersion == false`).
    public func lookup(url: String) -> Lookup? {
        let (u, version) = Canonical.split(url)
        guard let versions = byURL[u], let last = versions.last else { return nil }
        guard let version else { return Lookup(definition: last, exactVersion: true) }
        if let exact = versions.last(where: { $0["version"]?.string == version }) {
            return Lookup(definition: exact, exactVersion: true)
        }
        return Lookup(definition: last, exactVersion: false)
    }

    /// The base definition of a type or resource by name (`http://hl7.org/fhir/StructureDefinition/<Type>`).
    public func baseDefinition(type: String) -> JSONValue? {
        structureDefinition(url: "http://hl7.org/fhir/StructureDefinition/" + type)
    }

    /// Every definition (latest version of each canonical) whose `type` is `type`, in load order:
    /// the base definition and its profiles (and, for `Extension`, all extension definitions).
    public func structureDefinitions(type: String) -> [JSONValue] {
        (byType[type] ?? []).compactMap { byURL[$0]?.last }
    }

    /// Canonical URLs in load order.
    public var urls: [String] { order }
    public var count: Int { order.count }

    // MARK: loading

    /// Adds a StructureDefinition that already has a snapshot (no check, no generation).
    public mutating func add(_ sd: JSONValue) {
        guard let url = sd["url"]?.string else { return }
        if byURL[url] == nil {
            order.append(url)
            if let t = sd["type"]?.string { byType[t, default: []].append(url) }
        }
        byURL[url, default: []].append(sd)
    }

    /// Loads a StructureDefinition or a Bundle of them, generating snapshots for differential-only
    /// definitions (in dependency order when profiles in the batch derive from each other).
    /// Throws when any definition failed; those that succeeded stay loaded.
    @discardableResult
    public mutating func load(resource: JSONValue, lenient: Bool = false) throws(ConformanceStoreError) -> [String] {
        let report = try load(resources: Self.definitions(in: resource), lenient: lenient)
        if !report.failures.isEmpty { throw .snapshot(report.failures) }
        return report.loaded
    }

    /// StructureDefinitions found in a resource (itself, or the entries of a Bundle).
    public static func definitions(in resource: JSONValue) throws(ConformanceStoreError) -> [JSONValue] {
        switch resource["resourceType"]?.string {
        case "StructureDefinition": return [resource]
        case "Bundle":
            return (resource["entry"]?.array ?? []).compactMap { $0["resource"] }
                .filter { $0["resourceType"]?.string == "StructureDefinition" }
        default:
            throw .notADefinition("expected a StructureDefinition or a Bundle, got \(resource["resourceType"]?.string ?? "no resourceType")")
        }
    }

    /// Canonicals (without version) of the profiles the differential names as element types.
    static func typeProfiles(_ sd: JSONValue) -> Set<String> {
        var out = Set<String>()
        for e in sd["differential"]?["element"]?.array ?? [] {
            for t in e["type"]?.array ?? [] {
                for p in t["profile"]?.array ?? [] { if let u = p.string { out.insert(Canonical.stripVersion(u)) } }
            }
        }
        return out
    }

    /// Bulk load collecting failures instead of stopping at the first. When `lenient`, differential
    /// elements that match no element are skipped (reported in `warnings`) rather than failing the profile.
    public mutating func load(resources: [JSONValue], lenient: Bool = false) -> LoadReport {
        var report = LoadReport()
        var pending: [JSONValue] = []
        for sd in resources {
            if sd["snapshot"]?["element"]?.array?.isEmpty == false {
                add(sd); report.loaded.append(sd["url"]?.string ?? "")
            } else {
                pending.append(sd)
            }
        }
        // Profiles named as types in a differential are expanded into it (`Address` profiled as
        // `address-de-basis`): they go first too, unless that would leave nothing to do (a cycle).
        var waitForTypeProfiles = true
        while !pending.isEmpty {
            let pendingURLs = Set(pending.compactMap { $0["url"]?.string })
            var next: [JSONValue] = []
            var progressed = false
            for sd in pending {
                let url = sd["url"]?.string
                let base = Canonical.stripVersion(sd["baseDefinition"]?.string ?? "")
                // wait for a base in this batch
                if pendingURLs.contains(base) && base != url {
                    next.append(sd); continue
                }
                if waitForTypeProfiles && Self.typeProfiles(sd).contains(where: { $0 != url && pendingURLs.contains($0) }) {
                    next.append(sd); continue
                }
                progressed = true
                do {
                    let view = self
                    let (full, issues) = try SnapshotGenerator.generate(sd, lenient: lenient) { view.structureDefinition(url: $0) }
                    report.warnings += issues
                    add(full)
                    let url = sd["url"]?.string ?? ""
                    report.loaded.append(url); report.generated.append(url)
                } catch {
                    report.failures.append(error)
                }
            }
            if !progressed && waitForTypeProfiles {
                waitForTypeProfiles = false
                pending = next
                continue
            }
            waitForTypeProfiles = true
            if !progressed {
                for sd in next {
                    report.failures.append(SnapshotError(.missingBase, profile: sd["url"]?.string ?? "?",
                                                         message: "base \(sd["baseDefinition"]?.string ?? "") is part of a derivation cycle"))
                }
                break
            }
            // drop definitions whose base failed (they would wait forever)
            let failed = Set(report.failures.map(\.profile))
            pending = []
            for sd in next {
                let base = Canonical.stripVersion(sd["baseDefinition"]?.string ?? "")
                if failed.contains(base) {
                    report.failures.append(SnapshotError(.missingBase, profile: sd["url"]?.string ?? "?",
                                                         message: "base \(base) could not be generated"))
                } else {
                    pending.append(sd)
                }
            }
        }
        return report
    }
}
