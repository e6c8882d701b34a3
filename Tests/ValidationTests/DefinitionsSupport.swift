import Foundation
import FHIRModels
@testable import Validation

/// Shared inputs of the Definitions*/Snapshot* tests.
enum DefinitionsSupport {
    /// Repository root (this file is two levels down).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `../shared/reference`; tests needing it are skipped when it is absent.
    static let reference = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/reference").path
    static var referenceAvailable: Bool { FileManager.default.fileExists(atPath: reference + "/fhir-r4/profiles-types.json") }

    static func json(_ path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConformanceStoreError.unreadable("cannot read \(path)")
        }
        return try JSONValue.parse([UInt8](data))
    }

    /// R4 core definitions (types, resources, extensions, other profiles) loaded once.
    static let core: ConformanceStore = {
        var store = ConformanceStore()
        for name in ConformanceImporter.coreFiles {
            guard let bundle = try? json(reference + "/fhir-r4/" + name),
                  let sds = try? ConformanceStore.definitions(in: bundle) else { continue }
            _ = store.load(resources: sds)
        }
        return store
    }()

    /// Element of a snapshot by id.
    static func element(_ sd: JSONValue, _ id: String) -> JSONValue? {
        sd["snapshot"]?["element"]?.array?.first { $0["id"]?.string == id }
    }
    static func ids(_ sd: JSONValue) -> [String] {
        (sd["snapshot"]?["element"]?.array ?? []).compactMap { $0["id"]?.string }
    }
}
