import Testing
import Foundation
@testable import Validation

/// The byte-level fast paths of `ASCIIStrings.swift` must give exactly what the Character-level
/// (and Foundation) operations they replace give, on ASCII and non-ASCII input alike.
@Suite struct ASCIIStringsTests {
    /// Deterministic strings over an alphabet rich in separators, CR LF and non-ASCII clusters.
    static let samples: [String] = {
        let alphabet: [String] = ["a", "B", "/", "?", ":", "|", "#", "_", ".", "\r", "\n", "\r\n", "é", "e\u{301}",
                                  "/\u{301}", ":\u{301}", "?\u{20DD}", "\u{600}/", "|\u{200D}", "history", "ん"]
        var out = ["", "/", "//", "a/", "/a", "Patient/1", "Patient/1/_history/2", "Patient?name=x", "urn:uuid:1",
                   "http://x.org/fhir/Patient/1", "http://hl7.org/fhir/ValueSet/x|4.0.1", "|", "a|", "|b",
                   "Patient/é", "Pat\u{301}ient/1", "a:\u{301}b", "x/_history/y", "svg:div", "div"]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<4000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var s = ""
            var r = state
            for _ in 0..<Int(r % 9) {
                r = r &* 6364136223846793005 &+ 1442695040888963407
                s += alphabet[Int((r >> 33) % UInt64(alphabet.count))]
            }
            out.append(s)
        }
        return out
    }()

    static let separators: [UInt8] = Array("/?:|#.".utf8)

    @Test func splitMatchesCharacterSplit() {
        for s in Self.samples {
            for b in Self.separators {
                let c = Character(Unicode.Scalar(b))
                for omit in [true, false] {
                    #expect(s.split(ascii: b, omittingEmptySubsequences: omit) == s.split(separator: c, omittingEmptySubsequences: omit),
                            "split(\(c)) of \(s.debugDescription), omitting \(omit)")
                    let sub = s.dropFirst()
                    #expect(sub.split(ascii: b, omittingEmptySubsequences: omit) == sub.split(separator: c, omittingEmptySubsequences: omit))
                }
            }
        }
    }

    @Test func firstIndexAndContainsMatchCharacterSearch() {
        for s in Self.samples {
            for b in Self.separators {
                let c = Character(Unicode.Scalar(b))
                #expect(s.firstIndex(ofASCII: b) == s.firstIndex(of: c), "firstIndex(\(c)) of \(s.debugDescription)")
                #expect(s.containsCharacter(ascii: b) == s.contains(c))
            }
        }
    }

    @Test func containsMatchesFoundation() {
        let needles = [":", "?", "/", "|", "://", "/_history/", "history", "a/", "é", "e\u{301}", "\r\n", "\n"]
        for s in Self.samples {
            for n in needles {
                let foundation = s.contains(n)  // StringProtocol.contains from Foundation, as the validator used
                #expect(containsASCIIFast(s, n, fallback: { s.contains(n) }) == foundation, "\(s.debugDescription) contains \(n.debugDescription)")
            }
        }
    }

    @Test func canonicalSplit() {
        for s in Self.samples {
            let expected: (String, String?) = {
                guard let bar = s.firstIndex(of: "|") else { return (s, nil) }
                let v = String(s[s.index(after: bar)...])
                return (String(s[..<bar]), v.isEmpty ? nil : v)
            }()
            let got = CanonicalVersion.split(s)
            #expect(got.url == expected.0 && got.version == expected.1, "\(s.debugDescription)")
        }
    }
}
