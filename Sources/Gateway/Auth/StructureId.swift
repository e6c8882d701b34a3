/// A Struct_IdNat as the gateway accepts it from a certificate OU or the `struct_idnat` header:
/// `1` + FINESS (9 characters, digits or the Corsican `A`/`B`) or `3` + SIRET (14 digits).
/// Other prefixes (0 ADELI, 2 SIREN, 4 RPPS cabinet) do not identify an establishment here.
public struct StructureId: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable { case finess, siret }
    public let value: String
    public let kind: Kind

    public init?(_ raw: String) {
        let b = Array(raw.utf8)
        guard let first = b.first else { return nil }
        let rest = b.dropFirst()
        let digit: (UInt8) -> Bool = { $0 >= 0x30 && $0 <= 0x39 }
        switch first {
        case UInt8(ascii: "1"):
            guard rest.count == 9, rest.allSatisfy({ digit($0) || $0 == UInt8(ascii: "A") || $0 == UInt8(ascii: "B") }) else { return nil }
            kind = .finess
        case UInt8(ascii: "3"):
            guard rest.count == 14, rest.allSatisfy(digit) else { return nil }
            kind = .siret
        default:
            return nil
        }
        value = raw
    }

    public var description: String { value }

    /// The legal entity a verified certificate speaks for: its single OU, which must be a usable
    /// Struct_IdNat (security.md §2.5). Certificates with zero or several OUs are refused.
    public static func ofCertificate(_ peer: PeerCertificate) -> StructureId? {
        let ous = peer.organizationalUnits
        guard ous.count == 1 else { return nil }
        return StructureId(ous[0])
    }
}
