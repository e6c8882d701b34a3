#if canImport(Glibc)
import Glibc
#endif

/// What a store operation can fail with. Backend failures keep the backend's own message.
public enum StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    case notFound(type: String, id: String)
    /// If-Match named another version than the current one.
    case versionConflict(expected: Int, current: Int)
    case alreadyExists(String)
    case invalidArgument(String)
    case invalidCursor
    case integrityCheckFailed(String)
    /// A restore source that is a sound SQLite file but not a gateway database.
    case notAGatewayDatabase(String)
    case schemaTooNew(found: Int, supported: Int)
    case backend(SQLiteError)
    case crypto(String)

    public var description: String {
        switch self {
        case .notFound(let type, let id): return "\(type)/\(id) not found"
        case .versionConflict(let expected, let current): return "version conflict: If-Match \(expected), current \(current)"
        case .alreadyExists(let what): return "\(what) already exists"
        case .invalidArgument(let m): return "invalid argument: \(m)"
        case .invalidCursor: return "invalid or foreign paging cursor"
        case .integrityCheckFailed(let m): return "integrity check failed: \(m)"
        case .notAGatewayDatabase(let m): return "not a gateway database: \(m)"
        case .schemaTooNew(let found, let supported): return "database schema \(found) is newer than this gateway (\(supported))"
        case .backend(let e): return e.description
        case .crypto(let m): return "crypto: \(m)"
        }
    }
}

/// A UTC instant with millisecond precision (what FHIR `instant` and `meta.lastUpdated` carry here).
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }
    public func adding(seconds: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + seconds * 1000) }

    /// FHIR instant with milliseconds and an explicit zone: `2026-02-03T04:05:06.789Z`.
    public var fhirInstant: String {
        var seconds = time_t(milliseconds.floorDiv(1000))
        let ms = Int(milliseconds - Int64(seconds) * 1000)
        var tm = tm()
        gmtime_r(&seconds, &tm)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v); return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }

    public var description: String { fhirInstant }

    /// Parses a FHIR `instant` (`YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`); digits beyond
    /// milliseconds are truncated. Returns nil for anything else (the zone is mandatory).
    public init?(fhirInstant s: String) {
        let b = Array(s.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for c in b[from..<from + count] { guard c >= 48, c <= 57 else { return nil }; v = v * 10 + Int(c - 48) }
            return v
        }
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58,
              let year = num(0, 4), let month = num(5, 2), let day = num(8, 2),
              let hour = num(11, 2), let minute = num(14, 2), let second = num(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        var i = 19
        var ms = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 3 { ms = ms * 10 + Int(b[i] - 48) }
                digits += 1; i += 1
            }
            guard digits > 0 else { return nil }
            var scale = digits
            while scale < 3 { ms *= 10; scale += 1 }
        }
        var offsetMinutes = 0
        guard i < b.count else { return nil }
        if b[i] == 90 {
            i += 1
        } else if b[i] == 43 || b[i] == 45 {
            guard b.count == i + 6, b[i + 3] == 58, let oh = num(i + 1, 2), let om = num(i + 4, 2), oh <= 14, om < 60 else { return nil }
            offsetMinutes = (oh * 60 + om) * (b[i] == 45 ? -1 : 1)
            i += 6
        } else { return nil }
        guard i == b.count else { return nil }
        let daysInMonth = [31, (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= daysInMonth[month - 1] else { return nil }
        // Days from civil (proleptic Gregorian), Howard Hinnant's formulation.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        let secs = Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        self.milliseconds = secs * 1000 + Int64(ms)
    }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 { self >= 0 ? self / d : -((-self + d - 1) / d) }
}

// MARK: resources

/// What the store assigned to a version: the caller writes these into `meta` of the body it stores.
public struct ResourceMeta: Sendable, Equatable {
    public var type: String
    public var id: String
    public var versionId: Int
    public var lastUpdated: Timestamp
}

/// One stored version of a resource. `body` is exactly the bytes the caller gave.
public struct StoredResource: Sendable, Equatable {
    public var tenant: String
    public var meta: ResourceMeta
    public var body: [UInt8]
    public var type: String { meta.type }
    public var id: String { meta.id }
    public var versionId: Int { meta.versionId }
    public var lastUpdated: Timestamp { meta.lastUpdated }
}

