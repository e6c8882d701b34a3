import Foundation

/// Why an expression could not be compiled or evaluated. `position` is a 0-based UTF-8 offset into
/// the expression text (-1 when not known).
public struct FHIRPathError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable { case syntax, semantic, execution }
    public var kind: Kind
    public var message: String
    public var position: Int
    public init(_ kind: Kind, _ message: String, position: Int = -1) {
        self.kind = kind; self.message = message; self.position = position
    }
    public var description: String {
        position >= 0 ? "FHIRPath \(kind.rawValue) error at \(position): \(message)" : "FHIRPath \(kind.rawValue) error: \(message)"
    }
}

// MARK: - Tokens

struct FPToken: Sendable {
    enum Kind: Sendable, Equatable {
        case identifier        // plain identifier or keyword
        case delimited         // `...`
        case string
        case number            // integer or decimal text
        case dateTime          // text after '@'
        case time              // text after '@T'
        case externalConstant  // %name (text is the name)
        case special           // $this, $index, $total (text without '$')
        case op                // punctuation/operator text
        case end
    }
    var kind: Kind
    var text: String
    var position: Int
}

struct FPLexer {
    let b: [UInt8]
    var i = 0
    init(_ text: String) { b = Array(text.utf8) }

    static func isIdentStart(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    mutating func tokens() throws(FHIRPathError) -> [FPToken] {
        var out: [FPToken] = []
        while true {
            let t = try next()
            out.append(t)
            if t.kind == .end { return out }
        }
    }

    mutating func skipTrivia() throws(FHIRPathError) {
        while i < b.count {
            let c = b[i]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1; continue }
            if c == 0x2F && i + 1 < b.count && b[i + 1] == 0x2F {
                while i < b.count && b[i] != 0x0A { i += 1 }
                continue
            }
            if c == 0x2F && i + 1 < b.count && b[i + 1] == 0x2A {
                let start = i
                i += 2
                while i + 1 < b.count && !(b[i] == 0x2A && b[i + 1] == 0x2F) { i += 1 }
                if i + 1 >= b.count { throw FHIRPathError(.syntax, "unterminated comment", position: start) }
                i += 2
                continue
            }
            break
        }
    }

    func text(_ s: Int, _ e: Int) -> String { String(decoding: b[s..<e], as: UTF8.self) }

