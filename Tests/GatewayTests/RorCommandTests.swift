import Testing
import Foundation
import FHIRModels
@testable import Gateway

/// `fhir-gateway ror …` through the real binary.
@Suite(.serialized) struct RorCommandTests {
    typealias F = RorFixtures
    let dir = StoreTempDir()

    func fixture(_ name: String) -> String { TestSupport.repoRoot.appendingPathComponent("Fixtures/ror/\(name)").path }

    func config(_ extra: [(String, JSONValue)] = []) throws -> String {
        let path = dir.file("gateway.json")
        let json: JSONValue = .object([("databasePath", .string("g.sqlite"))] + extra)
        try Data(json.serialized()).write(to: URL(fileURLWithPath: path))
        return path
    }

    func ror(_ config: String, _ args: String...) throws -> TestSupport.ProcessResult {
        try TestSupport.run(GatewayProcess.binary, ["ror", "--config", config] + args, timeout: 60)
    }

    func json(_ r: TestSupport.ProcessResult) -> JSONValue? { try? JSONValue.parse(Array(r.stdout.utf8)) }

    @Test func importPairAndStatus() throws {
        let cfg = try config()
        let imported = try ror(cfg, "import", "--establishment", F.egA, fixture("eg-990000101-searchset.json"))
        #expect(imported.status == 0, "\(imported.stderr)")
        let run = try #require(json(imported))
        #expect(run["status"]?.string == "succeeded" && run["trigger"]?.string == "initial" && run["applied"]?.int == 5 && run["scope"]?.string == "files 1")
        // An offer alone: its organisation comes from the earlier import.
        let single = try ror(cfg, "import", "--establishment", F.egA, fixture("hs-99-0000106.json"))
        #expect(single.status == 0 && json(single)?["applied"]?.int == 1 && json(single)?["trigger"]?.string == "manualEstablishment", "\(single.stdout)")
        // A file for another EG imported here: nothing applied, the refusal is in the run's outcome.
        let foreign = try ror(cfg, "import", "--establishment", F.egA, fixture("eg-990000200-collection.json"))
        #expect(foreign.status == 0 && json(foreign)?["applied"]?.int == 0)

        let pair = try ror(cfg, "pair", "--establishment", F.egA, "--platform-unit", "U1", "--unit", "99/0000101")
        #expect(pair.status == 0 && pair.stdout == "U1 ↔ 99/0000101 (OFFER)\n", "\(pair.stderr)")
        let early = try ror(cfg, "create-unit", "--establishment", F.egA, "--unit", "99/0000105")
        #expect(early.status == 1 && early.stderr.contains("[ROR-STATE]"), "\(early.stderr)")
        let below = try ror(cfg, "pair", "--establishment", F.egA, "--platform-unit", "S", "--unit", "OI-0102-SVC")
        #expect(below.status == 1 && below.stderr.contains("[ROR-PAIRING-ABOVE]"), "\(below.stderr)")
        let validated = try ror(cfg, "state", "--establishment", F.egA, "validate-structure")
        #expect(validated.status == 0 && validated.stdout == "synchronisationStructurelleValidee\n")
        let created = try ror(cfg, "create-unit", "--establishment", F.egA, "--unit", "99/0000105", "--ssr")
        #expect(created.status == 0 && created.stdout == "99/0000105 ↔ 99/0000105 (OFFER)\n", "\(created.stderr)")
        #expect(try ror(cfg, "state", "--establishment", F.egA, "activate-updates").stdout == "miseAJourOffreActive\n")

        // A full import without 105: impacting alert, listed by status; validating it removes the unit.
        let without = dir.file("without-105.json")
        try Data(F.removeOffer(F.bundleA, "99/0000105").serialized()).write(to: URL(fileURLWithPath: without))
        #expect(try ror(cfg, "import", "--establishment", F.egA, "--full", without).status == 0)
        let status = try #require(json(try ror(cfg, "status", "--establishment", F.egA)))
        #expect(status["state"]?.string == "miseAJourOffreSuspendue")
        #expect(status["units"]?.array?.count == 2 && status["offers"]?.array?.count == 6)
        let alert = try #require(status["alerts"]?.array?.first { $0["kind"]?.string == "gone" })
        #expect(alert["severity"]?.string == "impactante" && alert["suspendsUpdates"]?.bool == true && alert["rorId"]?.string == "99/0000105")
        let validate = try ror(cfg, "alert", "validate", String(try #require(alert["id"]?.int)))
        #expect(validate.status == 0, "\(validate.stderr)")
        let after = try #require(json(try ror(cfg, "status", "--establishment", F.egA)))
        #expect(after["state"]?.string == "miseAJourOffreActive" && after["units"]?.array?.count == 1)
        #expect((after["runs"]?.array?.count ?? 0) == 4)

        // Every change is in the audit trail, without content.
        let audit = try TestSupport.run(GatewayProcess.binary, ["admin", "--db", dir.file("g.sqlite"), "audit"])
        let interactions = audit.stdout.split(separator: "\n").map { $0.split(separator: "\t")[2] }
        #expect(Set(interactions).isSuperset(of: ["ror-sync", "ror-pair", "ror-unit-create", "ror-state", "ror-alert-validate"]), "\(audit.stdout)")
        #expect(!audit.stdout.contains("IME - accueil"), "no unit names in the audit")
    }

    @Test func refusedCommands() throws {
        let cfg = try config()
        let cases: [([String], String)] = [
            (["import", F.egA], "--establishment"),
            (["import", "--establishment", "2990000101", fixture("hs-99-0000106.json")], "n'est pas un établissement"),
            (["import", "--establishment", F.egA], "aucun fichier"),
            (["import", "--establishment", F.egA, dir.file("absent.json")], "lecture impossible"),
            (["import", "--establishment", F.egA, fixture("README.md")], "ressource FHIR illisible"),
            (["refresh", "--establishment", F.egA], "aucun serveur ROR configuré"),
            (["alert", "validate", "999"], "[ROR-ALERT-UNKNOWN]"),
            (["state", "--establishment", F.egA, "suspend"], "usage"),
            (["pair", "--establishment", F.egA, "--unit", "99/0000101"], "--platform-unit requis"),
            (["frobnicate"], "usage"),
            (["status", "--establishment", F.egA, "--bogus"], "option inconnue"),
        ]
        for (args, message) in cases {
            let r = try TestSupport.run(GatewayProcess.binary, ["ror", "--config", cfg] + args)
            #expect(r.status == 1 && r.stderr.contains(message), "\(args): \(r.status) \(r.stderr)")
        }
        let badConfig = try config([("rorDailyRefreshTime", .string("25:00"))])
        #expect(try ror(badConfig, "status", "--establishment", F.egA).stderr.contains("rorDailyRefreshTime must be HH:MM"))
    }

    /// `ror refresh` pulls from the server named in the configuration, with its mTLS files.
    @Test func refreshFromTheConfiguredServer() throws {
        let server = try RorFixtureServer()
        RorPullTests.establishmentServer(server, { F.bundleA })
        let cfg = try config([("rorBaseURL", .string(server.base)), ("rorCertificateFile", .string(TestSupport.pkiFile("dui-a.crt"))),
                              ("rorPrivateKeyFile", .string(TestSupport.pkiFile("dui-a.key"))), ("rorCAFile", .string(TestSupport.pkiFile("ca.crt")))])
        let r = try ror(cfg, "refresh", "--establishment", F.egA)
        #expect(r.status == 0, "\(r.stderr)")
        let run = try #require(json(r))
        #expect(run["pages"]?.int == 2 && run["applied"]?.int == 5 && run["trigger"]?.string == "initial")
        server.respond { _ in HTTPResponse(status: 500) }
        let failed = try ror(cfg, "refresh", "--establishment", F.egA, "--unit", "99/0000101")
        #expect(failed.status == 1 && json(failed)?["status"]?.string == "failed" && json(failed)?["trigger"]?.string == "manualUnit")
    }
}

@Suite struct RorConfigurationTests {
    @Test func rorKeysFromFileAndEnvironment() throws {
        let dir = StoreTempDir()
        let path = dir.file("gateway.json")
        try Data(#"{"rorBaseURL": "https://ror.example.fr/ws-diffusion-fhir/", "rorCertificateFile": "pki/ror.crt", "rorPrivateKeyFile": "pki/ror.key", "rorDailyRefreshTime": "02:15"}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        let c = try GatewayConfiguration.load(path: path, environment: ["FHIR_GATEWAY_ROR_CA_FILE": "/etc/ror/ca.pem", "FHIR_GATEWAY_ROR_TIMEOUT_SECONDS": "12.5",
                                                                         "FHIR_GATEWAY_ROR_OVERLAP_SECONDS": "7200"])
        let client = try #require(c.rorClient)
        #expect(client.baseURL == "https://ror.example.fr/ws-diffusion-fhir/" && client.certificateFile == dir.path + "/pki/ror.crt")
        #expect(client.privateKeyFile == dir.path + "/pki/ror.key" && client.caFile == "/etc/ror/ca.pem" && client.timeoutSeconds == 12.5)
        #expect(c.rorDailyRefresh == (2, 15) && c.rorOverlapSeconds == 7200)
        #expect(try GatewayConfiguration.load(path: nil, environment: [:]).rorClient == nil, "no ROR server unless configured")
        for (key, value) in [("ROR_BASE_URL", "http://ror.example.fr"), ("ROR_DAILY_REFRESH_TIME", "3h"), ("ROR_DAILY_REFRESH_TIME", "24:00"),
                             ("ROR_TIMEOUT_SECONDS", "0"), ("ROR_OVERLAP_SECONDS", "-1")] {
            #expect(throws: GatewayConfiguration.LoadError.self, "\(key)=\(value)") {
                try GatewayConfiguration.load(path: nil, environment: ["FHIR_GATEWAY_" + key: value])
            }
        }
    }
}
