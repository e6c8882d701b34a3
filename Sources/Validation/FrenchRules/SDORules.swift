import FHIRModels

/// Rules of the ANS SDO guide (SI-SdO ↔ SI-ESMS) that the published profiles state but cannot enforce:
/// `regle-StatutUnite` tests `input.type.text` while the slices (and the official example) use
/// `type.coding`, so it never fires. Here the inputs are recognised by `type.coding` (SDO input code
/// system + code), as the slicing does.
public enum SDORules {
    public static let inputCodeSystem = "https://interop.esante.gouv.fr/ig/fhir/sdo/CodeSystem/input-task-sdo-codesystem"
    /// v4.0.7 and 4.0.5 canonicals; both are accepted when reading.
    public static let taskProfiles = ["https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-task",
                                      "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/sdo-task"]
    public static let consentProfile = "https://interop.esante.gouv.fr/ig/fhir/sdo/StructureDefinition/esms-consent"
    public static let statusCodeSystem = "https://mos.esante.gouv.fr/NOS/TRE_R357-StatutPersonnePriseCharge/FHIR/TRE-R357-StatutPersonnePriseCharge"

    /// Inputs a unit status (`statutUnite`) requires (`regle-StatutUnite`; correspondance class
    /// ReponsePrestationUnite, where they are all 1..1).
    public static let unitBlock = ["idUnite", "nomUnite", "categorieOrganisation", "modePriseCharge", "dateStatutUnite"]
    /// Inputs that make no sense without a unit status: the block and the unit motif.
    public static let unitStatusDependents = unitBlock + ["motifUnite"]
    /// Optional descriptions of the unit's offer; reported as a warning without a unit status.
    public static let unitAttributes = ["temporaliteAccueil", "accueilSequentiel"]
    /// Inputs that qualify the ESMS status.
    public static let esmsStatusDependents = ["motifESMS", "dateStatutESMS"]

    /// The 17 codes of `input-task-sdo-codesystem`.
    public static let inputCodes: Set<String> = [
        "idNat_Struct", "nomESMS", "statutESMS", "motifESMS", "dateStatutESMS", "idUnite", "nomUnite",
        "categorieOrganisation", "temporaliteAccueil", "accueilSequentiel", "modePriseCharge", "statutUnite",
        "dateStatutUnite", "motifUnite", "typeDroitPrestation", "idDecision", "idNat_Decision",
    ]

    /// JDV_J253-StatutPersonnePriseChargeUnite (TRE_R357 codes; version 20230922120000): statuses in a unit.
    public static let unitStatuses: [String: String] = [
        "180": "Retiré de la liste d'attente ou accompagnement annulé", "181": "Période d'essai non concluante dans l'unité",
        "182": "Liste d'attente. En cours d'analyse, demande d'admission reçue dans l'unité",
        "183": "Liste d'attente. Admissible dans l'unité", "184": "Liste d'attente. Admis dans l'unité",
        "185": "Période d'essai en cours dans l'unité", "186": "Usager pris en charge",
        "187": "Demande de réorientation dans l'unité", "188": "Fin de prise en charge",
    ]

    /// JDV_J252-StatutPersonnePriseChargeESMS (TRE_R357 codes; version 20230922120000): statuses in the ESMS.
    public static let esmsStatuses: [String: String] = [
        "37": "Décision d'orientation annulée", "39": "Notification envoyée", "40": "Notification lue",
        "41": "Contact effectué", "42": "Liste d'attente. En cours d'analyse, demande d'admission reçue dans l'ESMS",
        "43": "Période d'essai en cours dans l'ESMS", "44": "Période d'essai non concluante dans l'ESMS",
        "45": "Admission impossible signalée", "46": "Admission impossible entérinée", "47": "Usager entré",
        "48": "Usager sorti", "49": "Notification annulée", "51": "Demande de réorientation dans l'ESMS",
        "54": "Notification réactivée", "71": "Liste d'attente. Admis dans l'ESMS", "72": "Liste d'attente. Admissible dans l'ESMS",
    ]

    static func claims(_ tree: ElementTree, _ resource: ElementTree.NodeID, _ profiles: [String]) -> Bool {
        guard let meta = tree.child(resource, "meta") else { return false }
        for p in tree.children(meta, "profile") {
            guard let url = tree.value(p) else { continue }
            let bare = url.split(separator: "|", maxSplits: 1).first.map(String.init) ?? url
            if profiles.contains(bare) { return true }
        }
        return false
    }

    /// The `value[x]` child of a `Task.input`.
    static func value(_ tree: ElementTree, _ input: ElementTree.NodeID) -> ElementTree.NodeID? {
        tree.children(input).first { tree.name($0).hasPrefix("value") }
    }

