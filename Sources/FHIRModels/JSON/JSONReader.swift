/// Byte-level JSON reader (RFC 8259) producing a `JSONDocument` tape. It tracks line and column as
/// it skips whitespace (JSON strings cannot hold raw newlines), validates UTF-8 only on non-ASCII
/// bytes, and refuses duplicate keys, lone surrogates and nesting beyond the limit.
public enum JSONReader {
    public static func parse(_ bytes: [UInt8], limits: JSONLimits = .standard) throws(JSONParseError) -> JSONDocument {
        if bytes.count > limits.maxBytes {
            throw JSONParseError(reason: .tooLarge(limits.maxBytes), location: SourceLocation(line: 1, column: 1), offset: 0)
        }
        var extra: [UInt8] = []
        var nodes: [JSONDocument.Node] = []
        nodes.reserveCapacity(bytes.count / 12 + 4)
        let result: Result<Void, JSONParseError> = bytes.withUnsafeBufferPointer { buf in
            var p = Parser(buf: buf, sourceCount: bytes.count, maxDepth: limits.maxDepth)
            do throws(JSONParseError) {
                try p.parseDocument(nodes: &nodes, extra: &extra)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let e) = result { throw e }
        return JSONDocument(bytes: ByteStore(source: bytes, extra: extra), nodes: nodes)
    }

    public static func parse(_ string: String, limits: JSONLimits = .standard) throws(JSONParseError) -> JSONDocument {
        try parse(Array(string.utf8), limits: limits)
    }
}

private struct Parser {
    let buf: UnsafeBufferPointer<UInt8>
    let sourceCount: Int
    let maxDepth: Int
    var pos = 0
    var line: Int32 = 1
    var lineStart = 0
    /// Key spans of the objects being parsed, for duplicate detection.
    var keyStack: [(start: Int32, length: Int32, hash: UInt32)] = []

    init(buf: UnsafeBufferPointer<UInt8>, sourceCount: Int, maxDepth: Int) {
        self.buf = buf; self.sourceCount = sourceCount; self.maxDepth = maxDepth
    }

    @inline(__always) var column: Int32 { Int32(pos - lineStart + 1) }

    func fail(_ r: JSONParseError.Reason) -> JSONParseError {
        JSONParseError(reason: r, location: SourceLocation(line: line, column: column), offset: pos)
    }

    @inline(__always) mutating func skipWhitespace() {
        while pos < buf.count {
            let c = buf[pos]
            if c == 0x20 || c == 0x09 || c == 0x0D { pos &+= 1 }
            else if c == 0x0A { pos &+= 1; line &+= 1; lineStart = pos }
            else { return }
        }
    }

    mutating func parseDocument(nodes: inout [JSONDocument.Node], extra: inout [UInt8]) throws(JSONParseError) {
        // A UTF-8 byte order mark is tolerated, as most FHIR servers do.
        if buf.count >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF { pos = 3; lineStart = 3 }
        skipWhitespace()
        if pos >= buf.count { throw fail(.emptyDocument) }
        try parseValue(nodes: &nodes, extra: &extra, keyStart: -1, keyLength: 0, keyLine: line, keyColumn: column, depth: 0)
        skipWhitespace()
        if pos < buf.count { throw fail(.trailingContent) }
    }

