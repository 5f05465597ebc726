// swift-tools-version: 6.1
// libFuzzer targets for the parsers of untrusted files. Not part of the normal build: run `Scripts/fuzz.sh`,
// which builds them with `-sanitize=fuzzer,address` (see README, "Reliability").
import PackageDescription
import Foundation

/// A path dependency's identity is the last component of its path (the clone's directory name).
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = "caption-root"

/// Fuzzer name → the products it needs (ImageCodecs and SafeTensors are reached through Vision / Text).
let fuzzers: [(String, [String])] = [
    ("fuzz-jpeg", ["Vision"]),
    ("fuzz-png", ["Vision"]),
    ("fuzz-pnm", ["Vision"]),
    ("fuzz-bmp", ["Vision"]),
    ("fuzz-safetensors", ["Captioning", "Text"]),
    ("fuzz-metadata", ["Captioning", "Vision", "Text"]),
    ("fuzz-captions", ["Captioning", "Metrics"]),
]

let package = Package(
    name: "CaptionFuzz",
    products: fuzzers.map { .executable(name: $0.0, targets: [$0.0]) },
    dependencies: [.package(path: "caption-root")],
    targets: fuzzers.map { name, products in
        .executableTarget(name: name, dependencies: products.map { .product(name: $0, package: rootIdentity) },
                          path: "Sources/\(name)", swiftSettings: [.swiftLanguageMode(.v6)])
    }
)
