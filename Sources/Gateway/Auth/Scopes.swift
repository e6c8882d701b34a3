/// What a FHIR call does, as SMART v2 scopes name it.
public enum FHIRInteraction: String, Sendable {
    case read, vread, history, search, create, update, patch, delete

    /// The SMART v2 permission letter this interaction needs.
    public var permission: Character {
        switch self {
        case .read, .vread, .history: "r"
        case .search: "s"
        case .create: "c"
        case .update, .patch: "u"
        case .delete: "d"
        }
    }
}

/// One SMART v2 system scope, `system/<Type>.<cruds>` (letters in that order, each at most once),
/// e.g. `system/Task.rs`, `system/Consent.c`. Patient and user scopes and SMART v1 `.read`/`.write`
/// are refused: the gateway only serves back-end systems.
public struct SMARTScope: Sendable, Hashable, CustomStringConvertible {
    public let resourceType: String
    public let permissions: Set<Character>
    public let text: String

    public init?(_ raw: String) {
        guard raw.hasPrefix("system/"), let dot = raw.lastIndex(of: ".") else { return nil }
        let type = raw[raw.index(raw.startIndex, offsetBy: 7)..<dot]
        let letters = raw[raw.index(after: dot)...]
        guard !type.isEmpty, type.allSatisfy({ $0.isASCII && $0.isLetter }), type.first!.isUppercase,
              !letters.isEmpty else { return nil }
        var last = -1
        for l in letters {
            guard let i = "cruds".firstIndex(of: l).map({ "cruds".distance(from: "cruds".startIndex, to: $0) }), i > last else { return nil }
            last = i
        }
        resourceType = String(type)
        permissions = Set(letters)
        text = raw
    }

    public var description: String { text }

    public func allows(_ interaction: FHIRInteraction, on type: String) -> Bool {
        resourceType == type && permissions.contains(interaction.permission)
    }
}

/// A space-separated scope list (RFC 6749 §3.3).
public struct ScopeSet: Sendable, Equatable {
    public let scopes: [SMARTScope]

    public init(_ scopes: [SMARTScope]) { self.scopes = scopes }

    /// nil when any element is not a valid system scope.
    public init?(parsing text: String) {
        var list: [SMARTScope] = []
        for part in text.split(separator: " ", omittingEmptySubsequences: true) {
            guard let s = SMARTScope(String(part)) else { return nil }
            if !list.contains(s) { list.append(s) }
        }
        scopes = list
    }

    public init?(strings: [String]) { self.init(parsing: strings.joined(separator: " ")) }

    public var text: String { scopes.map(\.text).joined(separator: " ") }
    public var strings: [String] { scopes.map(\.text) }

    public func allows(_ interaction: FHIRInteraction, on type: String) -> Bool {
        scopes.contains { $0.allows(interaction, on: type) }
    }

    /// Every permission of `requested` is granted by some scope here.
    public func covers(_ requested: ScopeSet) -> Bool {
        requested.scopes.allSatisfy { r in
            r.permissions.allSatisfy { p in scopes.contains { $0.resourceType == r.resourceType && $0.permissions.contains(p) } }
        }
    }
}
