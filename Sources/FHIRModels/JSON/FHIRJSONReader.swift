/// Reads FHIR JSON into an `ElementTree`: a raw parse into a `JSONDocument` tape, then a walk that
/// types every member from `ModelInfo`, merges `x`/`_x` primitive pairs and records shape problems
/// (unknown members, arrays where one value is allowed, wrong JSON types) without dropping content.
public enum FHIRJSONReader {
    public static func read(_ bytes: [UInt8], limits: JSONLimits = .standard, model: ModelInfo = .r4) throws(FHIRParseError) -> ElementTree {
        let doc: JSONDocument
        do { doc = try JSONReader.parse(bytes, limits: limits) } catch { throw FHIRParseError(json: error) }
        return try read(doc, model: model)
    }

    public static func read(_ doc: JSONDocument, model: ModelInfo = .r4) throws(FHIRParseError) -> ElementTree {
        guard doc.nodes[0].kind == .object else {
            throw FHIRParseError(message: "a FHIR resource must be a JSON object", location: doc.nodes[0].location)
        }
        var b = TreeBuilder(doc: doc, model: model)
        b.tree.nodes.reserveCapacity(doc.nodes.count)
        guard b.buildResource(obj: 0, nameStart: -1, nameLength: 0, parent: -1, element: -1, index: -1, location: doc.nodes[0].location) else {
            throw FHIRParseError(message: "missing or unknown 'resourceType': this is not a FHIR R4 resource", location: doc.nodes[0].location)
        }
        return b.tree
    }
}

/// Why a document could not be read at all (as opposed to a `StructureIssue`, which keeps the tree).
public struct FHIRParseError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var location: SourceLocation
    public init(message: String, location: SourceLocation) { self.message = message; self.location = location }
    public init(json: JSONParseError) { self.message = json.description; self.location = json.location }
    public var description: String { message }
}

private struct TreeBuilder {
    let doc: JSONDocument
    let model: ModelInfo
    var tree: ElementTree
    let resourceTypeKey = Array("resourceType".utf8)
    var memberStack: [(start: Int32, length: Int32, value: Int32, shadow: Int32)] = []

    init(doc: JSONDocument, model: ModelInfo) {
        self.doc = doc
        self.model = model
        self.tree = ElementTree(bytes: doc.bytes, format: .json, model: model)
    }

    mutating func issue(_ code: StructureIssue.Code, _ message: String, node: Int32, at loc: SourceLocation, member: String? = nil) {
        tree.issues.append(StructureIssue(code: code, message: message, node: node, location: loc, member: member))
    }

    func keyString(_ j: Int32) -> String { doc.key(j) }

    @discardableResult
    mutating func append(nameStart: Int32, nameLength: Int32, type: Int32, element: Int32, parent: Int32, index: Int32,
                         location: SourceLocation, flags: ElementTree.Flags = []) -> Int32 {
        let id = Int32(tree.nodes.count)
        tree.nodes.append(ElementTree.Node(nameStart: nameStart, nameLength: nameLength, valueStart: 0, valueLength: -1,
                                           type: type, element: element, parent: parent, end: id + 1, index: index,
                                           line: location.line, column: location.column, flags: flags))
        return id
    }

