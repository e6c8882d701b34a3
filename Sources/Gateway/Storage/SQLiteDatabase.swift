import CSQLite
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One connection behind its own lock. The gateway is thread-per-connection, so connections are
/// lent to whichever thread asks; the lock is what makes a non-thread-safe handle safe to share.
///
/// `@unchecked Sendable`: the compiler cannot prove that callers' closures do not keep the
/// connection, so the invariant is by construction instead: `connection` is private and only
/// reached inside `withLock`/`withLockIfAvailable`, and the closures given to the store's
/// `read`/`write` are non-escaping (the transaction objects built over it are documented as
/// valid only inside those closures).
final class ConnectionSlot: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private let connection: SQLiteConnection
    /// The thread holding the lock (0 when free): taking it again from that thread is refused
    /// instead of deadlocking (e.g. `store.write` called inside a `store.write` closure).
    private let owner = Atomic<UInt>(0)
    init(_ connection: SQLiteConnection) { self.connection = connection }

    private static var currentThread: UInt { UInt(pthread_self()) }

    var isHeldByCurrentThread: Bool { owner.load(ordering: .relaxed) == Self.currentThread }

    func withLock<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let me = Self.currentThread
        guard owner.load(ordering: .relaxed) != me else {
            throw StoreError.invalidArgument("nested transaction on the same thread")
        }
        return try lock.withLock { _ in
            owner.store(me, ordering: .relaxed)
            defer { owner.store(0, ordering: .relaxed) }
            return try body(connection)
        }
    }

    /// nil when another thread holds the connection.
    func withLockIfAvailable<T>(_ body: (SQLiteConnection) throws -> T) throws -> T? {
        let me = Self.currentThread
        guard owner.load(ordering: .relaxed) != me else {
            throw StoreError.invalidArgument("nested transaction on the same thread")
        }
        return try lock.withLockIfAvailable { _ in
            owner.store(me, ordering: .relaxed)
            defer { owner.store(0, ordering: .relaxed) }
            return try body(connection)
        }
    }
}

/// A SQLite database file shared by the threads of one process: one writer connection (writes are
/// serialised on its lock, and BEGIN IMMEDIATE + busy_timeout serialise them with other processes),
/// and a few reader connections that run concurrently with the writer thanks to WAL.
///
/// Every connection: WAL, `synchronous=FULL` (a transaction acknowledged by COMMIT is on disk),
/// `foreign_keys=ON`, `busy_timeout`. The schema is migrated at open (see `Migrations`).
public final class SQLiteDatabase: Sendable {
    public struct Options: Sendable {
        public var readers = 4
        public var busyTimeoutMilliseconds: Int32 = 10_000
        /// Page cache per connection. With SQLite's 2 MB default, polling re-read the same index and
        /// body pages from the OS on every page of results (a sixth of the samples in `pread` on a 6 GB
        /// store); 32 MB per connection keeps a tenant's recent pages (docs/performance.md, "Gateway").
        public var cacheKibibytes = 32 * 1024
        public var migrations: [Migration] = Migration.all
        public init() {}
    }

    public let path: String
    let writer: ConnectionSlot
    let readers: [ConnectionSlot]
    private let nextReader = Atomic<Int>(0)

    public init(path: String, options: Options = Options()) throws {
        self.path = path
        let writeConnection = try SQLiteDatabase.openConnection(path: path, options: options, writer: true)
        try Migrator(options.migrations).migrate(writeConnection)
        self.writer = ConnectionSlot(writeConnection)
        var readers: [ConnectionSlot] = []
        for _ in 0..<max(1, options.readers) {
            readers.append(ConnectionSlot(try SQLiteDatabase.openConnection(path: path, options: options, writer: false)))
        }
        self.readers = readers
    }

