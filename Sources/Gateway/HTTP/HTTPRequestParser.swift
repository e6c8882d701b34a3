/// A strict, incremental HTTP/1.1 request parser (RFC 9112). It refuses every ambiguity that
/// enables request smuggling instead of guessing: several Content-Length fields, Content-Length with
/// Transfer-Encoding, obs-fold, bare CR or LF, NUL and control bytes, whitespace before a colon,
/// and it bounds every size. Feed bytes as they arrive; one request at a time (keep-alive and
/// pipelining reuse the parser through `reset()` and `leftover`).
public struct HTTPRequestParser: Sendable {
    public struct Limits: Sendable {
        public var maxRequestLine = 8 * 1024
        public var maxHeaderBytes = 32 * 1024
        public var maxHeaderCount = 100
        public var maxBodyBytes = 16 * 1024 * 1024
        public var maxChunkLine = 1024
        public init() {}
    }

    public enum Event: Sendable, Equatable {
        /// More bytes are needed.
        case needMore
        /// A complete request; bytes after it stay in `leftover` for the next one.
        case request(HTTPRequest)
    }

    private enum State: Sendable {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case done
    }

    public let limits: Limits
    private var buffer: [UInt8] = []
    private var state: State = .head
    private var head: HTTPRequest?
    private var body: [UInt8] = []
    private var trailerBytes = 0
    private var scanFrom = 0

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Bytes received after the last complete request (pipelined requests).
    public var leftover: [UInt8] { buffer }
    /// True when no byte of a next request has been received (an idle keep-alive connection).
    public var isIdle: Bool { buffer.isEmpty && head == nil && { if case .head = state { return true }; return false }() }

    /// Prepares for the next request on the same connection, keeping unconsumed bytes.
    public mutating func reset() {
        state = .head; head = nil; body = []; trailerBytes = 0; scanFrom = 0
    }

