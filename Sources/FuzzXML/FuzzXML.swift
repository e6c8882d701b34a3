import FHIRModels

/// libFuzzer entry point (scripts/fuzz xml). Reading FHIR XML must never crash, hang or expand
/// entities: a thrown `FHIRParseError` is a normal outcome. An accepted document must be writable as
/// JSON and XML, and its JSON must read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzXML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let tree = try? FHIRXMLReader.read(bytes) else { return 0 }
    if let problem = tree.structuralProblem() { preconditionFailure(problem) }
    let json = FHIRJSONWriter.write(tree, pretty: false)
    _ = FHIRXMLWriter.write(tree, pretty: false)
    do { _ = try FHIRJSONReader.read(json) } catch { preconditionFailure("JSON written from an XML tree does not read back: \(error)") }
    return 0
}
