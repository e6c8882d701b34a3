import Testing
@testable import Gateway

/// Differential check of our parser against http-parser: for every input we accept, http-parser must
/// accept the same bytes and see the same method, target, headers and body. Inputs are seeded
/// mutations of realistic requests (a deterministic, bounded run; the libFuzzer target explores further).
@Suite struct HTTPDifferentialTests {
    static let seeds: [String] = [
        "GET /fhir/metadata HTTP/1.1\r\nHost: gw\r\nAccept: application/fhir+json\r\n\r\n",
        "POST /fhir/Task HTTP/1.1\r\nHost: gw\r\nContent-Type: application/fhir+json\r\nContent-Length: 14\r\n\r\n{\"a\":\"b\",\"c\":1}",
        "POST /oauth/token HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ngran\r\n8\r\nt_type=c\r\n0\r\n\r\n",
        "GET /fhir/Task?_lastUpdated=gt2026-01-01T00:00:00%2B01:00&_count=10 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer abc\r\nstruct_idnat: 1750000000\r\n\r\n",
    ]

    struct SplitMix { var s: UInt64; mutating func next() -> UInt64 { s &+= 0x9E3779B97F4A7C15; var z = s; z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) &* 0x94D049BB133111EB; return z ^ (z >> 31) } }

    static let interesting: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x20, 0x3A, 0x2C, 0x3B, 0x7F, 0x80, 0xFF, UInt8(ascii: "0"), UInt8(ascii: "a"), UInt8(ascii: "-")]

    func mutate(_ input: [UInt8], _ rng: inout SplitMix) -> [UInt8] {
        var b = input
        for _ in 0..<(1 + Int(rng.next() % 3)) where !b.isEmpty {
            let i = Int(rng.next() % UInt64(b.count))
            switch rng.next() % 5 {
            case 0: b[i] = Self.interesting[Int(rng.next() % UInt64(Self.interesting.count))]
            case 1: b.remove(at: i)
            case 2: b.insert(Self.interesting[Int(rng.next() % UInt64(Self.interesting.count))], at: i)
            case 3: let j = min(b.count, i + 1 + Int(rng.next() % 12)); b.insert(contentsOf: b[i..<j], at: i)
            default: b[i] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return b
    }

    /// http-parser leaves trailing whitespace in values; RFC 9110 says it is not part of the value.
    static func trimmed(_ s: String) -> String {
        var b = Array(s.utf8)
        while let l = b.last, l == 0x20 || l == 0x09 { b.removeLast() }
        return String(decoding: b, as: UTF8.self)
    }

    @Test func ourAcceptanceImpliesOracleAgreement() {
        var rng = SplitMix(s: 0xF41E)
        var accepted = 0, refused = 0, disagreements: [String] = []
        for round in 0..<20_000 {
            let seed = Array(Self.seeds[round % Self.seeds.count].utf8)
            let input = round < Self.seeds.count ? seed : mutate(seed, &rng)
            var p = HTTPRequestParser()
            guard let event = try? p.feed(input) else { refused += 1; continue }
            guard case .request(let ours) = event else { continue }
            accepted += 1
            let consumed = Array(input[0..<(input.count - p.leftover.count)])
            guard let theirs = HTTPParserOracle.parse(consumed), theirs.complete else {
                disagreements.append("http-parser refused what we accepted: \(String(decoding: consumed, as: UTF8.self).debugDescription)")
                continue
            }
            let ourHeaders = ours.headers.map { ($0.name, $0.value) }
            let theirHeaders = theirs.headers.map { ($0.0, Self.trimmed($0.1)) }
            if ours.method != theirs.method || ours.target != theirs.url || ours.body != theirs.body
                || ourHeaders.count != theirHeaders.count || !zip(ourHeaders, theirHeaders).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) {
                disagreements.append("different parse of \(String(decoding: consumed, as: UTF8.self).debugDescription)")
            }
        }
        print("HTTP differential: \(accepted) accepted by both, \(refused) refused by us, \(disagreements.count) disagreements")
        #expect(accepted > 1000)
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5).joined(separator: "\n"))")
    }
}
