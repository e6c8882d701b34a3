import Testing
import Foundation
@testable import Gateway

/// `fhir-gateway admin backup|restore|audit verify` with the real binary.
@Suite(.serialized, .timeLimit(.minutes(2))) struct AdminBackupTests {
    typealias G = GatewayProcess

    func admin(_ args: [String]) throws -> TestSupport.ProcessResult { try TestSupport.run(G.binary, ["admin"] + args) }

    /// A backup of the sandbox database through `--config`, taken while the server serves requests.
    @Test func backupWhileTheServerRuns() throws {
        let server = try G.Server()
        defer { server.stop() }
        let a = G.sandbox.client("dui-a")
        let dir = StoreTempDir()
        let out = dir.file("copy.sqlite")
        // Token requests keep writing (tokens + audit) during the copy.
        let base = server.base
        let load = Thread {
            for _ in 0..<8 {
                _ = try? G.curl(base + "/oauth/token", cert: G.pair(a), ["-u", "\(a.clientId):\(a.clientSecret)", "-d", "grant_type=client_credentials"])
            }
        }
        load.start()
        let r = try admin(["--config", G.sandbox.dir + "/gateway.json", "backup", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("backup written to \(out)") && r.stdout.contains("integrity ok"), "\(r.stdout)")
        let copy = try SQLiteStore(path: out)
        #expect(try copy.database.integrityCheck() == ["ok"])
        #expect(try copy.read { tx in try tx.client(id: a.clientId) }?.name != nil)
        #expect(try copy.verifyAuditChain() == nil)
        #expect(try G.token(server, a).hasPrefix("vtat_"), "the server keeps serving")
        // Never over an existing file.
        let again = try admin(["--config", G.sandbox.dir + "/gateway.json", "backup", out])
        #expect(again.status == 1 && again.stderr.contains("exists"), "\(again.stderr)")
    }

    @Test func restoreRollsBackAndRefusesWhatIsNotAGatewayDatabase() throws {
        let dir = StoreTempDir()
        let db = dir.file("live.sqlite"), saved = dir.file("saved.sqlite")
        #expect(try admin(["--db", db, "ej", "add", "1990000011", "EJ"]).status == 0)
        #expect(try admin(["--db", db, "backup", saved]).status == 0)
        #expect(try admin(["--db", db, "ej", "add", "1990000029", "later"]).status == 0)
        let restored = try admin(["--db", db, "restore", saved])
        #expect(restored.status == 0 && restored.stdout == "restored from \(saved)\n", "\(restored.stderr)")
        let store = try SQLiteStore(path: db)
        #expect(try store.read { tx in try tx.legalEntity(id: "1990000029") } == nil, "the change after the backup is gone")
        #expect(try store.read { tx in try tx.legalEntity(id: "1990000011") } != nil)
        let interactions = try store.read { tx in try tx.auditRecords(after: 0, limit: 100) }.map(\.entry.interaction)
        #expect(interactions == ["ej-add", "restore"], "the restore is recorded in the restored log")

        // Refused: a text file, a foreign SQLite database, a corrupted copy; the live data stays.
        let text = dir.file("notes.txt"), foreign = dir.file("foreign.sqlite"), corrupt = dir.file("corrupt.sqlite")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        do {
            let c = try SQLiteConnection(path: foreign)
            try c.execute("CREATE TABLE resource (x); PRAGMA user_version = 1")
        }
        for _ in 0..<300 { try store.write { tx in try tx.audit(AuditEntry(interaction: "filler", status: 200, outcome: String(repeating: "x", count: 400))) } }
        #expect(try admin(["--db", db, "backup", corrupt]).status == 0)
        let handle = try #require(FileHandle(forUpdatingAtPath: corrupt))
        try handle.seek(toOffset: 4096 * 3)
        try handle.write(contentsOf: Data(repeating: 0x5A, count: 4096 * 2))
        try handle.close()
        for (file, message) in [(text, "not a database"), (foreign, "not a gateway database"), (corrupt, "malformed")] {
            let r = try admin(["--db", db, "restore", file])
            #expect(r.status == 1, "\(file): \(r.stdout)")
            #expect(r.stderr.contains(message), "\(file): \(r.stderr)")
        }
        #expect(try store.read { tx in try tx.legalEntity(id: "1990000011") } != nil)
        #expect(try store.database.integrityCheck() == ["ok"])
        #expect(try admin(["--db", db, "restore", dir.file("missing.sqlite")]).status == 1)
    }

    @Test func auditVerifyReportsABrokenChain() throws {
        let dir = StoreTempDir()
        let db = dir.file("live.sqlite")
        for id in ["1990000011", "1990000029", "1990000037"] { #expect(try admin(["--db", db, "ej", "add", id, "EJ"]).status == 0) }
        let ok = try admin(["--db", db, "audit", "verify"])
        #expect(ok.status == 0 && ok.stdout == "audit chain intact (3 records)\n", "\(ok.stdout) \(ok.stderr)")
        do {
            let c = try SQLiteConnection(path: db)
            _ = try c.run("UPDATE audit SET status = 500 WHERE seq = 2")
        }
        let broken = try admin(["--db", db, "audit", "verify"])
        #expect(broken.status == 1 && broken.stderr.contains("BROKEN at record 2"), "\(broken.stderr)")
    }
}