    /// Builds a resource node from a JSON object; false when `resourceType` is missing or unknown.
    mutating func buildResource(obj: Int32, nameStart: Int32, nameLength: Int32, parent: Int32, element: Int32, index: Int32,
                                location: SourceLocation) -> Bool {
        var typeID: Int32 = -1
        var rtNode: Int32 = -1
        for c in doc.children(obj) {
            let n = doc.nodes[Int(c)]
            if doc.bytes.equals(n.keyStart, n.keyLength, resourceTypeKey) { rtNode = c; break }
        }
        if rtNode >= 0, doc.nodes[Int(rtNode)].kind == .string {
            let n = doc.nodes[Int(rtNode)]
            if let t = model.type(named: doc.bytes.string(n.valueStart, n.valueLength)), model[type: t].kind == .resource,
               !model[type: t].isAbstract {
                typeID = t
            }
        }
        if parent < 0 {
            guard typeID >= 0 else { return false }
            let rt = doc.nodes[Int(rtNode)]
            let id = append(nameStart: rt.valueStart, nameLength: rt.valueLength, type: typeID, element: -1, parent: -1, index: -1,
                            location: location, flags: .resource)
            buildMembers(obj: obj, owner: typeID, node: id, skipResourceType: true)
            tree.nodes[Int(id)].end = Int32(tree.nodes.count)
            return true
        }
        let id = append(nameStart: nameStart, nameLength: nameLength, type: typeID, element: element, parent: parent, index: index,
                        location: location, flags: typeID >= 0 ? .resource : [.resource, .unknown])
        if typeID < 0 {
            let what = rtNode >= 0 ? "unknown resource type '\(doc.stringValue(rtNode))'" : "no 'resourceType' property"
            issue(.structure, "This resource has \(what); expected a FHIR R4 resource", node: id, at: location)
            buildUnknownMembers(obj: obj, node: id)
        } else {
            buildMembers(obj: obj, owner: typeID, node: id, skipResourceType: true)
        }
        tree.nodes[Int(id)].end = Int32(tree.nodes.count)
        return true
    }

    /// Members of one JSON object, `x` and `_x` paired, in order of first appearance. Pairs are kept
    /// on a stack shared by the whole walk (nested objects push above and pop back) to avoid allocations.
    mutating func buildMembers(obj: Int32, owner: Int32, node: Int32, skipResourceType: Bool) {
        let base = memberStack.count
        defer { memberStack.removeSubrange(base...) }
        let pairing = hasShadowMembers(obj)
        for c in doc.children(obj) {
            let n = doc.nodes[Int(c)]
            let first = doc.bytes.withBytes(n.keyStart, 1) { $0[0] }
            if first == 0x72 /* r */ && skipResourceType && doc.bytes.equals(n.keyStart, n.keyLength, resourceTypeKey) { continue }
            let isShadow = n.keyLength > 1 && first == 0x5F
            let start = isShadow ? n.keyStart + 1 : n.keyStart
            let length = isShadow ? n.keyLength - 1 : n.keyLength
            var found = -1
            if pairing {
                var i = base
                while i < memberStack.count {
                    let m = memberStack[i]
                    if m.length == length && doc.bytes.withBytes(m.start, m.length, { a in doc.bytes.withBytes(start, length) { a.elementsEqual($0) } }) {
                        found = i; break
                    }
                    i += 1
                }
            }
            if found < 0 {
                memberStack.append((start, length, isShadow ? -1 : c, isShadow ? c : -1))
            } else if isShadow {
                memberStack[found].shadow = c
            } else {
                memberStack[found].value = c
            }
        }
        var k = base
        // Copied once here: a closure reading `self.model` inside this mutating method copies it each time.
        let model = self.model
        while k < memberStack.count {
            let m = memberStack[k]
            k += 1
            let resolved = doc.bytes.withBytes(m.start, m.length) { model.resolve(owner, name: $0) }
            guard let (element, type) = resolved else {
                if m.value >= 0 { buildUnknown(json: m.value, nameStart: doc.nodes[Int(m.value)].keyStart, nameLength: doc.nodes[Int(m.value)].keyLength, parent: node, flags: []) }
                if m.shadow >= 0 { buildUnknown(json: m.shadow, nameStart: doc.nodes[Int(m.shadow)].keyStart, nameLength: doc.nodes[Int(m.shadow)].keyLength, parent: node, flags: []) }
                let j = m.value >= 0 ? m.value : m.shadow
                let name = keyString(j)
                let ownerName = model[type: owner].name
                // Attached to the object holding the property (the Java validator's place for it).
                issue(.structure, "Unrecognised property '\(name)': it is not an element of \(ownerName)", node: node, at: doc.nodes[Int(j)].location)
                continue
            }
            buildElement(element: element, type: type, nameStart: m.start, nameLength: m.length, value: m.value, shadow: m.shadow, parent: node)
        }
    }

