/// The audit log as the operator searches it (`GET /fhir/AuditEvent`): by time, client, resource id,
/// in sequence order, paged by the last sequence seen (new records only ever come after it).
public struct AuditQuery: Sendable, Equatable {
    /// Inclusive lower bound of `recorded_at`.
    public var recordedFrom: Timestamp?
    /// Exclusive upper bound of `recorded_at`.
    public var recordedBefore: Timestamp?
    public var clientId: String?
    /// One of the record's resource ids.
    public var resourceId: String?
    /// Records with a sequence above this one (the paging cursor).
    public var after: Int64
    public var count: Int

    public init(recordedFrom: Timestamp? = nil, recordedBefore: Timestamp? = nil, clientId: String? = nil, resourceId: String? = nil,
                after: Int64 = 0, count: Int = 50) {
        self.recordedFrom = recordedFrom; self.recordedBefore = recordedBefore; self.clientId = clientId
        self.resourceId = resourceId; self.after = after; self.count = count
    }
}

public protocol AuditSearchReads {
    /// Matching records, oldest (lowest sequence) first, at most `count`.
    func auditRecords(matching query: AuditQuery) throws -> [AuditRecord]
    func auditRecord(sequence: Int64) throws -> AuditRecord?
    func auditCount() throws -> Int64
}

extension Migration {
    static let auditByClient = Migration(version: 6, summary: "audit records by client (operator searches by agent)", sql: """
        CREATE INDEX audit_by_client ON audit (client_id, seq);
        """)
}

extension SQLiteStoreTransaction: AuditSearchReads {
    func auditRecords(matching q: AuditQuery) throws -> [AuditRecord] {
        var conditions = ["seq > ?1"]
        var values: [SQLiteValue] = [.integer(q.after)]
        func bind(_ condition: String, _ value: SQLiteValue) {
            values.append(value)
            conditions.append(condition.replacingOccurrences(of: "?", with: "?\(values.count)"))
        }
        if let from = q.recordedFrom { bind("recorded_at >= ?", .integer(from.milliseconds)) }
        if let before = q.recordedBefore { bind("recorded_at < ?", .integer(before.milliseconds)) }
        if let client = q.clientId { bind("client_id = ?", .text(client)) }
        if let id = q.resourceId { bind("instr(' ' || resource_ids || ' ', ' ' || ? || ' ') > 0", .text(id)) }
        return try auditRows(where: conditions.joined(separator: " AND "), values, limit: q.count)
    }

    func auditRecord(sequence: Int64) throws -> AuditRecord? {
        try auditRows(where: "seq = ?1", [.integer(sequence)], limit: 1).first
    }

    func auditCount() throws -> Int64 {
        try c.queryOne("SELECT count(*) FROM audit") { s in s.int64(0) } ?? 0
    }
}
