import FHIRModels

/// The aptitude check (item 6), the proof asked before going live: for one editor's client, did it
/// read a notification through flow 1 (`GET DocumentReference/<id>`, audited 200) and then post the
/// status 39 "Notification envoyée" for that notification (flow 4), once in nominal mode (a
/// notification never tagged for recovery) and once in recovery mode (read after the tagging, status
/// posted while tagged)? Evidence comes from the audit trail (reads) and the status events (posts).
public struct AptitudeReport: Sendable {
    public struct Evidence: Sendable, Equatable {
        public var idNat: String
        public var establishment: String
        public var documentId: String
        public var readAt: Timestamp
        public var statusAt: Timestamp
    }

    public var clientId: String
    public var clientName: String?
    /// Distinct notifications read through flow 1 / with a status 39 posted by this client.
    public var notificationsRead: Int
    public var notificationsAcknowledged: Int
    public var nominal: Evidence?
    public var recovery: Evidence?
    public var passed: Bool { nominal != nil && recovery != nil }

    public static let acknowledgedStatus = "39"

    public var json: JSONValue {
        func evidence(_ e: Evidence?) -> JSONValue {
            guard let e else { return .object([("passed", .bool(false))]) }
            return .object([("passed", .bool(true)), ("idNatDecision", .string(e.idNat)), ("establishment", .string(e.establishment)),
                            ("documentReference", .string(e.documentId)), ("readAt", .string(e.readAt.fhirInstant)),
                            ("status39At", .string(e.statusAt.fhirInstant))])
        }
        var members: [(String, JSONValue)] = [("clientId", .string(clientId))]
        if let clientName { members.append(("clientName", .string(clientName))) }
        members += [("passed", .bool(passed)), ("notificationsRead", .number(String(notificationsRead))),
                    ("notificationsWithStatus39", .number(String(notificationsAcknowledged))),
                    ("nominal", evidence(nominal)), ("recovery", evidence(recovery))]
        return .object(members)
    }

    public var text: String {
        func line(_ mode: String, _ e: Evidence?, _ missing: String) -> String {
            guard let e else { return "  \(mode) : ÉCHEC — \(missing)\n" }
            return "  \(mode) : OK — décision \(e.idNat), établissement \(e.establishment), DocumentReference/\(e.documentId) lue le "
                + "\(e.readAt.fhirInstant), statut 39 envoyé le \(e.statusAt.fhirInstant)\n"
        }
        var t = "Vérification d'aptitude du client \(clientId)\(clientName.map { " (\($0))" } ?? "")\n"
        t += "  notifications lues par le flux 1 : \(notificationsRead) ; avec statut 39 envoyé : \(notificationsAcknowledged)\n"
        t += line("mode nominal", nominal, "aucune notification hors reprise lue (GET DocumentReference/<id>) puis suivie du statut 39")
        t += line("mode reprise", recovery, "aucune notification marquée en reprise lue après marquage puis suivie du statut 39")
        t += passed ? "Résultat : APTE\n" : "Résultat : NON APTE\n"
        return t
    }
}

extension HandicapFlows {
    public static func aptitude(store: any GatewayStore, clientId: String) throws -> AptitudeReport {
        try store.read { tx in
            let client = try tx.client(id: clientId)
            let reads = try tx.auditedReads(clientId: clientId, type: "DocumentReference")
            let events = try tx.statusEvents(clientId: clientId).filter { $0.origin == .esms && $0.statusESMS == AptitudeReport.acknowledgedStatus }
            var readNotifications = Set<String>()
            var acknowledged = Set<String>()
            var nominal: AptitudeReport.Evidence?
            var recovery: AptitudeReport.Evidence?
            var cache: [String: NotificationRecord] = [:]
            for r in reads {
                for n in try tx.notifications(establishment: r.establishment, recoveryOnly: false) where n.documentId == r.resourceId {
                    readNotifications.insert(n.idNat + "|" + n.establishment)
                }
            }
            for e in events {
                let key = e.idNat + "|" + e.establishment
                guard let n = try cache[key] ?? tx.notification(idNat: e.idNat, establishment: e.establishment) else { continue }
                cache[key] = n
                // The read that precedes this post; in recovery mode, a read after the tagging.
                let since = e.recovery ? (n.recoveryAt ?? e.recordedAt) : Timestamp(milliseconds: .min)
                guard let read = reads.last(where: { $0.establishment == n.establishment && $0.resourceId == n.documentId
                                                      && $0.at <= e.recordedAt && $0.at >= since }) else { continue }
                acknowledged.insert(key)
                let evidence = AptitudeReport.Evidence(idNat: n.idNat, establishment: n.establishment, documentId: n.documentId,
                                                      readAt: read.at, statusAt: e.recordedAt)
                if e.recovery { recovery = recovery ?? evidence } else { nominal = nominal ?? evidence }
            }
            return AptitudeReport(clientId: clientId, clientName: client?.name, notificationsRead: readNotifications.count,
                                  notificationsAcknowledged: acknowledged.count, nominal: nominal, recovery: recovery)
        }
    }
}
