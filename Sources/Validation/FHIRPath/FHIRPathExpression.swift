import Foundation
import FHIRModels

/// A compiled FHIRPath expression (FHIRPath N1 as used by FHIR R4, plus the FHIR-specific functions).
/// Compile once, evaluate many times: the text is parsed and resolved (functions, types, names) in
/// `init`; `evaluate` walks the compiled form against an `ElementTree` without re-parsing.
public struct FHIRPathExpression: Sendable {
    public let text: String
    let code: FPCode
    /// Set when the expression is a combination of path existence tests (see `FPFastShape`).
    let fastShape: FPFastShape?

    public init(_ text: String) throws(FHIRPathError) {
        try self.init(text, contextType: nil)
    }

    /// Compiles with the FHIR type of the context (`Patient`, `Patient.contact`, `HumanName`) when known,
    /// so that unknown member names are reported now (semantic errors) rather than silently empty.
    public init(_ text: String, contextType: String?) throws(FHIRPathError) {
        self.text = text
        var parser = try FPParser(text)
        let ast = try parser.parseAll()
        var compiler = FPCompiler(model: .r4)
        code = try compiler.compile(ast)
        fastShape = FPFastShape(code)
        var start: [ModelInfo.TypeID]? = nil
        if let contextType {
            guard let t = ModelInfo.r4.type(named: contextType) else {
                throw FHIRPathError(.semantic, "unknown context type '\(contextType)'")
            }
            start = [t]
        }
        _ = try FPChecker(model: .r4).check(code, input: start, this: start)
    }

    /// Evaluates against `node` of `tree` (the context, `$this` and `%context`).
    public func evaluate(_ tree: ElementTree, node: ElementTree.NodeID,
                         environment: FHIRPathEnvironment = .init()) throws(FHIRPathError) -> [FHIRPathValue] {
        let ev = FPEvaluator(tree: tree, context: node, environment: environment)
        return try ev.eval(code, [.node(node)], FPVars(this: .node(node)))
    }

    /// Invariant semantics: true when the result is empty or a single `true`; false for a single `false`.
    /// A single item that is not a Boolean counts as true (FHIRPath singleton evaluation); more than one
    /// item is an error (a constraint must produce at most one Boolean).
    public func isTrue(_ tree: ElementTree, node: ElementTree.NodeID,
                       environment: FHIRPathEnvironment = .init()) throws(FHIRPathError) -> Bool {
        if let fastShape, let answer = fastShape.decide(tree, node) { return answer }
        return try isTrueGeneric(tree, node: node, environment: environment)
    }

    /// `isTrue` through the general evaluator (the reference the fast shapes are tested against).
    func isTrueGeneric(_ tree: ElementTree, node: ElementTree.NodeID,
                       environment: FHIRPathEnvironment = .init()) throws(FHIRPathError) -> Bool {
        // One evaluator for the evaluation and the Boolean conversion (as `evaluate`, without a second copy).
        let ev = FPEvaluator(tree: tree, context: node, environment: environment)
        let r = try ev.eval(code, [.node(node)], FPVars(this: .node(node)))
        if r.isEmpty { return true }
        guard r.count == 1 else {
            throw FHIRPathError(.execution, "the expression returned \(r.count) items where one Boolean was expected")
        }
        if case .boolean(let b)? = ev.systemValue(r[0]) { return b }
        return true
    }
}

