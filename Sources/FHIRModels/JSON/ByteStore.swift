/// Bytes of a parsed document: the untouched source plus bytes produced while parsing
/// (unescaped JSON strings, serialized XHTML, values read from XML). A span at or past
/// `source.count` lives in `extra`, so the source is never copied.
public struct ByteStore: Sendable {
    public let source: [UInt8]
    public var extra: [UInt8]

    public init(source: [UInt8], extra: [UInt8] = []) {
        self.source = source
        self.extra = extra
    }

    @inlinable
    public func withBytes<R>(_ start: Int32, _ length: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let s = Int(start), n = Int(length)
        if s >= source.count {
            return try extra.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[(s - source.count)..<(s - source.count + n)])) }
        }
        return try source.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[s..<(s + n)])) }
    }

    public func string(_ start: Int32, _ length: Int32) -> String {
        if length <= 0 { return "" }
        return withBytes(start, length) { String(decoding: $0, as: UTF8.self) }
    }

    public func bytes(_ start: Int32, _ length: Int32) -> [UInt8] {
        if length <= 0 { return [] }
        return withBytes(start, length) { Array($0) }
    }

    @inlinable
    public func equals(_ start: Int32, _ length: Int32, _ other: some Collection<UInt8>) -> Bool {
        if Int(length) != other.count { return false }
        if let r = other.withContiguousStorageIfAvailable({ o in withBytes(start, length) { Self.same($0, o) } }) { return r }
        return withBytes(start, length) { buf in buf.elementsEqual(other) }
    }

    /// Byte-by-byte comparison of two buffers of the same length (no generic iteration: this runs for
    /// every member name and value compared while matching slices and fixed values).
    @inlinable
    static func same(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var i = 0
        while i < a.count {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    /// Appends bytes to `extra` and returns their span.
    public mutating func append(_ bytes: some Collection<UInt8>) -> (start: Int32, length: Int32) {
        let start = Int32(source.count + extra.count)
        extra.append(contentsOf: bytes)
        return (start, Int32(bytes.count))
    }

    public mutating func append(_ string: String) -> (start: Int32, length: Int32) {
        append(Array(string.utf8))
    }
}

/// A position in a source document, 1-based, for error messages.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var line: Int32
    public var column: Int32
    public init(line: Int32, column: Int32) { self.line = line; self.column = column }
    public var description: String { "line \(line), col \(column)" }
}
