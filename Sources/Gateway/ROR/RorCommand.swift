import Foundation
import FHIRModels
import Mappers

/// `fhir-gateway ror …`: the ROR unit mirror from the command line (the operator, or the structure
/// referent through the operator). The database and the ROR server come from `--config FILE`,
/// `--sandbox DIR`, or the `FHIR_GATEWAY_*` environment alone.
///
///     import --establishment EG [--full] FILE…        ROR resources or bundles (JSON or XML); --full: they are the whole EG
///     refresh --establishment EG [--unit ID]          pull from the configured ROR server
///     status --establishment EG
///     pair --establishment EG --platform-unit P --unit ID [--ssr]
///     create-unit --establishment EG --unit ID [--platform-unit P] [--ssr]
///     unpair --establishment EG --platform-unit P
///     state --establishment EG (start-pairing | validate-structure | activate-updates | reset)
///     alert (acknowledge | validate) ID
public enum RorCommand {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    static let usage = """
        usage: fhir-gateway ror [--config FILE | --sandbox DIR] (import --establishment EG [--full] FILE… | refresh --establishment EG [--unit ID] | \
        status --establishment EG | pair --establishment EG --platform-unit P --unit ID [--ssr] | \
        create-unit --establishment EG --unit ID [--platform-unit P] [--ssr] | unpair --establishment EG --platform-unit P | \
        state --establishment EG (start-pairing|validate-structure|activate-updates|reset) | alert (acknowledge|validate) ID)
        """

    /// Runs one command; returns what to print and whether it succeeded (a failed pull is exit 1).
    public static func run(_ arguments: [String], operatorName: String = ProcessInfo.processInfo.environment["USER"] ?? "operator") throws -> (output: String, ok: Bool) {
        var args = arguments[...]
        var configuration: GatewayConfiguration
        switch args.first {
        case "--config":
            guard args.count >= 2 else { throw Failure(usage) }
            configuration = try GatewayConfiguration.load(path: args[args.startIndex + 1]); args = args.dropFirst(2)
        case "--sandbox":
            guard args.count >= 2 else { throw Failure(usage) }
            configuration = try GatewayConfiguration.load(path: args[args.startIndex + 1] + "/gateway.json"); args = args.dropFirst(2)
        default:
            configuration = try GatewayConfiguration.load(path: nil)
        }
        guard let command = args.popFirst() else { throw Failure(usage) }
        // Options and positional arguments of the command.
        var options: [String: String] = [:]
        var flags = Set<String>()
        var positional: [String] = []
        while let a = args.popFirst() {
            switch a {
            case "--full", "--ssr": flags.insert(a)
            case "--establishment", "--unit", "--platform-unit":
                guard let v = args.popFirst() else { throw Failure("\(a) attend une valeur\n\(usage)") }
                options[a] = v
            default:
                guard !a.hasPrefix("--") else { throw Failure("option inconnue \(a)\n\(usage)") }
                positional.append(a)
            }
        }
        func establishment() throws -> String {
            guard let eg = options["--establishment"] else { throw Failure("--establishment 1<FINESS> requis\n\(usage)") }
            guard StructureId(eg)?.kind == .finess else { throw Failure("'\(eg)' n'est pas un établissement 1 + FINESS (10 caractères)") }
            return eg
        }
        func required(_ option: String) throws -> String {
            guard let v = options[option], !v.isEmpty else { throw Failure("\(option) requis\n\(usage)") }
            return v
        }
        let store = try SQLiteStore(path: configuration.databasePath)
        let ror = RorService(configuration: configuration, store: store)
        let sync = ror.synchronizer
        func pretty(_ v: JSONValue) -> String { String(decoding: v.serialized(pretty: true), as: UTF8.self) + "\n" }
        switch command {
        case "import":
            let eg = try establishment()
            guard !positional.isEmpty else { throw Failure("aucun fichier à importer\n\(usage)") }
            var trees: [ElementTree] = []
            for path in positional {
                guard let data = FileManager.default.contents(atPath: path) else { throw Failure("\(path) : lecture impossible") }
                let bytes = [UInt8](data)
                let isXML = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF } == UInt8(ascii: "<")
                do { trees.append(isXML ? try FHIRXMLReader.read(bytes) : try FHIRJSONReader.read(bytes)) } catch {
                    throw Failure("\(path) : ressource FHIR illisible (\(error.location)) : \(error.message)")
                }
            }
            let first = try store.read { tx in try tx.rorEstablishment(eg)?.watermark == nil && tx.rorSourceOffers(establishment: eg).isEmpty }
            let run = try sync.startRun(establishment: eg, trigger: first ? .initial : .manualEstablishment, scope: "files \(positional.count)")
            let batch: RorBatch
            do { batch = try sync.project(trees, establishment: eg, complete: flags.contains("--full")) } catch {
                sync.fail(run, [OutcomeIssue(severity: .error, code: .exception, message: "\(error)", rule: "ROR-IMPORT")])
                throw error
            }
            let done = try sync.apply(batch, to: run, by: operatorName, fromServer: false)
            return (pretty(RorService.json(done)), true)
        case "refresh":
            let eg = try establishment()
            guard let refresher = ror.refresher else { throw Failure("aucun serveur ROR configuré (rorBaseURL / FHIR_GATEWAY_ROR_BASE_URL)") }
            let run = try refresher.refresh(establishment: eg, unit: options["--unit"])
            return (pretty(RorService.json(run)), run.status == .succeeded)
        case "status":
            return (pretty(try ror.status(establishment: try establishment())), true)
        case "pair":
            let p = try sync.pair(establishment: try establishment(), platformUnit: try required("--platform-unit"), rorId: try required("--unit"),
                                  ssr: flags.contains("--ssr"), by: operatorName)
            return ("\(p.pairing.platformUnit) ↔ \(p.pairing.rorId) (\(p.pairing.level.rawValue))\n", true)
        case "create-unit":
            let p = try sync.createUnit(establishment: try establishment(), rorId: try required("--unit"), platformUnit: options["--platform-unit"],
                                        ssr: flags.contains("--ssr"), by: operatorName)
            return ("\(p.pairing.platformUnit) ↔ \(p.pairing.rorId) (\(p.pairing.level.rawValue))\n", true)
        case "unpair":
            try sync.unpair(establishment: try establishment(), platformUnit: try required("--platform-unit"), by: operatorName)
            return ("ok\n", true)
        case "state":
            let events: [String: RorSyncEvent] = ["start-pairing": .startPairing, "validate-structure": .validateStructure,
                                                  "activate-updates": .activateUpdates, "reset": .reset]
            guard positional.count == 1, let event = events[positional[0]] else { throw Failure(usage) }
            return (try sync.transition(establishment: try establishment(), event, by: operatorName).rawValue + "\n", true)
        case "alert":
            guard positional.count == 2, let id = Int64(positional[1]), ["acknowledge", "validate"].contains(positional[0]) else { throw Failure(usage) }
            if positional[0] == "validate" { try sync.validate(alert: id, by: operatorName) } else { try sync.acknowledge(alert: id, by: operatorName) }
            return ("ok\n", true)
        default:
            throw Failure(usage)
        }
    }
}
