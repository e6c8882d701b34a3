import CHTTPParser

/// http-parser (Debian's libhttp-parser) as a test oracle for our own request parser: what it
/// parsed out of the same bytes, or nil when it refused them.
final class HTTPParserOracle {
    struct Parsed: Equatable {
        var method = ""
        var url = ""
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var complete = false
        static func == (a: Parsed, b: Parsed) -> Bool {
            a.method == b.method && a.url == b.url && a.body == b.body && a.complete == b.complete
                && a.headers.count == b.headers.count && zip(a.headers, b.headers).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        }
    }

    private var result = Parsed()
    private var field = ""
    private var value = ""
    private var inValue = false

    static func parse(_ bytes: [UInt8]) -> Parsed? {
        let box = HTTPParserOracle()
        var settings = http_parser_settings()
        settings.on_url = { p, at, n in
            HTTPParserOracle.from(p).result.url += String(decoding: UnsafeRawBufferPointer(start: at, count: n), as: UTF8.self); return 0
        }
        settings.on_header_field = { p, at, n in
            let o = HTTPParserOracle.from(p)
            if o.inValue { o.result.headers.append((o.field, o.value)); o.field = ""; o.value = ""; o.inValue = false }
            o.field += String(decoding: UnsafeRawBufferPointer(start: at, count: n), as: UTF8.self); return 0
        }
        settings.on_header_value = { p, at, n in
            let o = HTTPParserOracle.from(p)
            o.inValue = true
            o.value += String(decoding: UnsafeRawBufferPointer(start: at, count: n), as: UTF8.self); return 0
        }
        settings.on_headers_complete = { p in
            let o = HTTPParserOracle.from(p)
            if o.inValue { o.result.headers.append((o.field, o.value)); o.inValue = false }
            return 0
        }
        settings.on_body = { p, at, n in
            HTTPParserOracle.from(p).result.body.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n)); return 0
        }
        settings.on_message_complete = { p in
            HTTPParserOracle.from(p).result.complete = true
            return 1 // stop after one message: pipelined bytes belong to the next request
        }
        var parser = http_parser()
        http_parser_init(&parser, HTTP_REQUEST)
        parser.data = Unmanaged.passUnretained(box).toOpaque()
        let consumed = bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { http_parser_execute(&parser, &settings, $0.baseAddress, bytes.count) }
        }
        _ = consumed
        let err = shim_http_errno(&parser)
        if err != HPE_OK && err != HPE_CB_message_complete { return nil }
        box.result.method = String(cString: http_method_str(http_method(rawValue: parser.method)))
        return withExtendedLifetime(box) { box.result }
    }

    private static func from(_ p: UnsafeMutablePointer<http_parser>?) -> HTTPParserOracle {
        Unmanaged<HTTPParserOracle>.fromOpaque(p!.pointee.data).takeUnretainedValue()
    }
}
