import Testing
import Foundation
@testable import Gateway

@Suite struct StoreBackupTests {
    let dir = StoreTempDir()

    @Test func backupAndRestoreRoundTrip() throws {
        let store = try SQLiteStore(path: dir.file("live.db"))
        var ids: [String] = []
        for _ in 0..<20 {
            ids.append(try store.write { tx in
                let r = try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("type", "t")]) { StoreFixtures.body($0) }
                try tx.audit(AuditEntry(interaction: "create", resourceType: "Task", resourceIds: [r.id], status: 201))
                return r.id
            })
        }
        try store.backup(to: dir.file("backup.db"))

        // The backup is a self-contained, sound database with the same content.
        let copy = try SQLiteStore(path: dir.file("backup.db"))
        #expect(try copy.database.integrityCheck() == ["ok"])
        #expect(try copy.read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", count: 100)).resources.map(\.id) } == ids)

        // Changes after the backup are undone by the restore; readers see the restored state.
        let late = try StoreFixtures.create(store, tenant: StoreFixtures.egA)
        try store.restore(from: dir.file("backup.db"))
        try store.read { tx throws in
            #expect(try tx.read(tenant: StoreFixtures.egA, type: "Task", id: late.id) == nil)
            #expect(try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", count: 100)).resources.map(\.id) == ids)
            #expect(try tx.auditRecords(after: 0, limit: 100).count == 20)
        }
        #expect(try store.verifyAuditChain() == nil)
        // The store keeps working after a restore.
        _ = try StoreFixtures.create(store, tenant: StoreFixtures.egA)
        #expect(try store.database.integrityCheck() == ["ok"])
    }

    @Test func restoreRefusesACorruptFileAndKeepsTheLiveData() throws {
        let store = try SQLiteStore(path: dir.file("live.db"))
        for _ in 0..<200 {
            _ = try store.write { tx in try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: [SearchKey("k", "v")]) { StoreFixtures.body($0, String(repeating: " ", count: 500)) } }
        }
        try store.backup(to: dir.file("backup.db"))
        // Corrupt pages in the middle of the copy (not the header, so it still opens).
        let handle = try #require(FileHandle(forUpdatingAtPath: dir.file("backup.db")))
        let size = try handle.seekToEnd()
        #expect(size > 8 * 4096)
        try handle.seek(toOffset: 4096 * 3)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 4096 * 2))
        try handle.close()

        #expect(throws: (any Error).self) { try store.restore(from: dir.file("backup.db")) }
        #expect(try store.read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", count: 1000)).resources.count } == 200)
        #expect(try store.database.integrityCheck() == ["ok"])

        // A file that is not a database at all is refused too.
        try Data("not a database, just text".utf8).write(to: URL(fileURLWithPath: dir.file("junk.db")))
        #expect(throws: (any Error).self) { try store.restore(from: dir.file("junk.db")) }
    }

    /// A sound SQLite file that the gateway did not make is refused; the live data stays.
    @Test func restoreRefusesAForeignDatabase() throws {
        let store = try SQLiteStore(path: dir.file("live.db"))
        let kept = try StoreFixtures.create(store, tenant: StoreFixtures.egA)
        let empty = dir.file("empty.db"), foreign = dir.file("foreign.db"), altered = dir.file("altered.db")
        do { _ = try SQLiteConnection(path: empty) }
        do {
            let c = try SQLiteConnection(path: foreign)
            try c.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); PRAGMA user_version = 3")
        }
        try store.backup(to: altered)
        do {
            let c = try SQLiteConnection(path: altered)
            try c.execute("ALTER TABLE audit ADD COLUMN extra TEXT")
        }
        for file in [empty, foreign, altered] {
            #expect(throws: (any Error).self, "\(file)") { try store.restore(from: file) }
            do { try store.restore(from: file) } catch let e as StoreError {
                guard case .notAGatewayDatabase = e else { Issue.record("\(file): \(e)"); continue }
            }
        }
        #expect(try store.read { tx in try tx.read(tenant: StoreFixtures.egA, type: "Task", id: kept.id) } != nil)
    }

    @Test func restoreOfAnOlderSchemaMigratesIt() throws {
        let old = dir.file("old.db")
        do {
            let c = try SQLiteConnection(path: old)
            try Migrator(Array(Migration.all.prefix(2))).migrate(c)
            try c.run("INSERT INTO resource VALUES ('1990000011', 'Task', 'old-1', 1, 1000, X'7B7D')")
        }
        let store = try SQLiteStore(path: dir.file("live.db"))
        try store.restore(from: old)
        #expect(try store.read { tx in try tx.read(tenant: StoreFixtures.egA, type: "Task", id: "old-1") } != nil)
        try store.write { tx in try tx.audit(AuditEntry(interaction: "after-restore", status: 200)) }
        #expect(try store.database.withWriter { c in try c.queryOne("PRAGMA user_version") { $0.int(0) } } == Migration.all.count)
    }
}

