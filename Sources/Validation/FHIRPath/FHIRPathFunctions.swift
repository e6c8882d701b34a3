import Foundation
import FHIRModels

extension FPEvaluator {
    /// Evaluates a lambda argument (`where`, `select`, ...) for one item.
    func lambda(_ a: FPCode, _ item: FPValue, _ i: Int, _ vars: FPVars) throws(FHIRPathError) -> [FPValue] {
        var v = vars
        v.this = item
        v.index = i
        return try eval(a, [item], v)
    }

    func function(_ f: FPFunction, _ input: [FPValue], _ args: [FPCode], _ focus: [FPValue], _ vars: FPVars,
                  _ pos: Int, hasBase: Bool) throws(FHIRPathError) -> [FPValue] {
        func arg(_ k: Int) throws(FHIRPathError) -> [FPValue] { try eval(args[k], focus, vars) }
        switch f {
        // existence
        case .empty: return [.boolean(input.isEmpty)]
        case .exists:
            if args.isEmpty { return [.boolean(!input.isEmpty)] }
            for (i, x) in input.enumerated() where try truth(try lambda(args[0], x, i, vars), pos) == true { return [.boolean(true)] }
            return [.boolean(false)]
        case .all:
            for (i, x) in input.enumerated() where try truth(try lambda(args[0], x, i, vars), pos) != true { return [.boolean(false)] }
            return [.boolean(true)]
        case .allTrue, .anyTrue, .allFalse, .anyFalse:
            var bools: [Bool] = []
            for x in input {
                guard case .boolean(let b)? = systemValue(x) else { throw fail("\(f.rawValue)() needs Boolean items", pos) }
                bools.append(b)
            }
            switch f {
            case .allTrue: return [.boolean(bools.allSatisfy { $0 })]
            case .anyTrue: return [.boolean(bools.contains(true))]
            case .allFalse: return [.boolean(bools.allSatisfy { !$0 })]
            default: return [.boolean(bools.contains(false))]
            }
        case .subsetOf:
            let other = try arg(0)
            return [.boolean(input.allSatisfy { contains(other, $0) })]
        case .supersetOf:
            let other = try arg(0)
            return [.boolean(other.allSatisfy { contains(input, $0) })]
        case .count: return [.integer(input.count)]
        case .distinct: return distinct(input)
        case .isDistinct: return [.boolean(distinct(input).count == input.count)]
        // filtering
        case .where:
            var out: [FPValue] = []
            for (i, x) in input.enumerated() where try truth(try lambda(args[0], x, i, vars), pos) == true { out.append(x) }
            return out
        case .select:
            var out: [FPValue] = []
            for (i, x) in input.enumerated() { out.append(contentsOf: try lambda(args[0], x, i, vars)) }
            return out
        case .repeat:
            var out: [FPValue] = []
            var queue = input
            var guardCount = 0
            while !queue.isEmpty {
                var next: [FPValue] = []
                for (i, x) in queue.enumerated() {
                    for y in try lambda(args[0], x, i, vars) where !out.contains(where: { same($0, y) }) {
                        out.append(y); next.append(y)
                    }
                }
                queue = next
                guardCount += 1
                if guardCount > 10_000 { throw fail("repeat() does not terminate", pos) }
            }
            return out
        // subsetting
        case .single: return try singleton(input, pos).map { [$0] } ?? []
        case .first: return input.first.map { [$0] } ?? []
        case .last: return input.last.map { [$0] } ?? []
        case .tail: return Array(input.dropFirst())
        case .skip:
            guard let n = try integerArg(args[0], focus, vars, pos) else { return input }
            return n <= 0 ? input : Array(input.dropFirst(n))
        case .take:
            guard let n = try integerArg(args[0], focus, vars, pos) else { return [] }
            return n <= 0 ? [] : Array(input.prefix(n))
        case .intersect:
            let other = try arg(0)
            return distinct(input.filter { contains(other, $0) })
        case .exclude:
            let other = try arg(0)
            return input.filter { !contains(other, $0) }
        case .union: return distinct(input + (try arg(0)))
        case .combine: return input + (try arg(0))
        // conversion
        case .iif:
            if hasBase && input.count > 1 { throw fail("iif() needs a single input item", pos) }
            var v = vars
            if hasBase { v.this = input.first }
            let fc = hasBase ? input : focus
            let c = try eval(args[0], fc, v)
            guard let ci = try singleton(c, pos) else {
                return args.count > 2 ? try eval(args[2], fc, v) : []
            }
            guard case .boolean(let b)? = systemValue(ci) else { throw fail("iif() criterion must be a Boolean", pos) }
            if b { return try eval(args[1], fc, v) }
            return args.count > 2 ? try eval(args[2], fc, v) : []
        case .toBoolean, .toInteger, .toDecimal, .toString, .toDate, .toDateTime, .toTime:
            guard let x = try singleton(input, pos), let s = systemValue(x) else { return [] }
            return convert(f, s, sourceNode: x).map { [$0] } ?? []
        case .convertsToBoolean, .convertsToInteger, .convertsToDecimal, .convertsToString, .convertsToDate,
             .convertsToDateTime, .convertsToTime:
            guard let x = try singleton(input, pos) else { return [] }
            guard let s = systemValue(x) else { return [.boolean(false)] }
            let target: FPFunction = switch f {
            case .convertsToBoolean: .toBoolean
            case .convertsToInteger: .toInteger
            case .convertsToDecimal: .toDecimal
            case .convertsToString: .toString
            case .convertsToDate: .toDate
            case .convertsToDateTime: .toDateTime
            default: .toTime
            }
            return [.boolean(convert(target, s, sourceNode: x) != nil)]
        case .toQuantity, .convertsToQuantity:
            guard let x = try singleton(input, pos) else { return [] }
            var q = systemValue(x).flatMap { toQuantity($0) }
            if let unitWanted = args.isEmpty ? nil : try stringArg(args[0], focus, vars, pos), let qq = q, qq.unit != unitWanted {
                q = convertUnit(qq, to: unitWanted)
            }
            if f == .convertsToQuantity { return [.boolean(q != nil)] }
            return q.map { [.quantity($0)] } ?? []
        // strings
        case .indexOf, .lastIndexOf:
            guard let s = try stringInput(input, f, pos), let sub = try stringArg(args[0], focus, vars, pos) else { return [] }
            if sub.isEmpty { return [.integer(f == .indexOf ? 0 : s.count)] }
            guard let r = f == .indexOf ? s.range(of: sub) : s.range(of: sub, options: .backwards) else { return [.integer(-1)] }
            return [.integer(s.distance(from: s.startIndex, to: r.lowerBound))]
        case .substring:
            guard let s = try stringInput(input, f, pos), let start = try integerArg(args[0], focus, vars, pos) else { return [] }
            let chars = Array(s)
            guard start >= 0 && start < chars.count else { return [] }
            var end = chars.count
            if args.count > 1 {
                if let l = try integerArg(args[1], focus, vars, pos) { end = min(chars.count, start + max(0, l)) }
            }
            return [.string(String(chars[start..<end]))]
        case .startsWith, .endsWith, .contains:
            guard let s = try stringInput(input, f, pos), let sub = try stringArg(args[0], focus, vars, pos) else { return [] }
            if sub.isEmpty { return [.boolean(true)] }
            switch f {
            case .startsWith: return [.boolean(s.hasPrefix(sub))]
            case .endsWith: return [.boolean(s.hasSuffix(sub))]
            default: return [.boolean(containsASCIIFast(s, sub, fallback: { s.contains(sub) }))]
            }
        case .upper, .lower, .length, .toChars, .trim:
            guard let s = try stringInput(input, f, pos) else { return [] }
            switch f {
            case .upper: return [.string(s.uppercased())]
            case .lower: return [.string(s.lowercased())]
            case .length: return [.integer(s.count)]
            case .trim: return [.string(s.trimmingCharacters(in: .whitespacesAndNewlines))]
            default: return s.map { .string(String($0)) }
            }
        case .replace:
            guard let s = try stringInput(input, f, pos), let pattern = try stringArg(args[0], focus, vars, pos),
                  let subst = try stringArg(args[1], focus, vars, pos) else { return [] }
            if pattern.isEmpty { return [.string(subst + s.map { String($0) + subst }.joined())] }
            return [.string(s.replacingOccurrences(of: pattern, with: subst))]
        case .matches:
            guard let s = try stringInput(input, f, pos), let pattern = try stringArg(args[0], focus, vars, pos) else { return [] }
            let re = try regex(pattern, pos)
            return [.boolean(re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil)]
        case .matchesFull:
            guard let s = try stringInput(input, f, pos), let pattern = try stringArg(args[0], focus, vars, pos) else { return [] }
            let re = try regex("^(?:" + pattern + ")$", pos)
            return [.boolean(re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil)]
        case .encode, .decode, .escape, .unescape:
            guard let s = try stringInput(input, f, pos), let format = try stringArg(args[0], focus, vars, pos) else { return [] }
            return FPEvaluator.transcode(f, s, format).map { [.string($0)] } ?? []
        case .sort:
            var keyed: [(FPValue, [[FPValue]])] = []
            for (i, x) in input.enumerated() {
                var keys: [[FPValue]] = []
                for a in args {
                    if case .negate(let inner, _) = a { keys.append(try lambda(inner, x, i, vars)) }
                    else { keys.append(try lambda(a, x, i, vars)) }
                }
                keyed.append((x, keys))
            }
            let descending = args.map { if case .negate = $0 { true } else { false } }
            var sortError: FHIRPathError?
            let sorted = keyed.sorted { l, r in
                let count = max(1, args.count)
                for k in 0..<count {
                    let a = args.isEmpty ? [l.0] : l.1[k], b = args.isEmpty ? [r.0] : r.1[k]
                    guard let x = a.first, let y = b.first else {
                        if a.isEmpty != b.isEmpty { return b.isEmpty != (args.isEmpty ? false : descending[k]) } // empty sorts last
                        continue
                    }
                    let c: Int?
                    do throws(FHIRPathError) { c = try compare(x, y, pos) } catch { sortError = error; return false }
                    guard let c, c != 0 else { continue }
                    return (c < 0) != (args.isEmpty ? false : descending[k])
                }
                return false
            }
            if let sortError { throw sortError }
            return sorted.map { $0.0 }
        case .lowBoundary, .highBoundary:
            guard let x0 = try singleton(input, pos), let x = systemValue(x0) else { return [] }
            let p = args.isEmpty ? nil : try integerArg(args[0], focus, vars, pos)
            if !args.isEmpty && p == nil { return [] }
            return boundary(x, precision: p, high: f == .highBoundary).map { [$0] } ?? []
        case .precision:
            guard let x0 = try singleton(input, pos), let x = systemValue(x0) else { return [] }
            switch x {
            case .decimal(let d): return [.integer(d.scale)]
            case .integer: return [.integer(0)]
            case .date(let d), .dateTime(let d), .time(let d): return [.integer(FPEvaluator.digits(d))]
            default: throw fail("precision() needs a Decimal, Date, DateTime or Time", pos)
            }
        case .comparable:
            guard let x = try singleton(input, pos), case .quantity(let q)? = systemValue(x) else { return [] }
            let o = try arg(0)
            guard let y = try singleton(o, pos), case .quantity(let r)? = systemValue(y) else { return [] }
            guard let cq = q.canonical(forEquivalence: false), let cr = r.canonical(forEquivalence: false) else { return [.boolean(false)] }
            return [.boolean(cq.1 == cr.1)]
        case .replaceMatches:
            guard let s = try stringInput(input, f, pos), let pattern = try stringArg(args[0], focus, vars, pos),
                  let subst = try stringArg(args[1], focus, vars, pos) else { return [] }
            if pattern.isEmpty { return [.string(s)] }
            let re = try regex(pattern, pos)
            return [.string(re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: subst))]
        case .split:
            guard let s = try stringInput(input, f, pos), let sep = try stringArg(args[0], focus, vars, pos) else { return [] }
            if sep.isEmpty { return s.map { .string(String($0)) } }
            return s.components(separatedBy: sep).map { .string($0) }
        case .join:
            let sep = args.isEmpty ? "" : (try stringArg(args[0], focus, vars, pos) ?? "")
            var parts: [String] = []
            for x in input {
                guard case .string(let s)? = systemValue(x) else { throw fail("join() needs String items", pos) }
                parts.append(s)
            }
            return [.string(parts.joined(separator: sep))]
        // math
        case .abs, .ceiling, .exp, .floor, .ln, .log, .power, .round, .sqrt, .truncate:
            guard let x0 = try singleton(input, pos), let x = systemValue(x0) else { return [] }
            return try math(f, x, args, focus, vars, pos)
        // tree
        case .children:
            var out: [FPValue] = []
            for x in input { if case .node(let id) = x { for c in tree.children(id) { out.append(.node(c)) } } }
            return out
        case .descendants:
            var out: [FPValue] = []
            for x in input {
                if case .node(let id) = x {
                    var c = id + 1
                    while c < tree[id].end { out.append(.node(c)); c += 1 }
                }
            }
            return out
        // utility
        case .trace:
            let name = try stringArg(args[0], focus, vars, pos) ?? ""
            if let sink = environment.trace {
                if args.count > 1 {
                    var projected: [FPValue] = []
                    for (i, x) in input.enumerated() { projected.append(contentsOf: try lambda(args[1], x, i, vars)) }
                    sink(name, projected)
                } else {
                    sink(name, input)
                }
            }
            return input
        case .now, .today, .timeOfDay:
            let date = environment.now ?? Date()
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = TimeZone(identifier: "UTC")!
            let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
            var d = FHIRPathDateTime(precision: f == .today ? .day : .millisecond)
            d.year = c.year!; d.month = c.month!; d.day = c.day!
            if f != .today {
                d.hour = c.hour!; d.minute = c.minute!; d.second = c.second!; d.millisecond = c.nanosecond! / 1_000_000
                d.timeZoneMinutes = 0
            }
            if f == .timeOfDay { d.isTime = true; d.timeZoneMinutes = nil; return [.time(d)] }
            return f == .today ? [.date(d)] : [.dateTime(d)]
        case .not:
            guard let b = try truth(input, pos) else { return [] }
            return [.boolean(!b)]
        case .aggregate:
            var total = args.count > 1 ? try arg(1) : []
            for (i, x) in input.enumerated() {
                var v = vars
                v.this = x; v.index = i; v.total = total
                total = try eval(args[0], [x], v)
            }
            return total
        // FHIR
        case .extension:
            guard let url = try stringArg(args[0], focus, vars, pos) else { return [] }
            var out: [FPValue] = []
            for x in input {
                guard case .node(let id) = x else { continue }
                for c in tree.children(id) where tree.nameIs(c, "extension") && tree.childValue(c, "url") == url { out.append(.node(c)) }
            }
            return out
        case .hasValue:
            guard input.count == 1, case .node(let id) = input[0] else { return [.boolean(false)] }
            return [.boolean(isPrimitiveNode(input[0]) && tree[id].hasValue)]
        case .getValue:
            guard input.count == 1, isPrimitiveNode(input[0]), let v = systemValue(input[0]) else { return [] }
            return [v]
        case .resolve:
            var out: [FPValue] = []
            for x in input {
                let ref: String?
                if case .node(let id) = x, tree[id].type >= 0, model.isA(tree[id].type, table.reference) {
                    ref = tree.childValue(id, "reference")
                } else {
                    ref = string(x)
                }
                guard let ref else { continue }
                let from: ElementTree.NodeID = if case .node(let id) = x { id } else { context }
                if let hook = environment.resolve { out.append(contentsOf: hook(ref, tree, from)) }
                else { out.append(contentsOf: resolveInTree(ref, from: from)) }
            }
            return out
        case .htmlChecks, .htmlchecks:
            guard let x = try singleton(input, pos) else { return [] }
            guard let s = string(x) else { return [.boolean(false)] }
            return [.boolean(FPEvaluator.plausibleXHTML(s))]
        case .conformsTo:
            guard let url = try stringArg(args[0], focus, vars, pos) else { return [] }
            var out: [FPValue] = []
            for x in input {
                guard case .node(let id) = x else { out.append(.boolean(false)); continue }
                if let hook = environment.conformsTo {
                    if let b = hook(tree, id, url) { out.append(.boolean(b)) }
                    continue
                }
                let prefix = "http://hl7.org/fhir/StructureDefinition/"
                guard url.hasPrefix(prefix), let t = model.type(named: String(url.dropFirst(prefix.count))) else {
                    throw fail("conformsTo('\(url)'): unknown profile (no profile resolver in the environment)", pos)
                }
                out.append(.boolean(tree[id].type >= 0 && model.isA(tree[id].type, t)))
            }
            return out
        case .memberOf:
            guard let vs = try stringArg(args[0], focus, vars, pos), let hook = environment.memberOf else { return [] }
            var out: [FPValue] = []
            for x in input { if let b = hook(x, tree, vs) { out.append(.boolean(b)) } }
            return out
        case .is, .as, .ofType:
            throw fail("\(f.rawValue)() needs a type argument", pos)
        }
    }

    /// `encode`/`decode` (base64, urlbase64, hex) and `escape`/`unescape` (html, json).
    static func transcode(_ f: FPFunction, _ s: String, _ format: String) -> String? {
        switch (f, format) {
        case (.encode, "base64"): return Data(s.utf8).base64EncodedString()
        case (.encode, "urlbase64"):
            return Data(s.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        case (.encode, "hex"):
            let digits = Array("0123456789abcdef")
            return String(s.utf8.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
        case (.decode, "base64"), (.decode, "urlbase64"):
            let t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            return Data(base64Encoded: t).flatMap { String(data: $0, encoding: .utf8) }
        case (.decode, "hex"):
            let u = Array(s.utf8)
            guard u.count % 2 == 0 else { return nil }
            var out: [UInt8] = []
            for k in stride(from: 0, to: u.count, by: 2) {
                guard let b = UInt8(String(decoding: u[k..<k + 2], as: UTF8.self), radix: 16) else { return nil }
                out.append(b)
            }
            return String(bytes: out, encoding: .utf8)
        case (.escape, "html"):
            var r = ""
            for c in s {
                switch c {
                case "&": r += "&amp;"
                case "<": r += "&lt;"
                case ">": r += "&gt;"
                case "\"": r += "&quot;"
                case "'": r += "&#39;"
                default: r.append(c)
                }
            }
            return r
        case (.unescape, "html"):
            return s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
                .replacingOccurrences(of: "&amp;", with: "&")
        case (.escape, "json"):
            var r = ""
            for c in s {
                switch c {
                case "\"": r += "\\\""
                case "\\": r += "\\\\"
                case "\n": r += "\\n"
                case "\r": r += "\\r"
                case "\t": r += "\\t"
                default: r.append(c)
                }
            }
            return r
        case (.unescape, "json"):
            var r = "", escaping = false
            for c in s {
                if escaping {
                    switch c {
                    case "n": r += "\n"
                    case "r": r += "\r"
                    case "t": r += "\t"
                    default: r.append(c)
                    }
                    escaping = false
                } else if c == "\\" { escaping = true } else { r.append(c) }
            }
            return r
        default: return nil
        }
    }

    /// Digits of precision of a date/time: 4 (year) ... 17 (milliseconds); times 2 ... 9.
    static func digits(_ d: FHIRPathDateTime) -> Int {
        let dateDigits = [4, 6, 8, 10, 12, 14, 17]
        return d.isTime ? dateDigits[d.precision.rawValue] - 8 : dateDigits[d.precision.rawValue]
    }

    /// `lowBoundary`/`highBoundary`: the least/greatest value the input may stand for, at `precision`
    /// digits (decimals: default 8; dates: default the finest precision; missing zones span +14:00..-12:00).
    func boundary(_ x: FPValue, precision: Int?, high: Bool) -> FPValue? {
        switch x {
        case .integer, .decimal:
            let v = number(x)!, s = scale(x)
            let p = precision ?? 8
            guard p >= 0 && p <= 28 else { return nil }
            /// Half a unit of the k-th decimal place: 0.5 × 10^-k.
            func unit(_ k: Int) -> Decimal { Decimal(sign: .plus, exponent: -(k + 1), significand: 5) }
            let r: Decimal
            if p > s {
                r = high ? v + unit(s) : v - unit(s)
            } else if p == s {
                var t = high ? v + unit(s) : v - unit(s), out = Decimal()
                NSDecimalRound(&out, &t, p, high ? .up : .down)
                r = out
            } else {
                let t = high ? v + unit(p) : v - unit(p)
                r = truncated(t, places: p)
            }
            return .decimal(FHIRPathDecimal(r, scale: p))
        case .quantity(var q):
            guard case .decimal(let d)? = boundary(.decimal(FHIRPathDecimal(q.value)), precision: precision, high: high) else { return nil }
            q.value = d.value
            return .quantity(q)
        case .date(let d), .dateTime(let d), .time(let d):
            let valid = d.isTime ? [2, 4, 6, 9] : [4, 6, 8, 10, 12, 14, 17]
            let p = precision ?? valid.last!
            guard let idx = valid.firstIndex(of: p) else { return nil }
            var r = d
            let target = FHIRPathDateTime.Precision(rawValue: d.isTime ? idx + 3 : idx)!
            if r.precision < .month { r.month = high ? 12 : 1 }
            if r.precision < .day { r.day = high ? FHIRPathDateTime.daysIn(year: r.year, month: r.month) : 1 }
            if r.precision < .hour { r.hour = high ? 23 : 0 }
            if r.precision < .minute { r.minute = high ? 59 : 0 }
            if r.precision < .second { r.second = high ? 59 : 0 }
            if r.precision < .millisecond { r.millisecond = high ? 999 : 0 }
            r.precision = target
            if target >= .hour && !r.isTime && r.timeZoneMinutes == nil { r.timeZoneMinutes = high ? -12 * 60 : 14 * 60 }
            if target < .hour { r.timeZoneMinutes = nil }
            if case .time = x { return .time(r) }
            if !d.isTime && target <= .day, case .dateTime = x { return .date(r) }
            return x.isDate ? .date(r) : .dateTime(r)
        default:
            return nil
        }
    }

    func truncated(_ d: Decimal, places: Int) -> Decimal {
        var x = d, r = Decimal()
        NSDecimalRound(&r, &x, places, d < 0 ? .up : .down)
        return r
    }

    /// Node identity for `repeat` (distinct nodes may hold equal values).
    func same(_ a: FPValue, _ b: FPValue) -> Bool {
        if case .node(let x) = a, case .node(let y) = b { return x == y }
        return a == b
    }

    func regex(_ pattern: String, _ pos: Int) throws(FHIRPathError) -> NSRegularExpression {
        if let re = FPRegexCache.shared.get(pattern) { return re }
        do {
            let re = try NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
            FPRegexCache.shared.put(pattern, re)
            return re
        } catch {
            throw fail("invalid regular expression '\(pattern)'", pos)
        }
    }

    /// References inside the tree: contained `#id`, Bundle entries by `fullUrl` or `Type/id`.
    func resolveInTree(_ ref: String, from: ElementTree.NodeID) -> [FPValue] {
        if ref.hasPrefix("#") {
            var r = tree.resource(containing: from)
            if tree[r].element >= 0, model[element: tree[r].element].name == "contained", tree[r].parent >= 0 {
                r = tree.resource(containing: tree[r].parent)
            }
            if ref == "#" { return [.node(r)] }
            let id = String(ref.dropFirst())
            for c in tree.children(r) where tree.nameIs(c, "contained") && tree.childValue(c, "id") == id { return [.node(c)] }
            return []
        }
        guard tree.typeName(0) == "Bundle" else { return [] }
        let parts = ref.split(separator: "/")
        for entry in tree.children(0) where tree.nameIs(entry, "entry") {
            guard let res = tree.child(entry, "resource") else { continue }
            if tree.childValue(entry, "fullUrl") == ref { return [.node(res)] }
            if parts.count >= 2, tree.typeName(res) == String(parts[parts.count - 2]), tree.childValue(res, "id") == String(parts[parts.count - 1]) {
                return [.node(res)]
            }
        }
        return []
    }

    /// A light XHTML check for `htmlChecks()`: a `div` root, balanced tags, no scripts or event handlers.
    static func plausibleXHTML(_ s: String) -> Bool {
        let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.hasPrefix("<div"), t.hasSuffix("</div>") || t.hasSuffix("/>") else { return false }
        let lower = t.lowercased()
        if lower.contains("<script") || lower.contains("javascript:") || lower.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) != nil { return false }
        var stack: [Substring] = []
        var i = t.startIndex
        while let open = t[i...].firstIndex(of: "<") {
            guard let close = t[open...].firstIndex(of: ">") else { return false }
            let tag = t[t.index(after: open)..<close]
            i = t.index(after: close)
            if tag.hasPrefix("!") || tag.hasPrefix("?") { continue }
            if tag.hasSuffix("/") { continue }
            if tag.hasPrefix("/") {
                let name = tag.dropFirst().prefix { !$0.isWhitespace }
                guard stack.popLast() == name else { return false }
            } else {
                stack.append(tag.prefix { !$0.isWhitespace })
            }
        }
        return stack.isEmpty
    }

    // MARK: conversions

    func convert(_ f: FPFunction, _ s: FPValue, sourceNode: FPValue) -> FPValue? {
        switch f {
        case .toBoolean:
            switch s {
            case .boolean: return s
            case .integer(let i): return i == 1 ? .boolean(true) : i == 0 ? .boolean(false) : nil
            case .decimal(let d): return d.value == 1 ? .boolean(true) : d.value == 0 ? .boolean(false) : nil
            case .string(let t):
                switch t.lowercased() {
                case "true", "t", "yes", "y", "1", "1.0": return .boolean(true)
                case "false", "f", "no", "n", "0", "0.0": return .boolean(false)
                default: return nil
                }
            default: return nil
            }
        case .toInteger:
            switch s {
            case .integer: return s
            case .boolean(let b): return .integer(b ? 1 : 0)
            case .string(let t):
                let body = t.hasPrefix("+") || t.hasPrefix("-") ? t.dropFirst() : Substring(t)
                guard !body.isEmpty, body.allSatisfy({ $0.isASCII && $0.isNumber }), let i = Int(t) else { return nil }
                return .integer(i)
            default: return nil
            }
        case .toDecimal:
            switch s {
            case .decimal: return s
            case .integer(let i): return .decimal(FHIRPathDecimal(Decimal(i)))
            case .boolean(let b): return .decimal(FHIRPathDecimal(b ? 1 : 0))
            case .string(let t):
                let body = t.hasPrefix("+") || t.hasPrefix("-") ? t.dropFirst() : Substring(t)
                guard !body.contains("e"), !body.contains("E"), !body.hasPrefix("+"), !body.hasPrefix("-") else { return nil }
                return FHIRPathDecimal(String(body)).map { .decimal(t.hasPrefix("-") ? FHIRPathDecimal(-$0.value, scale: $0.scale) : $0) }
            default: return nil
            }
        case .toString:
            if case .node(let id) = sourceNode, let raw = tree.value(id) { return .string(raw) }
            return .string(s.description)
        case .toDate:
            switch s {
            case .date: return s
            case .dateTime(var d):
                if d.precision > .day { d.precision = .day }
                d.timeZoneMinutes = nil
                return .date(d)
            case .string(let t):
                guard let d = FHIRPathDateTime.parseDateTime(t), d.precision <= .day, !t.contains("T") else { return nil }
                return .date(d)
            default: return nil
            }
        case .toDateTime:
            switch s {
            case .dateTime: return s
            case .date(let d): return .dateTime(d)
            case .string(let t): return FHIRPathDateTime.parseDateTime(t).map { .dateTime($0) }
            default: return nil
            }
        case .toTime:
            switch s {
            case .time: return s
            case .string(let t): return FHIRPathDateTime.parseTime(t.hasPrefix("T") ? String(t.dropFirst()) : t).map { .time($0) }
            default: return nil
            }
        default: return nil
        }
    }

    func toQuantity(_ s: FPValue) -> FHIRPathQuantity? {
        switch s {
        case .quantity(let q): return q
        case .integer(let i): return FHIRPathQuantity(value: Decimal(i), unit: "1")
        case .decimal(let d): return FHIRPathQuantity(value: d.value, unit: "1")
        case .boolean(let b): return FHIRPathQuantity(value: b ? 1 : 0, unit: "1")
        case .string(let t):
            let trimmed = t.trimmingCharacters(in: .whitespaces)
            let numberEnd = trimmed.firstIndex(where: { $0 == " " }) ?? trimmed.endIndex
            let num = String(trimmed[..<numberEnd])
            let body = num.hasPrefix("+") || num.hasPrefix("-") ? String(num.dropFirst()) : num
            guard !body.contains("e"), !body.contains("E"), let d0 = FHIRPathValue.parseDecimal(body) else { return nil }
            let d = num.hasPrefix("-") ? -d0 : d0
            let rest = trimmed[numberEnd...].trimmingCharacters(in: .whitespaces)
            if rest.isEmpty { return FHIRPathQuantity(value: d, unit: "1") }
            if rest.hasPrefix("'") && rest.hasSuffix("'") && rest.count >= 2 {
                return FHIRPathQuantity(value: d, unit: String(rest.dropFirst().dropLast()))
            }
            if FHIRPathQuantity.calendarUnits[rest] != nil { return FHIRPathQuantity(value: d, unit: rest) }
            return nil
        default: return nil
        }
    }

    func convertUnit(_ q: FHIRPathQuantity, to unit: String) -> FHIRPathQuantity? {
        let target = FHIRPathQuantity(value: 1, unit: unit)
        guard let a = q.canonical(forEquivalence: false), let b = target.canonical(forEquivalence: false), a.1 == b.1, b.0 != 0 else { return nil }
        return FHIRPathQuantity(value: a.0 / b.0, unit: unit)
    }

    func math(_ f: FPFunction, _ x: FPValue, _ args: [FPCode], _ focus: [FPValue], _ vars: FPVars, _ pos: Int) throws(FHIRPathError) -> [FPValue] {
        func dbl(_ d: Decimal) -> Double { NSDecimalNumber(decimal: d).doubleValue }
        func dec(_ v: Double) -> [FPValue] {
            guard v.isFinite else { return [] }
            return [.decimal(FHIRPathDecimal(Decimal(string: String(v)) ?? Decimal(v)))]
        }
        if case .quantity(var q) = x, f == .abs { q.value = abs(q.value); return [.quantity(q)] }
        guard let n = number(x) else { throw fail("\(f.rawValue)() needs a number", pos) }
        let isInt: Bool = if case .integer = x { true } else { false }
        switch f {
        case .abs:
            if case .integer(let i) = x { return i == .min ? [] : [.integer(Swift.abs(i))] }
            return [.decimal(FHIRPathDecimal(Swift.abs(n), scale: scale(x)))]
        case .ceiling:
            var v = n, r = Decimal(); NSDecimalRound(&r, &v, 0, .up)
            if n < 0 { r = -truncated(-n) }
            return [.integer(NSDecimalNumber(decimal: r).intValue)]
        case .floor:
            var v = n, r = Decimal(); NSDecimalRound(&r, &v, 0, .down)
            if n < 0 { var m = -n, rr = Decimal(); NSDecimalRound(&rr, &m, 0, .up); r = -rr }
            return [.integer(NSDecimalNumber(decimal: r).intValue)]
        case .truncate: return [.integer(NSDecimalNumber(decimal: truncated(n)).intValue)]
        case .exp: return dec(Foundation.exp(dbl(n)))
        case .ln: return n <= 0 ? [] : dec(Foundation.log(dbl(n)))
        case .sqrt: return n < 0 ? [] : dec(Foundation.sqrt(dbl(n)))
        case .log:
            let b = try eval(args[0], focus, vars)
            guard let b0 = try singleton(b, pos), let bv = systemValue(b0).flatMap({ number($0) }) else { return [] }
            guard n > 0, bv > 0, bv != 1 else { return [] }
            return dec(Foundation.log(dbl(n)) / Foundation.log(dbl(bv)))
        case .power:
            let e = try eval(args[0], focus, vars)
            guard let e0 = try singleton(e, pos), let ev = systemValue(e0) else { return [] }
            guard let en = number(ev) else { throw fail("power() needs a number exponent", pos) }
            if isInt, case .integer(let k) = ev, k >= 0 {
                // Exponentiation by squaring; overflow gives empty.
                guard case .integer(var base) = x else { return [] }
                var r = 1, k = k
                while k > 0 {
                    if k & 1 == 1 {
                        let m = r.multipliedReportingOverflow(by: base)
                        if m.overflow { return [] }
                        r = m.partialValue
                    }
                    k >>= 1
                    if k > 0 {
                        let sq = base.multipliedReportingOverflow(by: base)
                        if sq.overflow { return [] }
                        base = sq.partialValue
                    }
                }
                return [.integer(r)]
            }
            let r = Foundation.pow(dbl(n), dbl(en))
            return r.isNaN ? [] : dec(r)
        case .round:
            var places = 0
            if !args.isEmpty, let p = try integerArg(args[0], focus, vars, pos) {
                guard p >= 0 else { throw fail("round() precision must be >= 0", pos) }
                places = p
            }
            var v = n, r = Decimal()
            NSDecimalRound(&r, &v, places, .plain)
            return [.decimal(FHIRPathDecimal(r, scale: places))]
        default: throw fail("\(f.rawValue)() is not a math function", pos)
        }
    }
}

/// Compiled regular expressions by pattern (all compiled with the same options): invariants such as
/// `name.matches('[A-Z]([A-Za-z0-9_]){0,254}')` run on every node of their type. `NSRegularExpression`
/// is immutable once built and documented as safe to use from several threads. Bounded: past
/// `limit` patterns, new ones are compiled each time as before.
final class FPRegexCache: @unchecked Sendable {
    static let shared = FPRegexCache()
    private let lock = NSLock()
    private var table: [String: NSRegularExpression] = [:]
    private let limit = 512

    func get(_ pattern: String) -> NSRegularExpression? {
        lock.lock(); defer { lock.unlock() }
        return table[pattern]
    }

    func put(_ pattern: String, _ re: NSRegularExpression) {
        lock.lock(); defer { lock.unlock() }
        if table.count < limit { table[pattern] = re }
    }
}
