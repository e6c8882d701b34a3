import FHIRModels

/// One entry point for "is this FHIR content valid?": reads JSON or XML, validates against the core
/// definitions, `meta.profile` and requested profiles with the project's stores, and applies the
/// French rules. Loaded once (definitions and terminologies from the project's data directory, not
/// from `../shared`), then shared by concurrent callers.
public final class ValidationEngine: Sendable {
    public let conformance: ConformanceStore
    public let terminology: TerminologyStore
    public let validator: Validator

    public enum LoadError: Error, CustomStringConvertible {
        case store(String)
        case extraResource(String)
        public var description: String {
            switch self {
            case .store(let m): "cannot load the project's conformance data: \(m)"
            case .extraResource(let m): m
            }
        }
    }

    public init(conformance: ConformanceStore, terminology: TerminologyStore, options: ValidatorOptions = ValidatorOptions()) {
        self.conformance = conformance
        self.terminology = terminology
        // FHIRPath invariants are the validator's default evaluator.
        self.validator = Validator(definitions: conformance, terminology: terminology, options: options)
    }

    /// Loads the stores under `dataDirectory` (`DataDirectory.locate()` by default), plus `extra`
    /// conformance resources (StructureDefinition, ValueSet, CodeSystem or Bundles of them) for this run.
    public static func load(dataDirectory: String? = nil, extra: [(name: String, resource: JSONValue)] = [],
                            options: ValidatorOptions = ValidatorOptions()) throws(LoadError) -> ValidationEngine {
        let dir = dataDirectory ?? DataDirectory.locate()
        var conformance: ConformanceStore
        var terminology: TerminologyStore
        do {
            conformance = try ConformanceStore(directory: dir + "/Terminologies/conformance")
            terminology = try TerminologyStore.load(directory: DataDirectory.terminologies(in: dir))
        } catch {
            throw .store("\(error) (data directory \(dir); set \(DataDirectory.environmentVariable) to override)")
        }
        for (name, resource) in extra {
            let kinds = Self.resourceTypes(in: resource)
            if kinds.isEmpty { throw .extraResource("\(name): not a StructureDefinition, ValueSet, CodeSystem or a Bundle of them") }
            do {
                if kinds.contains("StructureDefinition") { _ = try conformance.load(resource: resource) }
                if kinds.contains("ValueSet") || kinds.contains("CodeSystem") { try terminology.load(resource: resource, source: name) }
            } catch {
                throw .extraResource("\(name): \(error)")
            }
        }
        return ValidationEngine(conformance: conformance, terminology: terminology, options: options)
    }

    static func resourceTypes(in resource: JSONValue) -> Set<String> {
        guard let rt = resource["resourceType"]?.string else { return [] }
        if rt == "Bundle" {
            return Set((resource["entry"]?.array ?? []).compactMap { $0["resource"]?["resourceType"]?.string })
                .intersection(["StructureDefinition", "ValueSet", "CodeSystem"])
        }
        return ["StructureDefinition", "ValueSet", "CodeSystem"].contains(rt) ? [rt] : []
    }

    /// Reads JSON or XML (told apart by the first significant byte).
    public static func read(_ bytes: [UInt8]) throws(FHIRParseError) -> ElementTree {
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }
        return first == UInt8(ascii: "<") ? try FHIRXMLReader.read(bytes) : try FHIRJSONReader.read(bytes)
    }

    /// Every issue of a document: unreadable input as one fatal issue with its position, otherwise
    /// structure, profiles, terminology, invariants and French rules.
    public func validate(_ bytes: [UInt8], profiles: [String] = []) -> [OutcomeIssue] {
        let tree: ElementTree
        do {
            tree = try Self.read(bytes)
        } catch {
            return [OutcomeIssue(severity: .fatal, code: .structure, message: error.message, location: error.location)]
        }
        return validate(tree, profiles: profiles)
    }

    public func validate(_ tree: ElementTree, profiles: [String] = []) -> [OutcomeIssue] {
        validator.validate(tree, profiles: profiles) + FrenchRules.check(tree)
    }
}
