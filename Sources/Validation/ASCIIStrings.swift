/// Byte-level equivalents of Character-level String operations, for hot paths.
///
/// `String` searches by `Character` walk grapheme clusters (a few hundred instructions per character);
/// Foundation's `contains(_:)` goes through `NSString`. When a string is entirely ASCII, every Character
/// is one byte (the only multi-byte cluster, CR LF, holds no other separator), so searching for an ASCII
/// character or an ASCII substring by bytes gives exactly the same result. Each function here takes that
/// fast path only for ASCII input and otherwise falls back to the Character / Foundation operation it
/// replaces, so results never change.
extension StringProtocol {
    /// Every UTF-8 code unit is ASCII.
    var isAllASCII: Bool {
        if let r = utf8.withContiguousStorageIfAvailable({ Self.asciiOnly($0) }) { return r }
        for b in utf8 where b >= 0x80 { return false }
        return true
    }

    static func asciiOnly(_ buf: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in buf where b >= 0x80 { return false }
        return true
    }

    /// Runs `body` on the UTF-8 bytes when they are contiguous and all ASCII; nil otherwise.
    func withASCIIBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        utf8.withContiguousStorageIfAvailable { buf in Self.asciiOnly(buf) ? body(buf) : nil } ?? nil
    }

    /// `firstIndex(of: Character(ascii))`.
    func firstIndex(ofASCII b: UInt8) -> Index? {
        if let offset = withASCIIBytes({ $0.firstIndex(of: b) }) {
            return offset.map { utf8.index(utf8.startIndex, offsetBy: $0) }
        }
        return firstIndex(of: Character(Unicode.Scalar(b)))
    }

    /// `contains(Character(ascii))`.
    func containsCharacter(ascii b: UInt8) -> Bool {
        if let found = withASCIIBytes({ $0.contains(b) }) { return found }
        return contains(Character(Unicode.Scalar(b)))
    }

    /// `split(separator: Character(ascii), omittingEmptySubsequences:)`.
    func split(ascii b: UInt8, omittingEmptySubsequences: Bool = true) -> [SubSequence] {
        let base = utf8.startIndex
        let parts: [SubSequence]? = withASCIIBytes { buf in
            var out: [SubSequence] = []
            var start = 0
            for k in 0..<buf.count where buf[k] == b {
                if !omittingEmptySubsequences || start < k {
                    out.append(self[utf8.index(base, offsetBy: start)..<utf8.index(base, offsetBy: k)])
                }
                start = k + 1
            }
            if !omittingEmptySubsequences || start < buf.count {
                out.append(self[utf8.index(base, offsetBy: start)..<utf8.index(base, offsetBy: buf.count)])
            }
            return out
        }
        if let parts { return parts }
        return split(separator: Character(Unicode.Scalar(b)), omittingEmptySubsequences: omittingEmptySubsequences)
    }
}

/// Whether `haystack` contains `needle` as Foundation's `StringProtocol.contains(_:)` decides it: by bytes
/// when both are ASCII (no normalisation can apply), else through `fallback` (the Foundation call).
func containsASCIIFast<S: StringProtocol>(_ haystack: S, _ needle: String, fallback: () -> Bool) -> Bool {
    // 1: found, 0: not found, -1: decide through the fallback.
    let answer: Int = haystack.withASCIIBytes { h in
        needle.withASCIIBytes { n -> Int in
            guard n.count > 0 else { return -1 }
            guard h.count >= n.count else { return 0 }
            let first = n[0]
            for i in 0...(h.count - n.count) where h[i] == first {
                var k = 1
                while k < n.count && h[i + k] == n[k] { k += 1 }
                if k == n.count { return 1 }
            }
            return 0
        } ?? -1
    } ?? -1
    return answer < 0 ? fallback() : answer == 1
}
