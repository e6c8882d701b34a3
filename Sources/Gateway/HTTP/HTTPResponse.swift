import Foundation

/// An HTTP response as the handlers build it; the server adds framing headers.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status; self.headers = headers; self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"; case 201: "Created"; case 204: "No Content"; case 304: "Not Modified"
        case 400: "Bad Request"; case 401: "Unauthorized"; case 403: "Forbidden"; case 404: "Not Found"
        case 405: "Method Not Allowed"; case 406: "Not Acceptable"; case 408: "Request Timeout"; case 409: "Conflict"
        case 410: "Gone"; case 412: "Precondition Failed"; case 413: "Content Too Large"; case 414: "URI Too Long"
        case 415: "Unsupported Media Type"; case 422: "Unprocessable Content"; case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"; case 500: "Internal Server Error"; case 501: "Not Implemented"
        case 503: "Service Unavailable"; case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }

    /// Serialized response; `keepAlive` decides the Connection header. HEAD responses carry no body.
    func serialized(keepAlive: Bool, headOnly: Bool = false, date: String) -> [UInt8] {
        var out = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (n, v) in headers where !n.caseInsensitiveEquals("content-length") && !n.caseInsensitiveEquals("connection") {
            // Handlers never put CR/LF in values; refuse to emit a header split if one did.
            guard !v.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else { continue }
            out += "\(n): \(v)\r\n"
        }
        out += "Date: \(date)\r\nContent-Length: \(body.count)\r\n"
        out += keepAlive ? "" : "Connection: close\r\n"
        out += "\r\n"
        var bytes = Array(out.utf8)
        if !headOnly { bytes.append(contentsOf: body) }
        return bytes
    }

    static func httpDate(_ date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, buf.count, "%a, %d %b %Y %H:%M:%S GMT", &tm)
        return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
