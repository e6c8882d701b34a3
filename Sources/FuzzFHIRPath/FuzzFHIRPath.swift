import FHIRModels
import Validation

/// libFuzzer entry point (scripts/fuzz fhirpath). Compiling any text must end in an expression or a
/// `FHIRPathError`, never a crash; a compiled expression is then evaluated on a small Patient, where an
/// execution error is a normal outcome.
private let patient: ElementTree = try! FHIRJSONReader.read(Array(#"""
{"resourceType":"Patient","id":"p","active":true,"name":[{"given":["A","B"],"family":"C"},{"text":"D"}],
 "birthDate":"1970-01-01","multipleBirthInteger":2,"extension":[{"url":"http://x","valueDecimal":1.50}],
 "contained":[{"resourceType":"Organization","id":"o","name":"O"}],"managingOrganization":{"reference":"#o"}}
"""#.utf8))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFHIRPath(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size <= 4096 else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: data == nil ? 0 : size), as: UTF8.self)
    guard let expression = try? FHIRPathExpression(text) else { return 0 }
    _ = try? expression.evaluate(patient, node: patient.root)
    return 0
}
