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

    @discardableResult
    static func create(_ store: some GatewayStore, tenant: String, type: String = "Task", keys: [SearchKey] = []) throws -> StoredResource {
        try store.write { tx in try tx.create(tenant: tenant, type: type, keys: keys) { body($0) } }
    }
}
