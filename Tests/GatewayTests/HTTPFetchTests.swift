import Testing
import Foundation
@testable import Gateway
#if canImport(Glibc)
import Glibc
#endif

/// The libcurl GET helper against the project's own HTTP server, in process (plain and mutual TLS).
@Suite struct HTTPFetchTests {
    static func plainServer(_ handler: @escaping HTTPServer.Handler) throws -> HTTPServer {
        var config = HTTPServer.Configuration()
        config.port = 0
        let server = try HTTPServer(configuration: config, tls: nil, handler: handler)
        server.start()
        return server
    }

    static let echo: HTTPServer.Handler = { request, _ in
        switch request.target {
        case "/big": return HTTPResponse(status: 200, body: [UInt8](repeating: 0x41, count: 5000))
        case "/moved": return HTTPResponse(status: 302, headers: [("Location", "/hello")])
        case "/slow": usleep(1_500_000); return HTTPResponse(status: 200)
        default:
            let seen = request.header("X-Probe") ?? "-"
            return HTTPResponse(status: request.target == "/hello" ? 200 : 404, headers: [("Content-Type", "text/plain"), ("ETag", "\"v7\"")],
                                body: Array("\(request.method) \(request.target) probe=\(seen)".utf8))
        }
    }

    @Test func getsStatusHeadersAndBody() throws {
        let server = try Self.plainServer(Self.echo)
        defer { server.stop(grace: 1) }
        var request = HTTPFetch.Request(url: "http://127.0.0.1:\(server.port)/hello")
        request.headers = [("X-Probe", "abc")]
        let r = try HTTPFetch.get(request)
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self) == "GET /hello probe=abc")
        #expect(r.header("etag") == "\"v7\"")
        #expect(r.header("Content-Type") == "text/plain")
        // Any HTTP status is an answer, not a failure.
        #expect(try HTTPFetch.get(.init(url: "http://127.0.0.1:\(server.port)/nothing")).status == 404)
    }

    @Test func redirectsAreFollowedOnlyWhenAsked() throws {
        let server = try Self.plainServer(Self.echo)
        defer { server.stop(grace: 1) }
        var request = HTTPFetch.Request(url: "http://127.0.0.1:\(server.port)/moved")
        let notFollowed = try HTTPFetch.get(request)
        #expect(notFollowed.status == 302 && notFollowed.header("Location") == "/hello")
        request.maxRedirects = 2
        let followed = try HTTPFetch.get(request)
        #expect(followed.status == 200 && String(decoding: followed.body, as: UTF8.self).hasPrefix("GET /hello"))
        #expect(followed.header("Location") == nil, "headers are those of the final response")
    }

    @Test func boundsAndRefusals() throws {
        let server = try Self.plainServer(Self.echo)
        defer { server.stop(grace: 1) }
        var big = HTTPFetch.Request(url: "http://127.0.0.1:\(server.port)/big")
        big.maxBodyBytes = 4096
        #expect(throws: HTTPFetch.Failure.tooLarge(limit: 4096)) { try HTTPFetch.get(big) }
        big.maxBodyBytes = 5000
        #expect(try HTTPFetch.get(big).body.count == 5000)

        var slow = HTTPFetch.Request(url: "http://127.0.0.1:\(server.port)/slow")
        slow.timeoutSeconds = 0.3
        do { _ = try HTTPFetch.get(slow); Issue.record("timeout expected") } catch {
            guard case .transport(let code, _) = error else { Issue.record("\(error)"); return }
            #expect(code == 28, "CURLE_OPERATION_TIMEDOUT")
        }
        do { _ = try HTTPFetch.get(.init(url: "file:///etc/passwd")); Issue.record("file: must be refused") } catch {
            guard case .transport(let code, _) = error else { Issue.record("\(error)"); return }
            #expect(code == 1, "CURLE_UNSUPPORTED_PROTOCOL")
        }
        var httpsOnly = HTTPFetch.Request(url: "http://127.0.0.1:\(server.port)/hello")
        httpsOnly.schemes = "https"
        #expect(throws: HTTPFetch.Failure.self) { try HTTPFetch.get(httpsOnly) }
        var injected = HTTPFetch.Request(url: "http://127.0.0.1:\(server.port)/hello")
        injected.headers = [("X-Probe", "a\r\nX-Evil: 1")]
        #expect(throws: HTTPFetch.Failure.invalidRequest("header X-Probe is malformed")) { try HTTPFetch.get(injected) }
        #expect(throws: HTTPFetch.Failure.self) { try HTTPFetch.get(.init(url: "http://127.0.0.1:\(server.port)/a b")) }
    }

    @Test func connectionRefusedIsATransportFailure() throws {
        let server = try Self.plainServer(Self.echo)
        let port = server.port
        server.stop(grace: 1)
        do { _ = try HTTPFetch.get(.init(url: "http://127.0.0.1:\(port)/hello")); Issue.record("refused expected") } catch {
            guard case .transport(let code, let message) = error else { Issue.record("\(error)"); return }
            #expect(code == 7, "CURLE_COULDNT_CONNECT: \(message)")
        }
    }

    /// HTTPS with a private CA and a client certificate (what the ROR client needs against an mTLS API).
    @Test func mutualTLSWithAPrivateCA() throws {
        let server = try TLSServerTests.startServer()
        defer { server.stop(grace: 1) }
        var request = HTTPFetch.Request(url: "https://127.0.0.1:\(server.port)/fhir/metadata")
        request.caFile = TestSupport.pkiFile("ca.crt")
        request.clientCertificateFile = TestSupport.pkiFile("dui-a.crt")
        request.clientKeyFile = TestSupport.pkiFile("dui-a.key")
        let r = try HTTPFetch.get(request)
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self).hasPrefix("GET /fhir/metadata OU=1990000011"))
        // Without the client certificate the handshake is refused; without the CA the server is not trusted.
        request.clientCertificateFile = nil; request.clientKeyFile = nil
        #expect(throws: HTTPFetch.Failure.self) { try HTTPFetch.get(request) }
        var untrusted = HTTPFetch.Request(url: "https://127.0.0.1:\(server.port)/fhir/metadata")
        untrusted.clientCertificateFile = TestSupport.pkiFile("dui-a.crt")
        untrusted.clientKeyFile = TestSupport.pkiFile("dui-a.key")
        #expect(throws: HTTPFetch.Failure.self) { try HTTPFetch.get(untrusted) }
    }
}
