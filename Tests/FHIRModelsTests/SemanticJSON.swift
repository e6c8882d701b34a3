import Foundation
@testable import FHIRModels

/// Semantic JSON comparison for round-trip tests: object keys in any order, numbers as literal text,
/// `div` strings compared as XHTML (through `normalizeDiv`, when given).
enum SemanticJSON {
    static func differences(_ a: JSONValue, _ b: JSONValue, normalizeDiv: ((String) -> String)? = nil, limit: Int = 5) -> [String] {
        var diffs: [String] = []
        compare(a, b, path: "$", key: "", normalizeDiv: normalizeDiv, diffs: &diffs, limit: limit)
        return diffs
    }

    private static func compare(_ a: JSONValue, _ b: JSONValue, path: String, key: String,
                                normalizeDiv: ((String) -> String)?, diffs: inout [String], limit: Int) {
        if diffs.count >= limit { return }
        switch (a, b) {
        case (.object(let x), .object(let y)):
            let xk = Dictionary(x, uniquingKeysWith: { f, _ in f }), yk = Dictionary(y, uniquingKeysWith: { f, _ in f })
            for k in Set(xk.keys).union(yk.keys).sorted() {
                guard let xv = xk[k] else { diffs.append("\(path).\(k): only on the right"); continue }
                guard let yv = yk[k] else { diffs.append("\(path).\(k): only on the left"); continue }
                compare(xv, yv, path: "\(path).\(k)", key: k, normalizeDiv: normalizeDiv, diffs: &diffs, limit: limit)
            }
        case (.array(let x), .array(let y)):
            if x.count != y.count { diffs.append("\(path): array of \(x.count) vs \(y.count)"); return }
            for (i, (xv, yv)) in zip(x, y).enumerated() {
                compare(xv, yv, path: "\(path)[\(i)]", key: key, normalizeDiv: normalizeDiv, diffs: &diffs, limit: limit)
            }
        case (.string(let x), .string(let y)) where key == "div" && normalizeDiv != nil:
            let nx = normalizeDiv!(x), ny = normalizeDiv!(y)
            if nx != ny { diffs.append("\(path): xhtml differs\n  \(nx.prefix(300))\n  \(ny.prefix(300))") }
        default:
            if a != b { diffs.append("\(path): \(String(describing: a).prefix(120)) vs \(String(describing: b).prefix(120))") }
        }
    }
}