    mutating func quoted(_ q: UInt8) throws(FHIRPathError) -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while i < b.count && b[i] != q {
            if b[i] == 0x5C {
                i += 1
                guard i < b.count else { break }
                switch b[i] {
                case 0x27, 0x22, 0x60, 0x5C, 0x2F: out.append(b[i])
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    guard i + 4 < b.count, let v = UInt32(text(i + 1, i + 5), radix: 16) else {
                        throw FHIRPathError(.syntax, "invalid \\u escape", position: i - 1)
                    }
                    var v2 = v
                    i += 4
                    // Surrogate pair
                    if (0xD800...0xDBFF).contains(v), i + 6 < b.count, b[i + 1] == 0x5C, b[i + 2] == 0x75,
                       let lo = UInt32(text(i + 3, i + 7), radix: 16), (0xDC00...0xDFFF).contains(lo) {
                        v2 = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(v2) ?? "\u{FFFD}")).utf8))
                default:
                    throw FHIRPathError(.syntax, "invalid escape '\\\(Character(Unicode.Scalar(b[i])))'", position: i - 1)
                }
                i += 1
                continue
            }
            out.append(b[i])
            i += 1
        }
        guard i < b.count else { throw FHIRPathError(.syntax, "unterminated string or identifier", position: start) }
        i += 1
        return String(decoding: out, as: UTF8.self)
    }

    /// Digits, ':' and a '.' followed by a digit (so `@T14.is(Time)` stops before `.is`).
    mutating func scanTime() {
        while i < b.count && (FPLexer.isDigit(b[i]) || b[i] == 0x3A || (b[i] == 0x2E && i + 1 < b.count && FPLexer.isDigit(b[i + 1]))) { i += 1 }
    }

    mutating func next() throws(FHIRPathError) -> FPToken {
        try skipTrivia()
        guard i < b.count else { return FPToken(kind: .end, text: "", position: i) }
        let start = i
        let c = b[i]
        if FPLexer.isIdentStart(c) {
            while i < b.count && (FPLexer.isIdentStart(b[i]) || FPLexer.isDigit(b[i])) { i += 1 }
            return FPToken(kind: .identifier, text: text(start, i), position: start)
        }
        if FPLexer.isDigit(c) {
            while i < b.count && FPLexer.isDigit(b[i]) { i += 1 }
            if i + 1 < b.count && b[i] == 0x2E && FPLexer.isDigit(b[i + 1]) {
                i += 1
                while i < b.count && FPLexer.isDigit(b[i]) { i += 1 }
            }
            return FPToken(kind: .number, text: text(start, i), position: start)
        }
        switch c {
        case 0x27: return FPToken(kind: .string, text: try quoted(0x27), position: start)
        case 0x60: return FPToken(kind: .delimited, text: try quoted(0x60), position: start)
        case 0x40: // @
            i += 1
            if i < b.count && b[i] == 0x54 {
                i += 1
                let s = i
                scanTime()
                return FPToken(kind: .time, text: text(s, i), position: start)
            }
            let s = i
            while i < b.count && (FPLexer.isDigit(b[i]) || b[i] == 0x2D) { i += 1 }
            if i < b.count && b[i] == 0x54 {
                i += 1
                scanTime()
                if i < b.count && b[i] == 0x5A { i += 1 }
                else if i < b.count && (b[i] == 0x2B || b[i] == 0x2D) && i + 1 < b.count && FPLexer.isDigit(b[i + 1]) {
                    i += 1
                    while i < b.count && (FPLexer.isDigit(b[i]) || b[i] == 0x3A) { i += 1 }
                }
            }
            return FPToken(kind: .dateTime, text: text(s, i), position: start)
        case 0x25: // %
            i += 1
            guard i < b.count else { throw FHIRPathError(.syntax, "expected a name after '%'", position: start) }
            if b[i] == 0x60 { return FPToken(kind: .externalConstant, text: try quoted(0x60), position: start) }
            if b[i] == 0x27 { return FPToken(kind: .externalConstant, text: try quoted(0x27), position: start) }
            if b[i] == 0x22 { return FPToken(kind: .externalConstant, text: try quoted(0x22), position: start) }
            let s = i
            while i < b.count && (FPLexer.isIdentStart(b[i]) || FPLexer.isDigit(b[i])) { i += 1 }
            // Legacy unquoted `%vs-name` / `%ext-name`: a hyphen belongs to the name only after these prefixes.
            let head = text(s, i)
            if (head == "vs" || head == "ext") && i < b.count && b[i] == 0x2D {
                i += 1
                while i < b.count && (FPLexer.isIdentStart(b[i]) || FPLexer.isDigit(b[i]) || b[i] == 0x2D || b[i] == 0x2E) { i += 1 }
            }
            guard i > s else { throw FHIRPathError(.syntax, "expected a name after '%'", position: start) }
            return FPToken(kind: .externalConstant, text: text(s, i), position: start)
        case 0x24: // $
            i += 1
            let s = i
            while i < b.count && FPLexer.isIdentStart(b[i]) { i += 1 }
            return FPToken(kind: .special, text: text(s, i), position: start)
        default: break
        }
        let two = i + 1 < b.count ? text(i, i + 2) : ""
        if ["<=", ">=", "!=", "!~"].contains(two) { i += 2; return FPToken(kind: .op, text: two, position: start) }
        if "+-*/&|=~<>()[]{},.".utf8.contains(c) { i += 1; return FPToken(kind: .op, text: text(start, i), position: start) }
        throw FHIRPathError(.syntax, "unexpected character '\(text(start, min(b.count, start + 1)))'", position: start)
    }
}

// MARK: - Syntax tree

indirect enum FPNode: Sendable {
    case empty
    case boolean(Bool)
    case string(String)
    case number(String)
    case quantity(String, String)
    case dateTime(String)
    case time(String)
    case external(String)
    case special(String)
    /// An identifier in a term position (start of a path or a function argument).
    case identifier(String)
    case member(FPNode, String)
    case function(FPNode?, String, [FPNode])
    case indexer(FPNode, FPNode)
    case unary(String, FPNode)
    case binary(String, FPNode, FPNode)
    case typeOp(String, FPNode, [String])
    /// Carries the source position of the node below it (for messages).
    case at(Int, FPNode)
}

struct FPParser {
    var tokens: [FPToken]
    var p = 0
    /// Nesting of parentheses, argument lists and indexers; bounded so hostile input cannot exhaust the stack.
    var depth = 0
    static let maxDepth = 64

    mutating func enter() throws(FHIRPathError) {
        depth += 1
        if depth > FPParser.maxDepth { throw FHIRPathError(.syntax, "expression nested deeper than \(FPParser.maxDepth) levels", position: cur.position) }
    }

    init(_ text: String) throws(FHIRPathError) {
        var lx = FPLexer(text)
        tokens = try lx.tokens()
    }

    var cur: FPToken { tokens[p] }
    func isOp(_ s: String) -> Bool { cur.kind == .op && cur.text == s }
    func isKeyword(_ s: String) -> Bool { cur.kind == .identifier && cur.text == s }

    mutating func expect(_ s: String) throws(FHIRPathError) {
        guard isOp(s) else { throw FHIRPathError(.syntax, "expected '\(s)' but found '\(cur.kind == .end ? "end of expression" : cur.text)'", position: cur.position) }
        p += 1
    }

    mutating func parseAll() throws(FHIRPathError) -> FPNode {
        let e = try expression(0)
        guard cur.kind == .end else { throw FHIRPathError(.syntax, "unexpected '\(cur.text)'", position: cur.position) }
        return e
    }

