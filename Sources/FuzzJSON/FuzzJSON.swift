import FHIRModels
import Validation

/// libFuzzer entry point (scripts/fuzz json). Reading FHIR JSON must never crash or hang: a thrown
/// `FHIRParseError` is a normal outcome. Beyond the reader, the harness checks properties that must hold
/// for every accepted input, so that a silent corruption also stops the fuzzer:
/// - every tree node has a FHIRPath and its value bytes are readable, parents precede children;
/// - the French rules run on any tree the reader returns, and every issue they report has a rule code;
/// - a JSON text the raw reader accepts round-trips through `JSONValue` unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    if let tree = try? FHIRJSONReader.read(bytes) {
        if let problem = tree.structuralProblem() { preconditionFailure(problem) }
        for issue in FrenchRules.check(tree) { precondition(issue.rule != nil && issue.expression != nil, "\(issue)") }
    }
    if let value = try? JSONValue.parse(bytes) {
        let again: JSONValue
        do { again = try JSONValue.parse(value.serialized()) } catch { preconditionFailure("re-reading the serialization failed: \(error)") }
        precondition(again == value, "JSONValue round trip changed the value")
    }
    return 0
}
