import Testing
import Foundation
@testable import Validation

@Suite struct FrenchRulesCheckDigitTests {
    // MARK: INS (NIR / NIA)

    @Test func nirKeysFromTheTestVectors() {
        // Rows of shared/reference/frcore/nir-test-vectors.tsv (numbers only).
        #expect(INS.key(of: "2550814168025") == 38)
        #expect(INS.key(of: "2940375120005") == 91)
        #expect(INS.key(of: "1531245007231") == 60)
        #expect(INS.key(of: "2600588154002") == 33)
        #expect(INS.isValidNIR("255081416802538"))
        #expect(INS.isValidNIR("294037512000591"))
        #expect(INS.isValidNIR("153124500723160"))
        #expect(INS.isValidNIR("260058815400233"))
        // Published samples with a wrong key must be refused.
        #expect(INS.validate("260058815400244", label: "INS-NIA")?.rule == .insKey)
        #expect(INS.validate("123456789012244")?.rule == .insKey)
        #expect(INS.key(of: "1234567890122") == 12)
    }

    @Test func corsicaDepartments() {
        // 2A counts as 19 (letter → 0, minus 1,000,000), 2B as 18 (minus 2,000,000).
        #expect(INS.key(of: "284052A321025") == 52)
        #expect(INS.key(of: "284052B321025") == 79)
        #expect(INS.key(of: "284052A321025") == INS.key(of: "2840519321025"))
        #expect(INS.key(of: "284052B321025") == INS.key(of: "2840518321025"))
        #expect(INS.isValidNIR("284052A32102552"))
        #expect(INS.isValidNIR("284052B32102579"))
        // The 2A key does not fit 2B and vice versa.
        #expect(INS.validate("284052B32102552")?.rule == .insKey)
        #expect(INS.validate("284052A32102579")?.rule == .insKey)
        // Letters only at positions 6–7 after a 2, upper case.
        #expect(INS.validate("284052a32102552")?.rule == .insFormat)
        #expect(INS.validate("28405A232102552")?.rule == .insFormat)
        #expect(INS.validate("2840523A2102552")?.rule == .insFormat)
        #expect(INS.validate("284053A32102552")?.rule == .insFormat)
    }

    @Test func insFormat() {
        #expect(INS.validate("25508141680253")?.rule == .insFormat)       // 14
        #expect(INS.validate("2550814168025380")?.rule == .insFormat)     // 16
        #expect(INS.validate("2 55 08 14 168 025 38")?.rule == .insFormat)
        #expect(INS.validate("2550814168025X8")?.rule == .insFormat)
        #expect(INS.validate("")?.rule == .insFormat)
        #expect(INS.isValidNIA("255081416802538"))
        // The message never discloses the expected key.
        let m = INS.validate("255081416802539")?.message ?? ""
        #expect(m.contains("mistyped") && !m.contains("38"))
    }

    @Test func everyVectorOfTheSharedFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/reference/frcore/nir-test-vectors.tsv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return }
        var rows = 0
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 4 else { continue }
            rows += 1
            #expect(INS.isValidNIR(f[2]) == (f[3] == "true"), "\(f[2])")
            if f[3] == "true" { #expect(INS.key(of: f[0]) == Int(f[1]), "\(f[0])") }
        }
        #expect(rows >= 8)
    }

    @Test func keyOfEveryRemainderIsAccepted() {
        // Keys run from 01 to 97 (a multiple of 97 has key 97), and exactly one key fits each number.
        var seen = Set<Int>()
        for serial in 0..<400 {
            let body = "1850575" + String(format: "%06d", serial)
            guard let k = INS.key(of: body) else { Issue.record("no key for \(body)"); continue }
            seen.insert(k)
            #expect((1...97).contains(k))
            #expect(INS.isValidNIR(body + String(format: "%02d", k)))
            #expect(!INS.isValidNIR(body + String(format: "%02d", k % 97 + 1)))
        }
        #expect(seen.count == 97)
    }

    // MARK: FINESS

    @Test func finess() {
        for valid in ["750712184", "330781196", "130786049", "690781810", "010008407"] {
            #expect(FINESS.isValid(valid), "\(valid)")
        }
        // The made-up FINESS of the ROR notes does not have a valid key.
        #expect(FINESS.validate("440000000")?.rule == .finessKey)
        #expect(FINESS.validate("750712185")?.rule == .finessKey)
        #expect(FINESS.validate("750712148")?.rule == .finessKey)   // swapped digits
        #expect(FINESS.validate("75071218")?.rule == .finessFormat)
        #expect(FINESS.validate("7507121845")?.rule == .finessFormat)
        #expect(FINESS.validate("75O712184")?.rule == .finessFormat)
        // Corsica: format checked, key rule unpublished (not checked).
        #expect(FINESS.isValid("2A0000014"))
        #expect(FINESS.isCorsican("2B0012345"))
        #expect(FINESS.validate("2C0000014")?.rule == .finessFormat)
        #expect(FINESS.validate("2A00000X4")?.rule == .finessFormat)
    }

    // MARK: SIRET / SIREN

    @Test func siretAndSiren() {
        #expect(SIRET.isValid("73282932000074"))
        #expect(SIRET.isValid("44229377500031"))
        #expect(SIRET.validate("73282932000075")?.rule == .siretKey)
        #expect(SIRET.validate("7328293200007")?.rule == .siretFormat)
        #expect(SIRET.validate("732 829 320 00074")?.rule == .siretFormat)
        // La Poste: digit sum multiple of 5 (Luhn fails), and its head office, which is Luhn-valid.
        #expect(SIRET.isValid("35600000001000"))
        #expect(SIRET.isValid("35600000000048"))
        #expect(SIRET.validate("35600000001001")?.rule == .siretKey)
        // The La Poste exception does not extend to other SIRENs.
        #expect(SIRET.validate("73282932001000")?.rule == .siretKey)
        #expect(SIREN.isValid("552100554"))
        #expect(SIREN.validate("552100555")?.rule == .sirenKey)
        #expect(SIREN.validate("55210055")?.rule == .siretFormat)
    }

    // MARK: idNat_Struct

    @Test func idNatStruct() {
        #expect(IdNatStruct.isValid("1750712184"))
        #expect(IdNatStruct.isValid("373282932000074"))
        #expect(IdNatStruct.isValid("12A0000014"))
        #expect(IdNatStruct.validate("1750712185")?.rule == .finessKey)
        #expect(IdNatStruct.validate("373282932000075")?.rule == .siretKey)
        #expect(IdNatStruct.validate("175071218")?.rule == .idNatStructFormat)
        #expect(IdNatStruct.validate("37328293200007")?.rule == .idNatStructFormat)
        // A bare FINESS is refused with a hint.
        let bare = IdNatStruct.validate("750712184")
        #expect(bare?.rule == .idNatStructFormat)
        #expect(bare?.message.contains("'1750712184'") == true)
        // SDO allows only 1 and 3; the generic system also allows 0, 2 and 4.
        #expect(IdNatStruct.validate("2552100554")?.rule == .idNatStructFormat)
        #expect(IdNatStruct.isValid("2552100554", allowed: Set(IdNatStruct.Kind.allCases)))
        #expect(IdNatStruct.validate("2552100555", allowed: Set(IdNatStruct.Kind.allCases))?.rule == .sirenKey)
        #expect(IdNatStruct.isValid("410001234567", allowed: Set(IdNatStruct.Kind.allCases)))
        #expect(IdNatStruct.validate("4", allowed: Set(IdNatStruct.Kind.allCases))?.rule == .idNatStructFormat)
        #expect(IdNatStruct.validate("")?.rule == .idNatStructFormat)
        #expect(IdNatStruct.validate("value idNat_Struct")?.rule == .idNatStructFormat)
    }

    @Test func ruleCodesAreUniqueAndDocumented() throws {
        let codes = FrenchRuleCode.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count)
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/french-rules.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        for c in codes { #expect(text.contains("`\(c)`"), "\(c) is not documented in docs/french-rules.md") }
    }
}
