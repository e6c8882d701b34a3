/// Pure checks of French identifiers: format and control key. No I/O, no tree: the gateway reuses them
/// for HTTP headers (`struct_idnat`) and for domain objects. Every `validate` returns nil when the value
/// is acceptable, otherwise the rule code and a message saying what to fix. Rules: docs/french-rules.md.

@inline(__always) private func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

/// Luhn (mod 10) over decimal digits, the rightmost digit being the check digit.
enum Luhn {
    static func isValid(_ ascii: some Collection<UInt8>) -> Bool {
        var sum = 0
        var double = false
        for b in ascii.reversed() {
            guard isDigit(b) else { return false }
            var d = Int(b - 0x30)
            if double { d *= 2; if d > 9 { d -= 9 } }
            sum += d
            double.toggle()
        }
        return !ascii.isEmpty && sum % 10 == 0
    }
}

/// INS: NIR (`urn:oid:1.2.250.1.213.1.4.8`) and NIA (`…4.9`), plus the FR Core test and demonstration
/// NIR systems (`…4.10`, `…4.11`). 13 characters then a 2-digit key = 97 − (number mod 97); for Corsica
/// (`2A`/`2B` at positions 6–7) the letter counts as 0 and 1,000,000 (2A) or 2,000,000 (2B) is subtracted
/// before the modulo, which amounts to reading 2A as 19 and 2B as 18.
public enum INS {
    public static let nirSystem = "urn:oid:1.2.250.1.213.1.4.8"
    public static let niaSystem = "urn:oid:1.2.250.1.213.1.4.9"
    public static let nirTestSystem = "urn:oid:1.2.250.1.213.1.4.10"
    public static let nirDemoSystem = "urn:oid:1.2.250.1.213.1.4.11"

    /// Identifier systems whose values are INS numbers, with the name used in messages.
    public static let systems: [String: String] = [
        nirSystem: "INS-NIR", niaSystem: "INS-NIA", nirTestSystem: "INS-NIR (test)", nirDemoSystem: "INS-NIR (demonstration)",
    ]

    /// The numeric value of a 13-character INS body (Corsica adjusted), or nil when malformed.
    static func number(_ body: ArraySlice<UInt8>) -> UInt64? {
        guard body.count == 13 else { return nil }
        var n: UInt64 = 0
        var corsica: UInt64 = 0
        for (i, b) in body.enumerated() {
            var d: UInt64
            if isDigit(b) {
                d = UInt64(b - 0x30)
            } else if i == 6 && body[body.startIndex + 5] == UInt8(ascii: "2") && (b == UInt8(ascii: "A") || b == UInt8(ascii: "B")) {
                d = 0
                corsica = b == UInt8(ascii: "A") ? 1_000_000 : 2_000_000
            } else {
                return nil
            }
            n = n * 10 + d
        }
        return n - corsica
    }

    /// The control key of a 13-character INS number (1…97), or nil when the number is malformed.
    public static func key(of body: String) -> Int? {
        number(ArraySlice(body.utf8)).map { 97 - Int($0 % 97) }
    }

    /// Checks a 15-character INS (NIR or NIA: same structure and key). `label` names it in messages.
    public static func validate(_ value: String, label: String = "INS-NIR") -> IdentifierProblem? {
        let b = Array(value.utf8)
        guard b.count == 15 else {
            return IdentifierProblem(.insFormat, "\(label) must be 15 characters, the 13-character number then the 2-digit key, without spaces or separators; this value has \(value.count).")
        }
        guard let n = number(b[0..<13]) else {
            return IdentifierProblem(.insFormat, "\(label) may contain only digits, except '2A' or '2B' (Corsica, upper case) at positions 6–7.")
        }
        guard isDigit(b[13]), isDigit(b[14]) else {
            return IdentifierProblem(.insFormat, "\(label) must end with a 2-digit control key.")
        }
        let key = Int(b[13] - 0x30) * 10 + Int(b[14] - 0x30)
        // The expected key is deliberately not disclosed: a wrong key usually means a mistyped number.
        if key != 97 - Int(n % 97) {
            return IdentifierProblem(.insKey, "\(label) control key does not match its first 13 characters: the number was probably mistyped; take it again from the INSi teleservice response.")
        }
        return nil
    }

    public static func isValidNIR(_ value: String) -> Bool { validate(value) == nil }
    /// The NIA has the NIR structure and key.
    public static func isValidNIA(_ value: String) -> Bool { validate(value, label: "INS-NIA") == nil }
}

/// FINESS number (EJ or EG): 9 characters, the department (2 digits, or `2A`/`2B` for Corsica), 6 digits,
/// then a Luhn check digit over the 9 digits. The key rule of Corsican numbers is not published in our
/// sources: for them only the format is checked (see docs/french-rules.md).
public enum FINESS {
    public static let system = "https://finess.esante.gouv.fr"

    public static func isCorsican(_ value: String) -> Bool {
        value.hasPrefix("2A") || value.hasPrefix("2B")
    }

    public static func validate(_ value: String, context: String = "FINESS") -> IdentifierProblem? {
        let b = Array(value.utf8)
        guard b.count == 9 else {
            return IdentifierProblem(.finessFormat, "\(context) '\(value)' must be 9 characters (FINESS EJ or EG number); it has \(value.count).")
        }
        let corsica = b[0] == UInt8(ascii: "2") && (b[1] == UInt8(ascii: "A") || b[1] == UInt8(ascii: "B"))
        guard b[(corsica ? 2 : 0)...].allSatisfy(isDigit) else {
            return IdentifierProblem(.finessFormat, "\(context) '\(value)' may contain only digits, except '2A' or '2B' (Corsica) as its first two characters.")
        }
        if !corsica && !Luhn.isValid(b) {
            return IdentifierProblem(.finessKey, "\(context) '\(value)': the last digit is not the FINESS control key (Luhn) of the number; check the number against the FINESS register.")
        }
        return nil
    }

