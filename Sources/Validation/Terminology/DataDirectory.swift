import Foundation

/// Finds the project's data directory (the one holding `Terminologies/manifest.json`) at run time,
/// so that the product runs without `../shared`.
public enum DataDirectory {
    /// Environment variable that names the data directory explicitly.
    public static let environmentVariable = "FHIR_GATEWAY_DATA"

    /// 1. `FHIR_GATEWAY_DATA` when set and not empty;
    /// 2. the nearest ancestor of the executable's directory (symbolic links resolved; `/proc/self/exe`
    ///    when available, else `CommandLine.arguments[0]` against the current directory) that holds
    ///    `Terminologies/manifest.json` — a `.build/debug/fhir-gateway` finds the checkout it was built in;
    /// 3. otherwise the current directory.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              executablePath: String? = nil,
                              currentDirectory: String = FileManager.default.currentDirectoryPath) -> String {
        if let env = environment[environmentVariable], !env.isEmpty { return env }
        let exe = executablePath ?? defaultExecutablePath(currentDirectory: currentDirectory)
        if let exe, let found = search(upFrom: URL(fileURLWithPath: exe).deletingLastPathComponent()) { return found }
        return currentDirectory
    }

    /// The directory of the terminology store inside a data directory.
    public static func terminologies(in dataDirectory: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("Terminologies").path
    }

    static func defaultExecutablePath(currentDirectory: String) -> String? {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        guard let arg0 = CommandLine.arguments.first, !arg0.isEmpty else { return nil }
        let url = arg0.hasPrefix("/") ? URL(fileURLWithPath: arg0)
            : URL(fileURLWithPath: currentDirectory).appendingPathComponent(arg0)
        return url.resolvingSymlinksInPath().path
    }

    static func search(upFrom start: URL) -> String? {
        var dir = start.standardizedFileURL
        let fm = FileManager.default
        while true {
            if fm.fileExists(atPath: dir.appendingPathComponent("Terminologies/manifest.json").path) { return dir.path }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path || dir.path == "/" { return nil }
            dir = parent
        }
    }
}

extension TerminologyStore {
    /// Loads the store found by `DataDirectory.locate()` (or in `directory`) and describes it with the
    /// time the load took; for `fhir-gateway terminology-info`.
    public static func loadReport(directory: String? = nil) throws -> String {
        let dir = directory ?? DataDirectory.terminologies(in: DataDirectory.locate())
        let start = ContinuousClock.now
        let store = try TerminologyStore.load(directory: dir)
        let elapsed = ContinuousClock.now - start
        let concepts = store.allCodeSystems.reduce(0) { $0 + $1.concepts.count }
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return "terminology store \(dir): \(store.allCodeSystems.count) code systems, \(store.allValueSets.count) value sets, "
            + "\(concepts) concepts, reference date \(store.referenceDate); loaded in \(String(format: "%.1f", ms)) ms"
    }
}
