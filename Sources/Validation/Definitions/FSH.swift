import Foundation
import FHIRModels

/// A FHIR Shorthand problem, with its place in the source.
public struct FSHError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public init(file: String, line: Int, message: String) { self.file = file; self.line = line; self.message = message }
    public var description: String { "\(file):\(line): \(message)" }
}

/// One `* …` rule (continuation lines joined), with its source position.
public struct FSHRule: Sendable {
    public var text: String
    public var file: String
    public var line: Int
}

public struct FSHProfile: Sendable {
    public var name: String
    public var parent: String = ""
    public var id: String = ""
    public var title: String?
    public var description: String?
    public var rules: [FSHRule] = []
    public var file: String
    public var line: Int
}

/// An `Instance:` with its `InstanceOf`, `Usage` and rules (the rules keep their source order).
public struct FSHInstance: Sendable {
    public var name: String
    public var instanceOf: String = ""
    /// `example`, `inline`, `definition`… (without `#`); empty when not given.
    public var usage: String = ""
    public var title: String?
    public var description: String?
    public var rules: [FSHRule] = []
    public var file: String
    public var line: Int
}

public struct FSHInvariant: Sendable {
    public var name: String
    public var description: String = ""
    public var severity: String = "error"
    public var expression: String?
    public var xpath: String?
}

/// The subset of FHIR Shorthand the project reads: aliases, profiles (`Parent`, `Id`, `Title`,
/// `Description`, rules), instances (`InstanceOf`, `Usage`, rules; see `FSHInstanceCompiler`), invariants, rule sets (`insert` without parameters), and the names and ids
/// of code systems and value sets (to turn names into canonicals). Other entities are skipped.
public struct FSHTank: Sendable {
    public var aliases: [String: String] = [:]
    public var profiles: [String: FSHProfile] = [:]
    public var invariants: [String: FSHInvariant] = [:]
    public var ruleSets: [String: [FSHRule]] = [:]
    public var instances: [String: FSHInstance] = [:]
    /// Instance names in the order they were read.
    public var instanceOrder: [String] = []
    /// CodeSystem and ValueSet names → ids.
    public var codeSystems: [String: String] = [:]
    public var valueSets: [String: String] = [:]

    public init() {}

    private enum Entity {
        case none, skip
        case profile(String), instance(String), invariant(String), ruleSet(String), codeSystem(String), valueSet(String)
    }

    /// Parses one FSH file into the tank.
    public mutating func parse(_ text: String, file: String) throws(FSHError) {
        let lines = Self.stripComments(text).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var entity = Entity.none
        var pendingRule: FSHRule?
        func flush(_ tank: inout FSHTank) {
            guard let r = pendingRule else { return }
            pendingRule = nil
            switch entity {
            case .profile(let n): tank.profiles[n]?.rules.append(r)
            case .instance(let n): tank.instances[n]?.rules.append(r)
            case .ruleSet(let n): tank.ruleSets[n, default: []].append(r)
            default: break
            }
        }
        var i = 0
        while i < lines.count {
            let raw = lines[i]
            let lineNo = i + 1
            i += 1
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("*") {
                flush(&self)
                pendingRule = FSHRule(text: String(trimmed.dropFirst()).trimmingCharacters(in: .whitespaces), file: file, line: lineNo)
                continue
            }
            if let (keyword, rawValue) = Self.keywordLine(raw) {
                flush(&self)
                var value = rawValue
                if value.hasPrefix("\"\"\"") {
                    // multi-line string: read up to the closing triple quote
                    var acc = String(value.dropFirst(3))
                    while !acc.contains("\"\"\""), i < lines.count { acc += "\n" + lines[i]; i += 1 }
                    if let end = acc.range(of: "\"\"\"") { acc = String(acc[..<end.lowerBound]) }
                    value = "\"" + acc.replacingOccurrences(of: "\"", with: "\\\"") + "\""
                }
                let name = value.trimmingCharacters(in: .whitespaces)
                switch keyword {
                case "Alias":
                    let parts = name.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2 else { throw FSHError(file: file, line: lineNo, message: "malformed Alias") }
                    aliases[parts[0]] = parts[1]
                    entity = .none
                case "Profile":
                    profiles[name] = FSHProfile(name: name, file: file, line: lineNo)
                    entity = .profile(name)
                case "Instance":
                    if instances[name] == nil { instanceOrder.append(name) }
                    instances[name] = FSHInstance(name: name, file: file, line: lineNo)
                    entity = .instance(name)
                case "InstanceOf":
                    if case .instance(let n) = entity { instances[n]?.instanceOf = name }
                case "Usage":
                    if case .instance(let n) = entity { instances[n]?.usage = String(name.drop { $0 == "#" }) }
                case "Invariant":
                    invariants[name] = FSHInvariant(name: name)
                    entity = .invariant(name)
                case "RuleSet":
                    ruleSets[name] = []
                    entity = .ruleSet(name)
                case "CodeSystem":
                    codeSystems[name] = name; entity = .codeSystem(name)
                case "ValueSet":
                    valueSets[name] = name; entity = .valueSet(name)
                case "Parent":
                    if case .profile(let n) = entity { profiles[n]?.parent = name }
                case "Id":
                    switch entity {
                    case .profile(let n): profiles[n]?.id = name
                    case .codeSystem(let n): codeSystems[n] = name
                    case .valueSet(let n): valueSets[n] = name
                    default: break
                    }
                case "Title":
                    if case .profile(let n) = entity { profiles[n]?.title = Self.unquote(name) }
                    if case .instance(let n) = entity { instances[n]?.title = Self.unquote(name) }
                case "Description":
                    if case .profile(let n) = entity { profiles[n]?.description = Self.unquote(name) }
                    if case .instance(let n) = entity { instances[n]?.description = Self.unquote(name) }
                    if case .invariant(let n) = entity { invariants[n]?.description = Self.unquote(name) }
                case "Severity":
                    if case .invariant(let n) = entity { invariants[n]?.severity = String(name.drop { $0 == "#" }) }
                case "Expression":
                    if case .invariant(let n) = entity { invariants[n]?.expression = Self.unquote(name) }
                case "XPath":
                    if case .invariant(let n) = entity { invariants[n]?.xpath = Self.unquote(name) }
                case "Extension", "Logical", "Resource", "Mapping", "Invariant_", "Extension_":
                    entity = .skip
                default:
                    break
                }
                continue
            }
            if pendingRule != nil {
                pendingRule!.text += " " + trimmed
            }
            // other free lines (entity bodies we skip) are ignored
        }
        flush(&self)
    }

