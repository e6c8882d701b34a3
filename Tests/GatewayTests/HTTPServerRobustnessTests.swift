import Testing
import Foundation
import Synchronization
@testable import Gateway
#if canImport(Glibc)
import Glibc
#endif

/// The server's connection handling, through raw sockets on the plain transport (the serve loop is
/// the same over TLS; the TLS layer has its own tests).
@Suite(.serialized) struct HTTPServerRobustnessTests {
    static func server(_ tweak: (inout HTTPServer.Configuration) -> Void = { _ in },
                       handler: @escaping HTTPServer.Handler = { r, _ in HTTPResponse(status: 200, body: Array("ok \(r.body.count)".utf8)) }) throws -> HTTPServer {
        var c = HTTPServer.Configuration()
        c.port = 0
        tweak(&c)
        let s = try HTTPServer(configuration: c, tls: nil, handler: handler)
        s.start()
        return s
    }

    final class Client {
        let fd: Int32
        init(port: UInt16) {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(fd) }
        func send(_ s: String) { _ = Array(s.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        /// Everything until the server closes (or 5 s pass).
        func readAll() -> String {
            var out: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buf, buf.count, 0)
                if n <= 0 { break }
                out += buf[0..<n]
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    @Test func slowlorisIsCutAtTheHeadDeadline() throws {
        let s = try Self.server { $0.headDeadline = 1; $0.readTimeout = 0.8 }
        defer { s.stop(grace: 1) }
        let c = Client(port: s.port)
        let start = Date()
        c.send("GET / HTTP/1.1\r\nHost: a\r\n")
        for _ in 0..<10 { usleep(250_000); c.send("X") }
        let reply = c.readAll()
        #expect(reply.hasPrefix("HTTP/1.1 408"))
        #expect(Date().timeIntervalSince(start) < 3.5)
    }

    @Test func idleKeepAliveConnectionIsClosed() throws {
        let s = try Self.server { $0.idleTimeout = 0.5 }
        defer { s.stop(grace: 1) }
        let c = Client(port: s.port)
        let start = Date()
        #expect(c.readAll() == "")
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test func halfClosedClientStillGetsItsAnswer() throws {
        let s = try Self.server()
        defer { s.stop(grace: 1) }
        let c = Client(port: s.port)
        c.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
        shutdown(c.fd, Int32(SHUT_WR))
        let reply = c.readAll()
        #expect(reply.hasPrefix("HTTP/1.1 200"))
        #expect(reply.hasSuffix("ok 3"))
    }

    @Test func oversizedBodyGets413WithOperationOutcome() throws {
        let s = try Self.server { $0.limits.maxBodyBytes = 100 }
        defer { s.stop(grace: 1) }
        let c = Client(port: s.port)
        c.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n")
        let reply = c.readAll()
        #expect(reply.hasPrefix("HTTP/1.1 413"))
        #expect(reply.contains("\"resourceType\":\"OperationOutcome\""))
        #expect(reply.contains("Connection: close"))
    }

    @Test func smugglingAttemptGets400AndTheConnectionCloses() throws {
        let s = try Self.server()
        defer { s.stop(grace: 1) }
        let c = Client(port: s.port)
        c.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n")
        let reply = c.readAll()
        #expect(reply.hasPrefix("HTTP/1.1 400"))
        #expect(reply.components(separatedBy: "HTTP/1.1").count == 2, "exactly one response: the smuggled request is never served")
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let s = try Self.server(handler: { r, _ in HTTPResponse(status: 200, body: Array(r.target.utf8)) })
        defer { s.stop(grace: 1) }
        let c = Client(port: s.port)
        c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let reply = c.readAll()
        let bodies = reply.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix(2) }
        #expect(bodies == ["/1", "/2", "/3"])
    }

    @Test func connectionCapRefusesTheExtraConnection() throws {
        let s = try Self.server { $0.maxConnections = 2; $0.idleTimeout = 3 }
        defer { s.stop(grace: 1) }
        let a = Client(port: s.port), b = Client(port: s.port)
        usleep(200_000)
        let c = Client(port: s.port)
        let start = Date()
        #expect(c.readAll() == "")
        #expect(Date().timeIntervalSince(start) < 1, "closed at once, not held")
        a.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(a.readAll().hasPrefix("HTTP/1.1 200"))
        _ = b
    }

    @Test func gracefulStopFinishesTheRequestInFlight() throws {
        let s = try Self.server(handler: { _, _ in usleep(600_000); return HTTPResponse(status: 200, body: Array("done".utf8)) })
        let c = Client(port: s.port)
        c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(150_000)
        let stopped = Mutex(false)
        let t = Thread { s.stop(grace: 5); stopped.withLock { $0 = true } }
        t.start()
        let reply = c.readAll()
        #expect(reply.hasPrefix("HTTP/1.1 200"))
        #expect(reply.contains("Connection: close"))
        #expect(reply.hasSuffix("done"))
        for _ in 0..<100 where !stopped.withLock({ $0 }) { usleep(20_000) }
        #expect(stopped.withLock { $0 })
    }
}
