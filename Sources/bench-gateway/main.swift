import Foundation
import COpenSSL

// Load client for the gateway: N keep-alive mTLS connections (one thread each, like the server's
// model), one request template or a file of them, a fixed total of requests; prints throughput and
// latency percentiles and, given the server's pid, its resident memory before and after.
//
//   bench-gateway --port 8443 --ca ca.crt --cert c.crt --key c.key --connections 16 --requests 100000 \
//       [--method POST --path /fhir/Task --header 'K: V'… --body FILE | --requests-file FILE] [--server-pid PID] [--label NAME]
//
// --requests-file: one request per line, `METHOD PATH [BODYFILE]` (a relative BODYFILE is read from
// the file's directory; `#` lines and blank lines are skipped); the --header values apply to all.
// Request k of connection i is template (i + k × connections) mod count: concurrent connections send
// different templates, and every template is used in turn (POSTs that must differ, paging URLs).

struct Options {
    var host = "127.0.0.1", port: UInt16 = 8443
    var ca = "", cert = "", key = ""
    var connections = 1, requests = 10_000, warmup = 200
    var method = "GET", path = "/fhir/metadata"
    var headers: [String] = []
    var body: [UInt8] = []
    var requestsFile: String?
    var serverPid: Int32?
    var label = ""
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("bench-gateway: \(message)\n".utf8))
    exit(2)
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    func value(_ name: String) -> String {
        guard let v = args.popFirst() else { fail("\(name) needs a value") }
        return v
    }
    while let a = args.popFirst() {
        switch a {
        case "--host": o.host = value(a)
        case "--port": o.port = UInt16(value(a)) ?? { fail("bad --port") }()
        case "--ca": o.ca = value(a)
        case "--cert": o.cert = value(a)
        case "--key": o.key = value(a)
        case "--connections": o.connections = Int(value(a)) ?? { fail("bad --connections") }()
        case "--requests": o.requests = Int(value(a)) ?? { fail("bad --requests") }()
        case "--warmup": o.warmup = Int(value(a)) ?? { fail("bad --warmup") }()
        case "--method": o.method = value(a)
        case "--path": o.path = value(a)
        case "--header": o.headers.append(value(a))
        case "--body":
            let f = value(a)
            guard let d = FileManager.default.contents(atPath: f) else { fail("cannot read \(f)") }
            o.body = Array(d)
        case "--requests-file": o.requestsFile = value(a)
        case "--server-pid": o.serverPid = Int32(value(a))
        case "--label": o.label = value(a)
        default: fail("unknown argument \(a)")
        }
    }
    guard !o.ca.isEmpty, !o.cert.isEmpty, !o.key.isEmpty else { fail("--ca, --cert and --key are required") }
    guard o.connections >= 1, o.requests >= o.connections else { fail("--requests must be ≥ --connections ≥ 1") }
    return o
}

/// VmRSS and VmHWM of a process, in MiB.
func memory(of pid: Int32) -> (rss: Double, peak: Double)? {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    func field(_ name: String) -> Double? {
        guard let line = s.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
        return line.split(separator: " ").compactMap { Double($0) }.first.map { $0 / 1024 }
    }
    guard let rss = field("VmRSS"), let peak = field("VmHWM") else { return nil }
    return (rss, peak)
}

