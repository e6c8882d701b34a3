import FHIRModels
import Validation
import Mappers

/// The project's terminology store, read once (scripts/fuzz runs from the repository root); an empty
/// store when absent, which only turns code checks into warnings.
let terminology = (try? TerminologyStore.load(directory: "Terminologies")) ?? TerminologyStore(referenceDate: "")
let reader = DecisionDocumentReader(terminology: terminology)

/// libFuzzer entry point (scripts/fuzz cda). Reading any bytes as either CDA document must never
/// crash or hang; every issue has a rule code, an XPath-like expression and a line. A document the
/// reader accepts must survive the writer (written, read again: the same value) and the setId stamp
/// (read again: the same value with the platform's setId).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCDA(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    let decision = reader.readDecision(bytes)
    checkIssues(decision.issues, accepted: decision.value != nil)
    if let value = decision.value {
        let again = reader.readDecision(DecisionDocumentWriter.write(value))
        if again.value != value { preconditionFailure("decision does not survive the writer: \(again.issues)") }
        let stamped: [UInt8]
        do { stamped = try DecisionDocumentWriter.stampingIdNatDecision(bytes, idNatDecision: "FUZZ&<\"1") } catch {
            preconditionFailure("an accepted decision cannot be stamped: \(error)")
        }
        var expected = value
        expected.setId = InstanceIdentifier(root: CDAVocabulary.platformOID, extension: "FUZZ&<\"1")
        let read = reader.readDecision(stamped)
        if read.value != expected { preconditionFailure("stamped decision reads differently: \(read.issues)") }
    }
    let evaluation = reader.readEvaluation(bytes)
    checkIssues(evaluation.issues, accepted: evaluation.value != nil)
    if let value = evaluation.value {
        let again = reader.readEvaluation(DecisionDocumentWriter.write(value))
        if again.value != value { preconditionFailure("evaluation does not survive the writer: \(again.issues)") }
    }
    return 0
}

func checkIssues(_ issues: [OutcomeIssue], accepted: Bool) {
    for i in issues {
        guard i.rule != nil, let e = i.expression, e.hasPrefix("/"), let l = i.location, l.line >= 1, !i.message.isEmpty else {
            preconditionFailure("issue without rule, expression or line: \(i)")
        }
    }
    if accepted == issues.contains(where: \.isError) { preconditionFailure("acceptance disagrees with the issues: \(issues)") }
}
