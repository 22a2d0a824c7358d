// swift-tools-version: 6.1
// A package that uses Weft the way an application does: by path, the SDK alone (`traits: []`), built
// and run by scripts/check-examples.sh against a live cluster. The README's Swift snippets are
// regions of these files (scripts/check_snippets.py keeps them equal).
import PackageDescription

let package = Package(
    name: "shipping",
    platforms: [.macOS(.v15)],
    dependencies: [
        // snippet:start package-dependency
        .package(name: "weft", path: "../..", traits: []),  // traits: [] — the SDK without the servers' dependencies
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),  // Logger, for the worker's ServiceGroup
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),  // ServiceGroup
        // snippet:end package-dependency
    ],
    targets: [
        .target(name: "Shipping", dependencies: [.product(name: "Weft", package: "weft")]),
        .executableTarget(
            name: "shipping-worker",
            dependencies: [
                "Shipping", .product(name: "Weft", package: "weft"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(name: "shipping-client", dependencies: ["Shipping", .product(name: "Weft", package: "weft")]),
        .testTarget(
            name: "ShippingTests",
            dependencies: ["Shipping", .product(name: "Weft", package: "weft"), .product(name: "WeftTesting", package: "weft")]),
    ]
)
