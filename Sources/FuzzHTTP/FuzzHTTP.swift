import Gateway

/// libFuzzer entry point (scripts/fuzz http). The request parser must never crash or loop, fed in
/// one piece or byte by byte; both ways must reach the same verdict.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    let (a, b) = HTTPRequestParser.wholeAndTrickled(bytes)
    switch (a, b) {
    case (.request(let x)?, .request(let y)?): precondition(x == y, "same bytes, different requests")
    case (nil, nil), (.needMore?, .needMore?): break
    default: preconditionFailure("whole and byte-by-byte feeding disagree: \(String(describing: a)) vs \(String(describing: b))")
    }
    return 0
}