/// CPU time (user + system) a process has used, in seconds (/proc/PID/stat fields 14 and 15).
func cpuSeconds(of pid: Int32) -> Double? {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = s.lastIndex(of: ")") else { return nil }
    // Fields after "(comm)": state is field 3, so utime (14) and stime (15) are at offsets 11 and 12.
    let fields = s[s.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// One keep-alive TLS connection.
final class Connection {
    let ssl: OpaquePointer
    let fd: Int32
    var buffer = [UInt8](repeating: 0, count: 256 * 1024)
    var pending: [UInt8] = []

    init(ctx: OpaquePointer, host: String, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { fail("connect: \(String(cString: strerror(errno)))") }
        guard let s = SSL_new(ctx) else { fail("SSL_new") }
        ssl = s
        SSL_set_fd(ssl, fd)
        guard SSL_connect(ssl) == 1 else { fail("TLS handshake refused (\(ERR_get_error()))") }
    }

    deinit { SSL_shutdown(ssl); SSL_free(ssl); close(fd) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            guard n > 0 else { fail("SSL_write failed") }
            off += Int(n)
        }
    }

    /// Reads one response (Content-Length framing, which the gateway always uses); returns its status.
    func receive() -> Int {
        while true {
            if let end = headerEnd() {
                let head = String(decoding: pending[..<end], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
                let length = lines.dropFirst().compactMap { l -> Int? in
                    let parts = l.split(separator: ":", maxSplits: 1)
                    return parts.count == 2 && parts[0].lowercased() == "content-length" ? Int(parts[1].trimmingCharacters(in: .whitespaces)) : nil
                }.first ?? 0
                let total = end + 4 + length
                while pending.count < total { fill() }
                pending.removeFirst(total)
                return status
            }
            fill()
        }
    }

    private func headerEnd() -> Int? {
        guard pending.count >= 4 else { return nil }
        for i in 0...(pending.count - 4) where pending[i] == 13 && pending[i + 1] == 10 && pending[i + 2] == 13 && pending[i + 3] == 10 { return i }
        return nil
    }

    private func fill() {
        let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        guard n > 0 else { fail("connection closed by the server (SSL_read \(n))") }
        pending.append(contentsOf: buffer[..<Int(n)])
    }
}

let options = parseOptions()
signal(SIGPIPE, SIG_IGN)
guard let ctx = SSL_CTX_new(TLS_client_method()) else { fail("SSL_CTX_new") }
_ = shim_SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
guard SSL_CTX_load_verify_locations(ctx, options.ca, nil) == 1 else { fail("cannot load CA \(options.ca)") }
SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
guard SSL_CTX_use_certificate_chain_file(ctx, options.cert) == 1, SSL_CTX_use_PrivateKey_file(ctx, options.key, SSL_FILETYPE_PEM) == 1 else {
    fail("cannot load client certificate/key")
}

/// The bytes of one request.
func request(method: String, path: String, body: [UInt8]) -> [UInt8] {
    var head = "\(method) \(path) HTTP/1.1\r\nHost: \(options.host):\(options.port)\r\n"
    for h in options.headers { head += h + "\r\n" }
    if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
    head += "\r\n"
    return Array(head.utf8) + body
}

/// The templates of --requests-file, else the one request of --method/--path/--body.
func templates() -> [[UInt8]] {
    guard let file = options.requestsFile else { return [request(method: options.method, path: options.path, body: options.body)] }
    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { fail("cannot read \(file)") }
    let directory = URL(fileURLWithPath: file).deletingLastPathComponent()
    var out: [[UInt8]] = []
    for (n, line) in text.split(separator: "\n").enumerated() {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let method = fields.first, !method.hasPrefix("#") else { continue }
        guard fields.count == 2 || fields.count == 3 else { fail("\(file):\(n + 1): METHOD PATH [BODYFILE] expected") }
        var body: [UInt8] = []
        if fields.count == 3 {
            let path = fields[2].hasPrefix("/") ? fields[2] : directory.appendingPathComponent(fields[2]).path
            guard let d = FileManager.default.contents(atPath: path) else { fail("\(file):\(n + 1): cannot read \(path)") }
            body = Array(d)
        }
        out.append(request(method: method, path: fields[1], body: body))
    }
    guard !out.isEmpty else { fail("\(file): no request") }
    return out
}
let requests = templates()

let memoryBefore = options.serverPid.flatMap(memory(of:))
var cpuBefore: Double?
let perConnection = options.requests / options.connections
nonisolated(unsafe) var latencies = [[UInt32]](repeating: [], count: options.connections)
nonisolated(unsafe) var statuses = [[Int: Int]](repeating: [:], count: options.connections)
let ready = DispatchGroup(), start = DispatchSemaphore(value: 0), done = DispatchGroup()
nonisolated(unsafe) let sharedCtx = ctx
for i in 0..<options.connections {
    ready.enter(); done.enter()
    let t = Thread {
        // The connection is closed (SSL_free) before `done` lets the main thread exit, whose OpenSSL clean-up
        // would otherwise race with it.
        do {
            let c = Connection(ctx: sharedCtx, host: options.host, port: options.port)
            var k = 0
            func next() -> [UInt8] {
                defer { k += 1 }
                return requests[(i + k * options.connections) % requests.count]
            }
            for _ in 0..<min(options.warmup, perConnection) { c.send(next()); _ = c.receive() }
            ready.leave()
            start.wait()
            var lat = [UInt32](); lat.reserveCapacity(perConnection)
            var st: [Int: Int] = [:]
            var t0 = timespec(), t1 = timespec()
            for _ in 0..<perConnection {
                let r = next()
                clock_gettime(CLOCK_MONOTONIC, &t0)
                c.send(r)
                let s = c.receive()
                clock_gettime(CLOCK_MONOTONIC, &t1)
                lat.append(UInt32(clamping: (Int(t1.tv_sec - t0.tv_sec) * 1_000_000_000 + Int(t1.tv_nsec - t0.tv_nsec)) / 1000))
                st[s, default: 0] += 1
            }
            latencies[i] = lat; statuses[i] = st
        }
        done.leave()
    }
    t.stackSize = 1 << 20
    t.start()
}
ready.wait()
cpuBefore = options.serverPid.flatMap(cpuSeconds(of:))
let began = DispatchTime.now().uptimeNanoseconds
for _ in 0..<options.connections { start.signal() }
done.wait()
let seconds = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
let all = latencies.flatMap { $0 }.sorted()
var byStatus: [Int: Int] = [:]
for s in statuses { for (k, v) in s { byStatus[k, default: 0] += v } }
func pct(_ p: Double) -> Double { Double(all[min(all.count - 1, Int(Double(all.count) * p))]) / 1000 }
let memoryAfter = options.serverPid.flatMap(memory(of:))
let cpuAfter = options.serverPid.flatMap(cpuSeconds(of:))
let statusText = byStatus.keys.sorted().map { "\($0):\(byStatus[$0]!)" }.joined(separator: " ")
let what = options.requestsFile.map { "\(URL(fileURLWithPath: $0).lastPathComponent) (\(requests.count) requests)" } ?? "\(options.method) \(options.path)"
var line = String(format: "%@ %@ conns=%d requests=%d %.0f req/s p50=%.2f ms p99=%.2f ms max=%.2f ms statuses=[%@]",
                  options.label, what, options.connections, all.count, Double(all.count) / seconds,
                  pct(0.50), pct(0.99), Double(all.last ?? 0) / 1000, statusText)
if let b = cpuBefore, let a = cpuAfter {
    // Server CPU per request: steadier than the wall clock on a machine shared with other work.
    line += String(format: " server CPU %.3f ms/req", (a - b) * 1000 / Double(max(1, all.count)))
}
if let b = memoryBefore, let a = memoryAfter {
    line += String(format: " server RSS %.1f → %.1f MiB (peak %.1f)", b.rss, a.rss, a.peak)
}
print(line)
exit(byStatus.keys.allSatisfy { (200..<300).contains($0) } ? 0 : 1)
