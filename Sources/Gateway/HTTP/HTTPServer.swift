import Foundation
import FHIRModels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the transport knows about the peer of a request.
public struct ConnectionContext: Sendable {
    public var remoteAddress: String
    /// The verified client certificate (TLS), nil on a plain connection.
    public var peer: PeerCertificate?
    public var tlsVersion: String?

    public init(remoteAddress: String, peer: PeerCertificate?, tlsVersion: String?) {
        self.remoteAddress = remoteAddress; self.peer = peer; self.tlsVersion = tlsVersion
    }
}

/// The HTTP/1.1 server: one thread per connection under a hard cap (measured as the fair model on
/// this 2-core machine: bounded pools starved keep-alive connections), blocking OpenSSL, a read
/// timeout per read, a deadline for a whole request head (slowloris), an idle timeout between
/// keep-alive requests, and a graceful stop that lets in-flight requests finish.
public final class HTTPServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port: UInt16 = 8443
        public var maxConnections = 256
        /// Longest silence inside a request.
        public var readTimeout = 10.0
        /// Longest time to receive a whole request head, however it trickles in.
        public var headDeadline = 15.0
        /// Longest silence between keep-alive requests.
        public var idleTimeout = 30.0
        public var limits = HTTPRequestParser.Limits()
        public init() {}
    }

    public typealias Handler = @Sendable (HTTPRequest, ConnectionContext) -> HTTPResponse
    /// Told of every refused handshake, with a reason for metrics and logs.
    public typealias TLSFailureObserver = @Sendable (String) -> Void
    /// Told of every request the server itself refuses before any handler (malformed, too large,
    /// too slow): status and reason, for the audit trail.
    public typealias RefusalObserver = @Sendable (Int, String) -> Void

    let config: Configuration
    /// The TLS context for new connections; replaced as a whole (new CRLs) by `replaceTLS`, never patched.
    private let tls: Mutex<TLSServerContext?>
    let handler: Handler
    let onTLSFailure: TLSFailureObserver?
    let onRefusal: RefusalObserver?
    private let state = Mutex(State())
    private let listenFD: Int32
    public let port: UInt16

    /// Taken when a connection opens or closes and by `stop()`, never per request: Swift's `Mutex` is a
    /// priority-inheritance futex on Linux, and four locks per request on this one lock cost 30 % of the
    /// server's CPU at 16 keep-alive connections (docs/performance.md, "Gateway").
    struct State: ~Copyable {
        var active = 0
        var started = false
        var listenerClosed = false
        var connections: [ObjectIdentifier: Connection] = [:]
    }

    /// A live connection; `busy` while a request is being received or handled (a graceful stop waits
    /// for those and wakes the others).
    final class Connection: Sendable {
        let stream: any ByteStream & Sendable
        let busy = Atomic<Bool>(false)
        init(_ stream: any ByteStream & Sendable) { self.stream = stream }
    }

    /// Set once by `stop()`; read by every connection between requests.
    private let stopping = Atomic<Bool>(false)

    public enum StartError: Error, CustomStringConvertible {
        case socket(String)
        public var description: String { switch self { case .socket(let m): return "listen: \(m)" } }
    }

    public init(configuration: Configuration, tls: TLSServerContext?, onTLSFailure: TLSFailureObserver? = nil,
                onRefusal: RefusalObserver? = nil, handler: @escaping Handler) throws {
        self.config = configuration
        self.tls = Mutex(tls)
        self.handler = handler
        self.onTLSFailure = onTLSFailure
        self.onRefusal = onRefusal
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartError.socket(String(cString: strerror(errno))) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = configuration.port.bigEndian
        guard inet_pton(AF_INET, configuration.host, &addr.sin_addr) == 1 else {
            Glibc.close(fd); throw StartError.socket("bad listen address \(configuration.host)")
        }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 512) == 0 else {
            let m = String(cString: strerror(errno)); Glibc.close(fd)
            throw StartError.socket("\(configuration.host):\(configuration.port): \(m)")
        }
        var actual = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.listenFD = fd
        self.port = UInt16(bigEndian: actual.sin_port)
    }

    /// Accepts connections on a background thread until `stop()`.
    /// The accept thread owns the listening socket and closes it when it ends: closing it in `stop()`
    /// could let a late-starting accept thread wait on a descriptor number already reused elsewhere.
    public func start() {
        state.withLock { $0.started = true }
        let t = Thread { [self] in
            acceptLoop()
            Glibc.close(listenFD)
            state.withLock { $0.listenerClosed = true }
        }
        t.name = "accept"
        t.start()
    }

    /// Stops accepting, wakes idle keep-alive connections, and waits (up to `grace` seconds) for
    /// in-flight requests (partly received or being handled) to be answered.
    public func stop(grace: Double = 10) {
        stopping.store(true, ordering: .sequentiallyConsistent)
        _ = Glibc.shutdown(listenFD, Int32(SHUT_RDWR))
        // Under the lock: a connection leaves the table before it closes its descriptor, so every
        // descriptor reached here is still its own (not a number already reused elsewhere).
        state.withLock { s in
            for c in s.connections.values where !c.busy.load(ordering: .sequentiallyConsistent) { c.stream.shutdownRead() }
        }
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            if state.withLock({ $0.active == 0 && ($0.listenerClosed || !$0.started) }) { break }
            usleep(10_000)
        }
    }

    deinit {
        if !state.withLock({ $0.started }) { Glibc.close(listenFD) }
    }

    public var activeConnections: Int { state.withLock { $0.active } }

    /// Atomically swaps the TLS context (reloaded trust anchors and CRLs): connections accepted from
    /// now on use it; established ones keep the context they were verified with. No-op on a plain listener.
    public func replaceTLS(_ context: TLSServerContext) {
        tls.withLock { if $0 != nil { $0 = context } }
    }

    private func acceptLoop() {
        while true {
            var addr = sockaddr_in()
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &len) } }
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if stopping.load(ordering: .relaxed) { return }
                if errno == EMFILE || errno == ENFILE { usleep(50_000); continue }
                return
            }
            let admitted = state.withLock { s -> Bool in
                guard !stopping.load(ordering: .relaxed), s.active < config.maxConnections else { return false }
                s.active += 1
                return true
            }
            guard admitted else { Glibc.close(fd); continue }
            var ip = [CChar](repeating: 0, count: 64)
            inet_ntop(AF_INET, &addr.sin_addr, &ip, socklen_t(ip.count))
            let remote = String(decoding: ip.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let t = Thread { [self] in
                serve(fd: fd, remote: remote)
                state.withLock { $0.active -= 1 }
            }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    private func serve(fd: Int32, remote: String) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        Socket.setTimeout(fd, SO_RCVTIMEO, config.readTimeout)
        Socket.setTimeout(fd, SO_SNDTIMEO, config.readTimeout)
        var context = ConnectionContext(remoteAddress: remote, peer: nil, tlsVersion: nil)
        let stream: any ByteStream & Sendable
        if let tls = tls.withLock({ $0 }) {
            guard let s = try? TLSStream(fd: fd, context: tls) else { Glibc.close(fd); return }
            do {
                try s.handshake()
            } catch {
                onTLSFailure?(error.reason)
                s.close()
                return
            }
            context.peer = s.peer
            context.tlsVersion = s.protocolVersion
            stream = s
        } else {
            stream = PlainStream(fd: fd)
        }
        let connection = Connection(stream)
        let id = ObjectIdentifier(connection)
        state.withLock { $0.connections[id] = connection }
        defer {
            state.withLock { _ = $0.connections.removeValue(forKey: id) }
            stream.close()
        }
        var parser = HTTPRequestParser(limits: config.limits)
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            // Between requests: idle timeout; inside a request: read timeout and a whole-head deadline.
            var event: HTTPRequestParser.Event
            do {
                event = try parser.advance()
            } catch {
                respondError(error, on: stream)
                return
            }
            var started: Date?
            while case .needMore = event {
                if stopping.load(ordering: .sequentiallyConsistent) && parser.isIdle { return }
                let idle = parser.isIdle
                if !idle && started == nil { started = Date() }
                var timeout = idle ? config.idleTimeout : config.readTimeout
                if let s = started {
                    let left = config.headDeadline - Date().timeIntervalSince(s)
                    if left <= 0 { refuseSlow(on: stream); return }
                    timeout = min(timeout, left)
                }
                stream.setReadTimeout(timeout)
                let result: Result<Int, StreamError> = buffer.withUnsafeMutableBytes { b in
                    do throws(StreamError) { return .success(try stream.read(into: b)) } catch { return .failure(error) }
                }
                let n: Int
                switch result {
                case .success(let count): n = count
                case .failure(.timeout):
                    if !parser.isIdle { refuseSlow(on: stream) }
                    return
                case .failure: return
                }
                if n == 0 { return } // peer closed (half-close included): nothing more will come
                do {
                    event = try parser.feed(Array(buffer[0..<n]))
                } catch {
                    respondError(error, on: stream)
                    return
                }
                // A request being received is in flight: a graceful stop waits for it too.
                if !parser.isIdle { connection.busy.store(true, ordering: .sequentiallyConsistent) }
            }
            guard case .request(let request) = event else { return }
            connection.busy.store(true, ordering: .sequentiallyConsistent)
            var response = handler(request, context)
            connection.busy.store(false, ordering: .sequentiallyConsistent)
            let keepAlive = request.keepAlive && !stopping.load(ordering: .sequentiallyConsistent)
            if response.header("Server") == nil { response.headers.append(("Server", "fhir-gateway")) }
            do {
                try stream.write(response.serialized(keepAlive: keepAlive, headOnly: request.method == "HEAD", date: HTTPResponse.httpDate()))
            } catch {
                return
            }
            if !keepAlive { return }
            parser.reset()
        }
    }

    private func refuseSlow(on stream: any ByteStream) {
        onRefusal?(408, "request not received in time")
        respond(HTTPResponse(status: 408), keepAlive: false, on: stream)
    }

    private func respondError(_ error: HTTPParseError, on stream: any ByteStream) {
        onRefusal?(error.status, error.message)
        let body = OperationOutcomeBuilder.json([OutcomeIssue(severity: .error, code: error.status == 413 ? .tooLong : .structure,
                                                              message: "HTTP request refused: \(error.message)")])
        respond(HTTPResponse(status: error.status, headers: [("Content-Type", "application/fhir+json")], body: body), keepAlive: false, on: stream)
    }

    private func respond(_ r: HTTPResponse, keepAlive: Bool, on stream: any ByteStream) {
        try? stream.write(r.serialized(keepAlive: keepAlive, date: HTTPResponse.httpDate()))
    }
}