@Suite struct StoreConcurrencyTests {
    let dir = StoreTempDir()

    /// Runs `body(i)` on `count` real threads at once; returns the errors they hit.
    func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
        let errors = Mutex_<[String]>([])
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            let t = Thread {
                do { try body(i) } catch { errors.append("thread \(i): \(error)") }
                group.leave()
            }
            t.start()
        }
        group.wait()
        return errors.value
    }

    @Test func threadsWriteAndReadWithoutBusyErrors() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        let writers = 6, perWriter = 40
        let errors = onThreads(writers + 3) { i in
            if i < writers {
                for n in 0..<perWriter {
                    try store.write { tx in
                        let r = try tx.create(tenant: "t\(i % 2)", type: "Task", keys: [SearchKey("n", "\(i)-\(n)")]) { StoreFixtures.body($0) }
                        try tx.audit(AuditEntry(tenant: "t\(i % 2)", interaction: "create", resourceType: "Task", resourceIds: [r.id], status: 201))
                    }
                }
            } else {
                for _ in 0..<60 {
                    try store.read { tx in
                        // Inside one read transaction the snapshot is consistent: resources == audit rows.
                        let a = try tx.search(SearchQuery(tenant: "t0", type: "Task", count: 1000)).resources.count
                        let b = try tx.search(SearchQuery(tenant: "t1", type: "Task", count: 1000)).resources.count
                        let audits = try tx.auditRecords(after: 0, limit: 100_000).count
                        if a + b != audits { throw StoreError.invalidArgument("torn snapshot: \(a)+\(b) resources, \(audits) audits") }
                    }
                }
            }
        }
        #expect(errors.isEmpty, "\(errors)")
        let total = try store.read { tx in
            try tx.search(SearchQuery(tenant: "t0", type: "Task", count: 1000)).resources.count
                + tx.search(SearchQuery(tenant: "t1", type: "Task", count: 1000)).resources.count
        }
        #expect(total == writers * perWriter)
        #expect(try store.verifyAuditChain() == nil)
    }

    @Test func nestedWriteOnTheSameThreadIsRefusedNotDeadlocked() throws {
        let store = try SQLiteStore(path: dir.file("g.db"))
        #expect(throws: StoreError.invalidArgument("nested transaction on the same thread")) {
            try store.write { _ in try store.write { tx in try tx.audit(AuditEntry(interaction: "inner", status: 200)) } }
        }
        // A nested read is served by another reader, and the store is usable afterwards.
        let n = try store.read { _ in try store.read { tx in try tx.auditRecords(after: 0, limit: 10).count } }
        #expect(n == 0)
        try store.write { tx in try tx.audit(AuditEntry(interaction: "after", status: 200)) }
        #expect(try store.read { tx in try tx.auditRecords(after: 0, limit: 10).count } == 1)
    }

    /// Two stores on one file stand for two processes: SQLite's file locks, not our mutex, serialise
    /// them, and busy_timeout must absorb the contention.
    @Test func twoStoresOnOneFileDoNotSurfaceBusy() throws {
        let path = dir.file("g.db")
        let stores = [try SQLiteStore(path: path), try SQLiteStore(path: path)]
        let errors = onThreads(4) { i in
            for _ in 0..<30 {
                _ = try stores[i % 2].write { tx in
                    let r = try tx.create(tenant: StoreFixtures.egA, type: "Task", keys: []) { StoreFixtures.body($0) }
                    try tx.audit(AuditEntry(interaction: "create", resourceIds: [r.id], status: 201))
                }
                _ = try stores[(i + 1) % 2].read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", count: 10)) }
            }
        }
        #expect(errors.isEmpty, "\(errors)")
        let page = try stores[0].read { tx in try tx.search(SearchQuery(tenant: StoreFixtures.egA, type: "Task", count: 1000)) }
        #expect(page.resources.count == 120)
        // lastUpdated stays strictly increasing across the two "processes" (the clock row is shared).
        let stamps = page.resources.map(\.lastUpdated.milliseconds)
        #expect(Set(stamps).count == stamps.count)
        #expect(try stores[1].verifyAuditChain() == nil)
    }
}