/// What an evaluation can see besides the context node. I/O-free: references and terminology are
/// reached through the optional closures.
public struct FHIRPathEnvironment: Sendable {
    /// `%resource`; defaults to the resource containing the context node.
    public var resource: ElementTree.NodeID?
    /// `%rootResource`; defaults to the container of a contained `%resource`, else `%resource`.
    public var rootResource: ElementTree.NodeID?
    /// Extra `%name` variables.
    public var variables: [String: [FHIRPathValue]]
    /// `resolve()`: returns the nodes (in the same tree) a reference string points to. When nil,
    /// references are resolved inside the tree only (contained `#id`, Bundle `fullUrl` and `Type/id`).
    public var resolve: (@Sendable (_ reference: String, _ tree: ElementTree, _ from: ElementTree.NodeID) -> [FHIRPathValue])?
    /// `memberOf(valueSet)`: nil when the code cannot be checked (the result is then empty).
    public var memberOf: (@Sendable (_ value: FHIRPathValue, _ tree: ElementTree, _ valueSet: String) -> Bool?)?
    /// `conformsTo(profile)`: nil when unknown (the result is then empty).
    public var conformsTo: (@Sendable (_ tree: ElementTree, _ node: ElementTree.NodeID, _ profile: String) -> Bool?)?
    /// `trace(name)` sink.
    public var trace: (@Sendable (_ name: String, _ values: [FHIRPathValue]) -> Void)?
    /// Fixed clock for `now()`, `today()`, `timeOfDay()` (the real clock when nil).
    public var now: Date?

    public init(resource: ElementTree.NodeID? = nil, rootResource: ElementTree.NodeID? = nil,
                variables: [String: [FHIRPathValue]] = [:]) {
        self.resource = resource; self.rootResource = rootResource; self.variables = variables
    }
}

// MARK: - Compiled form

enum FPSystemType: String, Sendable, CaseIterable {
    case Boolean, String, Integer, Decimal, Date, DateTime, Time, Quantity
}

enum FPTypeRef: Sendable {
    case fhir(ModelInfo.TypeID)
    case system(FPSystemType)
    /// An unqualified name that is both (e.g. `Quantity`): matches either.
    case either(ModelInfo.TypeID, FPSystemType)
    /// A qualified name in a namespace that has no such type (`System.Patient`): matches nothing.
    case nothing
}

enum FPFunction: String, Sendable {
    case empty, exists, all, allTrue, anyTrue, allFalse, anyFalse, subsetOf, supersetOf, count, distinct, isDistinct
    case `where`, select, `repeat`, ofType
    case single, first, last, tail, skip, take, intersect, exclude
    case union, combine
    case iif, toBoolean, convertsToBoolean, toInteger, convertsToInteger, toDecimal, convertsToDecimal
    case toString, convertsToString, toDate, convertsToDate, toDateTime, convertsToDateTime, toTime, convertsToTime
    case toQuantity, convertsToQuantity
    case indexOf, lastIndexOf, substring, startsWith, endsWith, contains, upper, lower, replace, matches, replaceMatches
    case length, toChars, trim, split, join
    case abs, ceiling, exp, floor, ln, log, power, round, sqrt, truncate
    case children, descendants
    case trace, now, today, timeOfDay
    case `is`, `as`, not, aggregate
    case matchesFull, encode, decode, escape, unescape, sort, comparable, lowBoundary, highBoundary, precision
    case `extension`, hasValue, getValue, resolve, htmlChecks, htmlchecks, conformsTo, memberOf

    /// Allowed argument counts.
    var arity: ClosedRange<Int> {
        switch self {
        case .empty, .allTrue, .anyTrue, .allFalse, .anyFalse, .count, .distinct, .isDistinct, .single, .first, .last, .tail,
             .toBoolean, .convertsToBoolean, .toInteger, .convertsToInteger, .toDecimal, .convertsToDecimal, .toString,
             .convertsToString, .toDate, .convertsToDate, .toDateTime, .convertsToDateTime, .toTime, .convertsToTime,
             .upper, .lower, .length, .toChars, .trim, .abs, .ceiling, .exp, .floor, .ln, .sqrt, .truncate,
             .children, .descendants, .now, .today, .timeOfDay, .not, .hasValue, .getValue, .resolve, .htmlChecks,
             .htmlchecks, .precision:
            0...0
        case .exists, .toQuantity, .convertsToQuantity, .round, .join, .lowBoundary, .highBoundary: 0...1
        case .all, .subsetOf, .supersetOf, .where, .select, .repeat, .ofType, .skip, .take, .intersect, .exclude, .union,
             .combine, .indexOf, .lastIndexOf, .startsWith, .endsWith, .contains, .matches, .split, .log, .power, .is, .as,
             .extension, .conformsTo, .memberOf:
            1...1
        case .matchesFull, .encode, .decode, .escape, .unescape, .comparable: 1...1
        case .sort: 0...16
        case .substring, .trace, .aggregate: 1...2
        case .replace, .replaceMatches: 2...2
        case .iif: 2...3
        }
    }
}

