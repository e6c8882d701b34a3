// swift-tools-version: 6.2
import PackageDescription

/// Warnings are errors everywhere: the codebase stays clean under Swift 6 strict concurrency.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "fhir-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fhir-gateway", targets: ["fhir-gateway"]),
        .library(name: "FHIRModels", targets: ["FHIRModels"]),
        .library(name: "Validation", targets: ["Validation"]),
    ],
    targets: [
        // Thin system modules: module maps and `shim_` wrappers for macros and variadic C functions only.
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Test oracle only (differential fuzzing of our HTTP parser); never linked into the product.
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),

        .target(name: "FHIRModels", dependencies: ["CLibXML2"], swiftSettings: strict),
        .target(name: "Validation", dependencies: ["FHIRModels"], swiftSettings: strict),
        .target(name: "Mappers", dependencies: ["FHIRModels", "Validation", "CLibXML2"], swiftSettings: strict),
        .target(name: "Gateway",
                dependencies: ["FHIRModels", "Validation", "Mappers", "COpenSSL", "CSQLite", "CCurl"],
                swiftSettings: strict),
        .executableTarget(name: "fhir-gateway",
                          dependencies: ["FHIRModels", "Validation", "Mappers", "Gateway"],
                          swiftSettings: strict),

        .executableTarget(name: "bench-validate", dependencies: ["FHIRModels", "Validation"], swiftSettings: strict),
        // Store test/measurement helper: a writer the crash-safety test SIGKILLs, and the inserts/s benchmark.
        // Load client for scripts/bench-gateway: keep-alive mTLS connections, latency percentiles, server RSS.
        .executableTarget(name: "bench-gateway", dependencies: ["COpenSSL"], swiftSettings: strict),
        .executableTarget(name: "store-crash-writer", dependencies: ["Gateway"], swiftSettings: strict),
        // Fills a sandbox database with a national-scale module Handicap history through the request chain (scripts/bench-gateway).
        .executableTarget(name: "bench-seed", dependencies: ["Gateway", "Mappers", "Validation", "FHIRModels"], swiftSettings: strict),

        .testTarget(name: "FHIRModelsTests", dependencies: ["FHIRModels"], swiftSettings: strict),
        .testTarget(name: "ValidationTests", dependencies: ["FHIRModels", "Validation"], swiftSettings: strict),
        .testTarget(name: "MappersTests", dependencies: ["Mappers", "FHIRModels", "Validation"], swiftSettings: strict),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "Mappers", "FHIRModels", "COpenSSL", "CSQLite", "CCurl", "CHTTPParser"],
                    swiftSettings: strict),

        // libFuzzer harness (scripts/fuzz json); its only file defines LLVMFuzzerTestOneInput.
        .executableTarget(name: "FuzzJSON", dependencies: ["FHIRModels", "Validation"], swiftSettings: strict),
        .executableTarget(name: "FuzzXML", dependencies: ["FHIRModels"], swiftSettings: strict),
        .executableTarget(name: "FuzzHTTP", dependencies: ["Gateway"], swiftSettings: strict),
        .executableTarget(name: "FuzzFHIRPath", dependencies: ["FHIRModels", "Validation"], swiftSettings: strict),
        .executableTarget(name: "FuzzCDA", dependencies: ["Mappers", "FHIRModels", "Validation"], swiftSettings: strict),
    ]
)
