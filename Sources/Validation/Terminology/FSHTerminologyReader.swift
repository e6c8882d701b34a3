import Foundation
import FHIRModels

/// Reads the `CodeSystem:` and `ValueSet:` definitions of FHIR Shorthand files into FHIR JSON
/// (`JSONValue`), for the IGs whose own terminology is only available as FSH sources.
/// Covers what those files use: `Id`, `Title`, `Description`, caret rules on the resource
/// (`^url`, `^version`, `^status`, `^content`, `^caseSensitive`…), concepts `* #code "display" "definition"`
/// (indentation gives the hierarchy), and value set rules `* include codes from system X`,
/// `* include codes from valueset X`, `* SYSTEM#code "display"`, `* exclude …`. Other entities are skipped.
enum FSHTerminologyReader {
    /// `canonicalBase` is the IG canonical (e.g. `https://interop.esante.gouv.fr/ig/fhir/sdo`);
    /// `version` the IG version the files belong to, when known.
    static func read(_ text: String, canonicalBase: String, version: String?) -> [JSONValue] {
        var aliases: [String: String] = [:]
        var out: [JSONValue] = []
        var current: Entity?
        var inTripleQuote = false

        func finish() {
            if let e = current { out.append(e.resource(canonicalBase: canonicalBase, version: version)) }
            current = nil
        }

        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            if inTripleQuote {
                if line.contains("\"\"\"") { inTripleQuote = false }
                continue
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("//") || trimmed.isEmpty { continue }
            if let colon = line.firstIndex(of: ":"), !line.hasPrefix(" "), !line.hasPrefix("*") {
                let keyword = String(line[..<colon])
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if value.hasPrefix("\"\"\"") && !value.dropFirst(3).contains("\"\"\"") { inTripleQuote = true }
                switch keyword {
                case "Alias":
                    let parts = value.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    if parts.count == 2 { aliases[parts[0]] = parts[1] }
                case "CodeSystem", "ValueSet":
                    finish()
                    current = Entity(kind: keyword, name: value)
                case "Id": current?.id = value
                case "Title": current?.title = unquote(value)
                case "Description": if !inTripleQuote { current?.description = unquote(value) }
                case "Profile", "Instance", "Extension", "RuleSet", "Invariant", "Logical", "Resource", "Mapping", "Instance ":
                    finish()
                default: break
                }
                continue
            }
            guard current != nil, trimmed.hasPrefix("* ") else { continue }
            let indent = line.prefix { $0 == " " }.count
            let rule = String(trimmed.dropFirst(2)).trimmingCharacters(in: .whitespaces)
            if rule.hasPrefix("^") {
                let parts = rule.dropFirst().split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2 { current?.caret[parts[0]] = parts[1] }
            } else if rule.hasPrefix("insert ") {
                continue
            } else if current?.kind == "CodeSystem", rule.hasPrefix("#") {
                var scanner = Tokens(rule)
                guard let code = scanner.code() else { continue }
                let display = scanner.quoted()
                let definition = scanner.quoted()
                current?.concepts.append((indent / 2, code, display, definition))
            } else if current?.kind == "ValueSet" {
                current?.valueSetRules.append(resolveAliases(rule, aliases))
            }
        }
        finish()
        return out
    }

    private static func resolveAliases(_ rule: String, _ aliases: [String: String]) -> String {
        var r = rule
        for (k, v) in aliases.sorted(by: { $0.key.count > $1.key.count }) where r.contains(k) {
            r = r.replacingOccurrences(of: k, with: v)
        }
        return r
    }

    static func unquote(_ s: String) -> String {
        var t = Tokens(s)
        return t.quoted() ?? s
    }

