import Testing
import Foundation
@testable import FHIRModels

@Suite struct JSONReaderTests {
    @Test func keepsDecimalTextAndUnicodeEscapes() throws {
        let doc = try JSONReader.parse(#"{"a": 1.50, "b": "caf\u00e9 \ud83d\ude00", "c": [true, null]}"#)
        #expect(doc.stringValue(doc.member(0, "a")!) == "1.50")
        #expect(doc.stringValue(doc.member(0, "b")!) == "café 😀")
        #expect(doc.nodes[Int(doc.member(0, "c")!)].count == 2)
    }

    @Test func refusesDuplicateKeysWithPosition() {
        #expect(throws: JSONParseError.self) { try JSONReader.parse("{\n  \"a\": 1,\n  \"a\": 2}") }
        do { _ = try JSONReader.parse("{\n  \"a\": 1,\n  \"a\": 2}") } catch {
            #expect(error.reason == .duplicateKey("a"))
            #expect(error.location == SourceLocation(line: 3, column: 3))
        }
    }

    @Test func refusesDuplicateKeysInLargeObjects() {
        var s = "{"
        for i in 0..<200 { s += "\"k\(i)\":\(i)," }
        s += "\"k17\":0}"
        #expect(throws: JSONParseError.self) { try JSONReader.parse(s) }
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\":01}", "{\"a\":1.}", "\"\\ud800\"", "\"a\u{01}\"", "{} x", "[tru]", "{\"a\" 1}", "-", "1e"])
    func refusesMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONReader.parse(text) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONReader.parse([0x22, 0xC0, 0xAF, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSONReader.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }
    }

    @Test func limitsDepth() {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONParseError.self) { try JSONReader.parse(deep) }
        #expect((try? JSONReader.parse(deep, limits: JSONLimits(maxDepth: 300))) != nil)
    }
}

@Suite struct JSONStringScanTests {
    /// The string scanner reads eight bytes at a time: specials must be found at every offset.
    @Test func specialsAtEveryAlignment() throws {
        let specials: [String] = ["\"", "\\", "\n", "é", "😀", "\u{01}", "/"]
        for special in specials {
            for offset in 0..<20 {
                let original = String(repeating: "a", count: offset) + special + String(repeating: "b", count: 19 - offset)
                var encoded: [UInt8] = []
                JSONValue.writeString(original, to: &encoded)
                let doc = try JSONReader.parse(encoded)
                #expect(doc.stringValue(0) == original, "offset \(offset), special \(special.debugDescription)")
            }
        }
    }

    @Test func rawControlCharacterRefusedAtEveryAlignment() {
        for offset in 0..<20 {
            var bytes: [UInt8] = [0x22] + Array(repeating: 0x61, count: offset) + [0x09] + Array(repeating: 0x62, count: 10) + [0x22]
            #expect(throws: JSONParseError.self) { try JSONReader.parse(bytes) }
            bytes[offset + 1] = 0x63
            #expect((try? JSONReader.parse(bytes)) != nil)
        }
    }
}