    /// Whether any key of the object starts with `_` (most objects have none, so pairing is skipped).
    func hasShadowMembers(_ obj: Int32) -> Bool {
        for c in doc.children(obj) {
            let n = doc.nodes[Int(c)]
            if doc.bytes.withBytes(n.keyStart, 1, { $0[0] }) == 0x5F { return true }
        }
        return false
    }

    mutating func buildElement(element: Int32, type: Int32, nameStart: Int32, nameLength: Int32, value: Int32, shadow: Int32, parent: Int32) {
        var info: ModelInfo.ElementInfo { model[element: element] }
        let isPrimitive = type >= 0 && model.kind(type) == .primitive
        let anchor = value >= 0 ? value : shadow
        let loc = doc.nodes[Int(anchor)].location
        if shadow >= 0 && !isPrimitive {
            // Kept verbatim as unknown content; only the value (if any) is read as the element.
            // (Found by review + FuzzJSON: a lone `_x` on a complex element used to index node -1.)
            let s = doc.nodes[Int(shadow)]
            buildUnknown(json: shadow, nameStart: s.keyStart, nameLength: s.keyLength, parent: parent, flags: [])
            issue(.structure, "Property '_\(keyString(shadow).dropFirst())' is only allowed for primitive elements", node: parent, at: s.location)
            if value < 0 { return }
        }
        let valueIsArray = value >= 0 && doc.nodes[Int(value)].kind == .array
        let shadowIsArray = shadow >= 0 && isPrimitive && doc.nodes[Int(shadow)].kind == .array
        if model.repeats(element) {
            if (value >= 0 && !valueIsArray) || (shadow >= 0 && isPrimitive && !shadowIsArray) {
                issue(.structure, "Property '\(model[element: element].isChoice ? keyString(anchor) : info.name)' must be a JSON array: \(model[type: model[element: element].owner].name).\(info.name) repeats", node: parent, at: loc, member: info.name)
                // Keep the content as a single repetition.
                buildItem(element: element, type: type, nameStart: nameStart, nameLength: nameLength,
                          value: valueIsArray ? -1 : value, shadow: shadowIsArray ? -1 : (isPrimitive ? shadow : -1), parent: parent, index: 0, location: loc)
                return
            }
            let vCount = value >= 0 ? Int(doc.nodes[Int(value)].count) : 0
            let sCount = shadowIsArray ? Int(doc.nodes[Int(shadow)].count) : 0
            if value >= 0 && shadowIsArray && vCount != sCount {
                issue(.structure, "Arrays '\(info.name)' and '_\(info.name)' must have the same length (\(vCount) and \(sCount))", node: parent, at: loc)
            }
            if max(vCount, sCount) == 0 {
                issue(.structure, "Array '\(info.name)' is empty: FHIR forbids empty arrays, omit the property", node: parent, at: loc)
                return
            }
            let n = max(vCount, sCount)
            var vCursor: Int32 = value >= 0 ? value + 1 : -1
            var sCursor: Int32 = shadowIsArray ? shadow + 1 : -1
            for i in 0..<n {
                let vRaw: Int32 = i < vCount ? vCursor : -1
                let sRaw: Int32 = i < sCount ? sCursor : -1
                if vRaw >= 0 { vCursor = doc.nodes[Int(vRaw)].end }
                if sRaw >= 0 { sCursor = doc.nodes[Int(sRaw)].end }
                var v = vRaw, s = sRaw
                if v >= 0 && doc.nodes[Int(v)].kind == .null { v = -1 }
                if s >= 0 && doc.nodes[Int(s)].kind == .null { s = -1 }
                let itemLoc = doc.nodes[Int(vRaw >= 0 ? vRaw : sRaw)].location
                if v < 0 && s < 0 {
                    issue(.structure, "Array '\(info.name)' has a null at index \(i) with no matching value in '\(vRaw >= 0 ? "_" : "")\(info.name)'", node: parent, at: itemLoc)
                    continue
                }
                buildItem(element: element, type: type, nameStart: nameStart, nameLength: nameLength, value: v, shadow: s,
                          parent: parent, index: Int32(i), location: itemLoc)
            }
        } else {
            if valueIsArray || shadowIsArray {
                issue(.structure, "Property '\(keyString(anchor))' must be a single value, not an array: \(model[type: info.owner].name).\(info.name) does not repeat", node: parent, at: loc, member: info.name)
                let first = valueIsArray ? doc.children(value).first(where: { _ in true }) ?? -1 : value
                let firstS = shadowIsArray ? doc.children(shadow).first(where: { _ in true }) ?? -1 : (isPrimitive ? shadow : -1)
                if first >= 0 || firstS >= 0 {
                    buildItem(element: element, type: type, nameStart: nameStart, nameLength: nameLength, value: first, shadow: firstS, parent: parent, index: -1, location: loc)
                }
                return
            }
            buildItem(element: element, type: type, nameStart: nameStart, nameLength: nameLength, value: value,
                      shadow: isPrimitive ? shadow : -1, parent: parent, index: -1, location: loc)
        }
    }

