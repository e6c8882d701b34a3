import Gateway
#if canImport(Glibc)
import Glibc
#endif

// Test and measurement helper for the SQLite store (not part of the product).
//   store-crash-writer loop  DB        writes resource + audit per transaction forever, printing each id after COMMIT returns
//   store-crash-writer bench DB N [B]  N resources, B per transaction (default 1), prints inserts/s
/// Unbuffered output straight to a file descriptor: once `write` returns, the parent can read the line.
func emit(_ text: String, fd: Int32 = 1) {
    let bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { exit(3) }
        done += n
    }
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    emit("usage: store-crash-writer loop DB | bench DB N [PER_TX]\n", fd: 2)
    exit(2)
}

func writeOne(_ tx: any StoreWriteTransaction, _ n: Int) throws -> String {
    let r = try tx.create(tenant: "1990000011", type: "Task", keys: [SearchKey("identifier", "urn:test|\(n)")]) { meta in
        Array("{\"resourceType\":\"Task\",\"id\":\"\(meta.id)\",\"meta\":{\"versionId\":\"\(meta.versionId)\",\"lastUpdated\":\"\(meta.lastUpdated.fhirInstant)\"},\"status\":\"requested\",\"intent\":\"order\"}".utf8)
    }
    try tx.audit(AuditEntry(tenant: "1990000011", clientId: "crash-writer", interaction: "create", resourceType: "Task",
                            resourceIds: [r.id], status: 201))
    return r.id
}

do {
    let store = try SQLiteStore(path: args[2])
    switch args[1] {
    case "loop":
        var n = 0
        while true {
            let id = try store.write { tx in try writeOne(tx, n) }
            // Only after COMMIT has returned: this id is acknowledged.
            emit(id + "\n")
            n += 1
        }
    case "bench":
        let total = Int(args.count > 3 ? args[3] : "1000") ?? 1000
        let perTx = max(1, Int(args.count > 4 ? args[4] : "1") ?? 1)
        var ts = timespec(), te = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        var n = 0
        while n < total {
            let batch = min(perTx, total - n)
            let start = n
            try store.write { tx in for i in 0..<batch { _ = try writeOne(tx, start + i) } }
            n += batch
        }
        clock_gettime(CLOCK_MONOTONIC, &te)
        let seconds = Double(te.tv_sec - ts.tv_sec) + Double(te.tv_nsec - ts.tv_nsec) / 1e9
        print("\(total) resources (+\(total) audit rows), \(perTx) per transaction, synchronous=FULL: \(Int(Double(total) / seconds)) inserts/s, \(Int(Double(total / perTx) / seconds)) commits/s")
    default:
        emit("unknown mode \(args[1])\n", fd: 2)
        exit(2)
    }
} catch {
    emit("store-crash-writer: \(error)\n", fd: 2)
    exit(1)
}