indirect enum FPCode: Sendable {
    case literal([FHIRPathValue])
    case this, index, total
    case env(String, Int)
    /// Identifier at the start of a path: a type name matching the focus, or a member name.
    case rootMember([UInt8], ModelInfo.TypeID?, Int)
    case member(FPCode, [UInt8], Int)
    case function(FPCode?, FPFunction, [FPCode], Int)
    case typeFunction(FPCode?, FPFunction, FPTypeRef, Int)
    case indexer(FPCode, FPCode)
    case negate(FPCode, Int)
    case binary(FPBinary, FPCode, FPCode, Int)
    case typeOp(Bool, FPCode, FPTypeRef, Int) // true: is, false: as
    /// `type().name` (false) or `type().namespace` (true).
    case reflect(FPCode?, Bool)
}

enum FPBinary: String, Sendable {
    case implies, or, xor, and, `in`, contains, eq = "=", equiv = "~", ne = "!=", nequiv = "!~"
    case le = "<=", lt = "<", gt = ">", ge = ">=", union = "|", add = "+", sub = "-", concat = "&"
    case mul = "*", div = "/", intDiv = "div", mod
}

struct FPCompiler {
    let model: ModelInfo
    /// Current depth of the syntax tree; bounded so evaluation recursion stays shallow.
    var level = 0
    static let maxLevel = 200
    init(model: ModelInfo) { self.model = model }

    mutating func compile(_ n: FPNode, pos: Int = -1) throws(FHIRPathError) -> FPCode {
        if case .at(let p, let inner) = n { return try compile(inner, pos: p) }
        level += 1
        defer { level -= 1 }
        if level > FPCompiler.maxLevel {
            throw FHIRPathError(.syntax, "expression too complex (more than \(FPCompiler.maxLevel) nested operations)", position: pos)
        }
        switch n {
        case .at(let p, let inner): return try compile(inner, pos: p)
        case .empty: return .literal([])
        case .boolean(let b): return .literal([.boolean(b)])
        case .string(let s): return .literal([.string(s)])
        case .number(let t):
            if !t.contains("."), let i = Int(t) { return .literal([.integer(i)]) }
            guard let d = FHIRPathDecimal(t) else { throw FHIRPathError(.syntax, "invalid number '\(t)'", position: pos) }
            return .literal([.decimal(d)])
        case .quantity(let t, let u):
            guard let d = FHIRPathValue.parseDecimal(t) else { throw FHIRPathError(.syntax, "invalid number '\(t)'", position: pos) }
            return .literal([.quantity(FHIRPathQuantity(value: d, unit: u))])
        case .dateTime(let t):
            guard var v = FHIRPathDateTime.parseDateTime(t) else { throw FHIRPathError(.syntax, "invalid date/time literal '@\(t)'", position: pos) }
            if t.contains("T") { return .literal([.dateTime(v)]) }
            v.timeZoneMinutes = nil
            return .literal([.date(v)])
        case .time(let t):
            guard let v = FHIRPathDateTime.parseTime(t) else { throw FHIRPathError(.syntax, "invalid time literal '@T\(t)'", position: pos) }
            return .literal([.time(v)])
        case .external(let name): return .env(name, pos)
        case .special(let s): return s == "this" ? .this : s == "index" ? .index : .total
        case .identifier(let name):
            let first = name.utf8.first ?? 0
            let t = first >= 0x41 && first <= 0x5A ? model.type(named: name) : nil
            return .rootMember(Array(name.utf8), t, pos)
        case .member(let base, let name):
            if name == "name" || name == "namespace", case .function(let b, "type", let args) = FPCompiler.unwrap(base), args.isEmpty {
                let cb = try b.map { (x) throws(FHIRPathError) in try compile(x, pos: pos) }
                return .reflect(cb, name == "namespace")
            }
            return .member(try compile(base, pos: pos), Array(name.utf8), pos)
        case .indexer(let base, let idx):
            return .indexer(try compile(base, pos: pos), try compile(idx, pos: pos))
        case .unary(let op, let e):
            let c = try compile(e, pos: pos)
            return op == "-" ? .negate(c, pos) : c
        case .binary(let op, let l, let r):
            guard let b = FPBinary(rawValue: op) else { throw FHIRPathError(.syntax, "unknown operator '\(op)'", position: pos) }
            return .binary(b, try compile(l, pos: pos), try compile(r, pos: pos), pos)
        case .typeOp(let op, let e, let parts):
            return .typeOp(op == "is", try compile(e, pos: pos), try resolveType(parts, pos: pos), pos)
        case .function(let base, let name, let args):
            if name == "type" {
                throw FHIRPathError(.semantic, "type() is supported as type().name and type().namespace only", position: pos)
            }
            guard let f = FPFunction(rawValue: name) else {
                throw FHIRPathError(.semantic, "unknown function '\(name)'", position: pos)
            }
            guard f.arity.contains(args.count) else {
                throw FHIRPathError(.semantic, "function '\(name)' takes \(f.arity.lowerBound == f.arity.upperBound ? "\(f.arity.lowerBound)" : "\(f.arity.lowerBound) to \(f.arity.upperBound)") argument(s), not \(args.count)", position: pos)
            }
            let b = try base.map { (x) throws(FHIRPathError) in try compile(x, pos: pos) }
            if f == .is || f == .as || f == .ofType {
                guard let parts = typeParts(args[0]) else {
                    throw FHIRPathError(.semantic, "'\(name)' needs a type name argument", position: pos)
                }
                return .typeFunction(b, f, try resolveType(parts, pos: pos), pos)
            }
            var cargs: [FPCode] = []
            for a in args { cargs.append(try compile(a, pos: pos)) }
            return .function(b, f, cargs, pos)
        }
    }

