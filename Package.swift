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
        .target(name: "TRWCodec", dependencies: ["TRWCore", "CZstd", "CTRWCodecKernels"]),
        // TRWCodec's hot integer loops in C: AVX2 variants chosen at run time, baseline otherwise.
        .target(name: "CTRWCodecKernels"),
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
                "TRWCore", "TRWCodec", "TRWStore", "TRWSync", "TRWSimulator", "TRWAcoustics",
                "TRWV4L2", "TRWALSA", "TRWSerial", "TOMLKit", "TRWDatasets", "TRWAnalysis", "TRWIO",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // Per-tick features, detectors and scoring (shared by export, replay, predict, annotate).
        .systemLibrary(name: "CZlib"),
        .target(name: "TRWAnnotate", dependencies: ["TRWCore", "TRWStore", "TRWAnalysis"]),
        .testTarget(name: "TRWAnnotateTests", dependencies: ["TRWAnnotate", "TRWAnalysis", "TRWStore", "TRWRecorder", "TRWSimulator", "TRWTestSupport"]),
        .target(name: "TRWAnalysis", dependencies: ["TRWCore", "TRWStore", "TRWCodec", "CZlib", "TRWModels"]),
        // Issue 11: online runtime of the trained DP-LSTM (safetensors + config.json from models/).
        .target(name: "TRWModels"),
        .testTarget(name: "TRWModelsTests", dependencies: ["TRWModels", "TRWAnalysis"], exclude: ["Fixtures"]),
        // Issue 17: the I/O seam for sockets, pipes, child processes and standard output
        // (one internal function per syscall, EINTR retry, typed Errno, close-on-exec, deadlines).
        .systemLibrary(name: "CTRWIO", path: "Sources/CTRWIO"),
        .target(name: "TRWIO", dependencies: ["CTRWIO", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "TRWIOTests", dependencies: ["TRWIO", "TRWTestSupport", .product(name: "SystemPackage", package: "swift-system")]),
        // Datasets out (NPZ), streams out (JSON Lines replay).
        .target(name: "TRWDatasets", dependencies: ["TRWCore", "TRWStore", "TRWAnalysis", "TRWCodec", "TRWAcoustics", "CZlib", "TRWIO"]),
        // V4L2 infrared camera (issue 5): header shim, Swift driver, emulated
        // capture driver (behind the driver's syscall seam, for tests and bench).
        .systemLibrary(name: "CV4L2", path: "drivers/CV4L2"),
        .target(
            name: "TRWV4L2",
            dependencies: [
                "TRWCore", "CV4L2",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "drivers/V4L2",
            exclude: ["README.md"]
        ),
        .target(
            name: "TRWV4L2Emulation",
            dependencies: [
                "TRWCore", "TRWV4L2", "CV4L2",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "drivers/V4L2Emulation"
        ),
        .testTarget(
            name: "TRWV4L2Tests",
            dependencies: [
                "TRWV4L2", "TRWV4L2Emulation", "TRWTestSupport", "CV4L2",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/TRWV4L2Tests"
        ),
        // The CLI: one subcommand per file.
        .executableTarget(
            name: "trw",
            dependencies: [
                "TRWCore", "TRWStore", "TRWRecorder", "TRWSimulator", "TRWSync", "TRWCodec", "TRWAnnotate",
                "TRWAnalysis", "TRWDatasets", "TRWV4L2", "TRWALSA", "TRWSerial", "TRWModels", "TRWIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `make bench`: ratios against references measured in the same run.
        .executableTarget(
            name: "trw-bench",
            dependencies: ["TRWCore", "TRWCodec", "TRWStore", "TRWRecorder", "TRWSimulator", "TRWSync", "TRWAnalysis", "TRWAnnotate",
                           "TRWALSA", "TRWAcoustics", "TRWV4L2", "TRWV4L2Emulation", "TRWModels",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // --- Issue 6: ALSA acoustic-emission driver and AE hit detection ---
        // alsa-lib (Debian libasound2-dev), one C target per C API.
        .systemLibrary(
            name: "CALSA",
            path: "drivers/CALSA",
            pkgConfig: "alsa",
            providers: [.apt(["libasound2-dev"])]
        ),
        // The ALSA capture driver and its Source (knows nothing of SQLite).
        .target(
            name: "TRWALSA",
            dependencies: [
                "TRWCore", "CALSA",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "drivers/ALSA",
            exclude: ["README.md"]
        ),
        // Pure AE signal processing: hit detector, WAV writer, synthetic bursts.
        .target(name: "TRWAcoustics", dependencies: ["TRWCore"], path: "Sources/TRWAcoustics"),
        .testTarget(
            name: "TRWALSATests",
            dependencies: ["TRWALSA", "CALSA", "TRWAcoustics", "TRWTestSupport"],
            path: "Tests/TRWALSATests"
        ),
        .testTarget(
            name: "TRWAcousticsTests",
            dependencies: ["TRWAcoustics", "TRWTestSupport"],
            path: "Tests/TRWAcousticsTests"
        ),
        // --- end issue 6 ---
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
        // Issue 13 — `make test-kernel`: the driver checks run in a qemu guest against vivid and snd-aloop.
        .executableTarget(
            name: "trw-kernel-check",
            dependencies: ["TRWCore", "TRWV4L2", "CV4L2", "TRWALSA", "CALSA", "TRWSerial", "CSerial", "TRWSync", "TRWAcoustics"],
            path: "tests/kernel/check"
        ),
        // Tests: one target per library target, shared helpers in TRWTestSupport.
        .target(name: "TRWTestSupport", dependencies: ["TRWCore"], path: "Tests/TRWTestSupport"),
        .testTarget(name: "TRWCoreTests", dependencies: ["TRWCore", "TRWTestSupport"]),
        .testTarget(name: "TRWCodecTests", dependencies: ["TRWCodec", "TRWTestSupport"]),
        .testTarget(name: "TRWSyncTests", dependencies: ["TRWSync", "TRWTestSupport"]),
        .testTarget(name: "TRWStoreTests", dependencies: ["TRWStore", "TRWTestSupport"]),
        .testTarget(name: "TRWSimulatorTests", dependencies: ["TRWSimulator", "TRWTestSupport"]),
        .testTarget(name: "TRWRecorderTests", dependencies: ["TRWRecorder", "TRWIO", "TRWStore", "TRWTestSupport", "TRWSimulator", "TRWV4L2", "TRWV4L2Emulation", "TRWALSA", "TRWAcoustics", "TRWCodec"]),
        .testTarget(name: "TRWAnalysisTests", dependencies: ["TRWAnalysis", "TRWRecorder", "TRWStore", "TRWTestSupport"]),
        .testTarget(name: "TRWDatasetsTests", dependencies: ["TRWDatasets", "TRWIO", "TRWAnalysis", "TRWRecorder", "TRWStore", "TRWTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