    static let keywords: Set<String> = ["Alias", "Profile", "Parent", "Id", "Title", "Description", "Invariant", "Severity",
                                        "Expression", "XPath", "RuleSet", "CodeSystem", "ValueSet", "Extension", "Instance",
                                        "InstanceOf", "Usage", "Logical", "Resource", "Mapping", "Source", "Target",
                                        "Context", "Characteristics"]

    static func keywordLine(_ line: String) -> (String, String)? {
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let k = String(line[..<colon])
        guard keywords.contains(k) else { return nil }
        return (k, String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
    }

    /// Removes `//` line comments and `/* */` block comments outside string literals.
    static func stripComments(_ text: String) -> String {
        var out = ""
        var inString = false, inBlock = false
        var chars = Array(text)
        chars.append("\n")
        var i = 0
        while i < chars.count - 1 {
            let c = chars[i], n = chars[i + 1]
            if inBlock {
                if c == "*" && n == "/" { inBlock = false; i += 2 } else { if c == "\n" { out.append(c) }; i += 1 }
                continue
            }
            if inString {
                out.append(c)
                if c == "\\" { out.append(n); i += 2; continue }
                if c == "\"" { inString = false }
                i += 1; continue
            }
            if c == "\"" { inString = true; out.append(c); i += 1; continue }
            if c == "/" && n == "/" {
                // a comment starts at the beginning of a line or after a blank (`https://`, `NOS//FHIR` are not)
                if i > 0, !chars[i - 1].isWhitespace { out.append(c); i += 1; continue }
                while i < chars.count - 1, chars[i] != "\n" { i += 1 }
                continue
            }
            if c == "/" && n == "*" { inBlock = true; i += 2; continue }
            out.append(c); i += 1
        }
        return out
    }

    static func unquote(_ s: String) -> String {
        let t = s.trimmingCharacters(in: .whitespaces)
        guard t.count >= 2, t.hasPrefix("\""), t.hasSuffix("\"") else { return t }
        var out = ""
        var escape = false
        for c in t.dropFirst().dropLast() {
            if escape { out.append(c == "n" ? "\n" : c); escape = false; continue }
            if c == "\\" { escape = true; continue }
            out.append(c)
        }
        return out
    }

    /// Splits a rule into tokens: quoted strings, `Name(…)` groups, `(…)` groups and bare words.
    static func tokenize(_ s: String) -> [String] {
        var tokens: [String] = []
        var cur = ""
        var depth = 0
        var inString = false
        var escape = false
        for c in s {
            if inString {
                cur.append(c)
                if escape { escape = false } else if c == "\\" { escape = true } else if c == "\"" { inString = false }
                continue
            }
            if c == "\"" { inString = true; cur.append(c); continue }
            if c == "(" { depth += 1; cur.append(c); continue }
            if c == ")" { depth -= 1; cur.append(c); continue }
            if c.isWhitespace && depth == 0 {
                if !cur.isEmpty { tokens.append(cur); cur = "" }
                continue
            }
            cur.append(c)
        }
        if !cur.isEmpty { tokens.append(cur) }
        return tokens
    }
}
