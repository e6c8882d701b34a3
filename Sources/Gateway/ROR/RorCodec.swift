import FHIRModels
import Mappers

/// JSON form of the ROR facts kept in the store (`ror_offer.facts`, `ror_node.facts`, `ror_pairing.applied`).
/// Absent optionals are omitted; a row that does not decode is a store error, never a silent default.
enum RorCodec {
    static func text(_ v: JSONValue) -> String { String(decoding: v.serialized(), as: UTF8.self) }

    static func parse(_ text: String) throws -> JSONValue {
        do { return try JSONValue.parse(Array(text.utf8)) } catch { throw StoreError.invalidArgument("stored ROR facts: \(error)") }
    }

    private static func object(_ members: [(String, JSONValue?)]) -> JSONValue {
        .object(members.compactMap { k, v in v.map { (k, $0) } })
    }
    private static func str(_ s: String?) -> JSONValue? { s.map { .string($0) } }
    private static func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }
    private static func strings(_ v: JSONValue?) -> [String] { v?.array?.compactMap(\.string) ?? [] }
    private static func required(_ v: JSONValue, _ key: String) throws -> String {
        guard let s = v[key]?.string else { throw StoreError.invalidArgument("stored ROR facts without \(key)") }
        return s
    }

    static func json(_ c: RorClosure?) -> JSONValue? {
        c.map { object([("start", str($0.start)), ("reopening", str($0.plannedReopening)), ("type", str($0.type)), ("path", .string($0.path))]) }
    }

    static func closure(_ v: JSONValue?) throws -> RorClosure? {
        guard let v, case .object = v else { return nil }
        return RorClosure(start: v["start"]?.string, plannedReopening: v["reopening"]?.string, type: v["type"]?.string, path: try required(v, "path"))
    }

    static func json(_ notes: [RorProjectionNote]) -> JSONValue {
        .array(notes.map { object([("kind", .string($0.kind.rawValue)), ("path", .string($0.path)), ("value", str($0.value))]) })
    }

    static func notes(_ v: JSONValue?) throws -> [RorProjectionNote] {
        try (v?.array ?? []).map { n in
            guard let kind = RorAlertKind(rawValue: try required(n, "kind")) else { throw StoreError.invalidArgument("stored ROR note kind") }
            return RorProjectionNote(kind: kind, path: try required(n, "path"), value: n["value"]?.string)
        }
    }

    static func json(_ o: RorOffer) -> JSONValue {
        object([("logicalId", str(o.logicalId)), ("rorId", .string(o.rorId)), ("name", .string(o.name)), ("provider", str(o.providerLogicalId)),
                ("nodeChain", strings(o.nodeChain)), ("finessChain", strings(o.finessChain)), ("rawCategory", str(o.rawCategory)),
                ("category", str(o.category)), ("activityField", str(o.activityField)), ("activities", strings(o.activities)),
                ("rawTemporality", str(o.rawTemporality)), ("temporality", str(o.temporality)), ("sequential", .bool(o.sequentialReception)),
                ("rorCareMode", str(o.rorCareMode)), ("careMode", str(o.careMode)), ("closure", json(o.closure)),
                ("lastUpdated", str(o.lastUpdated)), ("notes", json(o.notes))])
    }

    static func offer(_ text: String) throws -> RorOffer {
        let v = try parse(text)
        return RorOffer(logicalId: v["logicalId"]?.string, rorId: try required(v, "rorId"), name: try required(v, "name"),
                        providerLogicalId: v["provider"]?.string, nodeChain: strings(v["nodeChain"]), finessChain: strings(v["finessChain"]),
                        rawCategory: v["rawCategory"]?.string, category: v["category"]?.string, activityField: v["activityField"]?.string,
                        activities: strings(v["activities"]), rawTemporality: v["rawTemporality"]?.string, temporality: v["temporality"]?.string,
                        sequentialReception: v["sequential"]?.bool ?? false, rorCareMode: v["rorCareMode"]?.string, careMode: v["careMode"]?.string,
                        closure: try closure(v["closure"]), lastUpdated: v["lastUpdated"]?.string, notes: try notes(v["notes"]))
    }

    static func json(_ n: RorNode) -> JSONValue {
        object([("logicalId", .string(n.logicalId)), ("level", .string(n.level.rawValue)), ("finess", str(n.finess)), ("idOI", str(n.idOI)),
                ("name", str(n.name)), ("parent", str(n.parentLogicalId)), ("closure", json(n.closure)), ("lastUpdated", str(n.lastUpdated))])
    }

    static func node(_ text: String) throws -> RorNode {
        let v = try parse(text)
        return RorNode(logicalId: try required(v, "logicalId"), level: RorLevel(rawValue: v["level"]?.string ?? "") ?? .other,
                       finess: v["finess"]?.string, idOI: v["idOI"]?.string, name: v["name"]?.string, parentLogicalId: v["parent"]?.string,
                       closure: try closure(v["closure"]), lastUpdated: v["lastUpdated"]?.string)
    }

    static func json(_ f: RorUnitFacts) -> JSONValue {
        let u = f.unit
        return object([("establishment", .string(f.establishment)), ("level", .string(f.level.rawValue)), ("rawCategory", str(f.rawCategory)),
                       ("activityField", str(f.activityField)), ("activities", strings(f.activities)), ("closure", json(f.closure)),
                       ("notes", json(f.notes)),
                       ("unit", object([("establishment", .string(u.establishment)), ("rorId", .string(u.rorId)), ("name", .string(u.name)),
                                        ("category", str(u.organisationCategory)), ("temporality", str(u.receptionTemporality)),
                                        ("sequential", .bool(u.sequentialReception)), ("rorCareMode", str(u.rorCareMode)),
                                        ("careMode", str(u.careMode)), ("open", .bool(u.isOpen)), ("lastUpdated", str(u.rorLastUpdated))]))])
    }

    static func facts(_ text: String) throws -> RorUnitFacts {
        let v = try parse(text)
        guard let u = v["unit"] else { throw StoreError.invalidArgument("stored ROR facts without unit") }
        let unit = RorUnit(establishment: try required(u, "establishment"), rorId: try required(u, "rorId"), name: try required(u, "name"),
                           organisationCategory: u["category"]?.string, receptionTemporality: u["temporality"]?.string,
                           sequentialReception: u["sequential"]?.bool ?? false, rorCareMode: u["rorCareMode"]?.string, careMode: u["careMode"]?.string,
                           isOpen: u["open"]?.bool ?? false, rorLastUpdated: u["lastUpdated"]?.string)
        return RorUnitFacts(unit: unit, establishment: try required(v, "establishment"), level: RorLevel(rawValue: v["level"]?.string ?? "") ?? .other,
                            rawCategory: v["rawCategory"]?.string, activityField: v["activityField"]?.string, activities: strings(v["activities"]),
                            closure: try closure(v["closure"]), notes: try notes(v["notes"]))
    }
}