    mutating func parseValue(nodes: inout [JSONDocument.Node], extra: inout [UInt8], keyStart: Int32, keyLength: Int32,
                             keyLine: Int32, keyColumn: Int32, depth: Int) throws(JSONParseError) {
        guard pos < buf.count else { throw fail(.unexpectedEnd) }
        let c = buf[pos]
        let index = nodes.count
        nodes.append(JSONDocument.Node(kind: .null, keyStart: keyStart, keyLength: keyLength, valueStart: 0, valueLength: 0,
                                       end: Int32(index + 1), count: 0, line: keyLine, column: keyColumn))
        switch c {
        case UInt8(ascii: "{"):
            if depth >= maxDepth { throw fail(.tooDeep(maxDepth)) }
            pos += 1
            nodes[index].kind = .object
            let keyBase = keyStack.count
            defer { keyStack.removeSubrange(keyBase...) }
            var count: Int32 = 0
            var table: [UInt32: [Int]]? = nil
            skipWhitespace()
            if pos < buf.count && buf[pos] == UInt8(ascii: "}") {
                pos += 1
            } else {
                while true {
                    skipWhitespace()
                    guard pos < buf.count else { throw fail(.unexpectedEnd) }
                    guard buf[pos] == UInt8(ascii: "\"") else { throw fail(.unexpectedCharacter(buf[pos])) }
                    let kLine = line, kCol = column
                    let key = try parseString(extra: &extra)
                    try checkDuplicate(key: key, base: keyBase, table: &table, extra: extra, line: kLine, column: kCol)
                    skipWhitespace()
                    guard pos < buf.count else { throw fail(.unexpectedEnd) }
                    guard buf[pos] == UInt8(ascii: ":") else { throw fail(.unexpectedCharacter(buf[pos])) }
                    pos += 1
                    skipWhitespace()
                    try parseValue(nodes: &nodes, extra: &extra, keyStart: key.start, keyLength: key.length,
                                   keyLine: kLine, keyColumn: kCol, depth: depth + 1)
                    count += 1
                    skipWhitespace()
                    guard pos < buf.count else { throw fail(.unexpectedEnd) }
                    if buf[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if buf[pos] == UInt8(ascii: "}") { pos += 1; break }
                    throw fail(.unexpectedCharacter(buf[pos]))
                }
            }
            nodes[index].count = count
            nodes[index].end = Int32(nodes.count)
        case UInt8(ascii: "["):
            if depth >= maxDepth { throw fail(.tooDeep(maxDepth)) }
            pos += 1
            nodes[index].kind = .array
            var count: Int32 = 0
            skipWhitespace()
            if pos < buf.count && buf[pos] == UInt8(ascii: "]") {
                pos += 1
            } else {
                while true {
                    skipWhitespace()
                    try parseValue(nodes: &nodes, extra: &extra, keyStart: -1, keyLength: 0, keyLine: line, keyColumn: column, depth: depth + 1)
                    count += 1
                    skipWhitespace()
                    guard pos < buf.count else { throw fail(.unexpectedEnd) }
                    if buf[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if buf[pos] == UInt8(ascii: "]") { pos += 1; break }
                    throw fail(.unexpectedCharacter(buf[pos]))
                }
            }
            nodes[index].count = count
            nodes[index].end = Int32(nodes.count)
        case UInt8(ascii: "\""):
            let s = try parseString(extra: &extra)
            nodes[index].kind = .string
            nodes[index].valueStart = s.start
            nodes[index].valueLength = s.length
        case UInt8(ascii: "t"):
            try literal("true")
            nodes[index].kind = .true
        case UInt8(ascii: "f"):
            try literal("false")
            nodes[index].kind = .false
        case UInt8(ascii: "n"):
            try literal("null")
            nodes[index].kind = .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = pos
            try parseNumber()
            nodes[index].kind = .number
            nodes[index].valueStart = Int32(start)
            nodes[index].valueLength = Int32(pos - start)
        default:
            throw fail(.unexpectedCharacter(c))
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= buf.count else { throw fail(.unexpectedEnd) }
        let p = word.utf8Start
        for i in 0..<n where buf[pos + i] != p[i] {
            pos += i
            throw fail(.unexpectedCharacter(buf[pos]))
        }
        pos += n
        if pos < buf.count, isIdentByte(buf[pos]) { throw fail(.unexpectedCharacter(buf[pos])) }
    }

    @inline(__always) func isIdentByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A)
    }

    mutating func parseNumber() throws(JSONParseError) {
        if buf[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < buf.count else { throw fail(.invalidNumber) }
        if buf[pos] == UInt8(ascii: "0") {
            pos += 1
        } else if buf[pos] >= 0x31 && buf[pos] <= 0x39 {
            while pos < buf.count && buf[pos] >= 0x30 && buf[pos] <= 0x39 { pos += 1 }
        } else { throw fail(.invalidNumber) }
        if pos < buf.count && buf[pos] == UInt8(ascii: ".") {
            pos += 1
            let s = pos
            while pos < buf.count && buf[pos] >= 0x30 && buf[pos] <= 0x39 { pos += 1 }
            if pos == s { throw fail(.invalidNumber) }
        }
        if pos < buf.count && (buf[pos] == UInt8(ascii: "e") || buf[pos] == UInt8(ascii: "E")) {
            pos += 1
            if pos < buf.count && (buf[pos] == UInt8(ascii: "+") || buf[pos] == UInt8(ascii: "-")) { pos += 1 }
            let s = pos
            while pos < buf.count && buf[pos] >= 0x30 && buf[pos] <= 0x39 { pos += 1 }
            if pos == s { throw fail(.invalidNumber) }
        }
        if pos < buf.count && (isIdentByte(buf[pos]) || buf[pos] == UInt8(ascii: ".")) { throw fail(.invalidNumber) }
    }

    /// Parses a string at `pos` (on the opening quote). Returns a span in the source when the string
    /// has no escapes, otherwise a span of its decoded bytes in `extra`.
    mutating func parseString(extra: inout [UInt8]) throws(JSONParseError) -> (start: Int32, length: Int32) {
        pos += 1
        let start = pos
        let base = buf.baseAddress!
        let count = buf.count
        // Fast path in a local cursor: ASCII bytes other than quote, backslash and controls.
        var p = pos
        // Eight bytes at a time: stop at the first quote, backslash, control or non-ASCII byte.
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while p &+ 8 <= count {
            let x = UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self)
            let q = x ^ (ones &* 0x22), b = x ^ (ones &* 0x5C)
            let special = ((q &- ones) & ~q) | ((b &- ones) & ~b) | ((x &- ones &* 0x20) & ~x) | x
            let m = special & highs
            if m == 0 { p &+= 8; continue }
            p &+= m.trailingZeroBitCount >> 3
            break
        }
        while p < count {
            let c = base[p]
            if c >= 0x20 && c != 0x22 && c != 0x5C && c < 0x80 { p &+= 1; continue }
            if c == 0x22 {
                pos = p + 1
                return (Int32(start), Int32(p - start))
            }
            pos = p
            if c == 0x5C { break }
            if c < 0x20 { throw fail(.controlCharacterInString) }
            try skipUTF8(c)
            p = pos
        }
        pos = p
        guard pos < count else { throw fail(.unexpectedEnd) }
        // Slow path: escapes present; decode into `extra`.
        let outStart = extra.count
        extra.append(contentsOf: UnsafeBufferPointer(rebasing: buf[start..<pos]))
        while pos < count {
            let c = base[pos]
            if c == 0x22 {
                pos += 1
                return (Int32(sourceCount + outStart), Int32(extra.count - outStart))
            }
            if c < 0x20 { throw fail(.controlCharacterInString) }
            if c == 0x5C {
                pos += 1
                guard pos < count else { throw fail(.unexpectedEnd) }
                let e = base[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): extra.append(0x22)
                case UInt8(ascii: "\\"): extra.append(0x5C)
                case UInt8(ascii: "/"): extra.append(0x2F)
                case UInt8(ascii: "b"): extra.append(0x08)
                case UInt8(ascii: "f"): extra.append(0x0C)
                case UInt8(ascii: "n"): extra.append(0x0A)
                case UInt8(ascii: "r"): extra.append(0x0D)
                case UInt8(ascii: "t"): extra.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard pos + 1 < count, base[pos] == 0x5C, base[pos + 1] == UInt8(ascii: "u") else { throw fail(.invalidUnicode) }
                        pos += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw fail(.invalidUnicode) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw fail(.invalidUnicode)
                    }
                    appendUTF8(scalar, to: &extra)
                default:
                    pos -= 1
                    throw fail(.invalidEscape)
                }
            } else if c >= 0x80 {
                let s = pos
                try skipUTF8(c)
                extra.append(contentsOf: UnsafeBufferPointer(rebasing: buf[s..<pos]))
            } else {
                extra.append(c)
                pos += 1
            }
        }
        throw fail(.unexpectedEnd)
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= buf.count else { throw fail(.unexpectedEnd) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = buf[pos]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail(.invalidEscape)
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    func appendUTF8(_ s: UInt32, to out: inout [UInt8]) {
        switch s {
        case 0..<0x80: out.append(UInt8(s))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (s >> 6))); out.append(UInt8(0x80 | (s & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (s >> 12))); out.append(UInt8(0x80 | ((s >> 6) & 0x3F))); out.append(UInt8(0x80 | (s & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (s >> 18))); out.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((s >> 6) & 0x3F))); out.append(UInt8(0x80 | (s & 0x3F)))
        }
    }

