/// Checks the narrative XHTML rules of FHIR R4 (`Narrative.div`): well-formed markup whose root is a
/// `div` in the XHTML namespace, only the allowed elements and attributes, no scripts, event handlers
/// or `javascript:` URLs. Works on the bytes, without building a DOM.
enum XHTMLChecker {
    static let namespace = "http://www.w3.org/1999/xhtml"

    static let allowedElements: Set<String> = [
        "p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "b", "em", "i", "strong", "small", "big", "tt",
        "dfn", "q", "var", "abbr", "acronym", "cite", "blockquote", "hr", "address", "bdo", "kbd", "sub", "sup", "ul", "ol",
        "li", "dl", "dt", "dd", "pre", "table", "caption", "colgroup", "col", "thead", "tr", "tfoot", "tbody", "th", "td",
        "code", "samp", "img", "map", "area", "ins", "del", "u", "s", "strike", "center", "font",
    ]

    static let allowedAttributes: Set<String> = [
        "title", "style", "class", "id", "lang", "xml:lang", "dir", "accesskey", "tabindex", "xmlns",
        "href", "name", "src", "alt", "width", "height", "border", "cellpadding", "cellspacing", "summary", "align",
        "valign", "span", "char", "charoff", "abbr", "axis", "headers", "scope", "rules", "frame", "start", "type",
        "value", "compact", "shape", "coords", "nohref", "usemap", "colspan", "rowspan", "cite", "datetime", "bgcolor",
        "color", "size", "face", "rel", "rev", "hreflang", "target", "reversed", "longdesc", "hspace", "vspace", "nowrap",
        "xmlns:xhtml",
    ]

    /// XHTML is XML: only the five XML entities and character references are defined.
    static func entityProblem(_ v: UnsafeBufferPointer<UInt8>, at start: Int) -> String? {
        var j = start + 1
        while j < v.count && j - start < 40 && v[j] != 0x3B && !PrimitiveFormats.isWS(v[j]) && v[j] != 0x3C { j += 1 }
        guard j < v.count, v[j] == 0x3B else { return "Invalid entity in the XHTML: '&' must be written '&amp;'" }
        let name = String(decoding: v[(start + 1)..<j], as: UTF8.self)
        if ["amp", "lt", "gt", "quot", "apos"].contains(name) { return nil }
        if name.hasPrefix("#x"), name.count > 2, name.dropFirst(2).allSatisfy(\.isHexDigit) { return nil }
        if name.hasPrefix("#"), name.count > 1, name.dropFirst().allSatisfy(\.isNumber) { return nil }
        return "Invalid entity in the XHTML ('&\(name);')"
    }

    struct Result {
        var problems: [String] = []
        /// An element or attribute outside the allowed HTML subset (txt-1).
        var illegal = false
        /// Some non-whitespace text or an image (txt-2).
        var hasContent = false
        /// Languages of the language sections: children of the root div with a `lang` or `xml:lang`
        /// attribute (the narrative-language-control rules).
        var languageSections: [String] = []
        /// Text or elements directly in the root div outside any language section.
        var contentOutsideSections = false
        /// Targets of internal hyperlinks (`href="#x"` gives `x`) and the anchors (`id`, `name`) defined.
        var internalLinks: [String] = []
        var anchors: [String] = []
    }

    /// Problems found, as messages (empty when the XHTML is acceptable).
    static func check(_ v: UnsafeBufferPointer<UInt8>) -> [String] { analyse(v).problems }

    static func analyse(_ v: UnsafeBufferPointer<UInt8>) -> Result {
        var result = Result()
        let problems = check(v, &result)
        result.problems = problems
        return result
    }

