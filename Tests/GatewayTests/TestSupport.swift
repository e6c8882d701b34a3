import Foundation

enum TestSupport {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct ProcessResult { var status: Int32; var stdout: String; var stderr: String }

    /// Runs a command to completion (bounded by `timeout` seconds).
    @discardableResult
    static func run(_ executable: String, _ args: [String], timeout: Double = 30) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return ProcessResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// `<prefix><pid>` in the temporary directory for this process, after removing those of test
    /// processes that are gone (Swift Testing has no end-of-run hook to remove our own).
    static func perProcessDirectory(_ prefix: String) -> URL {
        let tmp = FileManager.default.temporaryDirectory
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(at: tmp.appendingPathComponent(name))
            }
        }
        return tmp.appendingPathComponent(prefix + "\(getpid())")
    }

    /// A fresh test PKI (scripts/make-test-pki) in a temporary directory, made once per process.
    static let pki: URL = {
        let dir = perProcessDirectory("gw-pki-")
        let r = try! run(repoRoot.appendingPathComponent("scripts/make-test-pki").path,
                         [dir.path, "dui-a:1990000011:dui-a.test", "dui-b:1990000029:dui-b.test"])
        precondition(r.status == 0, "make-test-pki failed: \(r.stderr)")
        return dir
    }()

    static func pkiFile(_ name: String) -> String { pki.appendingPathComponent(name).path }
}
