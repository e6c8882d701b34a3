import Foundation
import FHIRModels

/// The compiled store format (`Terminologies/*.json`), version 1.
///
/// `manifest.json` lists the area files. Each area file is one JSON object, one resource per line:
///
/// ```
/// {"format":1,"area":"nos",
/// "codeSystems":[
/// {"url":…,"version":…,"name":…,"date":"YYYY-MM-DD","content":"complete","caseSensitive":false,"source":…,
///  "concepts":[{"c":code,"d":display,"y":[designations],"s":status,"e":endDate,"p":[parents],"a":true,"x":[[property,value]]}]},
/// …],
/// "valueSets":[
/// {"url":…,"version":…,"name":…,"title":…,"date":…,"status":…,"source":…,"inactive":true,
///  "members":[{"system":…,"all":true,"version":…,"codes":[[code,label…]],"excluded":[…],"unresolved":"why"}],
///  "compose":{…only when unresolved…}},
/// …]}
/// ```
/// Absent fields are omitted; codes within a system are sorted so that output is reproducible.
public enum TerminologyStoreFile {
    public static let formatVersion = 1

    public struct FormatError: Error, CustomStringConvertible {
        public var description: String
    }

    // MARK: Writing

    static func encode(area: String, codeSystems: [TerminologyCodeSystem], valueSets: [TerminologyValueSet]) -> [UInt8] {
        var out: [UInt8] = []
        out += Array("{\"format\":\(formatVersion),\"area\":".utf8)
        JSONValue.writeString(area, to: &out)
        out += Array(",\n\"codeSystems\":[".utf8)
        for (i, cs) in codeSystems.enumerated() {
            out += Array((i == 0 ? "\n" : ",\n").utf8)
            out += encode(cs).serialized()
        }
        out += Array("],\n\"valueSets\":[".utf8)
        for (i, vs) in valueSets.enumerated() {
            out += Array((i == 0 ? "\n" : ",\n").utf8)
            out += encode(vs).serialized()
        }
        out += Array("]}\n".utf8)
        return out
    }

    private static func encode(_ cs: TerminologyCodeSystem) -> JSONValue {
        var o: [(String, JSONValue)] = [("url", .string(cs.url))]
        if let v = cs.version { o.append(("version", .string(v))) }
        if let v = cs.name { o.append(("name", .string(v))) }
        if let v = cs.date { o.append(("date", .string(v))) }
        o.append(("content", .string(cs.content)))
        if let v = cs.caseSensitive { o.append(("caseSensitive", .bool(v))) }
        o.append(("source", .string(cs.source)))
        o.append(("concepts", .array(cs.concepts.map { c in
            var x: [(String, JSONValue)] = [("c", .string(c.code))]
            if let d = c.display { x.append(("d", .string(d))) }
            if !c.designations.isEmpty { x.append(("y", .array(c.designations.map { .string($0) }))) }
            if let s = c.status { x.append(("s", .string(s))) }
            if let e = c.endDate { x.append(("e", .string(e))) }
            if !c.parents.isEmpty { x.append(("p", .array(c.parents.map { .string($0) }))) }
            if c.abstract { x.append(("a", .bool(true))) }
            if !c.properties.isEmpty {
                x.append(("x", .array(c.properties.map { .array([.string($0.code), .string($0.value)]) })))
            }
            return .object(x)
        })))
        return .object(o)
    }

    private static func encode(_ vs: TerminologyValueSet) -> JSONValue {
        var o: [(String, JSONValue)] = [("url", .string(vs.url))]
        if let v = vs.version { o.append(("version", .string(v))) }
        if let v = vs.name { o.append(("name", .string(v))) }
        if let v = vs.title { o.append(("title", .string(v))) }
        if let v = vs.date { o.append(("date", .string(v))) }
        if let v = vs.status { o.append(("status", .string(v))) }
        o.append(("source", .string(vs.source)))
        if vs.includesInactive { o.append(("inactive", .bool(true))) }
        o.append(("members", .array(vs.members.keys.sorted().map { sys in
            let m = vs.members[sys]!
            var x: [(String, JSONValue)] = [("system", .string(sys))]
            if m.all { x.append(("all", .bool(true))) }
            if let v = m.allVersion { x.append(("version", .string(v))) }
            if !m.codes.isEmpty {
                x.append(("codes", .array(m.codes.keys.sorted().map { code in
                    .array([.string(code)] + m.codes[code]!.map { .string($0) })
                })))
            }
            if !m.excluded.isEmpty { x.append(("excluded", .array(m.excluded.sorted().map { .string($0) }))) }
            if let u = m.unresolved { x.append(("unresolved", .string(u))) }
            return .object(x)
        })))
        if let c = vs.compose { o.append(("compose", c)) }
        return .object(o)
    }

    // MARK: Reading

    /// Reads one area file into `store`. Works on the parsed tape directly (no intermediate tree).
    static func decode(_ bytes: [UInt8], into store: inout TerminologyStore, file: String) throws {
        let doc: JSONDocument
        do { doc = try JSONReader.parse(bytes) } catch { throw FormatError(description: "\(file): \(error)") }
        let root = doc.root
        guard let f = doc.member(root, "format"), Int(doc.stringValue(f)) == formatVersion else {
            throw FormatError(description: "\(file): not a terminology store file of format \(formatVersion)")
        }
        if let list = doc.member(root, "codeSystems") {
            for n in doc.children(list) { store.insert(try codeSystem(doc, n, file: file)) }
        }
        if let list = doc.member(root, "valueSets") {
            for n in doc.children(list) { store.insert(try valueSet(doc, n, file: file)) }
        }
    }