    /// Parses `bytes` in one piece and again byte by byte; both must reach the same verdict (a
    /// property the fuzz target and its replay test check). Nil result means the parser refused.
    public static func wholeAndTrickled(_ bytes: [UInt8]) -> (whole: Event?, trickled: Event?) {
        var whole = HTTPRequestParser()
        let a = try? whole.feed(bytes)
        var trickle = HTTPRequestParser()
        var b: Event? = .needMore
        for byte in bytes {
            guard case .needMore = b else { break }
            b = try? trickle.feed([byte])
        }
        return (a, b)
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Event {
        buffer.append(contentsOf: bytes)
        return try advance()
    }

    public mutating func feed(_ bytes: [UInt8]) throws(HTTPParseError) -> Event {
        buffer.append(contentsOf: bytes)
        return try advance()
    }

    /// Continues with buffered bytes only (after `reset()` on a pipelined connection).
    public mutating func advance() throws(HTTPParseError) -> Event {
        while true {
            switch state {
            case .done:
                return .needMore
            case .head:
                guard let end = try findHeadEnd() else { return .needMore }
                var request = try Self.parseHead(Array(buffer[0..<end]), limits: limits)
                buffer.removeSubrange(0..<(end + 4))
                scanFrom = 0
                let framing = try Self.bodyFraming(&request, limits: limits)
                head = request
                switch framing {
                case .none: return finish()
                case .length(let n):
                    if n > limits.maxBodyBytes { throw HTTPParseError(.payloadTooLarge, "body of \(n) bytes exceeds the \(limits.maxBodyBytes)-byte limit") }
                    body.reserveCapacity(n)
                    state = n == 0 ? .done : .body(remaining: n)
                    if n == 0 { return finish() }
                case .chunked:
                    state = .chunkSize
                }
            case .body(let remaining):
                if buffer.isEmpty { return .needMore }
                let take = min(remaining, buffer.count)
                body.append(contentsOf: buffer[0..<take])
                buffer.removeSubrange(0..<take)
                if take == remaining { return finish() }
                state = .body(remaining: remaining - take)
                return .needMore
            case .chunkSize:
                guard let lineEnd = try findCRLF(limit: limits.maxChunkLine, what: "chunk size line") else { return .needMore }
                let line = Array(buffer[0..<lineEnd])
                buffer.removeSubrange(0..<(lineEnd + 2))
                let size = try Self.parseChunkSize(line)
                if size == 0 {
                    state = .trailers
                } else {
                    if body.count + size > limits.maxBodyBytes { throw HTTPParseError(.payloadTooLarge, "chunked body exceeds the \(limits.maxBodyBytes)-byte limit") }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                if buffer.isEmpty { return .needMore }
                let take = min(remaining, buffer.count)
                body.append(contentsOf: buffer[0..<take])
                buffer.removeSubrange(0..<take)
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
                if take < remaining { return .needMore }
            case .chunkDataEnd:
                if buffer.count < 2 { return .needMore }
                guard buffer[0] == 0x0D && buffer[1] == 0x0A else { throw HTTPParseError(.badRequest, "chunk data not followed by CRLF") }
                buffer.removeSubrange(0..<2)
                state = .chunkSize
            case .trailers:
                guard let lineEnd = try findCRLF(limit: limits.maxHeaderBytes, what: "trailer line") else { return .needMore }
                if lineEnd == 0 {
                    buffer.removeSubrange(0..<2)
                    return finish()
                }
                let line = Array(buffer[0..<lineEnd])
                trailerBytes += lineEnd + 2
                if trailerBytes > limits.maxHeaderBytes { throw HTTPParseError(.headersTooLarge, "trailer section too large") }
                _ = try Self.parseField(line[...])
                buffer.removeSubrange(0..<(lineEnd + 2))
            }
        }
    }

    private mutating func finish() -> Event {
        var r = head!
        r.body = body
        body = []
        head = nil
        state = .done
        return .request(r)
    }

    /// Finds CRLFCRLF; refuses bare CR/LF and oversized heads as soon as they are visible.
    /// Scanning resumes where it stopped, so a head trickling in byte by byte stays linear.
    private mutating func findHeadEnd() throws(HTTPParseError) -> Int? {
        var i = scanFrom
        let n = buffer.count
        scan: while i < n {
            let c = buffer[i]
            if c == 0x0A { throw HTTPParseError(.badRequest, "bare LF in request head (lines must end with CRLF)") }
            if c == 0x0D {
                if i + 1 >= n { break scan }
                if buffer[i + 1] != 0x0A { throw HTTPParseError(.badRequest, "bare CR in request head") }
                if i + 2 >= n { break scan }
                if buffer[i + 2] == 0x0D {
                    if i + 3 >= n { break scan }
                    if buffer[i + 3] == 0x0A { return i }
                    throw HTTPParseError(.badRequest, "bare CR in request head")
                }
                i += 2
                continue
            }
            i += 1
        }
        scanFrom = i
        let lineEnd = buffer.firstIndex(of: 0x0D) ?? n
        if lineEnd > limits.maxRequestLine { throw HTTPParseError(.uriTooLong, "request line longer than \(limits.maxRequestLine) bytes") }
        if n > lineEnd + limits.maxHeaderBytes + 4 {
            throw HTTPParseError(.headersTooLarge, "request header section larger than \(limits.maxHeaderBytes) bytes")
        }
        return nil
    }

    private func findCRLF(limit: Int, what: String) throws(HTTPParseError) -> Int? {
        var i = 0
        while i < buffer.count {
            let c = buffer[i]
            if c == 0x0A { throw HTTPParseError(.badRequest, "bare LF in \(what)") }
            if c == 0x0D {
                if i + 1 >= buffer.count { return nil }
                if buffer[i + 1] != 0x0A { throw HTTPParseError(.badRequest, "bare CR in \(what)") }
                return i
            }
            i += 1
            if i > limit { throw HTTPParseError(.badRequest, "\(what) longer than \(limit) bytes") }
        }
        return nil
    }

    // MARK: grammar

    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): return true
        default: return false
        }
    }

    static let framingNames: [[UInt8]] = ["transfer-encoding", "content-length"].map { Array($0.utf8) }
    static let knownMethods: [[UInt8]] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].map { Array($0.utf8) }

    static func parseHead(_ head: [UInt8], limits: Limits) throws(HTTPParseError) -> HTTPRequest {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i < head.count {
            if head[i] == 0x0D { lines.append(head[start..<i]); i += 2; start = i } else { i += 1 }
        }
        lines.append(head[start..<head.count])
        guard let requestLine = lines.first, !requestLine.isEmpty else { throw HTTPParseError(.badRequest, "empty request line") }
        if requestLine.count > limits.maxRequestLine { throw HTTPParseError(.uriTooLong, "request line longer than \(limits.maxRequestLine) bytes") }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw HTTPParseError(.badRequest, "request line must be 'METHOD SP target SP HTTP/1.1'") }
        guard !parts[0].isEmpty, parts[0].allSatisfy(isTokenChar) else { throw HTTPParseError(.badRequest, "invalid method") }
        guard knownMethods.contains(where: { $0.elementsEqual(parts[0]) }) else {
            throw HTTPParseError(.notImplemented, "method not supported (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)")
        }
        guard !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPParseError(.badRequest, "invalid request target (control, space or non-ASCII byte)")
        }
        // Origin-form only (RFC 9112 §3.2.1): we are not a proxy, so no absolute-form, and no authority-form.
        guard parts[1].first == UInt8(ascii: "/") || (parts[1].elementsEqual("*".utf8) && parts[0].elementsEqual("OPTIONS".utf8)) else {
            throw HTTPParseError(.badRequest, "request target must be an absolute path (origin-form), e.g. /fhir/metadata")
        }
        let version: HTTPRequest.Version
        switch Array(parts[2]) {
        case Array("HTTP/1.1".utf8): version = .http11
        case Array("HTTP/1.0".utf8): version = .http10
        default:
            if parts[2].starts(with: Array("HTTP/".utf8)) { throw HTTPParseError(.versionNotSupported, "only HTTP/1.1 and HTTP/1.0 are supported") }
            throw HTTPParseError(.badRequest, "invalid HTTP version")
        }
        let headerLines = lines.dropFirst()
        if head.count - requestLine.count > limits.maxHeaderBytes {
            throw HTTPParseError(.headersTooLarge, "request header section larger than \(limits.maxHeaderBytes) bytes")
        }
        if headerLines.count > limits.maxHeaderCount { throw HTTPParseError(.headersTooLarge, "more than \(limits.maxHeaderCount) header fields") }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(headerLines.count)
        for line in headerLines {
            if let first = line.first, first == 0x20 || first == 0x09 {
                throw HTTPParseError(.badRequest, "obsolete line folding (obs-fold) is not accepted")
            }
            headers.append(try parseField(line))
        }
        let target = String(decoding: parts[1], as: UTF8.self)
        return HTTPRequest(method: String(decoding: parts[0], as: UTF8.self), target: target, version: version, headers: headers, body: [])
    }

    static func parseField(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> (name: String, value: String) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw HTTPParseError(.badRequest, "header line without ':'") }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenChar) else {
            throw HTTPParseError(.badRequest, "invalid header name (whitespace before ':' or a non-token character)")
        }
        // Names that merely start like a framing field ("Transfer-Encodingx", "Content-Length0") are
        // refused: some parsers match them by prefix, which is a known smuggling vector.
        for framing in framingNames where name.count > framing.count
            && zip(name.prefix(framing.count), framing).allSatisfy({ ($0 | 0x20) == $1 }) {
            throw HTTPParseError(.badRequest, "header name too close to a framing field name")
        }
        var value = line[(colon + 1)...]
        // Optional whitespace is a space here; a TAB anywhere in a field line is refused below.
        while let f = value.first, f == 0x20 { value = value.dropFirst() }
        while let l = value.last, l == 0x20 { value = value.dropLast() }
        // Visible ASCII and spaces only: no controls, no TAB inside a value, no obs-text (bytes >= 0x80).
        for c in value where !(c >= 0x20 && c < 0x7F) {
            throw HTTPParseError(.badRequest, "byte 0x\(String(c, radix: 16)) in header value (only visible ASCII and spaces are accepted)")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    enum Framing { case none, length(Int), chunked }

    static func bodyFraming(_ r: inout HTTPRequest, limits: Limits) throws(HTTPParseError) -> Framing {
        var contentLength: Int?
        var transferEncoding: String?
        var hosts = 0
        for (name, value) in r.headers {
            switch name.lowercased() {
            case "content-length":
                if contentLength != nil { throw HTTPParseError(.badRequest, "more than one Content-Length field") }
                guard !value.isEmpty, value.utf8.count <= 15, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(value) else {
                    throw HTTPParseError(.badRequest, "invalid Content-Length")
                }
                contentLength = n
            case "transfer-encoding":
                if transferEncoding != nil { throw HTTPParseError(.badRequest, "more than one Transfer-Encoding field") }
                transferEncoding = value
            case "host":
                hosts += 1
            default: break
            }
        }
        if r.version == .http11 && hosts != 1 { throw HTTPParseError(.badRequest, "HTTP/1.1 requires exactly one Host field") }
        if let te = transferEncoding {
            if contentLength != nil { throw HTTPParseError(.badRequest, "Content-Length together with Transfer-Encoding is refused (request smuggling risk)") }
            if r.version == .http10 { throw HTTPParseError(.badRequest, "Transfer-Encoding in an HTTP/1.0 request") }
            guard te.lowercased() == "chunked" else { throw HTTPParseError(.notImplemented, "only 'Transfer-Encoding: chunked' is supported") }
            return .chunked
        }
        if let n = contentLength { return n == 0 ? .length(0) : .length(n) }
        return .none
    }

    static func parseChunkSize(_ line: [UInt8]) throws(HTTPParseError) -> Int {
        let end = line.firstIndex(of: UInt8(ascii: ";")) ?? line.count
        if end < line.count {
            // chunk-ext = *( BWS ";" BWS token [ "=" ( token / quoted-string ) ] ): accepted, ignored, but checked.
            for c in line[end...] where c < 0x20 || c == 0x7F { throw HTTPParseError(.badRequest, "control byte in chunk extension") }
        }
        guard end > 0, end <= 8 else { throw HTTPParseError(.badRequest, "invalid chunk size") }
        var n = 0
        for c in line[0..<end] {
            let d: Int
            switch c {
            case 0x30...0x39: d = Int(c - 0x30)
            case 0x41...0x46: d = Int(c - 0x41 + 10)
            case 0x61...0x66: d = Int(c - 0x61 + 10)
            default: throw HTTPParseError(.badRequest, "invalid chunk size")
            }
            n = n * 16 + d
        }
        return n
    }
}

