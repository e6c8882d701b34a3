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
        for b in utf8 where b >= 0x80 { return false }
        return true
    }

    /// `firstIndex(of: Character(ascii))`.
    func firstIndex(ofASCII b: UInt8) -> Index? {
        if isAllASCII { return utf8.firstIndex(of: b) }
        return firstIndex(of: Character(Unicode.Scalar(b)))
    }

    /// `contains(Character(ascii))` (and Foundation's `contains(String)` with that one-character string:
    /// see `containsASCII(_:)`).
    func containsCharacter(ascii b: UInt8) -> Bool {
        if isAllASCII { return utf8.contains(b) }
        return contains(Character(Unicode.Scalar(b)))
    }

    /// `split(separator: Character(ascii), omittingEmptySubsequences:)`.
    func split(ascii b: UInt8, omittingEmptySubsequences: Bool = true) -> [SubSequence] {
        if isAllASCII {
            var out: [SubSequence] = []
            var start = startIndex
            var i = utf8.startIndex
            let end = utf8.endIndex
            while i < end {
                if utf8[i] == b {
                    if !omittingEmptySubsequences || start < i { out.append(self[start..<i]) }
                    start = utf8.index(after: i)
                }
                i = utf8.index(after: i)
            }
            if !omittingEmptySubsequences || start < endIndex { out.append(self[start..<endIndex]) }
            return out
        }
        return split(separator: Character(Unicode.Scalar(b)), omittingEmptySubsequences: omittingEmptySubsequences)
    }
}

/// Whether `haystack` contains `needle` as Foundation's `StringProtocol.contains(_:)` decides it: by bytes
/// when both are ASCII (no normalisation can apply), else through `fallback` (the Foundation call).
func containsASCIIFast<S: StringProtocol>(_ haystack: S, _ needle: String, fallback: () -> Bool) -> Bool {
    guard haystack.isAllASCII, needle.isAllASCII else { return fallback() }
    let n = Array(needle.utf8)
    if n.isEmpty { return fallback() }
    let h = haystack.utf8
    var i = h.startIndex
    while i < h.endIndex {
        var j = i, k = 0
        while k < n.count, j < h.endIndex, h[j] == n[k] { j = h.index(after: j); k += 1 }
        if k == n.count { return true }
        i = h.index(after: i)
    }
    return false
}