/// A tiny lock-protected box for test bookkeeping across threads.
final class Mutex_<T: Sendable>: @unchecked Sendable {
    private var v: T
    private let lock = NSLock()
    init(_ v: T) { self.v = v }
    var value: T { lock.withLock { v } }
    func update(_ f: (inout T) -> Void) { lock.withLock { f(&v) } }
}
extension Mutex_ where T == [String] {
    func append(_ s: String) { update { $0.append(s) } }
}

@Suite struct StoreCrashTests {
    let dir = StoreTempDir()

    static var helper: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("store-crash-writer").path
    }

    /// A child writes resource + audit per transaction and prints each id after COMMIT returns; it is
    /// SIGKILLed mid-run. Every acknowledged id must be there, and no transaction may be half-visible.
    @Test func acknowledgedWritesSurviveSIGKILLAndNoPartialTransactionIsVisible() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.helper), "build store-crash-writer first: \(Self.helper)")
        let path = dir.file("crash.db")
        var acknowledged: [String] = []
        for round in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.helper)
            p.arguments = ["loop", path]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let reader = out.fileHandleForReading
            var buffer: [UInt8] = []
            var lines = 0
            // Kill at a varying point: after some acknowledgements, within a bounded time.
            let target = 30 + round * 45
            let deadline = Date().addingTimeInterval(8)
            while lines < target && Date() < deadline {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                buffer += chunk
                lines = buffer.filter { $0 == 10 }.count
            }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            #expect(p.terminationReason == .uncaughtSignal)
            buffer += reader.readDataToEndOfFile()
            // Only complete lines are acknowledgements; a cut last line is not.
            let text = String(decoding: buffer, as: UTF8.self)
            var complete = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            complete.removeLast()
            #expect(complete.count >= target || Date() >= deadline, "round \(round): only \(complete.count) acknowledged")
            acknowledged += complete

            let store = try SQLiteStore(path: path)
            let (resources, versions, audits, present) = try store.read { tx in
                let c = (tx as! SQLiteStoreTransaction).c
                let resources = try c.queryOne("SELECT count(*) FROM resource") { $0.int(0) } ?? -1
                let versions = try c.queryOne("SELECT count(*) FROM resource_version") { $0.int(0) } ?? -1
                let audits = try c.queryOne("SELECT count(*) FROM audit") { $0.int(0) } ?? -1
                var present = 0
                for id in acknowledged where try tx.read(tenant: "1990000011", type: "Task", id: id) != nil { present += 1 }
                return (resources, versions, audits, present)
            }
            #expect(present == acknowledged.count, "round \(round): \(acknowledged.count - present) acknowledged writes lost")
            // resource, its version row and its audit row commit together or not at all.
            #expect(resources == versions && resources == audits, "round \(round): \(resources) resources, \(versions) versions, \(audits) audits")
            // Per kill, at most the one in-flight transaction may have committed without being acknowledged.
            #expect(resources >= acknowledged.count && resources <= acknowledged.count + round + 1, "round \(round): \(resources) resources, \(acknowledged.count) acknowledged")
            #expect(try store.database.integrityCheck() == ["ok"])
            #expect(try store.verifyAuditChain() == nil)
        }
    }
}
