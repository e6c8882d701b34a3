import Foundation
@testable import Gateway

/// A fresh directory per test, removed at deinit.
final class StoreTempDir {
    let path: String
    init() {
        var template = Array((FileManager.default.temporaryDirectory.path + "/gw-store-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let p = mkdtemp(buffer.baseAddress!) else { return nil }
            return String(cString: p)
        }
        guard let made else { preconditionFailure("mkdtemp failed") }
        path = made
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum StoreFixtures {
    static let egA = "1990000011"
    static let egB = "1990000029"

    static func body(_ meta: ResourceMeta, _ extra: String = "") -> [UInt8] {
        Array("{\"resourceType\":\"\(meta.type)\",\"id\":\"\(meta.id)\",\"meta\":{\"versionId\":\"\(meta.versionId)\",\"lastUpdated\":\"\(meta.lastUpdated.fhirInstant)\"}\(extra)}".utf8)
    }

    /// Writes through today's code into a store kept at a schema older than migration 11: the column
    /// search keys gained there is added for the writes, then dropped, so the upgrade runs on a true old schema.
    static func writeAtOldVersion(_ store: SQLiteStore, _ body: () throws -> Void) throws {
        try store.database.withWriter { c in try c.execute("ALTER TABLE search_key ADD COLUMN last_updated INTEGER NOT NULL DEFAULT 0") }
        try body()
        try store.database.withWriter { c in try c.execute("ALTER TABLE search_key DROP COLUMN last_updated") }
    }

    @discardableResult
    static func create(_ store: some GatewayStore, tenant: String, type: String = "Task", keys: [SearchKey] = []) throws -> StoredResource {
        try store.write { tx in try tx.create(tenant: tenant, type: type, keys: keys) { body($0) } }
    }
}