public struct HTTPRequest: Sendable, Equatable {
    public enum Version: Sendable, Equatable { case http10, http11 }
    public var method: String
    /// The request target as sent (origin-form: path and query).
    public var target: String
    public var version: Version
    /// Header fields in order, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, target: String, version: Version, headers: [(name: String, value: String)], body: [UInt8]) {
        self.method = method; self.target = target; self.version = version; self.headers = headers; self.body = body
    }

    public static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.target == b.target && a.version == b.version && a.body == b.body
            && a.headers.count == b.headers.count && zip(a.headers, b.headers).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// First value of a header, case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// Whether the connection stays open after the response (RFC 9112 §9.3).
    public var keepAlive: Bool {
        let c = header("connection")?.lowercased() ?? ""
        switch version {
        case .http11: return !c.split(separator: ",").contains { $0.trimmingWhitespace() == "close" }
        case .http10: return c.split(separator: ",").contains { $0.trimmingWhitespace() == "keep-alive" }
        }
    }

    public var path: Substring { target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
    public var query: Substring? {
        let p = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return p.count > 1 ? p[1] : nil
    }
}

/// Why a request was refused, with the HTTP status to answer.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Int, Sendable { case badRequest = 400, payloadTooLarge = 413, uriTooLong = 414, headersTooLarge = 431, notImplemented = 501, versionNotSupported = 505 }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var status: Int { kind.rawValue }
    public var description: String { "\(status): \(message)" }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && zip(utf8, other.utf8).allSatisfy { a, b in
            (a | (a >= 0x41 && a <= 0x5A ? 0x20 : 0)) == (b | (b >= 0x41 && b <= 0x5A ? 0x20 : 0))
        }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
