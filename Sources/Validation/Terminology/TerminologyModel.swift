import FHIRModels

/// One concept of a code system, reduced to what validation needs.
public struct TerminologyConcept: Sendable, Equatable {
    public struct Property: Sendable, Equatable {
        public var code: String
        public var value: String
        public init(code: String, value: String) { self.code = code; self.value = value }
    }
    /// The code, exactly as published (NOS codes are zero-padded strings: `01` is not `1`).
    public var code: String
    public var display: String?
    /// Other labels (designation values: synonyms, short and adapted labels).
    public var designations: [String]
    /// The HL7 `status` property (`active`, `deprecated`, `retired`…), or `inactive` when the
    /// concept carries `inactive = true`; nil when not stated.
    public var status: String?
    /// Earliest end-of-use date (`dateFin`, `deprecationDate`, `retirementDate`), as `YYYY-MM-DD`.
    public var endDate: String?
    /// Parent codes (from nesting and `parent`/`child` properties), for `is-a` filters.
    public var parents: [String]
    /// `notSelectable` / `abstract`.
    public var abstract: Bool
    /// Remaining properties, for `=`/`exists`/`in` filters on properties.
    public var properties: [Property]

    public init(code: String, display: String? = nil, designations: [String] = [], status: String? = nil,
                endDate: String? = nil, parents: [String] = [], abstract: Bool = false, properties: [Property] = []) {
        self.code = code; self.display = display; self.designations = designations; self.status = status
        self.endDate = endDate; self.parents = parents; self.abstract = abstract; self.properties = properties
    }

    /// Why the concept may no longer be used on `referenceDate` (`YYYY-MM-DD`), or nil when it is active.
    public func inactiveReason(referenceDate: String) -> String? {
        if let s = status?.lowercased(), s == "deprecated" || s == "retired" || s == "inactive" {
            return endDate.map { "\(s) since \($0)" } ?? s
        }
        if let e = endDate, e <= referenceDate { return "ended on \(e)" }
        return nil
    }

    /// Every label of the concept: display then designations.
    public var labels: [String] { (display.map { [$0] } ?? []) + designations }
}

/// A code system as kept by the store.
public struct TerminologyCodeSystem: Sendable {
    public var url: String
    public var version: String?
    public var name: String?
    /// `date` of the resource, as `YYYY-MM-DD`.
    public var date: String?
    /// `complete`, `example`, `fragment`, `not-present` (supplements are not kept).
    public var content: String
    public var caseSensitive: Bool?
    /// Where it was read from (relative to the reference directory), or `--load`.
    public var source: String
    /// Concepts in published order.
    public private(set) var concepts: [TerminologyConcept]
    private var index: [String: Int]

    public init(url: String, version: String?, name: String?, date: String?, content: String, caseSensitive: Bool?,
                source: String, concepts: [TerminologyConcept]) {
        self.url = url; self.version = version; self.name = name; self.date = date; self.content = content
        self.caseSensitive = caseSensitive; self.source = source; self.concepts = []; self.index = [:]
        self.concepts.reserveCapacity(concepts.count)
        index.reserveCapacity(concepts.count)
        for c in concepts {
            if let i = index[c.code] {
                // Repeated code (a concept listed under two parents): merge the parents.
                for p in c.parents where !self.concepts[i].parents.contains(p) { self.concepts[i].parents.append(p) }
            } else {
                index[c.code] = self.concepts.count
                self.concepts.append(c)
            }
        }
    }

    public subscript(code: String) -> TerminologyConcept? {
        guard let i = index[code] else { return nil }
        return concepts[i]
    }

    /// Whether every code of the system is present (so that an absent code is an unknown code).
    public var isComplete: Bool { content == "complete" }

    /// `name` or the last segment of the URL, for messages.
    public var label: String { name ?? url.split(separator: "/").last.map(String.init) ?? url }