    private static func strings(_ doc: JSONDocument, _ n: Int32) -> [String] {
        doc.children(n).map { doc.stringValue($0) }
    }

    private static func codeSystem(_ doc: JSONDocument, _ n: Int32, file: String) throws -> TerminologyCodeSystem {
        var url: String?, version: String?, name: String?, date: String?, content = "complete", caseSensitive: Bool?, source = file
        var concepts: [TerminologyConcept] = []
        for m in doc.children(n) {
            switch doc.key(m) {
            case "url": url = doc.stringValue(m)
            case "version": version = doc.stringValue(m)
            case "name": name = doc.stringValue(m)
            case "date": date = doc.stringValue(m)
            case "content": content = doc.stringValue(m)
            case "caseSensitive": caseSensitive = doc.nodes[Int(m)].kind == .true
            case "source": source = doc.stringValue(m)
            case "concepts":
                concepts.reserveCapacity(Int(doc.nodes[Int(m)].count))
                for c in doc.children(m) {
                    var concept = TerminologyConcept(code: "")
                    for k in doc.children(c) {
                        let node = doc.nodes[Int(k)]
                        guard node.keyLength == 1 else { continue }
                        switch doc.bytes.withBytes(node.keyStart, 1, { $0[0] }) {
                        case UInt8(ascii: "c"): concept.code = doc.stringValue(k)
                        case UInt8(ascii: "d"): concept.display = doc.stringValue(k)
                        case UInt8(ascii: "y"): concept.designations = strings(doc, k)
                        case UInt8(ascii: "s"): concept.status = doc.stringValue(k)
                        case UInt8(ascii: "e"): concept.endDate = doc.stringValue(k)
                        case UInt8(ascii: "p"): concept.parents = strings(doc, k)
                        case UInt8(ascii: "a"): concept.abstract = node.kind == .true
                        case UInt8(ascii: "x"):
                            concept.properties = doc.children(k).map { pair in
                                let v = strings(doc, pair)
                                return .init(code: v.first ?? "", value: v.count > 1 ? v[1] : "")
                            }
                        default: break
                        }
                    }
                    concepts.append(concept)
                }
            default: break
            }
        }
        guard let url else { throw FormatError(description: "\(file): code system without url") }
        return TerminologyCodeSystem(url: url, version: version, name: name, date: date, content: content,
                                     caseSensitive: caseSensitive, source: source, concepts: concepts)
    }

    private static func valueSet(_ doc: JSONDocument, _ n: Int32, file: String) throws -> TerminologyValueSet {
        var url: String?, version: String?, name: String?, title: String?, date: String?, status: String?, source = file
        var inactive = false
        var members: [String: SystemMembership] = [:]
        var compose: JSONValue?
        for k in doc.children(n) {
            switch doc.key(k) {
            case "url": url = doc.stringValue(k)
            case "version": version = doc.stringValue(k)
            case "name": name = doc.stringValue(k)
            case "title": title = doc.stringValue(k)
            case "date": date = doc.stringValue(k)
            case "status": status = doc.stringValue(k)
            case "source": source = doc.stringValue(k)
            case "inactive": inactive = doc.nodes[Int(k)].kind == .true
            case "compose": compose = JSONValue(document: doc, node: k)
            case "members":
                for e in doc.children(k) {
                    var system = ""
                    var m = SystemMembership()
                    for f in doc.children(e) {
                        switch doc.key(f) {
                        case "system": system = doc.stringValue(f)
                        case "all": m.all = doc.nodes[Int(f)].kind == .true
                        case "version": m.allVersion = doc.stringValue(f)
                        case "unresolved": m.unresolved = doc.stringValue(f)
                        case "excluded": m.excluded = Set(strings(doc, f))
                        case "codes":
                            m.codes.reserveCapacity(Int(doc.nodes[Int(f)].count))
                            for entry in doc.children(f) {
                                let v = strings(doc, entry)
                                guard let code = v.first else { continue }
                                m.codes[code] = Array(v.dropFirst())
                            }
                        default: break
                        }
                    }
                    members[system] = m
                }
            default: break
            }
        }
        guard let url else { throw FormatError(description: "\(file): value set without url") }
        return TerminologyValueSet(url: url, version: version, name: name, title: title, date: date, status: status,
                                   source: source, includesInactive: inactive, members: members, compose: compose)
    }
}

extension TerminologyStore {
    /// Loads the compiled store from a directory holding `manifest.json` and the area files it lists.
    public static func load(directory: String) throws -> TerminologyStore {
        let dir = URL(fileURLWithPath: directory)
        let manifestBytes: [UInt8]
        do { manifestBytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("manifest.json"))) } catch {
            throw TerminologyStoreFile.FormatError(description: "no terminology store manifest in \(directory): \(error.localizedDescription)")
        }
        let manifest: JSONValue
        do { manifest = try JSONValue.parse(manifestBytes) } catch {
            throw TerminologyStoreFile.FormatError(description: "\(directory)/manifest.json: \(error)")
        }
        guard manifest["formatVersion"]?.int == TerminologyStoreFile.formatVersion else {
            throw TerminologyStoreFile.FormatError(description: "\(directory)/manifest.json: unsupported store format")
        }
        var store = TerminologyStore(referenceDate: manifest["referenceDate"]?.string ?? "")
        for f in manifest["files"]?.array ?? [] {
            guard let name = f["name"]?.string else { continue }
            let bytes: [UInt8]
            do { bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(name))) } catch {
                throw TerminologyStoreFile.FormatError(description: "\(directory)/\(name): \(error.localizedDescription)")
            }
            try TerminologyStoreFile.decode(bytes, into: &store, file: name)
        }
        return store
    }
}