    mutating func buildItem(element: Int32, type: Int32, nameStart: Int32, nameLength: Int32, value: Int32, shadow: Int32,
                            parent: Int32, index: Int32, location: SourceLocation) {
        let kind = model.kind(type)
        if kind == .primitive {
            let t = model[type: type]
            let id = append(nameStart: nameStart, nameLength: nameLength, type: type, element: element, parent: parent, index: index, location: location)
            if value >= 0 {
                let v = doc.nodes[Int(value)]
                switch v.kind {
                case .string:
                    tree.nodes[Int(id)].valueStart = v.valueStart
                    tree.nodes[Int(id)].valueLength = v.valueLength
                    tree.nodes[Int(id)].flags.insert(.jsonString)
                    if t.jsonKind != .string {
                        issue(.structure, "Error parsing JSON: the primitive value must be a \(t.jsonKind == .number ? "number" : "boolean"), not a string", node: id, at: v.location)
                    } else if v.valueLength == 0 {
                        issue(.structure, "@value cannot be empty: omit the property instead of sending \"\"", node: id, at: v.location)
                    }
                case .number:
                    tree.nodes[Int(id)].valueStart = v.valueStart
                    tree.nodes[Int(id)].valueLength = v.valueLength
                    tree.nodes[Int(id)].flags.insert(.jsonNumber)
                    if t.jsonKind != .number {
                        issue(.structure, "Error parsing JSON: the primitive value must be a \(t.jsonKind == .string ? "string" : "boolean"), not a number", node: id, at: v.location)
                    }
                case .true, .false:
                    let s = tree.bytes.append(v.kind == .true ? "true" : "false")
                    tree.nodes[Int(id)].valueStart = s.start
                    tree.nodes[Int(id)].valueLength = s.length
                    tree.nodes[Int(id)].flags.insert(.jsonBoolean)
                    if t.jsonKind != .boolean {
                        issue(.structure, "Error parsing JSON: the primitive value must be a \(t.jsonKind == .string ? "string" : "number"), not a boolean", node: id, at: v.location)
                    }
                case .null:
                    issue(.structure, "Property '\(tree.name(id))' is null: FHIR forbids null values, omit the property", node: id, at: v.location)
                case .object, .array:
                    issue(.structure, "Property '\(tree.name(id))' must be a primitive JSON value, not an \(v.kind == .object ? "object" : "array")", node: id, at: v.location)
                    buildUnknownChildren(json: value, node: id)
                }
            }
            if shadow >= 0 {
                let s = doc.nodes[Int(shadow)]
                if s.kind == .object {
                    buildMembers(obj: shadow, owner: type, node: id, skipResourceType: false)
                } else if s.kind != .null {
                    issue(.structure, "Property '_\(tree.name(id))' must be a JSON object holding id and extension", node: id, at: s.location)
                }
            }
            tree.nodes[Int(id)].end = Int32(tree.nodes.count)
            return
        }
        let v = doc.nodes[Int(value)]
        if kind == .resource {
            if v.kind == .object {
                _ = buildResource(obj: value, nameStart: nameStart, nameLength: nameLength, parent: parent, element: element, index: index, location: location)
            } else {
                let id = append(nameStart: nameStart, nameLength: nameLength, type: -1, element: element, parent: parent, index: index, location: location, flags: .unknown)
                issue(.structure, "Property '\(tree.name(id))' must be a JSON object holding a resource", node: id, at: v.location)
                tree.nodes[Int(id)].end = Int32(tree.nodes.count)
            }
            return
        }
        let id = append(nameStart: nameStart, nameLength: nameLength, type: type, element: element, parent: parent, index: index, location: location)
        if v.kind == .object {
            if v.count == 0 {
                issue(.structure, "Object '\(tree.name(id))' is empty: FHIR requires content in every element", node: id, at: v.location)
            }
            buildMembers(obj: value, owner: type, node: id, skipResourceType: false)
        } else {
            issue(.structure, "Property '\(tree.name(id))' must be a JSON object (type \(model[type: type].name)), not a \(Self.kindName(v.kind))", node: id, at: v.location)
            buildUnknownValue(json: value, node: id)
        }
        tree.nodes[Int(id)].end = Int32(tree.nodes.count)
    }