/// A search key the caller extracted from the resource (the store never parses FHIR): e.g.
/// `("identifier", "urn:oid:1.2.250.1.213.7.1|DO-42")`, `("type", "http://loinc.org|57830-2")`, `("type", "57830-2")`.
public struct SearchKey: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) { self.name = name; self.value = value }
}

public struct LastUpdatedBound: Sendable, Equatable {
    public enum Comparator: String, Sendable { case gt, ge, lt, le }
    public var comparator: Comparator
    public var instant: Timestamp
    public init(_ comparator: Comparator, _ instant: Timestamp) { self.comparator = comparator; self.instant = instant }
}

/// A search within one tenant and one type: all keys must match (AND), all bounds must hold.
/// Results are ordered by lastUpdated then id; `cursor` is the `next` of the previous page.
public struct SearchQuery: Sendable, Equatable {
    public var tenant: String
    public var type: String
    public var keys: [SearchKey]
    public var lastUpdated: [LastUpdatedBound]
    public var count: Int
    public var cursor: String?
    /// Hide the resources masked by `search_mask` (a search key of the resource is masked in this tenant and the
    /// resource's lastUpdated is not the kept one): finished notifications in the polling flows.
    public var applyMasks: Bool

    public static let maxCount = 1000

    public init(tenant: String, type: String, keys: [SearchKey] = [], lastUpdated: [LastUpdatedBound] = [],
                count: Int = 50, cursor: String? = nil, applyMasks: Bool = false) {
        self.tenant = tenant; self.type = type; self.keys = keys; self.lastUpdated = lastUpdated
        self.count = count; self.cursor = cursor; self.applyMasks = applyMasks
    }
}

public struct SearchPage: Sendable, Equatable {
    public var resources: [StoredResource]
    /// Opaque token for the next page (position after the last row), nil on the last page.
    public var next: String?
}

/// Paging position: (lastUpdated, id) of the last row returned. Stable under concurrent writes:
/// a page never repeats or skips a row that was already committed, and a row updated after the
/// cursor was issued reappears later (its lastUpdated moved forward), which is what polling wants.
struct SearchCursor: Equatable {
    var lastUpdated: Int64
    var id: String

    var token: String { "\(lastUpdated).\(id)" }

    init(lastUpdated: Int64, id: String) { self.lastUpdated = lastUpdated; self.id = id }

    init?(token: String) {
        guard let dot = token.firstIndex(of: "."), let ms = Int64(token[..<dot]) else { return nil }
        let id = String(token[token.index(after: dot)...])
        guard !id.isEmpty, id.utf8.count <= 64,
              id.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 })
        else { return nil }
        self.lastUpdated = ms; self.id = id
    }
}

// MARK: registry

public enum ClientRole: String, Sendable, CaseIterable { case dui, dpi, mdph, `operator` }
public enum ClientEnvironment: String, Sendable { case sandbox, production }

/// An editor's software (OAuth client).
public struct ClientRecord: Sendable, Equatable {
    public var clientId: String
    public var name: String
    public var role: ClientRole
    public var environment: ClientEnvironment
    public var allowedScopes: [String]
    public var createdAt: Timestamp
    public var disabledAt: Timestamp?
    public var isActive: Bool { disabledAt == nil }

    public init(clientId: String, name: String, role: ClientRole, environment: ClientEnvironment,
                allowedScopes: [String], createdAt: Timestamp, disabledAt: Timestamp? = nil) {
        self.clientId = clientId; self.name = name; self.role = role; self.environment = environment
        self.allowedScopes = allowedScopes; self.createdAt = createdAt; self.disabledAt = disabledAt
    }
}

/// EJ: `idNat_Struct` = `1`+FINESS EJ or `3`+SIRET. Activated by the platform operator.
public struct LegalEntity: Sendable, Equatable {
    public var id: String
    public var name: String
    public var activatedAt: Timestamp?
    public var activatedBy: String?
    public var suspendedAt: Timestamp?
    public var isActive: Bool { activatedAt != nil && suspendedAt == nil }
    public init(id: String, name: String, activatedAt: Timestamp? = nil, activatedBy: String? = nil, suspendedAt: Timestamp? = nil) {
        self.id = id; self.name = name; self.activatedAt = activatedAt; self.activatedBy = activatedBy; self.suspendedAt = suspendedAt
    }
}