    static func checkTask(_ task: ElementTree.NodeID, _ run: inout FrenchRules.Run) {
        let tree = run.tree
        var inputs: [String: ElementTree.NodeID] = [:]
        // (type node, code, how it was given, whether that alone marks the Task as SDO)
        var uncoded: [(ElementTree.NodeID, String, String, Bool)] = []
        for input in tree.children(task, "input") {
            guard let type = tree.child(input, "type") else { continue }
            var coded = false
            var other: (code: String, system: String?)? = nil
            for coding in tree.children(type, "coding") {
                guard let code = tree.childValue(coding, "code") else { continue }
                let systemNode = tree.child(coding, "system")
                if let systemNode, tree.valueIs(systemNode, inputCodeSystem) {
                    coded = true
                    if inputs[code] == nil { inputs[code] = input }
                } else if other == nil, inputCodes.contains(code) {
                    other = (code, systemNode.flatMap { tree.value($0) })
                }
            }
            guard !coded else { continue }
            if let other {
                let how = other.system.map { "a coding of system '\($0)'" } ?? "a coding without system"
                uncoded.append((type, other.code, how, other.system == nil))
            } else if let text = tree.childValue(type, "text"), inputCodes.contains(text) {
                uncoded.append((type, text, "type.text only", true))
            }
        }
        // A coding of another explicit system (e.g. http://example.org#statutUnite) does not make a Task SDO.
        guard claims(tree, task, taskProfiles) || !inputs.isEmpty || uncoded.contains(where: \.3) else { return }

        for (type, code, how, _) in uncoded {
            run.report(.sdoInputNotCoded, .warning, .invariant,
                       "This input names '\(code)' by \(how): the esms-task slices and the French rules recognise inputs only by type.coding with system \(inputCodeSystem); add the coding {system: \(inputCodeSystem), code: \(code)}.",
                       at: type)
        }

        if let status = inputs["statutUnite"] {
            for code in unitBlock where inputs[code] == nil {
                run.report(.sdoUnitBlock, .error, .required,
                           "A unit status (input 'statutUnite') requires the whole unit block, but input '\(code)' is missing: send idUnite, nomUnite, categorieOrganisation, modePriseCharge and dateStatutUnite as Task.input with type.coding \(inputCodeSystem)#<code>.",
                           at: status)
            }
        } else {
            for code in unitStatusDependents {
                guard let input = inputs[code] else { continue }
                run.report(.sdoUnitStatusMissing, .error, .required,
                           "Input '\(code)' describes the person's status in a unit but the Task has no 'statutUnite': send the unit status (JDV_J253) with the complete unit block, or remove the unit inputs.",
                           at: input)
            }
            for code in unitAttributes {
                guard let input = inputs[code] else { continue }
                run.report(.sdoUnitAttributeOrphan, .warning, .businessRule,
                           "Input '\(code)' describes a unit but the Task has no 'statutUnite': it is ignored unless sent with a unit status and the unit block.",
                           at: input)
            }
        }

        if inputs["statutESMS"] == nil {
            for code in esmsStatusDependents {
                guard let input = inputs[code] else { continue }
                run.report(.sdoESMSStatusMissing, .error, .required,
                           "Input '\(code)' qualifies the status in the ESMS but the Task has no 'statutESMS': send the ESMS status (JDV_J252) or remove '\(code)'.",
                           at: input)
            }
        }

        checkStatusLevel(inputs["statutESMS"], expected: esmsStatuses, other: unitStatuses, &run,
                         message: { code, display in "Status \(code) '\(display)' is a unit status (JDV_J253), not an ESMS status: send it in input 'statutUnite' with the unit block (idUnite, nomUnite, categorieOrganisation, modePriseCharge, dateStatutUnite)." })
        checkStatusLevel(inputs["statutUnite"], expected: unitStatuses, other: esmsStatuses, &run,
                         message: { code, display in "Status \(code) '\(display)' is an ESMS status (JDV_J252), not a unit status: send it in input 'statutESMS'." })

        if let input = inputs["idNat_Struct"], let v = value(tree, input), let valueNode = tree.child(v, "value"),
           let text = tree.value(valueNode) {
            run.checked.insert(valueNode)
            if let p = IdNatStruct.validate(text, allowed: IdNatStruct.sdoKinds, context: "idNat_Struct") {
                run.report(p, at: valueNode)
            }
        }
    }

    /// A status coded with a TRE_R357 code of the other level's value set.
    static func checkStatusLevel(_ input: ElementTree.NodeID?, expected: [String: String], other: [String: String],
                                 _ run: inout FrenchRules.Run, message: (String, String) -> String) {
        let tree = run.tree
        guard let input, let v = value(tree, input) else { return }
        for coding in tree.children(v, "coding") {
            let system = tree.childValue(coding, "system")
            guard system == nil || system == statusCodeSystem, let code = tree.childValue(coding, "code"),
                  expected[code] == nil, let display = other[code] else { continue }
            run.report(.sdoStatusLevel, .error, .codeInvalid, message(code, display), at: coding)
        }
    }

    static func checkConsent(_ consent: ElementTree.NodeID, _ run: inout FrenchRules.Run) {
        let tree = run.tree
        guard claims(tree, consent, [consentProfile]), let meta = tree.child(consent, "meta"),
              let source = tree.child(meta, "source"), let value = tree.value(source) else { return }
        if value.contains(":") {
            run.report(.sdoConsentSource, .warning, .businessRule,
                       "meta.source must be the idNat_Struct of the ESMS giving the consent ('1' + FINESS or '3' + SIRET); '\(value)' is a URI that cannot be checked.",
                       at: source)
        } else if let p = IdNatStruct.validate(value, allowed: IdNatStruct.sdoKinds, context: "meta.source (idNat_Struct)") {
            run.report(p, at: source)
        }
    }
}