    /// Binary precedence levels, lowest first.
    static let levels: [[String]] = [
        ["implies"], ["or", "xor"], ["and"], ["in", "contains"], ["=", "~", "!=", "!~"], ["<=", "<", ">", ">="],
        ["|"], ["is", "as"], ["+", "-", "&"], ["*", "/", "div", "mod"],
    ]

    func binaryOperator() -> String? {
        if cur.kind == .op || cur.kind == .identifier {
            for level in FPParser.levels where level.contains(cur.text) { return cur.text }
        }
        return nil
    }

    mutating func expression(_ level: Int) throws(FHIRPathError) -> FPNode {
        if level >= FPParser.levels.count { return try polarity() }
        var lhs = try expression(level + 1)
        while let op = binaryOperator(), FPParser.levels[level].contains(op) {
            let pos = cur.position
            p += 1
            if op == "is" || op == "as" {
                lhs = .at(pos, .typeOp(op, lhs, try typeSpecifier()))
            } else if op == "implies" {
                try enter()
                defer { depth -= 1 }
                let rhs = try expression(level) // right associative
                return .at(pos, .binary(op, lhs, rhs))
            } else {
                lhs = .at(pos, .binary(op, lhs, try expression(level + 1)))
            }
        }
        return lhs
    }

    mutating func typeSpecifier() throws(FHIRPathError) -> [String] {
        var parts = [try identifier()]
        while isOp(".") { p += 1; parts.append(try identifier()) }
        return parts
    }

    mutating func identifier() throws(FHIRPathError) -> String {
        if cur.kind == .identifier || cur.kind == .delimited {
            defer { p += 1 }
            return cur.text
        }
        throw FHIRPathError(.syntax, "expected an identifier but found '\(cur.kind == .end ? "end of expression" : cur.text)'", position: cur.position)
    }

    mutating func polarity() throws(FHIRPathError) -> FPNode {
        if isOp("+") || isOp("-") {
            let op = cur.text, pos = cur.position
            p += 1
            try enter()
            defer { depth -= 1 }
            let e = try polarity()
            return .at(pos, .unary(op, e))
        }
        return try postfix()
    }

    mutating func postfix() throws(FHIRPathError) -> FPNode {
        var e = try term()
        while true {
            if isOp(".") {
                p += 1
                let pos = cur.position
                let name = try identifier()
                if isOp("(") {
                    e = .at(pos, .function(e, name, try arguments()))
                } else {
                    e = .at(pos, .member(e, name))
                }
            } else if isOp("[") {
                let pos = cur.position
                p += 1
                try enter()
                let idx = try expression(0)
                depth -= 1
                try expect("]")
                e = .at(pos, .indexer(e, idx))
            } else {
                return e
            }
        }
    }

    mutating func arguments() throws(FHIRPathError) -> [FPNode] {
        try expect("(")
        try enter()
        defer { depth -= 1 }
        var args: [FPNode] = []
        if isOp(")") { p += 1; return args }
        while true {
            args.append(try expression(0))
            if isOp(",") { p += 1; continue }
            try expect(")")
            return args
        }
    }

    static let calendarKeywords: Set<String> = ["year", "years", "month", "months", "week", "weeks", "day", "days", "hour", "hours",
                                                "minute", "minutes", "second", "seconds", "millisecond", "milliseconds"]

    mutating func term() throws(FHIRPathError) -> FPNode {
        let t = cur
        switch t.kind {
        case .number:
            p += 1
            if cur.kind == .string { let u = cur.text; p += 1; return .at(t.position, .quantity(t.text, u)) }
            if cur.kind == .identifier && FPParser.calendarKeywords.contains(cur.text) {
                let u = cur.text; p += 1; return .at(t.position, .quantity(t.text, u))
            }
            return .at(t.position, .number(t.text))
        case .string: p += 1; return .string(t.text)
        case .dateTime: p += 1; return .at(t.position, .dateTime(t.text))
        case .time: p += 1; return .at(t.position, .time(t.text))
        case .externalConstant: p += 1; return .at(t.position, .external(t.text))
        case .special:
            p += 1
            guard ["this", "index", "total"].contains(t.text) else { throw FHIRPathError(.syntax, "unknown special variable '$\(t.text)'", position: t.position) }
            return .special(t.text)
        case .identifier, .delimited:
            if t.kind == .identifier && (t.text == "true" || t.text == "false") { p += 1; return .boolean(t.text == "true") }
            p += 1
            if isOp("(") { return .at(t.position, .function(nil, t.text, try arguments())) }
            return .at(t.position, .identifier(t.text))
        case .op:
            if t.text == "(" {
                p += 1
                try enter()
                defer { depth -= 1 }
                let e = try expression(0)
                try expect(")")
                return e
            }
            if t.text == "{" {
                p += 1
                try expect("}")
                return .empty
            }
            throw FHIRPathError(.syntax, "unexpected '\(t.text)'", position: t.position)
        case .end:
            throw FHIRPathError(.syntax, "unexpected end of expression", position: t.position)
        }
    }
}