/// EG: one establishment of an EJ; interoperability switched on by the structure's referent.
public struct GeographicEntity: Sendable, Equatable {
    public var id: String
    public var legalEntityId: String
    public var name: String
    public var activatedAt: Timestamp?
    public var activatedBy: String?
    public var deactivatedAt: Timestamp?
    public var isActive: Bool { activatedAt != nil && deactivatedAt == nil }
    public init(id: String, legalEntityId: String, name: String, activatedAt: Timestamp? = nil,
                activatedBy: String? = nil, deactivatedAt: Timestamp? = nil) {
        self.id = id; self.legalEntityId = legalEntityId; self.name = name
        self.activatedAt = activatedAt; self.activatedBy = activatedBy; self.deactivatedAt = deactivatedAt
    }
}

/// "This client may act for this EJ", optionally pinned to one certificate thumbprint.
public struct ClientEnrolment: Sendable, Equatable {
    public var clientId: String
    public var legalEntityId: String
    public var pinnedThumbprint: String?
    public init(clientId: String, legalEntityId: String, pinnedThumbprint: String? = nil) {
        self.clientId = clientId; self.legalEntityId = legalEntityId; self.pinnedThumbprint = pinnedThumbprint
    }
}

// MARK: tokens

/// An issued access token, as stored: the token itself is never stored, only its SHA-256.
public struct TokenRecord: Sendable, Equatable {
    public var tokenHash: [UInt8]
    public var clientId: String
    public var legalEntityId: String
    /// RFC 8705 `x5t#S256` of the certificate the token was issued to (base64url).
    public var thumbprint: String
    public var scopes: [String]
    public var issuedAt: Timestamp
    public var expiresAt: Timestamp
    public var revokedAt: Timestamp?

    /// Constant-time check that the current connection's certificate is the one the token is bound to.
    public func isBound(to thumbprint: String) -> Bool {
        SecretHasher.constantTimeEqual(Array(self.thumbprint.utf8), Array(thumbprint.utf8))
    }
}

public enum TokenLookup: Sendable, Equatable {
    case valid(TokenRecord)
    case expired(TokenRecord)
    case revoked(TokenRecord)
    case unknown
}

// MARK: audit

/// One audited interaction. No health content: ids, types, codes and statuses only.
public struct AuditEntry: Sendable, Equatable {
    public var requestId: String?
    public var tenant: String?
    public var clientId: String?
    /// EJ of the client certificate.
    public var legalEntityId: String?
    /// EG named in `struct_idnat`.
    public var geographicEntityId: String?
    /// read, vread, search, create, update, history, token, activate, …
    public var interaction: String
    public var resourceType: String?
    public var resourceIds: [String]
    public var status: Int
    public var outcome: String?

    public init(requestId: String? = nil, tenant: String? = nil, clientId: String? = nil, legalEntityId: String? = nil,
                geographicEntityId: String? = nil, interaction: String, resourceType: String? = nil,
                resourceIds: [String] = [], status: Int, outcome: String? = nil) {
        self.requestId = requestId; self.tenant = tenant; self.clientId = clientId; self.legalEntityId = legalEntityId
        self.geographicEntityId = geographicEntityId; self.interaction = interaction; self.resourceType = resourceType
        self.resourceIds = resourceIds; self.status = status; self.outcome = outcome
    }
}

/// An audit entry as recorded: sequence number, time, and its link in the hash chain.
public struct AuditRecord: Sendable, Equatable {
    public var sequence: Int64
    public var recordedAt: Timestamp
    public var entry: AuditEntry
    public var previousHash: [UInt8]
    public var hash: [UInt8]
}

// MARK: lockout

/// Failed authentications for one subject (a client_id, or `ip:<address>`), persisted so that a
/// restart does not reset a lockout. The policy (window, threshold, back-off) belongs to the caller.
public struct LockoutState: Sendable, Equatable {
    public var subject: String
    public var failures: Int
    public var firstFailureAt: Timestamp
    public var lockedUntil: Timestamp?
    public init(subject: String, failures: Int, firstFailureAt: Timestamp, lockedUntil: Timestamp? = nil) {
        self.subject = subject; self.failures = failures; self.firstFailureAt = firstFailureAt; self.lockedUntil = lockedUntil
    }
    public func isLocked(at now: Timestamp) -> Bool { lockedUntil.map { now < $0 } ?? false }
}
