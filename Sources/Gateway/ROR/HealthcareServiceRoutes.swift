import Foundation
import FHIRModels
import Mappers

/// `GET /fhir/HealthcareService` and `GET /fhir/HealthcareService/{id}`: the mirrored ROR units of
/// the caller's EG (`struct_idnat`), as HealthcareService resources. Another EG's units are never
/// visible: a search naming it is empty, a read is 404 (existence does not leak).
enum HealthcareServiceRoutes {
    /// Search parameters of this type (the CapabilityStatement lists them).
    static let searchParameters: [(name: String, type: String)] = [("organization", "reference"), ("identifier", "token"), ("_count", "number")]

    // MARK: resource ids

    /// A FHIR id for an idROR (`06/0099999` → `06-0099999`): letters and digits as they are, `/` as
    /// `-`, any other byte as `.XX` (so `-` and `.` stay unambiguous). nil beyond 64 characters.
    static func resourceId(_ rorId: String) -> String? {
        var out = ""
        for b in rorId.utf8 {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "/"): out += "-"
            default: out += "." + String(b, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out.isEmpty || out.utf8.count > 64 ? nil : out
    }

    static func rorId(resourceId id: String) -> String? {
        var bytes: [UInt8] = []
        var it = Array(id.utf8)[...]
        while let b = it.popFirst() {
            switch b {
            case UInt8(ascii: "-"): bytes.append(UInt8(ascii: "/"))
            case UInt8(ascii: "."):
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                bytes.append(v)
                it = it.dropFirst(2)
            default: bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    // MARK: resource

    static func resource(_ unit: RorUnit, level: RorLevel?, mirroredAt: Timestamp?) -> ElementTree? {
        guard let id = resourceId(unit.rorId) else { return nil }
        var b = ElementTreeBuilder(resourceType: "HealthcareService")
        b.primitive("id", id)
        if let t = mirroredAt { b.begin("meta"); b.primitive("lastUpdated", t.fhirInstant); b.end() }
        b.begin("identifier")
        switch level {
        case .pole?, .service?, .functionalUnit?, .elementaryUnit?:
            b.primitive("system", RorSystems.oi)
        case .establishment?:
            b.primitive("system", RorSystems.finess)
        default:
            b.begin("type"); b.begin("coding"); b.primitive("system", RorSystems.offerIdentifierType); b.primitive("code", "35"); b.end(); b.end()
        }
        b.primitive("value", level == .establishment ? String(unit.rorId.dropFirst()) : unit.rorId)
        b.end()
        b.primitive("active", unit.isOpen)
        b.begin("providedBy")
        b.begin("identifier"); b.primitive("system", RorSystems.finess); b.primitive("value", String(unit.establishment.dropFirst())); b.end()
        b.end()
        func codeable(_ name: String, _ system: String, _ code: String) {
            b.begin(name); b.begin("coding"); b.primitive("system", system); b.primitive("code", code); b.end(); b.end()
        }
        if let c = unit.organisationCategory { codeable("category", RorSystems.category, c) }
        if !unit.name.isEmpty { b.primitive("name", unit.name) }
        if let t = unit.receptionTemporality { codeable("characteristic", RorSystems.temporality, t) }
        if unit.sequentialReception { codeable("characteristic", RorSystems.receptionModality, RorSystems.sequentialReceptionCode) }
        if let m = unit.careMode { codeable("characteristic", RorSystems.careMode, m) }
        return b.build()
    }

    static func level(_ tx: any StoreReadTransaction, _ eg: String, _ rorId: String) throws -> RorLevel? {
        try tx.rorPairings(establishment: eg).first { $0.pairing.rorId == rorId }?.pairing.level
    }

    // MARK: interactions

    static func read(_ ctx: Router.Context, store: any GatewayStore) throws(FHIRError) -> HTTPResponse {
        guard let caller = ctx.caller, let id = ctx.path["id"] else { throw FHIRError(status: 500, code: .exception, rule: "ROUTE", "route mal déclarée") }
        let notFound = FHIRError(status: 404, code: .notFound, rule: "NOT-FOUND", "HealthcareService/\(id) introuvable")
        guard let rorId = rorId(resourceId: id) else { throw notFound }
        let found: (RorUnit, RorLevel?, Timestamp?)?
        do {
            found = try store.read { tx in
                try tx.rorUnit(establishment: caller.tenant, rorId: rorId).map { u in
                    (u, try level(tx, caller.tenant, rorId), try tx.rorUnitMirroredAt(establishment: caller.tenant, rorId: rorId))
                }
            }
        } catch { throw FHIRRoutes.storeFailure(error) }
        guard let found, let tree = resource(found.0, level: found.1, mirroredAt: found.2) else { throw notFound }
        var response = FHIRResponse.resource(tree, format: ctx.format)
        if let t = found.2 {
            response.headers.append(("Last-Modified", HTTPResponse.httpDate(Date(timeIntervalSince1970: Double(t.milliseconds) / 1000))))
        }
        return response
    }

    static func search(_ ctx: Router.Context, store: any GatewayStore) throws(FHIRError) -> HTTPResponse {
        guard let caller = ctx.caller else { throw FHIRError(status: 500, code: .exception, rule: "ROUTE", "route mal déclarée") }
        var sameEstablishment = true
        var identifiers: [(system: String?, value: String)] = []
        var count = PageSize.defaultSize
        var offset = 0
        for (name, value) in ctx.query.items {
            switch name {
            case "organization":
                let id = value.hasPrefix("Organization/") ? String(value.dropFirst("Organization/".count)) : value
                guard StructureId(id)?.kind == .finess else {
                    throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE",
                                    "organization attend l'établissement : Organization/1<FINESS> ou 1<FINESS>, reçu '\(value)'")
                }
                if id != caller.tenant { sameEstablishment = false }
            case "identifier":
                if let bar = value.firstIndex(of: "|") {
                    identifiers.append((String(value[..<bar]), String(value[value.index(after: bar)...])))
                } else {
                    identifiers.append((nil, value))
                }
            case "_count":
                do { count = try PageSize.parse(value) } catch { throw FHIRError(status: 400, code: .value, rule: "SEARCH-VALUE", error.description) }
            case "_cursor":
                guard let o = Int(value), o >= 0 else { throw FHIRError(status: 400, code: .value, rule: "SEARCH-CURSOR", "_cursor invalide") }
                offset = o
            case "_format":
                continue
            default:
                throw FHIRError(status: 400, code: .notSupported, rule: "SEARCH-PARAMETER", "paramètre de recherche non pris en charge : \(name)")
            }
        }
        var rows: [(RorUnit, RorLevel?, Timestamp?)] = []
        if sameEstablishment {
            do {
                rows = try store.read { tx in
                    let levels = Dictionary(try tx.rorPairings(establishment: caller.tenant).map { ($0.pairing.rorId, $0.pairing.level) },
                                            uniquingKeysWith: { a, _ in a })
                    return try tx.rorUnits(establishment: caller.tenant).map { u in
                        (u, levels[u.rorId], try tx.rorUnitMirroredAt(establishment: caller.tenant, rorId: u.rorId))
                    }
                }
            } catch { throw FHIRRoutes.storeFailure(error) }
        }
        let matches = rows.compactMap { row -> (String, ElementTree)? in
            guard let tree = resource(row.0, level: row.1, mirroredAt: row.2), let id = resourceId(row.0.rorId) else { return nil }
            let identifier = tree.child(tree.root, "identifier")
            let system = identifier.flatMap { tree.childValue($0, "system") } ?? ""
            let value = identifier.flatMap { tree.childValue($0, "value") } ?? ""
            guard identifiers.allSatisfy({ ($0.system == nil || $0.system == system) && $0.value == value }) else { return nil }
            return (id, tree)
        }
        let page = matches.dropFirst(offset).prefix(count)
        let next = offset + page.count < matches.count && count > 0 ? String(offset + page.count) : nil
        return FHIRRoutes.searchset(ctx, type: "HealthcareService", total: matches.count, next: next, entries: Array(page))
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