    /// A small tokenizer for `#code "display" "definition"`.
    struct Tokens {
        var chars: [Character]
        var i = 0
        init(_ s: String) { chars = Array(s) }
        mutating func skipSpaces() { while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 } }
        mutating func code() -> String? {
            skipSpaces()
            guard i < chars.count, chars[i] == "#" else { return nil }
            i += 1
            if i < chars.count, chars[i] == "\"" { return quoted() }
            let start = i
            while i < chars.count, chars[i] != " ", chars[i] != "\t" { i += 1 }
            return i > start ? String(chars[start..<i]) : nil
        }
        mutating func quoted() -> String? {
            skipSpaces()
            guard i < chars.count, chars[i] == "\"" else { return nil }
            i += 1
            var out = ""
            while i < chars.count {
                let c = chars[i]
                if c == "\\", i + 1 < chars.count { out.append(chars[i + 1]); i += 2; continue }
                if c == "\"" { i += 1; return out }
                out.append(c); i += 1
            }
            return out
        }
    }

    struct Entity {
        var kind: String
        var name: String
        var id: String?
        var title: String?
        var description: String?
        var caret: [String: String] = [:]
        var concepts: [(depth: Int, code: String, display: String?, definition: String?)] = []
        var valueSetRules: [String] = []

        func caretValue(_ key: String) -> JSONValue? {
            guard let raw = caret[key] else { return nil }
            if raw == "true" || raw == "false" { return .bool(raw == "true") }
            if raw.hasPrefix("#") { return .string(String(raw.dropFirst())) }
            return .string(FSHTerminologyReader.unquote(raw))
        }

        func resource(canonicalBase: String, version: String?) -> JSONValue {
            let id = self.id ?? name
            var r: JSONValue = .object([("resourceType", .string(kind)), ("id", .string(id))])
            r["url"] = caretValue("url") ?? .string("\(canonicalBase)/\(kind)/\(id)")
            if let v = caretValue("version") ?? version.map({ .string($0) }) { r["version"] = v }
            r["name"] = .string(name)
            if let t = title { r["title"] = .string(t) }
            r["status"] = caretValue("status") ?? .string("active")
            if let d = caretValue("date") { r["date"] = d }
            if let d = description { r["description"] = .string(d) }
            if kind == "CodeSystem" {
                if let c = caretValue("caseSensitive") { r["caseSensitive"] = c }
                r["content"] = caretValue("content") ?? .string("complete")
                r["concept"] = .array(nest(concepts[...], depth: concepts.first?.depth ?? 0))
            } else {
                var include: [JSONValue] = [], exclude: [JSONValue] = []
                for rule in valueSetRules {
                    var text = rule
                    var target = "include"
                    if text.hasPrefix("exclude ") { target = "exclude"; text = String(text.dropFirst(8)) }
                    else if text.hasPrefix("include ") { text = String(text.dropFirst(8)) }
                    let part: JSONValue?
                    if text.hasPrefix("codes from system ") {
                        let sys = text.dropFirst("codes from system ".count).split(separator: " ").first.map(String.init) ?? ""
                        part = .object([("system", .string(sys))])
                    } else if text.hasPrefix("codes from valueset ") {
                        let vs = text.dropFirst("codes from valueset ".count).split(separator: " ").first.map(String.init) ?? ""
                        part = .object([("valueSet", .array([.string(vs)]))])
                    } else if let hash = text.firstIndex(of: "#") {
                        let sys = String(text[..<hash])
                        var t = Tokens(String(text[hash...]))
                        if let code = t.code() {
                            var c: JSONValue = .object([("code", .string(code))])
                            if let d = t.quoted() { c["display"] = .string(d) }
                            part = .object([("system", .string(sys)), ("concept", .array([c]))])
                        } else { part = nil }
                    } else { part = nil }
                    if let part { if target == "include" { include.append(part) } else { exclude.append(part) } }
                }
                var compose: JSONValue = .object([("include", .array(include))])
                if !exclude.isEmpty { compose["exclude"] = .array(exclude) }
                r["compose"] = compose
            }
            return r
        }

        private func nest(_ list: ArraySlice<(depth: Int, code: String, display: String?, definition: String?)>, depth: Int) -> [JSONValue] {
            var out: [JSONValue] = []
            var i = list.startIndex
            while i < list.endIndex {
                let c = list[i]
                var j = i + 1
                while j < list.endIndex, list[j].depth > c.depth { j += 1 }
                var o: JSONValue = .object([("code", .string(c.code))])
                if let d = c.display { o["display"] = .string(d) }
                if let d = c.definition { o["definition"] = .string(d) }
                if j > i + 1 { o["concept"] = .array(nest(list[(i + 1)..<j], depth: c.depth + 1)) }
                out.append(o)
                i = j
            }
            return out
        }
    }
}
