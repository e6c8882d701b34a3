import Testing
@testable import Gateway

@Suite struct HTTPRequestParserTests {
    func parse(_ text: String, limits: HTTPRequestParser.Limits = .init()) throws(HTTPParseError) -> HTTPRequestParser.Event {
        var p = HTTPRequestParser(limits: limits)
        return try p.feed(Array(text.utf8))
    }

    func refused(_ text: String, _ status: Int, limits: HTTPRequestParser.Limits = .init(), sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let e = try parse(text, limits: limits)
            Issue.record("accepted: \(e)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.status == status, "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func parsesGetWithQueryAndHeaders() throws {
        let e = try parse("GET /fhir/Task?_lastUpdated=gt2026-01-01 HTTP/1.1\r\nHost: gw\r\nAccept:  application/fhir+json \r\n\r\n")
        guard case .request(let r) = e else { Issue.record("no request"); return }
        #expect(r.method == "GET")
        #expect(r.path == "/fhir/Task")
        #expect(r.query == "_lastUpdated=gt2026-01-01")
        #expect(r.header("accept") == "application/fhir+json")
        #expect(r.keepAlive)
    }

    @Test func bodyByContentLengthAcrossFeeds() throws {
        var p = HTTPRequestParser()
        let msg = Array("POST /fhir/Task HTTP/1.1\r\nHost: gw\r\nContent-Length: 11\r\n\r\nhello world".utf8)
        var result: HTTPRequest?
        for b in msg {
            if case .request(let r) = try p.feed([b]) { result = r }
        }
        #expect(result.map { String(decoding: $0.body, as: UTF8.self) } == "hello world")
    }

    @Test func chunkedBodyWithTrailers() throws {
        let e = try parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-T: 1\r\n\r\n")
        guard case .request(let r) = e else { Issue.record("no request"); return }
        #expect(String(decoding: r.body, as: UTF8.self) == "hello world")
    }

    @Test func pipelinedRequestsStayInLeftover() throws {
        var p = HTTPRequestParser()
        let two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
        guard case .request(let a) = try p.feed(Array(two.utf8)) else { Issue.record("first"); return }
        #expect(a.target == "/a")
        p.reset()
        guard case .request(let b) = try p.advance() else { Issue.record("second"); return }
        #expect(b.target == "/b")
    }

    // Request smuggling and framing ambiguities: every one refused with 400.
    @Test func smugglingShapesRefused() {
        refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
        refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400)
        refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400)
        refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400)
        refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400)
        refused("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n folded\r\n\r\n", 400)
        refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400)
        refused("GET / HTTP/1.1\nHost: a\r\n\r\n", 400)
        refused("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400)
        refused("GET /a\u{0}b HTTP/1.1\r\nHost: a\r\n\r\n", 400)
        refused("GET / HTTP/1.1\r\nHost: a\u{1}\r\n\r\n", 400)
        refused("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400)
        refused("GET / HTTP/1.1\r\n\r\n", 400)
        refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)
        refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501)
        refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
        refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505)
        refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400)
        refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", 400)
    }

    @Test func limitsAnswerWithTheRightStatus() {
        var small = HTTPRequestParser.Limits()
        small.maxRequestLine = 64
        small.maxHeaderBytes = 256
        small.maxHeaderCount = 5
        small.maxBodyBytes = 10
        refused("GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, limits: small)
        refused("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 400) + "\r\n\r\n", 431, limits: small)
        refused("GET / HTTP/1.1\r\nHost: a\r\n" + (0..<6).map { "X\($0): 1\r\n" }.joined() + "\r\n", 431, limits: small)
        refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413, limits: small)
        refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n", 413, limits: small)
        // An unterminated head is refused once it passes the limit, not buffered forever.
        refused("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 1000), 431, limits: small)
    }

    @Test func connectionSemantics() throws {
        guard case .request(let r10) = try parse("GET / HTTP/1.0\r\n\r\n") else { Issue.record("1.0"); return }
        #expect(!r10.keepAlive)
        guard case .request(let rc) = try parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") else { Issue.record("close"); return }
        #expect(!rc.keepAlive)
    }
}

extension HTTPRequestParserTests {
    /// Found by the differential run against http-parser: each is refused rather than guessed at.
    @Test func differentialFindingsRefused() {
        refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encodingx: chunked\r\n\r\n", 400)
        refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length0: 5\r\n\r\n", 400)
        refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n", 400)
        refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\t\r\nabcd\r\n0\r\n\r\n", 400)
        refused("GET fhir/metadata HTTP/1.1\r\nHost: a\r\n\r\n", 400)
        refused("BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501)
        refused("GET / HTTP/1.1\r\nHost: a\r\nAccept: caf\u{e9}\r\n\r\n", 400)
    }
}
