import Foundation
import FHIRModels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Structured logs: one JSON object per line on standard error. Fields are operational only
/// (route templates, statuses, client ids, durations, reasons): never resource content, names,
/// identifiers of persons or tokens.
public enum Log {
    public enum Level: Int, Sendable, Comparable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var name: String { switch self { case .debug: "debug"; case .info: "info"; case .warning: "warning"; case .error: "error" } }
    }

    /// Read on every line by every connection thread: an atomic, not a lock.
    private static let minimum = Atomic<Int>(Level.info.rawValue)

    public static func setLevel(_ level: Level) { minimum.store(level.rawValue, ordering: .relaxed) }

    public static func write(_ level: Level, _ event: String, _ fields: [(String, String)] = []) {
        guard level.rawValue >= minimum.load(ordering: .relaxed) else { return }
        var obj: [(String, JSONValue)] = [("ts", .string(Timestamp.now().fhirInstant)),
                                          ("level", .string(level.name)), ("event", .string(event))]
        for (k, v) in fields { obj.append((k, .string(v))) }
        var line = JSONValue.object(obj).serialized()
        line.append(0x0A)
        line.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    public static func info(_ event: String, _ fields: [(String, String)] = []) { write(.info, event, fields) }
    public static func warning(_ event: String, _ fields: [(String, String)] = []) { write(.warning, event, fields) }
    public static func error(_ event: String, _ fields: [(String, String)] = []) { write(.error, event, fields) }
}

