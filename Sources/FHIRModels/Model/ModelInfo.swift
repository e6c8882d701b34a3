#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the element tree needs to know about FHIR R4 types to read and write instances: each type's
/// elements in definition order, which repeat, their types, and how primitives look in JSON.
/// Conformance rules (cardinality minimums, bindings, invariants) live in `Validation`, not here.
/// The table is generated from the R4 StructureDefinitions by `fhir-gateway generate-model-info`
/// into `Generated/R4ModelData.swift`.
public struct ModelInfo: Sendable {
    public typealias TypeID = Int32

    public enum Kind: UInt8, Sendable { case primitive, complex, resource, backbone }
    /// JSON shape of a primitive's value.
    public enum JSONKind: UInt8, Sendable { case string, number, boolean }

    public struct TypeInfo: Sendable {
        public let name: String
        public let kind: Kind
        public let isAbstract: Bool
        public let base: TypeID
        public let jsonKind: JSONKind
        /// Range of this type's elements in `elements`.
        public let elements: Range<Int32>
    }

    public struct ElementInfo: Sendable {
        /// Name without `[x]` for choice elements (`value` for `value[x]`).
        public let name: String
        public let nameBytes: [UInt8]
        public let isArray: Bool
        public let isChoice: Bool
        /// Allowed types; one unless `isChoice`.
        public let types: [TypeID]
        /// Owner type.
        public let owner: TypeID
    }

    public private(set) var types: [TypeInfo] = []
    public private(set) var elements: [ElementInfo] = []
    private var byName: [String: TypeID] = [:]
    /// Flat copies of what `resolve` and the readers touch per member, so the hot path reads plain
    /// integers and bytes instead of retaining the Strings and arrays inside `ElementInfo`.
    private let hot: HotTables
    /// Kind of each type (hot path: no reference counting).
    @inline(__always) public func kind(_ type: TypeID) -> Kind { hot.kinds[Int(type)] }
    /// Whether an element repeats (hot path).
    @inline(__always) public func repeats(_ element: Int32) -> Bool { hot.isArray[Int(element)] }

    /// Whether element `element` is named `name` (without `[x]`), from the flat name table (hot path: no
    /// copy of the element's `ElementInfo`).
    public func elementNameIs(_ element: Int32, _ name: String) -> Bool {
        let h = hot
        let off = Int(h.nameOffset[Int(element)]), len = Int(h.nameLength[Int(element)])
        if let r = name.utf8.withContiguousStorageIfAvailable({ b -> Bool in
            guard b.count == len else { return false }
            var i = 0
            while i < len {
                if h.names[off + i] != b[i] { return false }
                i += 1
            }
            return true
        }) { return r }
        return elements[Int(element)].name == name
    }

    public static let r4: ModelInfo = ModelInfo(text: R4ModelData.text)

    public func type(named name: String) -> TypeID? { byName[name] }
    public subscript(type id: TypeID) -> TypeInfo { types[Int(id)] }
    public subscript(element id: Int32) -> ElementInfo { elements[Int(id)] }

    public func elements(of type: TypeID) -> Range<Int32> { types[Int(type)].elements }

    /// Whether `type` is `ancestor` or derives from it (e.g. Patient is a DomainResource).
    public func isA(_ type: TypeID, _ ancestor: TypeID) -> Bool {
        var t = type
        while t >= 0 {
            if t == ancestor { return true }
            t = types[Int(t)].base
        }
        return false
    }

    public func isResource(_ type: TypeID) -> Bool { types[Int(type)].kind == .resource }

    /// Resolves a JSON/XML member name of an instance of `type` to its element and concrete type.
    /// A choice element matches `value` + capitalised type name (`valueQuantity`, `valueString`).
    public func resolve(_ type: TypeID, name: UnsafeBufferPointer<UInt8>) -> (element: Int32, type: TypeID)? {
        let h = hot
        let lower = h.elementStart[Int(type)], upper = h.elementEnd[Int(type)]
        let count = Int32(name.count)
        guard count > 0, let np = name.baseAddress else { return nil }
        let first = np[0]
        var i = lower
        while i < upper {
            let off = Int(h.nameOffset[Int(i)]), len = h.nameLength[Int(i)]
            if h.names[off] == first {
                if !h.choice[Int(i)] {
                    if len == count && memcmp(h.names + off, np, Int(len)) == 0 { return (i, h.firstType[Int(i)]) }
                } else if count > len && memcmp(h.names + off, np, Int(len)) == 0 {
                    let suffix = UnsafeBufferPointer(rebasing: name[Int(len)...])
                    for t in elements[Int(i)].types where ModelInfo.matchesTypeSuffix(types[Int(t)].name, suffix) { return (i, t) }
                }
            }
            i += 1
        }
        return nil
    }

    public func resolve(_ type: TypeID, name: String) -> (element: Int32, type: TypeID)? {
        var n = name
        return n.withUTF8 { resolve(type, name: $0) }
    }

