import Foundation

enum Fixtures {
    /// Repository root (Tests/FHIRModelsTests/Fixtures.swift is two levels down).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `../shared/reference`, present on developer machines and in CI; tests that need it skip when absent.
    static let sharedReference = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference")
}
