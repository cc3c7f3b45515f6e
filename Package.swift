// swift-tools-version:6.0
// trw — Thermal Runaway Workbench.
// Dependency direction (see ../shared/DESIGN.md):
//   trw (CLI) -> workflows (TRWRecorder, ...) -> store + drivers + simulator -> TRWCore
import PackageDescription

let package = Package(
    name: "trw",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "trw", targets: ["trw"]),
        .library(name: "TRWCore", targets: ["TRWCore"]),
        .library(name: "TRWStore", targets: ["TRWStore"]),
        .library(name: "TRWRecorder", targets: ["TRWRecorder"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // Core types and time: no dependencies beyond Foundation and swift-log.
        .target(
            name: "TRWCore",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // libzstd (Debian libzstd-dev), one C target per C API.
        .systemLibrary(
            name: "CZstd",
            path: "Sources/CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // Lossless codecs for thermal frames and PCM, named per row.
        .target(name: "TRWCodec", dependencies: ["TRWCore", "CZstd"]),
        // Clock models and synchronisation onto the session time base.
        .target(name: "TRWSync", dependencies: ["TRWCore"]),
        // Session file on GRDB / system SQLite.
        .target(
            name: "TRWStore",
            dependencies: [
                "TRWCore", "TRWCodec",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            resources: []
        ),
        // Physics-based simulated rig (the default a new user meets).
        .target(
            name: "TRWSimulator",
            dependencies: ["TRWCore", "TOMLKit"]
        ),
        // Recorder pipeline: sources -> bounded queues -> compressors -> writer.
        .target(
            name: "TRWRecorder",
            dependencies: [
                "TRWCore", "TRWCodec", "TRWStore", "TRWSync", "TRWSimulator",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // The CLI: one subcommand per file.
        .executableTarget(
            name: "trw",
            dependencies: [
                "TRWCore", "TRWStore", "TRWRecorder", "TRWSimulator", "TRWSync", "TRWCodec",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `make bench`: ratios against references measured in the same run.
        .executableTarget(
            name: "trw-bench",
            dependencies: ["TRWCore", "TRWCodec", "TRWStore", "TRWRecorder", "TRWSimulator", "TRWSync"]
        ),
        // Issue 7 — serial instruments (BMS, power supply, DAQ). Header-only shim for the
        // tty ioctls Swift cannot import; the port, the pure decoders and the Source.
        .systemLibrary(name: "CSerial", path: "drivers/CSerial"),
        .target(
            name: "TRWSerial",
            dependencies: [
                "TRWCore", "CSerial",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "drivers/Serial/Sources"
        ),
        .executableTarget(name: "trw-fuzz-serial", dependencies: ["TRWSerial"], path: "drivers/Serial/Fuzz"),
        .testTarget(
            name: "TRWSerialTests", dependencies: ["TRWSerial", "TRWTestSupport"], path: "Tests/TRWSerialTests"
        ),
        // Tests: one target per library target, shared helpers in TRWTestSupport.
        .target(name: "TRWTestSupport", dependencies: ["TRWCore"], path: "Tests/TRWTestSupport"),
        .testTarget(name: "TRWCoreTests", dependencies: ["TRWCore", "TRWTestSupport"]),
        .testTarget(name: "TRWCodecTests", dependencies: ["TRWCodec", "TRWTestSupport"]),
        .testTarget(name: "TRWSyncTests", dependencies: ["TRWSync", "TRWTestSupport"]),
        .testTarget(name: "TRWStoreTests", dependencies: ["TRWStore", "TRWTestSupport"]),
        .testTarget(name: "TRWSimulatorTests", dependencies: ["TRWSimulator", "TRWTestSupport"]),
        .testTarget(name: "TRWRecorderTests", dependencies: ["TRWRecorder", "TRWStore", "TRWTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