    /// `Quantity` matches type `Quantity`; `String` matches primitive `string`.
    static func matchesTypeSuffix(_ typeName: String, _ suffix: UnsafeBufferPointer<UInt8>) -> Bool {
        var tn = typeName
        return tn.withUTF8 { t in
            guard t.count == suffix.count, t.count > 0 else { return false }
            let first = t[0] >= 0x61 && t[0] <= 0x7A ? t[0] - 0x20 : t[0]
            if first != suffix[0] { return false }
            for k in 1..<t.count where t[k] != suffix[k] { return false }
            return true
        }
    }

    /// The member name an element of concrete type `type` takes in JSON and XML (`valueQuantity`).
    public func memberName(element: Int32, type: TypeID) -> String {
        let e = elements[Int(element)]
        guard e.isChoice else { return e.name }
        let tn = types[Int(type)].name
        return e.name + tn.prefix(1).uppercased() + tn.dropFirst()
    }

    /// Parses the generated table. Lines: `T kind name base flags` then `E name card types` for its elements.
    init(text: String) {
        var elementStart: Int32 = 0
        var pending: [(name: String, kind: Kind, abstract: Bool, base: String, json: JSONKind, start: Int32, end: Int32)] = []
        var rawElements: [(name: String, isArray: Bool, isChoice: Bool, types: [String], owner: Int)] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.first == "T" {
                if !pending.isEmpty { pending[pending.count - 1].end = Int32(rawElements.count) }
                elementStart = Int32(rawElements.count)
                let kind: Kind = switch f[1] { case "p": .primitive; case "c": .complex; case "r": .resource; default: .backbone }
                let flags = f.count > 4 ? f[4] : ""
                let json: JSONKind = flags.contains("n") ? .number : flags.contains("b") ? .boolean : .string
                pending.append((String(f[2]), kind, flags.contains("a"), String(f[3]), json, elementStart, elementStart))
            } else if f.first == "E" {
                let name = String(f[1])
                let isChoice = name.hasSuffix("[x]")
                rawElements.append((isChoice ? String(name.dropLast(3)) : name, f[2] == "*", isChoice,
                                    f[3].split(separator: ",").map(String.init), pending.count - 1))
            }
        }
        if !pending.isEmpty { pending[pending.count - 1].end = Int32(rawElements.count) }
        var names: [String: TypeID] = [:]
        for (i, p) in pending.enumerated() { names[p.name] = TypeID(i) }
        let allTypes = pending.map { p in
            TypeInfo(name: p.name, kind: p.kind, isAbstract: p.abstract, base: names[p.base] ?? -1,
                     jsonKind: p.json, elements: p.start..<p.end)
        }
        let allElements = rawElements.map { r in
            ElementInfo(name: r.name, nameBytes: Array(r.name.utf8), isArray: r.isArray, isChoice: r.isChoice,
                        types: r.types.map { names[$0] ?? -1 }, owner: TypeID(r.owner))
        }
        byName = names
        types = allTypes
        elements = allElements
        // Allocated once per table (the R4 table lives for the whole process).
        hot = HotTables(types: allTypes, elements: allElements)
    }
}

/// Immutable, never-freed copies of the per-member lookup data as raw buffers: the readers consult
/// them for every JSON member and XML element, so they must not pay reference counting.
private struct HotTables: @unchecked Sendable {
    var names: UnsafeMutablePointer<UInt8>
    var nameOffset: UnsafeMutablePointer<Int32>
    var nameLength: UnsafeMutablePointer<Int32>
    var firstType: UnsafeMutablePointer<Int32>
    var choice: UnsafeMutablePointer<Bool>
    var isArray: UnsafeMutablePointer<Bool>
    var elementStart: UnsafeMutablePointer<Int32>
    var elementEnd: UnsafeMutablePointer<Int32>
    var kinds: UnsafeMutablePointer<ModelInfo.Kind>

    init(types: [ModelInfo.TypeInfo], elements: [ModelInfo.ElementInfo]) {
        let totalNames = elements.reduce(0) { $0 + $1.nameBytes.count }
        names = .allocate(capacity: max(totalNames, 1))
        nameOffset = .allocate(capacity: max(elements.count, 1))
        nameLength = .allocate(capacity: max(elements.count, 1))
        firstType = .allocate(capacity: max(elements.count, 1))
        choice = .allocate(capacity: max(elements.count, 1))
        isArray = .allocate(capacity: max(elements.count, 1))
        var off = 0
        for (i, e) in elements.enumerated() {
            nameOffset[i] = Int32(off)
            nameLength[i] = Int32(e.nameBytes.count)
            for b in e.nameBytes { names[off] = b; off += 1 }
            firstType[i] = e.types.first ?? -1
            choice[i] = e.isChoice
            isArray[i] = e.isArray
        }
        elementStart = .allocate(capacity: max(types.count, 1))
        elementEnd = .allocate(capacity: max(types.count, 1))
        kinds = .allocate(capacity: max(types.count, 1))
        for (i, t) in types.enumerated() {
            elementStart[i] = t.elements.lowerBound
            elementEnd[i] = t.elements.upperBound
            kinds[i] = t.kind
        }
    }
}
