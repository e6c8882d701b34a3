import Foundation
import Synchronization
import FHIRModels
import Mappers
@testable import Gateway

/// Shared pieces of the ROR mirror tests: the project's terminology store, the hand-built fixtures,
/// JSON edits on them, and a settable clock.
enum RorFixtures {
    static let egA = "1990000101"
    static let egB = "1990000200"
    static let terminology = LazyTerminology(directory: TestSupport.repoRoot.appendingPathComponent("Terminologies").path)
    static let projector = RorProjector(terminology: terminology)
    static let nos = "https://mos.esante.gouv.fr/NOS/"

    static func bytes(_ name: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: TestSupport.repoRoot.appendingPathComponent("Fixtures/ror/\(name)").path)!)
    }
    static func json(_ name: String) -> JSONValue { try! JSONValue.parse(bytes(name)) }
    static func tree(_ json: JSONValue) -> ElementTree { try! FHIRJSONReader.read(json.serialized()) }
    static var bundleA: JSONValue { json("eg-990000101-searchset.json") }

    /// Applies `edit` to the HealthcareService entries whose identifier value is `rorId`.
    static func editOffer(_ bundle: JSONValue, _ rorId: String, _ edit: (inout JSONValue) -> Void) -> JSONValue {
        var b = bundle
        guard var entries = b["entry"]?.array else { return b }
        for i in entries.indices {
            guard var r = entries[i]["resource"], r["resourceType"]?.string == "HealthcareService",
                  r["identifier"]?.array?.first?["value"]?.string == rorId else { continue }
            edit(&r)
            entries[i]["resource"] = r
        }
        b["entry"] = .array(entries)
        return b
    }

    static func removeOffer(_ bundle: JSONValue, _ rorId: String) -> JSONValue {
        var b = bundle
        b["entry"] = .array((b["entry"]?.array ?? []).filter { $0["resource"]?["identifier"]?.array?.first?["value"]?.string != rorId })
        return b
    }

    static func addEntry(_ bundle: JSONValue, _ resource: JSONValue, mode: String = "include") -> JSONValue {
        var b = bundle
        b["entry"] = .array((b["entry"]?.array ?? []) + [.object([("resource", resource), ("search", .object([("mode", .string(mode))]))])])
        return b
    }

    static func coding(_ system: String, _ code: String) -> JSONValue {
        .object([("coding", .array([.object([("system", .string(system)), ("code", .string(code))])]))])
    }

    /// Replaces (or removes, with nil) the `characteristic` coded in `system`.
    static func setCharacteristic(_ hs: inout JSONValue, _ system: String, _ code: String?) {
        var list = (hs["characteristic"]?.array ?? []).filter { $0["coding"]?.array?.first?["system"]?.string != system }
        if let code { list.append(coding(system, code)) }
        hs["characteristic"] = .array(list)
    }

    static func searchset(_ resources: [JSONValue], next: String? = nil) -> JSONValue {
        var m: [(String, JSONValue)] = [("resourceType", .string("Bundle")), ("type", .string("searchset"))]
        if let next { m.append(("link", .array([.object([("relation", .string("next")), ("url", .string(next))])]))) }
        m.append(("entry", .array(resources.map { r in
            .object([("resource", r), ("search", .object([("mode", .string(r["resourceType"]?.string == "HealthcareService" ? "match" : "include"))]))])
        })))
        return .object(m)
    }

    /// The resources of a bundle, in order.
    static func resources(_ bundle: JSONValue) -> [JSONValue] { (bundle["entry"]?.array ?? []).compactMap { $0["resource"] } }
}

/// A clock the tests move by hand.
final class TestClock: Sendable {
    private let value: Mutex<Timestamp>
    init(_ instant: String) { value = Mutex(Timestamp(fhirInstant: instant)!) }
    var now: Timestamp { value.withLock { $0 } }
    func advance(days: Int64) { value.withLock { $0 = $0.adding(seconds: days * 86_400) } }
    func advance(seconds: Int64) { value.withLock { $0 = $0.adding(seconds: seconds) } }
}

extension RorSynchronizer {
    /// Projects and applies one input for an EG, as a file import does.
    @discardableResult
    func importJSON(_ json: JSONValue, establishment: String, complete: Bool = true, trigger: RorSyncTrigger = .manualEstablishment) throws -> RorSyncRun {
        let run = try startRun(establishment: establishment, trigger: trigger, scope: "test")
        let batch = try project([RorFixtures.tree(json)], establishment: establishment, complete: complete)
        return try apply(batch, to: run, by: "tester", fromServer: false)
    }
}
