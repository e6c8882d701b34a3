import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// A failed SQLite call, as a value: the primary and extended result codes, SQLite's own message
/// and the statement text that failed (SQL only: never bound values, which may be personal data).
public struct SQLiteError: Error, Equatable, CustomStringConvertible, Sendable {
    public var code: Int32
    public var extendedCode: Int32
    public var message: String
    public var sql: String?

    public var description: String {
        let codeName = String(cString: sqlite3_errstr(extendedCode))
        return "sqlite error \(extendedCode) (\(codeName)): \(message)" + (sql.map { " [in: \($0)]" } ?? "")
    }

    /// SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock longer than busy_timeout.
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    public var isConstraint: Bool { code == SQLITE_CONSTRAINT }
}

/// A value that can be bound to a statement parameter.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One SQLite connection. Not thread-safe by design: it is owned by exactly one thread at a time
/// (the store keeps connections inside `Mutex`es). Statements are prepared once and cached by SQL text.
public final class SQLiteConnection {
    public struct OpenFlags: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readOnly = OpenFlags(rawValue: SQLITE_OPEN_READONLY)
        public static let readWrite = OpenFlags(rawValue: SQLITE_OPEN_READWRITE)
        public static let create = OpenFlags(rawValue: SQLITE_OPEN_CREATE)
        /// We do our own locking: each connection is used by one thread at a time.
        public static let noMutex = OpenFlags(rawValue: SQLITE_OPEN_NOMUTEX)
        public static let uri = OpenFlags(rawValue: SQLITE_OPEN_URI)
        public static let `default`: OpenFlags = [.readWrite, .create, .noMutex]
    }

    let handle: OpaquePointer
    public let path: String
    private var cache: [String: SQLiteStatement] = [:]
    private static let cacheLimit = 64

    public init(path: String, flags: OpenFlags = .default) throws(SQLiteError) {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags.rawValue | SQLITE_OPEN_EXRESCODE, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc & 0xff, extendedCode: rc, message: message, sql: nil)
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        cache.removeAll()  // statements finalize themselves when released
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: rc & 0xff, extendedCode: sqlite3_extended_errcode(handle),
                    message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements without results (DDL, pragmas that return nothing, BEGIN/COMMIT).
    public func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: rc & 0xff, extendedCode: sqlite3_extended_errcode(handle), message: text, sql: sql)
        }
    }

    /// A cached prepared statement, reset and with its bindings cleared, ready to bind.
    /// The cache holds one statement per SQL text: do not run the same SQL again while iterating it.
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = cache[sql] {
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw error(rc, sql: sql) }
        let statement = SQLiteStatement(raw, connection: self, sql: sql)
        // Evicted statements are only dropped from the cache: one still in use by a caller stays
        // valid and is finalized when that caller releases it.
        if cache.count >= Self.cacheLimit, let victim = cache.first {
            cache.removeValue(forKey: victim.key)
        }
        cache[sql] = statement
        return statement
    }

    /// Prepare, bind, run to completion; returns the number of changed rows.
    @discardableResult
    public func run(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> Int {
        let statement = try prepare(sql)
        defer { statement.reset() }
        try statement.bind(values)
        while try statement.step() {}
        return Int(sqlite3_changes(handle))
    }

    /// Prepare, bind, and map every row.
    public func query<T>(_ sql: String, _ values: [SQLiteValue] = [], _ row: (SQLiteStatement) throws(SQLiteError) -> T) throws(SQLiteError) -> [T] {
        let statement = try prepare(sql)
        defer { statement.reset() }
        try statement.bind(values)
        var rows: [T] = []
        while try statement.step() { rows.append(try row(statement)) }
        return rows
    }

    /// The first row, mapped, or nil.
    public func queryOne<T>(_ sql: String, _ values: [SQLiteValue] = [], _ row: (SQLiteStatement) throws(SQLiteError) -> T) throws(SQLiteError) -> T? {
        let statement = try prepare(sql)
        defer { statement.reset() }
        try statement.bind(values)
        return try statement.step() ? try row(statement) : nil
    }

    /// A pragma returning one value, as text (e.g. `journal_mode`, `integrity_check`).
    public func pragmaText(_ pragma: String) throws(SQLiteError) -> String? {
        var text: String?
        let rows: [String?] = try query("PRAGMA \(pragma)") { s in s.text(0) }
        text = rows.first ?? nil
        return text
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var isAutocommit: Bool { sqlite3_get_autocommit(handle) != 0 }

    public enum TransactionKind: String, Sendable {
        case deferred = "BEGIN DEFERRED"
        /// Takes the write lock at BEGIN, so a busy database is waited for (busy_timeout) up front
        /// instead of failing on a lock upgrade in the middle of the transaction.
        case immediate = "BEGIN IMMEDIATE"
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws (the error is rethrown).
    /// A failing COMMIT (e.g. disk full, fsync error) is thrown and the transaction is rolled back.
    @discardableResult
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        try execute(kind.rawValue)
        let result: T
        do {
            result = try body()
        } catch {
            rollbackIfOpen()
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            rollbackIfOpen()
            throw error
        }
        return result
    }

    func rollbackIfOpen() {
        if !isAutocommit { sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
    }
}

/// A prepared statement owned by its connection's cache. Bind indexes and column indexes follow
/// SQLite: binds start at 1, columns at 0.
public final class SQLiteStatement {
    // Unowned: the connection's cache owns its statements (no cycle); statements are used only
    // while their connection is held, inside one store transaction.
    private unowned let connection: SQLiteConnection
    public let sql: String

    init(_ raw: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.stmt = raw
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(stmt) }

    private let stmt: OpaquePointer

    public func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    private func check(_ rc: Int32) throws(SQLiteError) {
        if rc != SQLITE_OK { throw connection.error(rc, sql: sql) }
    }

    public func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        for (offset, value) in values.enumerated() { try bind(value, at: Int32(offset + 1)) }
    }

    public func bind(_ value: SQLiteValue, at index: Int32) throws(SQLiteError) {
        switch value {
        case .null: try check(sqlite3_bind_null(stmt, index))
        case .integer(let v): try check(sqlite3_bind_int64(stmt, index, v))
        case .real(let v): try check(sqlite3_bind_double(stmt, index, v))
        case .text(let v):
            var copy = v
            let rc = copy.isEmpty ? shim_sqlite3_bind_text_transient(stmt, index, "", 0) : copy.withUTF8 { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    shim_sqlite3_bind_text_transient(stmt, index, chars.baseAddress, Int32(chars.count))
                }
            }
            try check(rc)
        case .blob(let v):
            // A zero-length blob with a nil pointer would bind NULL; bind an explicit empty blob instead.
            let rc = v.isEmpty ? sqlite3_bind_zeroblob(stmt, index, 0)
                               : v.withUnsafeBytes { shim_sqlite3_bind_blob_transient(stmt, index, $0.baseAddress, Int32($0.count)) }
            try check(rc)
        }
    }

    /// Advances: true when a row is available, false when done.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(rc, sql: sql)
        }
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
    public func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(stmt, column)) }
    public func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }
    public func double(_ column: Int32) -> Double { sqlite3_column_double(stmt, column) }

    public func text(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, column) else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    public func blob(_ column: Int32) -> [UInt8]? {
        if isNull(column) { return nil }
        let n = Int(sqlite3_column_bytes(stmt, column))
        guard n > 0, let p = sqlite3_column_blob(stmt, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}
