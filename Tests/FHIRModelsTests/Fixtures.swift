import Foundation

enum Fixtures {
    /// Repository root (Tests/FHIRModelsTests/Fixtures.swift is two levels down).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `../shared/reference`, present on developer machines and in CI; tests that need it skip when absent.
    static let sharedReference = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference")

    /// The official FHIR R4 JSON examples, sorted; empty when the shared reference is absent.
    static func officialExamples() -> [URL] {
        let dir = sharedReference.appendingPathComponent("fhir-r4/examples")
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return files.filter { $0.hasSuffix(".json") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// One official example by file name, or nil when the shared reference is absent.
    static func officialExample(_ name: String) -> [UInt8]? {
        let url = sharedReference.appendingPathComponent("fhir-r4/examples").appendingPathComponent(name)
        return try? [UInt8](Data(contentsOf: url))
    }
}
