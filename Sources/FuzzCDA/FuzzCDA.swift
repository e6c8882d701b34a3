import Validation
import Mappers

/// The project's terminology store, read once (scripts/fuzz runs from the repository root); an empty
/// store when absent, which only turns code checks into warnings.
let terminology = (try? TerminologyStore.load(directory: "Terminologies")) ?? TerminologyStore(referenceDate: "")
let reader = DecisionDocumentReader(terminology: terminology)

/// libFuzzer entry point (scripts/fuzz cda). Any bytes, read as a decision and as an evaluation, must
/// neither crash nor hang, and keep the invariants of `DecisionDocumentReader.selfCheck` (issues with
/// rule, expression and line; accepted documents survive the writer and the setId stamp).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCDA(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    if let problem = reader.selfCheck(bytes).problem { preconditionFailure(problem) }
    return 0
}
