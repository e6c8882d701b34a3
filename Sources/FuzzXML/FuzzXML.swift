import FHIRModels

/// libFuzzer entry point (scripts/fuzz xml). Reading FHIR XML must never crash, hang or expand
/// entities: a thrown `FHIRParseError` is a normal outcome. An accepted document must be writable as
/// JSON and XML, and its JSON must read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzXML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let tree = try? FHIRXMLReader.read(bytes) else { return 0 }
    let count = Int32(tree.nodes.count)
    for id in 0..<count {
        let node = tree[id]
        precondition(node.end > id && node.end <= count, "node \(id) ends at \(node.end) of \(count)")
        precondition(id == 0 || (node.parent >= 0 && node.parent < id), "node \(id) has parent \(node.parent)")
        _ = tree.path(id)
    }
    let json = FHIRJSONWriter.write(tree, pretty: false)
    _ = FHIRXMLWriter.write(tree, pretty: false)
    do { _ = try FHIRJSONReader.read(json) } catch { preconditionFailure("JSON written from an XML tree does not read back: \(error)") }
    return 0
}
