import Testing
import Foundation
import FHIRModels
@testable import Gateway

@Suite struct RESTParsingTests {
    @Test func queryDecodingKeepsPlusAndDecodesPercent() throws {
        let q = try QueryParameters(query: "_lastUpdated=gt2026-01-01T10:00:00%2B01:00&_count=5&type=57830-2&x=a+b")
        #expect(q.first("_lastUpdated") == "gt2026-01-01T10:00:00+01:00")
        #expect(q.first("_count") == "5")
        #expect(q.first("x") == "a+b")
        #expect(throws: QueryParameters.DecodingError.self) { try QueryParameters(query: "a=%zz") }
        #expect(throws: QueryParameters.DecodingError.self) { try QueryParameters(query: "a=%C3") }
    }

    @Test func dateBoundsHavePrecisionRanges() throws {
        let day = try DateBound.parse("gt2026-03-01")
        #expect(day.comparator == .gt)
        #expect(day.end.timeIntervalSince(day.start) == 86_400)
        let instant = try DateBound.parse("ge2026-03-01T10:00:00.123+01:00")
        #expect(abs(instant.start.timeIntervalSince1970 - 1_772_355_600.123) < 0.0005)
        let plusAsSpace = try DateBound.parse("gt2026-03-01T10:00:00 01:00")
        #expect(plusAsSpace.start == (try DateBound.parse("gt2026-03-01T10:00:00+01:00")).start)
        #expect(day.matches(day.end))
        #expect(!day.matches(day.start))
        for bad in ["gt2026-02-30", "2026-13-01", "gt2026-03-01T10:00", "2026-03-01T25:00:00Z", "yesterday", "gt2026-03-01T10:00:00+1:00"] {
            #expect(throws: SearchParameterError.self, "\(bad)") { try DateBound.parse(bad) }
        }
    }

    @Test func countIsBoundedAndValidated() throws {
        #expect(try PageSize.parse(nil) == PageSize.defaultSize)
        #expect(try PageSize.parse("10000") == PageSize.maximum)
        #expect(throws: SearchParameterError.self) { try PageSize.parse("-1") }
        #expect(throws: SearchParameterError.self) { try PageSize.parse("ten") }
    }

    @Test func contentNegotiation() {
        #expect(FHIRFormat.forResponse(format: nil, accept: nil) == .json)
        #expect(FHIRFormat.forResponse(format: "xml", accept: "application/fhir+json") == .xml)
        #expect(FHIRFormat.forResponse(format: nil, accept: "application/fhir+xml;q=0.9, application/fhir+json;q=0.5") == .xml)
        #expect(FHIRFormat.forResponse(format: nil, accept: "text/html") == nil)
        #expect(FHIRFormat.forResponse(format: "csv", accept: nil) == nil)
        #expect(FHIRFormat.ofBody(contentType: "application/fhir+json; charset=utf-8") == .json)
        #expect(FHIRFormat.ofBody(contentType: "text/plain") == nil)
        #expect(ReturnPreference.parse("return=minimal") == .minimal)
        #expect(ReturnPreference.parse("handling=strict, return=OperationOutcome") == .operationOutcome)
        #expect(ReturnPreference.parse(nil) == .representation)
    }
}

@Suite struct CreatedResponseTests {
    let stored = StoredResource(tenant: "1990000102", meta: ResourceMeta(type: "Consent", id: "abc", versionId: 1,
                                                                         lastUpdated: Timestamp(milliseconds: 1_767_225_600_000)), body: [])
    var tree: ElementTree { ElementTreeBuilder(resourceType: "Consent").build() }

    @Test func everyPreferenceCarriesLocationAndVersionHeaders() throws {
        for prefer in [ReturnPreference.minimal, .representation, .operationOutcome] {
            let r = FHIRResponse.created(stored, tree: tree, baseURL: "https://gw", prefer: prefer, format: .json)
            #expect(r.status == 201)
            #expect(r.headers.first { $0.name == "Location" }?.value == "https://gw/fhir/Consent/abc/_history/1")
            #expect(r.headers.first { $0.name == "ETag" }?.value == "W/\"1\"")
            #expect(r.headers.first { $0.name == "Last-Modified" }?.value == "Thu, 01 Jan 2026 00:00:00 GMT")
            let body = String(decoding: r.body, as: UTF8.self)
            switch prefer {
            case .minimal: #expect(body.isEmpty)
            case .representation: #expect(body.contains("\"resourceType\":\"Consent\""))
            case .operationOutcome: #expect(body.contains("OperationOutcome") && body.contains("Consent/abc"))
            }
        }
    }

    @Test func unprocessableKeepsEveryIssue() {
        let issues = [OutcomeIssue(severity: .warning, code: .codeInvalid, message: "w", expression: "Task.a"),
                      OutcomeIssue(severity: .error, code: .required, message: "e", expression: "Task.b", rule: "R-1")]
        let e = FHIRError.unprocessable(issues)
        #expect(e.status == 422 && e.rule == "R-1" && e.code == .required && e.issues == issues)
        let body = String(decoding: e.response(format: .json).body, as: UTF8.self)
        #expect(body.contains("Task.a") && body.contains("Task.b"))
    }
}