    static func openConnection(path: String, options: Options, writer: Bool) throws(SQLiteError) -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, flags: .default)
        // busy_timeout first, so that the pragmas below wait for a lock instead of failing.
        try connection.execute("PRAGMA busy_timeout = \(options.busyTimeoutMilliseconds)")
        if writer {
            let mode = try connection.pragmaText("journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw SQLiteError(code: SQLITE_ERROR, extendedCode: SQLITE_ERROR,
                                  message: "could not switch to WAL (journal_mode is \(mode ?? "nil"))", sql: nil)
            }
        }
        try connection.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -\(options.cacheKibibytes);")
        // Readers cannot write, even by mistake: SQLite itself refuses (SQLITE_READONLY).
        if !writer { try connection.execute("PRAGMA query_only = ON") }
        return connection
    }

    /// Runs `body` on the writer connection inside BEGIN IMMEDIATE … COMMIT (ROLLBACK if it throws).
    /// Writers queue on the writer lock, so at most one write transaction runs per process.
    @discardableResult
    public func write<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.withLock { connection throws -> T in
            try connection.transaction(.immediate) { try body(connection) }
        }
    }

    /// Runs `body` on the writer connection without opening a transaction (maintenance: backup, restore, checkpoint).
    public func withWriter<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.withLock { connection throws -> T in try body(connection) }
    }

    /// Runs `body` on a reader connection inside one read transaction (a consistent snapshot).
    /// Takes a free reader if there is one, else waits for one.
    @discardableResult
    public func read<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let start = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max
        // Readers this thread already holds (a read nested in a read) are skipped, never waited for.
        let candidates = (0..<readers.count).map { readers[(start &+ $0) % readers.count] }.filter { !$0.isHeldByCurrentThread }
        guard let fallback = candidates.first else { throw StoreError.invalidArgument("too many nested reads on one thread") }
        for slot in candidates {
            let result = try slot.withLockIfAvailable { connection throws -> T in
                try connection.transaction(.deferred) { try body(connection) }
            }
            if let result { return result }
        }
        return try fallback.withLock { connection throws -> T in
            try connection.transaction(.deferred) { try body(connection) }
        }
    }

    // MARK: backup and restore

    /// Copies the whole database to `path` with the online backup API, while other threads keep
    /// reading and writing (a backup step that meets a concurrent write restarts, per SQLite).
    public func backup(to path: String) throws {
        let destination = try SQLiteConnection(path: path, flags: [.readWrite, .create])
        try writer.withLock { source throws in
            try Self.copy(from: source, to: destination)
        }
        // The copy carries the source header (WAL mode, user_version); make the file self-contained.
        try destination.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Replaces the content of this database by the backup at `path`: the file must pass
    /// `PRAGMA integrity_check` and not be newer than this code's schema; older schemas are migrated.
    /// Runs under the writer lock; readers see the restored content from their next transaction.
    public func restore(from path: String, migrations: [Migration] = Migration.all) throws {
        let source = try SQLiteConnection(path: path, flags: [.readOnly])
        let check = try source.query("PRAGMA integrity_check") { s in s.text(0) ?? "" }
        guard check == ["ok"] else { throw StoreError.integrityCheckFailed(check.joined(separator: "; ")) }
        let version = try source.queryOne("PRAGMA user_version") { s in s.int(0) } ?? 0
        let latest = migrations.map(\.version).max() ?? 0
        guard version <= latest else { throw StoreError.schemaTooNew(found: version, supported: latest) }
        // Only a gateway database: its tables and columns are exactly those the migrations give at its version.
        guard version >= 1 else { throw StoreError.notAGatewayDatabase("schema version 0 (not made by the gateway)") }
        let reference = try SQLiteConnection(path: ":memory:")
        try Migrator(migrations.filter { $0.version <= version }).migrate(reference)
        let (expected, found) = (try Self.schemaShape(reference), try Self.schemaShape(source))
        guard expected == found else {
            let missing = expected.filter { found[$0.key] != $0.value }.keys.sorted()
            let extra = found.keys.filter { expected[$0] == nil }.sorted()
            throw StoreError.notAGatewayDatabase("schema differs from version \(version): tables \((missing + extra).joined(separator: ", "))")
        }
        try writer.withLock { destination throws in
            try Self.copy(from: source, to: destination)
            try Migrator(migrations).migrate(destination)
        }
    }

    /// Table name → column names (in order), user tables only.
    private static func schemaShape(_ c: SQLiteConnection) throws -> [String: [String]] {
        let tables = try c.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") { s in s.text(0) ?? "" }
        var shape: [String: [String]] = [:]
        for t in tables {
            shape[t] = try c.query("SELECT name FROM pragma_table_info(?1)", [.text(t)]) { s in s.text(0) ?? "" }
        }
        return shape
    }

    private static func copy(from source: SQLiteConnection, to destination: SQLiteConnection) throws(SQLiteError) {
        guard let backup = sqlite3_backup_init(destination.handle, "main", source.handle, "main") else {
            throw destination.error(sqlite3_errcode(destination.handle), sql: nil)
        }
        var rc: Int32
        repeat {
            rc = sqlite3_backup_step(backup, 256)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { sqlite3_sleep(5) }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let finish = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finish == SQLITE_OK else {
            throw destination.error(rc == SQLITE_DONE ? finish : rc, sql: nil)
        }
    }

    /// `PRAGMA integrity_check` on a reader: ["ok"] when the file is sound.
    public func integrityCheck() throws -> [String] {
        try read { c in try c.query("PRAGMA integrity_check") { s in s.text(0) ?? "" } }
    }
}