    /// Validates one UTF-8 sequence starting with lead byte `c` at `pos` (RFC 3629: no overlongs, no surrogates).
    @inline(__always) mutating func skipUTF8(_ c: UInt8) throws(JSONParseError) {
        let n: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: n = 1
        case 0xE0: n = 2; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 2
        case 0xED: n = 2; hi = 0x9F
        case 0xF0: n = 3; lo = 0x90
        case 0xF1...0xF3: n = 3
        case 0xF4: n = 3; hi = 0x8F
        default: throw fail(.invalidUnicode)
        }
        guard pos + n < buf.count else { throw fail(.invalidUnicode) }
        let b1 = buf[pos + 1]
        guard b1 >= lo && b1 <= hi else { throw fail(.invalidUnicode) }
        if n >= 2 { guard buf[pos + 2] & 0xC0 == 0x80 else { throw fail(.invalidUnicode) } }
        if n == 3 { guard buf[pos + 3] & 0xC0 == 0x80 else { throw fail(.invalidUnicode) } }
        pos += n + 1
    }

    func keyBytesEqual(_ a: (start: Int32, length: Int32), _ b: (start: Int32, length: Int32), extra: [UInt8]) -> Bool {
        if a.length != b.length { return false }
        @inline(__always) func byte(_ s: Int32, _ i: Int) -> UInt8 {
            let o = Int(s) + i
            return o >= sourceCount ? extra[o - sourceCount] : buf[o]
        }
        for i in 0..<Int(a.length) where byte(a.start, i) != byte(b.start, i) { return false }
        return true
    }

    mutating func checkDuplicate(key: (start: Int32, length: Int32), base: Int, table: inout [UInt32: [Int]]?,
                                 extra: [UInt8], line: Int32, column: Int32) throws(JSONParseError) {
        var h: UInt32 = 2166136261
        for i in 0..<Int(key.length) {
            let o = Int(key.start) + i
            h = (h ^ UInt32(o >= sourceCount ? extra[o - sourceCount] : buf[o])) &* 16777619
        }
        // FHIR objects are small: a linear scan wins. Past 32 keys a hash table keeps hostile inputs linear.
        if table == nil && keyStack.count - base > 32 {
            var t: [UInt32: [Int]] = [:]
            for j in base..<keyStack.count { t[keyStack[j].hash, default: []].append(j) }
            table = t
        }
        var duplicate = false
        if let t = table {
            for j in t[h] ?? [] where keyBytesEqual((keyStack[j].start, keyStack[j].length), key, extra: extra) { duplicate = true }
        } else {
            var i = base
            while i < keyStack.count {
                let k = keyStack[i]
                if k.hash == h && keyBytesEqual((k.start, k.length), key, extra: extra) { duplicate = true; break }
                i += 1
            }
        }
        if duplicate {
            let name: String
            if Int(key.start) >= sourceCount {
                name = String(decoding: extra[(Int(key.start) - sourceCount)..<(Int(key.start) - sourceCount + Int(key.length))], as: UTF8.self)
            } else {
                name = String(decoding: UnsafeBufferPointer(rebasing: buf[Int(key.start)..<Int(key.start + key.length)]), as: UTF8.self)
            }
            throw JSONParseError(reason: .duplicateKey(name), location: SourceLocation(line: line, column: column), offset: Int(key.start))
        }
        table?[h, default: []].append(keyStack.count)
        keyStack.append((key.start, key.length, h))
    }
}