    /// Codes that are direct children of each code.
    func childrenMap() -> [String: [String]] {
        var m: [String: [String]] = [:]
        for c in concepts { for p in c.parents { m[p, default: []].append(c.code) } }
        return m
    }
}

/// Which codes of one system a value set holds.
public struct SystemMembership: Sendable, Equatable {
    /// Every code of the system is a member (an `include` of the whole system, or a published
    /// whole-system import), minus `excluded`.
    public var all: Bool = false
    /// Version of the system named by the include, when it was given.
    public var allVersion: String?
    /// Codes listed (or computed from filters at import time), with the labels the value set gives them.
    public var codes: [String: [String]] = [:]
    /// Codes removed by `exclude` when `all` is set.
    public var excluded: Set<String> = []
    /// Why membership could not be fully computed (filter on a system the store does not hold,
    /// unsupported filter, missing imported value set); codes not otherwise listed are then undecidable.
    public var unresolved: String?

    public init(all: Bool = false, allVersion: String? = nil, codes: [String: [String]] = [:],
                excluded: Set<String> = [], unresolved: String? = nil) {
        self.all = all; self.allVersion = allVersion; self.codes = codes; self.excluded = excluded; self.unresolved = unresolved
    }
}

/// A value set as kept by the store: its expansion per system, computed when it was added.
public struct TerminologyValueSet: Sendable {
    public var url: String
    public var version: String?
    public var name: String?
    public var title: String?
    public var date: String?
    public var status: String?
    public var source: String
    /// Whether `compose.inactive` was true (inactive codes are then members).
    public var includesInactive: Bool
    /// Expansion keyed by system URL. The key `*` holds a failure that concerns every system
    /// (an imported value set the store does not hold).
    public var members: [String: SystemMembership]
    /// The compose, kept (compacted) only when the expansion is unresolved, so that it can be
    /// expanded again once more code systems are loaded.
    public var compose: JSONValue?

    public init(url: String, version: String?, name: String?, title: String?, date: String?, status: String?, source: String,
                includesInactive: Bool, members: [String: SystemMembership], compose: JSONValue?) {
        self.url = url; self.version = version; self.name = name; self.title = title; self.date = date
        self.status = status; self.source = source; self.includesInactive = includesInactive
        self.members = members; self.compose = compose
    }

    /// `name` or the last segment of the URL, for messages.
    public var label: String { name ?? url.split(separator: "/").last.map(String.init) ?? url }

    public var isUnresolved: Bool { members.values.contains { $0.unresolved != nil } }

    /// Number of listed codes (whole-system members not counted).
    public var listedCodeCount: Int { members.values.reduce(0) { $0 + $1.codes.count } }
}

/// Version ordering used to choose the current version of a canonical: numeric components compare
/// as numbers (`20260730120000` > `0.1.0`, `4.0.10` > `4.0.9`), others as strings.
enum CanonicalVersion {
    static func isNewer(_ a: String?, than b: String?) -> Bool {
        guard let a else { return false }
        guard let b else { return true }
        let pa = parts(a), pb = parts(b)
        for (x, y) in zip(pa, pb) where x != y {
            if let nx = UInt64(x), let ny = UInt64(y) { return nx > ny }
            return x > y
        }
        return pa.count > pb.count
    }

    private static func parts(_ s: String) -> [String] {
        s.split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "+" }).map(String.init)
    }

    /// Splits `url|version`.
    static func split(_ canonical: String) -> (url: String, version: String?) {
        guard let bar = canonical.firstIndex(ofASCII: UInt8(ascii: "|")) else { return (canonical, nil) }
        let v = String(canonical[canonical.index(after: bar)...])
        return (String(canonical[..<bar]), v.isEmpty ? nil : v)
    }
}

/// `YYYY-MM-DD` part of a FHIR date or dateTime; nil when the text does not start with a year.
func datePart(_ s: String?) -> String? {
    guard let s, s.utf8.count >= 4, s.utf8.prefix(4).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return String(s.prefix(10))
}
