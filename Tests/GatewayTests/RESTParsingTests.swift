import Testing
import Foundation
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
