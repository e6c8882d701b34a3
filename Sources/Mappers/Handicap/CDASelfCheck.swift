import FHIRModels

extension DecisionDocumentReader {
    /// The reader's and writer's invariants on arbitrary bytes, for the fuzz target (`FuzzCDA`) and the
    /// corpus replay test, so both check the same thing: every issue has a rule, an XPath-like expression
    /// and a line; a value is returned exactly when no error is; an accepted decision or evaluation reads
    /// back equal after the writer, and an accepted decision after the setId stamp (with the new setId).
    /// Returns a description of the first broken invariant, nil when all hold. `accepted` tells whether
    /// either document kind accepted the bytes.
    public func selfCheck(_ bytes: [UInt8]) -> (problem: String?, accepted: Bool) {
        let decision = readDecision(bytes)
        if let p = Self.issueProblem(decision.issues, accepted: decision.value != nil) { return ("decision: \(p)", false) }
        if let value = decision.value {
            let again = readDecision(DecisionDocumentWriter.write(value))
            if again.value != value { return ("decision does not survive the writer: \(again.issues)", true) }
            let idNat = "SELF&<\"CHECK"
            let stamped: [UInt8]
            do { stamped = try DecisionDocumentWriter.stampingIdNatDecision(bytes, idNatDecision: idNat, limits: limits) } catch {
                return ("an accepted decision cannot be stamped: \(error)", true)
            }
            var expected = value
            expected.setId = InstanceIdentifier(root: CDAVocabulary.platformOID, extension: idNat)
            let read = readDecision(stamped)
            if read.value != expected { return ("the stamped decision reads differently: \(read.issues)", true) }
        }
        let evaluation = readEvaluation(bytes)
        if let p = Self.issueProblem(evaluation.issues, accepted: evaluation.value != nil) { return ("evaluation: \(p)", decision.value != nil) }
        if let value = evaluation.value {
            let again = readEvaluation(DecisionDocumentWriter.write(value))
            if again.value != value { return ("evaluation does not survive the writer: \(again.issues)", true) }
        }
        return (nil, decision.value != nil || evaluation.value != nil)
    }

    static func issueProblem(_ issues: [OutcomeIssue], accepted: Bool) -> String? {
        for i in issues {
            guard i.rule != nil, let e = i.expression, e.hasPrefix("/"), let l = i.location, l.line >= 1, !i.message.isEmpty else {
                return "issue without rule, expression or line: \(i)"
            }
        }
        if accepted == issues.contains(where: \.isError) { return "acceptance disagrees with the issues: \(issues)" }
        return nil
    }
}