    static func unwrap(_ n: FPNode) -> FPNode {
        if case .at(_, let i) = n { return unwrap(i) }
        return n
    }

    func typeParts(_ n: FPNode) -> [String]? {
        switch n {
        case .at(_, let i): return typeParts(i)
        case .identifier(let s): return [s]
        case .member(let b, let s): return typeParts(b).map { $0 + [s] }
        default: return nil
        }
    }

    func resolveType(_ parts: [String], pos: Int) throws(FHIRPathError) -> FPTypeRef {
        if parts.count == 2 && parts[0] == "System" {
            if let s = FPSystemType(rawValue: parts[1]) { return .system(s) }
            return .nothing
        } else if parts.count == 2 && parts[0] == "FHIR" {
            if let t = model.type(named: parts[1]) { return .fhir(t) }
        } else if parts.count == 1 {
            let f = model.type(named: parts[0]), s = FPSystemType(rawValue: parts[0])
            if let f, let s { return .either(f, s) }
            if let f { return .fhir(f) }
            if let s { return .system(s) }
        }
        throw FHIRPathError(.semantic, "unknown type '\(parts.joined(separator: "."))'", position: pos)
    }
}

extension FHIRPathValue {
    /// Text for messages: primitive nodes as written, other nodes as their FHIRPath location,
    /// System values in FHIRPath literal form (dates without `@`, quantities as `4 'mg'`).
    public func text(in tree: ElementTree) -> String {
        guard case .node(let id) = self else { return description }
        return tree.value(id) ?? tree.path(id)
    }

    /// The System value of this item: primitive nodes convert by their FHIR type, Quantity nodes to
    /// System.Quantity; nil for other complex nodes and primitives without a value.
    public func systemValue(in tree: ElementTree) -> FHIRPathValue? {
        FPEvaluator(tree: tree, context: tree.root, environment: .init()).systemValue(self)
    }
}