    static func kindName(_ k: JSONDocument.Kind) -> String {
        switch k {
        case .object: "object"; case .array: "array"; case .string: "string"; case .number: "number"
        case .true, .false: "boolean"; case .null: "null"
        }
    }

    // MARK: unknown content, kept verbatim so a round trip loses nothing

    /// Unknown content keeps every member, `resourceType` included, so that it can be written back.
    mutating func buildUnknownMembers(obj: Int32, node: Int32) {
        for c in doc.children(obj) {
            let n = doc.nodes[Int(c)]
            buildUnknown(json: c, nameStart: n.keyStart, nameLength: n.keyLength, parent: node, flags: [])
        }
    }

    mutating func buildUnknown(json: Int32, nameStart: Int32, nameLength: Int32, parent: Int32, flags: ElementTree.Flags) {
        let v = doc.nodes[Int(json)]
        if v.kind == .array {
            var i: Int32 = 0
            for item in doc.children(json) {
                buildUnknown(json: item, nameStart: nameStart, nameLength: nameLength, parent: parent, flags: .jsonArrayItem)
                tree.nodes[tree.nodes.count - 1].index = i
                i += 1
            }
            return
        }
        let id = append(nameStart: nameStart, nameLength: nameLength, type: -1, element: -1, parent: parent, index: -1,
                        location: v.location, flags: flags.union(.unknown))
        buildUnknownValue(json: json, node: id)
        tree.nodes[Int(id)].end = Int32(tree.nodes.count)
    }

    mutating func buildUnknownValue(json: Int32, node: Int32) {
        let v = doc.nodes[Int(json)]
        switch v.kind {
        case .object: buildUnknownChildren(json: json, node: node)
        case .string:
            tree.nodes[Int(node)].valueStart = v.valueStart; tree.nodes[Int(node)].valueLength = v.valueLength
            tree.nodes[Int(node)].flags.insert(.jsonString)
        case .number:
            tree.nodes[Int(node)].valueStart = v.valueStart; tree.nodes[Int(node)].valueLength = v.valueLength
            tree.nodes[Int(node)].flags.insert(.jsonNumber)
        case .true, .false:
            let s = tree.bytes.append(v.kind == .true ? "true" : "false")
            tree.nodes[Int(node)].valueStart = s.start; tree.nodes[Int(node)].valueLength = s.length
            tree.nodes[Int(node)].flags.insert(.jsonBoolean)
        case .null: tree.nodes[Int(node)].flags.insert(.jsonNull)
        case .array: buildUnknownChildren(json: json, node: node)
        }
    }

    mutating func buildUnknownChildren(json: Int32, node: Int32) {
        let v = doc.nodes[Int(json)]
        if v.kind == .object { buildUnknownMembers(obj: json, node: node) }
        else if v.kind == .array {
            tree.nodes[Int(node)].flags.insert(.jsonArray)
            for item in doc.children(json) {
                buildUnknown(json: item, nameStart: tree.nodes[Int(node)].nameStart, nameLength: tree.nodes[Int(node)].nameLength, parent: node, flags: .jsonArrayItem)
            }
        }
    }
}