    private static func check(_ v: UnsafeBufferPointer<UInt8>, _ result: inout Result) -> [String] {
        var problems: [String] = []
        var i = 0
        let n = v.count
        var stack: [String] = []
        var sawRoot = false
        func skipWS() { while i < n && PrimitiveFormats.isWS(v[i]) { i += 1 } }
        func readName() -> String {
            let s = i
            while i < n, !PrimitiveFormats.isWS(v[i]), v[i] != 0x3E, v[i] != 0x2F, v[i] != 0x3D { i += 1 }
            return String(decoding: v[s..<i], as: UTF8.self)
        }
        func find(_ pattern: [UInt8]) -> Int? {
            var j = i
            while j + pattern.count <= n {
                if v[j] == pattern[0] && v[j..<(j + pattern.count)].elementsEqual(pattern) { return j }
                j += 1
            }
            return nil
        }
        while i < n {
            if v[i] != 0x3C {
                if stack.isEmpty && !PrimitiveFormats.isWS(v[i]) {
                    problems.append("The narrative has text outside the root div"); return problems
                }
                if v[i] == 0x26, let problem = entityProblem(v, at: i) { problems.append(problem) }
                if !stack.isEmpty && !PrimitiveFormats.isWS(v[i]) {
                    result.hasContent = true
                    if stack.count == 1 { result.contentOutsideSections = true }
                }
                i += 1; continue
            }
            // Comments, CDATA, processing instructions, doctype.
            if i + 3 < n && v[i + 1] == 0x21 && v[i + 2] == 0x2D && v[i + 3] == 0x2D {
                guard let e = find(Array("-->".utf8)) else { problems.append("Unterminated XHTML comment"); return problems }
                i = e + 3; continue
            }
            if i + 1 < n && v[i + 1] == 0x21 {
                if let e = find(Array("]]>".utf8)), i + 8 < n, v[i + 2] == 0x5B { i = e + 3; continue }
                guard let e = find([0x3E]) else { return problems + ["Malformed XHTML"] }
                i = e + 1; continue
            }
            if i + 1 < n && v[i + 1] == 0x3F {
                guard let e = find(Array("?>".utf8)) else { return problems + ["Malformed XHTML processing instruction"] }
                i = e + 2; continue
            }
            if i + 1 < n && v[i + 1] == 0x2F {
                i += 2
                let name = readName()
                skipWS()
                guard i < n, v[i] == 0x3E else { problems.append("Malformed end tag </\(name)>"); return problems }
                i += 1
                guard let open = stack.popLast(), open == name else {
                    problems.append("Malformed XHTML: end tag </\(name)> does not match the open element"); return problems
                }
                continue
            }
            i += 1
            let name = readName()
            if name.isEmpty { problems.append("Malformed XHTML: '<' not followed by an element name"); return problems }
            // `name` is not empty: without a ':' the split would give back `name` itself.
            let local = name.utf8.contains(UInt8(ascii: ":")) ? name.split(ascii: UInt8(ascii: ":")).last.map(String.init) ?? name : name
            let isRoot = stack.isEmpty
            if isRoot {
                if sawRoot { problems.append("The narrative must have a single root element"); return problems }
                sawRoot = true
                if local != "div" { problems.append("The narrative root element must be a div, not '\(name)'") }
            }
            let lowerLocal = local.lowercased()
            if !allowedElements.contains(lowerLocal) {
                problems.append("Illegal element name in the XHTML ('\(name)')")
                result.illegal = true
            }
            if lowerLocal == "img" { result.hasContent = true }
            var xmlns: String?
            var lang: String?
            let isTopLevel = stack.count == 1
            // Attributes.
            while true {
                skipWS()
                guard i < n else { problems.append("Malformed XHTML: unterminated tag <\(name)>"); return problems }
                if v[i] == 0x3E { i += 1; stack.append(name); break }
                if v[i] == 0x2F { i += 1; guard i < n, v[i] == 0x3E else { return problems + ["Malformed XHTML tag <\(name)>"] }; i += 1; break }
                let attr = readName()
                if attr.isEmpty { problems.append("Malformed XHTML attribute in <\(name)>"); return problems }
                skipWS()
                var value = ""
                if i < n && v[i] == 0x3D {
                    i += 1; skipWS()
                    guard i < n, v[i] == 0x22 || v[i] == 0x27 else { problems.append("Malformed XHTML: attribute '\(attr)' value must be quoted"); return problems }
                    let q = v[i]; i += 1
                    let s = i
                    while i < n && v[i] != q { i += 1 }
                    guard i < n else { problems.append("Malformed XHTML: unterminated attribute '\(attr)'"); return problems }
                    value = String(decoding: v[s..<i], as: UTF8.self)
                    i += 1
                }
                let lower = attr.lowercased()
                if lower.hasPrefix("on") {
                    problems.append("Event handler attribute '\(attr)' is not allowed in the XHTML (on '\(name)')")
                    result.illegal = true
                } else if !allowedAttributes.contains(lower) && !lower.hasPrefix("xmlns:") {
                    problems.append("Illegal attribute name in the XHTML ('\(attr)' on '\(name)')")
                    result.illegal = true
                }
                if lower == "xmlns" { xmlns = value }
                if lower == "lang" || lower == "xml:lang" { lang = value }
                if lower == "id" || lower == "name" { result.anchors.append(value) }
                if lower == "href" && value.hasPrefix("#") && value.count > 1 { result.internalLinks.append(String(value.dropFirst())) }
                if lower == "href" || lower == "src" {
                    let compact = value.lowercased().filter { !$0.isWhitespace }
                    if compact.hasPrefix("javascript:") || compact.hasPrefix("vbscript:") {
                        problems.append("Attribute '\(attr)' on '\(name)' uses a script URL, which is not allowed")
                        result.illegal = true
                    }
                }
            }
            if isTopLevel {
                if let lang, !lang.isEmpty {
                    if !result.languageSections.contains(lang) { result.languageSections.append(lang) }
                } else {
                    result.contentOutsideSections = true
                }
            }
            if isRoot && xmlns != namespace {
                problems.append("The narrative div must declare the XHTML namespace (xmlns=\"\(namespace)\")")
            }
        }
        if !stack.isEmpty { problems.append("Malformed XHTML: element <\(stack.last!)> is not closed") }
        if !sawRoot { problems.append("The narrative is empty: it must be a div in the XHTML namespace") }
        return problems
    }
}