    public static func isValid(_ value: String) -> Bool { validate(value) == nil }
}

/// SIRET (establishment, 14 digits: SIREN + NIC + key), Luhn over the 14 digits. La Poste establishments
/// (SIREN 356000000) use another rule: the sum of the 14 digits is a multiple of 5.
public enum SIRET {
    /// `https://sirene.fr` (ROR, FR Core); the legacy `http://sirene.fr` is accepted on input.
    public static let systems: Set<String> = ["https://sirene.fr", "http://sirene.fr"]
    static let laPosteSIREN = Array("356000000".utf8)

    public static func validate(_ value: String, context: String = "SIRET") -> IdentifierProblem? {
        let b = Array(value.utf8)
        guard b.count == 14, b.allSatisfy(isDigit) else {
            return IdentifierProblem(.siretFormat, "\(context) '\(value)' must be 14 digits (SIREN + NIC + key), without spaces.")
        }
        if Luhn.isValid(b) { return nil }
        if b.prefix(9).elementsEqual(laPosteSIREN) && b.reduce(0, { $0 + Int($1 - 0x30) }) % 5 == 0 { return nil }
        return IdentifierProblem(.siretKey, "\(context) '\(value)' fails the SIRET control key (Luhn); check the number against the SIRENE register.")
    }

    public static func isValid(_ value: String) -> Bool { validate(value) == nil }
}

/// SIREN (legal unit, 9 digits), Luhn over the 9 digits.
public enum SIREN {
    public static func validate(_ value: String, context: String = "SIREN") -> IdentifierProblem? {
        let b = Array(value.utf8)
        guard b.count == 9, b.allSatisfy(isDigit) else {
            return IdentifierProblem(.siretFormat, "\(context) '\(value)' must be 9 digits, without spaces.")
        }
        if !Luhn.isValid(b) {
            return IdentifierProblem(.sirenKey, "\(context) '\(value)' fails the SIREN control key (Luhn); check the number against the SIRENE register.")
        }
        return nil
    }

    public static func isValid(_ value: String) -> Bool { validate(value) == nil }
}

/// National structure identifier (`idNat_Struct`, system `urn:oid:1.2.250.1.71.4.2.2`): a TRE_G07 type
/// prefix then the identifier. SDO (Task input idNat_Struct, Consent.meta.source, `struct_idnat` header)
/// allows only `1` + FINESS (10 characters) and `3` + SIRET (15 characters).
public enum IdNatStruct {
    public static let system = "urn:oid:1.2.250.1.71.4.2.2"

    public enum Kind: UInt8, Sendable, CaseIterable {
        case adeliRang = 0x30, finess = 0x31, siren = 0x32, siret = 0x33, rppsRang = 0x34
        var label: String {
            switch self {
            case .adeliRang: "0 (ADELI rang)"; case .finess: "1 (FINESS)"; case .siren: "2 (SIREN)"
            case .siret: "3 (SIRET)"; case .rppsRang: "4 (RPPS rang)"
            }
        }
    }

    /// What SDO accepts for the ESMS: `1` + FINESS or `3` + SIRET.
    public static let sdoKinds: Set<Kind> = [.finess, .siret]

    public static func validate(_ value: String, allowed: Set<Kind> = sdoKinds, context: String = "idNat_Struct") -> IdentifierProblem? {
        let allowedText = Kind.allCases.filter(allowed.contains).map(\.label).joined(separator: ", ")
        guard let first = value.utf8.first, let kind = Kind(rawValue: first), allowed.contains(kind) else {
            var hint = ""
            if value.utf8.count == 9 && FINESS.validate(value) == nil { hint = " This looks like a bare FINESS: send '1\(value)'." }
            if value.utf8.count == 14 && SIRET.validate(value) == nil { hint = " This looks like a bare SIRET: send '3\(value)'." }
            return IdentifierProblem(.idNatStructFormat, "\(context) '\(value)' must start with its type prefix, one of \(allowedText), followed by the identifier.\(hint)")
        }
        let rest = String(decoding: value.utf8.dropFirst(), as: UTF8.self)
        switch kind {
        case .finess:
            guard rest.utf8.count == 9 else {
                return IdentifierProblem(.idNatStructFormat, "\(context) '\(value)' with prefix 1 must be 10 characters: '1' then the 9-character FINESS.")
            }
            return FINESS.validate(rest, context: "FINESS in \(context)")
        case .siret:
            guard rest.utf8.count == 14 else {
                return IdentifierProblem(.idNatStructFormat, "\(context) '\(value)' with prefix 3 must be 15 characters: '3' then the 14-digit SIRET.")
            }
            return SIRET.validate(rest, context: "SIRET in \(context)")
        case .siren:
            guard rest.utf8.count == 9 else {
                return IdentifierProblem(.idNatStructFormat, "\(context) '\(value)' with prefix 2 must be 10 characters: '2' then the 9-digit SIREN.")
            }
            return SIREN.validate(rest, context: "SIREN in \(context)")
        case .adeliRang, .rppsRang:
            guard !rest.isEmpty else {
                return IdentifierProblem(.idNatStructFormat, "\(context) '\(value)' has a type prefix but no identifier.")
            }
            return nil
        }
    }

    public static func isValid(_ value: String, allowed: Set<Kind> = sdoKinds) -> Bool { validate(value, allowed: allowed) == nil }
}
