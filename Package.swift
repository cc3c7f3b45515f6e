// swift-tools-version:6.0
// trw — Thermal Runaway Workbench.
// Targets by layer; every dependency points down (see ../shared/DESIGN.md):
//   5  CLI and tools      trw, trw-bench, trw-kernel-check, trw-fuzz-serial
//   4  workflows          TRWRig, TRWLive, TRWFigures, TRWDatasets, TRWAnnotate, TRWImport, TRWSession (uses rig + live)
//   3  pipeline, analysis TRWRecorder, TRWAnalysis
//   2  store, devices     TRWStore, TRWV4L2, TRWALSA, TRWSerial, TRWSimulator, TRWModels
//   1  foundations        TRWCodec, TRWSync, TRWAcoustics, TRWIO, TRWHDF5 (and the C shims)
//   0  core types         TRWCore
import PackageDescription

let package = Package(
    name: "trw",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "trw", targets: ["trw"]),
        .library(name: "TRWCore", targets: ["TRWCore"]),
        .library(name: "TRWStore", targets: ["TRWStore"]),
        .library(name: "TRWRecorder", targets: ["TRWRecorder"]),
        .library(name: "TRWRig", targets: ["TRWRig"]),
        .library(name: "TRWLive", targets: ["TRWLive"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // MARK: 0 — core types

        // Streams, samples, sources, sessions' value types, time, the runaway criterion.
        .target(name: "TRWCore", dependencies: [.product(name: "Logging", package: "swift-log")]),

        // MARK: 1 — foundations

        // Lossless codecs for thermal frames and PCM, named per row.
        .target(name: "TRWCodec", dependencies: ["TRWCore", "CZstd", "CTRWCodecKernels"]),
        // TRWCodec's hot integer loops in C: AVX2 variants chosen at run time, baseline otherwise.
        .target(name: "CTRWCodecKernels"),
        // libzstd (Debian libzstd-dev).
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // zlib (PNG and NPZ deflate).
        .systemLibrary(name: "CZlib"),
        // Clock models and synchronisation onto the session time base.
        .target(name: "TRWSync", dependencies: ["TRWCore"]),
        // AE signal processing: hit detector, WAV writer, synthetic bursts.
        .target(name: "TRWAcoustics", dependencies: ["TRWCore"]),
        // The I/O seam for sockets, pipes, child processes and standard output
        // (one internal function per syscall, EINTR retry, typed Errno, close-on-exec, deadlines).
        .systemLibrary(name: "CTRWIO", path: "Sources/CTRWIO"),
        .target(name: "TRWIO", dependencies: ["CTRWIO", .product(name: "SystemPackage", package: "swift-system")]),
        // libhdf5 (Debian libhdf5-dev: headers and library under hdf5/serial, found by pkg-config `hdf5`).
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        // HDF5 files from Swift: exclusive create, groups, plain datasets (chunked, shuffle + deflate), attributes.
        .target(name: "TRWHDF5", dependencies: ["CHDF5"]),

        // MARK: 2 — store, devices, simulator, model runtime

        // The session file on GRDB / system SQLite.
        .target(name: "TRWStore", dependencies: ["TRWCore", "TRWCodec", .product(name: "GRDB", package: "GRDB.swift")]),
        // V4L2 infrared camera: header shim, Swift driver (knows nothing of SQLite).
        .systemLibrary(name: "CV4L2", path: "drivers/CV4L2"),
        .target(
            name: "TRWV4L2",
            dependencies: ["TRWCore", "CV4L2", .product(name: "SystemPackage", package: "swift-system"), .product(name: "Logging", package: "swift-log")],
            path: "drivers/V4L2", exclude: ["README.md"]
        ),
        // An emulated V4L2 capture driver behind the driver's syscall seam (tests and bench).
        .target(
            name: "TRWV4L2Emulation",
            dependencies: ["TRWCore", "TRWV4L2", "CV4L2", .product(name: "SystemPackage", package: "swift-system")],
            path: "drivers/V4L2Emulation"
        ),
        // ALSA acoustic-emission capture: alsa-lib (Debian libasound2-dev) and the Source.
        .systemLibrary(name: "CALSA", path: "drivers/CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .target(
            name: "TRWALSA",
            dependencies: ["TRWCore", "CALSA", .product(name: "Logging", package: "swift-log")],
            path: "drivers/ALSA", exclude: ["README.md"]
        ),
        // Serial instruments (BMS, power supply, DAQ): tty ioctl shim, port, pure decoders, Source.
        .systemLibrary(name: "CSerial", path: "drivers/CSerial"),
        .target(
            name: "TRWSerial",
            dependencies: ["TRWCore", "CSerial", .product(name: "SystemPackage", package: "swift-system"), .product(name: "Logging", package: "swift-log")],
            path: "drivers/Serial/Sources"
        ),
        // The physics-based simulated rig (the default a new user meets).
        .target(name: "TRWSimulator", dependencies: ["TRWCore", "TOMLKit"]),
        // Online runtime of the trained DP-LSTM (safetensors + config.json from models/).
        .target(name: "TRWModels"),

        // MARK: 3 — the recording pipeline and analysis

        // The recorder: sources -> bounded queues -> encoders -> writer, stop rules, sensing
        // settings; live consumers plug in through RecordingObserver.
        .target(
            name: "TRWRecorder",
            dependencies: [
                "TRWCore", "TRWCodec", "TRWStore", "TRWSync", "TRWAcoustics",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Per-tick features, detectors and scoring on stored sessions and on live ticks.
        .target(name: "TRWAnalysis", dependencies: ["TRWCore", "TRWStore", "TRWCodec", "TRWModels"]),

        // MARK: 4 — workflows

        // Rig files (TOML: sources, stop rules) and rig building: drivers, simulator, synthetic sources.
        .target(
            name: "TRWRig",
            dependencies: ["TRWCore", "TRWRecorder", "TRWSimulator", "TRWV4L2", "TRWALSA", "TRWSerial", "TOMLKit",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Live: ticks from a recording, live detectors and alarm actions, the JSON Lines tap,
        // replay, external line-protocol detectors and the sensing policy.
        .target(
            name: "TRWLive",
            dependencies: ["TRWCore", "TRWStore", "TRWCodec", "TRWRecorder", "TRWAnalysis", "TRWIO",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Stored sessions out: NPZ datasets, HDF5, MCAP, Vallen pridb, WAV, score reports (detectors
        // in process or over the line protocol), Table 1, resync.
        .target(name: "TRWDatasets", dependencies: ["TRWCore", "TRWStore", "TRWSync", "TRWAnalysis", "TRWLive", "TRWCodec", "TRWAcoustics", "CZlib",
                                                    "CZstd", "TRWHDF5", .product(name: "GRDB", package: "GRDB.swift")]),
        // Figures and reports: session plots, IR frames (SVG/PNG), score and activity charts,
        // `trw info`, the recording dashboard.
        .target(name: "TRWFigures", dependencies: ["TRWCore", "TRWStore", "TRWAnalysis", "TRWDatasets", "TRWModels", "TRWRecorder", "TRWIO", "CZlib"]),
        // A recording from plan to finalised file: validates everything, creates, runs, finalises.
        .target(
            name: "TRWSession",
            dependencies: ["TRWCore", "TRWStore", "TRWRecorder", "TRWRig", "TRWLive", "TRWAnalysis", .product(name: "Logging", package: "swift-log")]
        ),
        // Cycler and logger files into a session (`trw import`): BDF and CSV parsed here, Arbin,
        // Maccor, Neware, BioLogic through a Python reader in the venv; clock by timestamps or
        // cross-correlation.
        .target(name: "TRWImport", dependencies: ["TRWCore", "TRWStore", "TRWSync", "TRWIO"]),
        // The labelling screen (`trw annotate`).
        .target(name: "TRWAnnotate", dependencies: ["TRWCore", "TRWStore", "TRWAnalysis", "TRWFigures"]),

        // MARK: 5 — executables

        // The CLI: parses and calls the workflows.
        .executableTarget(
            name: "trw",
            dependencies: [
                "TRWCore", "TRWStore", "TRWRecorder", "TRWRig", "TRWLive", "TRWSession", "TRWFigures", "TRWSimulator", "TRWSync", "TRWCodec",
                "TRWAnnotate", "TRWAnalysis", "TRWDatasets", "TRWV4L2", "TRWALSA", "TRWSerial", "TRWModels", "TRWIO", "TRWImport", "TRWAcoustics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `make bench`: ratios against references measured in the same run.
        .executableTarget(
            name: "trw-bench",
            dependencies: ["TRWCore", "TRWCodec", "TRWStore", "TRWRecorder", "TRWRig", "TRWLive", "TRWFigures", "TRWDatasets", "TRWSimulator", "TRWSync", "TRWAnalysis",
                           "TRWAnnotate", "TRWALSA", "TRWAcoustics", "TRWV4L2", "TRWV4L2Emulation", "TRWModels",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // `make test-kernel`: the driver checks run in a qemu guest against vivid and snd-aloop.
        .executableTarget(
            name: "trw-kernel-check",
            dependencies: ["TRWCore", "TRWV4L2", "CV4L2", "TRWALSA", "CALSA", "TRWSerial", "CSerial", "TRWSync", "TRWAcoustics"],
            path: "tests/kernel/check"
        ),
        // A fuzzer for the serial line decoders.
        .executableTarget(name: "trw-fuzz-serial", dependencies: ["TRWSerial"], path: "drivers/Serial/Fuzz"),

        // MARK: tests — one target per library target, shared helpers in TRWTestSupport

        .target(name: "TRWTestSupport", dependencies: ["TRWCore"], path: "Tests/TRWTestSupport"),
        // Recorded sessions for the tests of the workflows above the recorder.
        .target(name: "TRWSessionFixtures", dependencies: ["TRWRecorder", "TRWRig", "TRWTestSupport"], path: "Tests/TRWSessionFixtures"),
        .testTarget(name: "TRWCoreTests", dependencies: ["TRWCore", "TRWTestSupport"]),
        .testTarget(name: "TRWCodecTests", dependencies: ["TRWCodec", "TRWTestSupport"]),
        .testTarget(name: "TRWSyncTests", dependencies: ["TRWSync", "TRWTestSupport"]),
        .testTarget(name: "TRWAcousticsTests", dependencies: ["TRWAcoustics", "TRWTestSupport"]),
        .testTarget(name: "TRWIOTests", dependencies: ["TRWIO", "TRWTestSupport", .product(name: "SystemPackage", package: "swift-system")]),
        .testTarget(name: "TRWStoreTests", dependencies: ["TRWStore", "TRWTestSupport"]),
        .testTarget(
            name: "TRWV4L2Tests",
            dependencies: ["TRWV4L2", "TRWV4L2Emulation", "TRWTestSupport", "CV4L2", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .testTarget(name: "TRWALSATests", dependencies: ["TRWALSA", "CALSA", "TRWAcoustics", "TRWTestSupport"]),
        .testTarget(name: "TRWSerialTests", dependencies: ["TRWSerial", "TRWTestSupport"]),
        .testTarget(name: "TRWSimulatorTests", dependencies: ["TRWSimulator", "TRWTestSupport"]),
        .testTarget(name: "TRWModelsTests", dependencies: ["TRWModels", "TRWAnalysis"], exclude: ["Fixtures"]),
        .testTarget(
            name: "TRWRecorderTests",
            dependencies: ["TRWRecorder", "TRWRig", "TRWLive", "TRWFigures", "TRWDatasets", "TRWIO", "TRWStore", "TRWTestSupport", "TRWSimulator", "TRWV4L2", "TRWV4L2Emulation",
                           "TRWALSA", "TRWAcoustics", "TRWCodec"]
        ),
        .testTarget(name: "TRWAnalysisTests", dependencies: ["TRWAnalysis", "TRWRecorder", "TRWRig", "TRWStore", "TRWTestSupport"]),
        .testTarget(name: "TRWRigTests", dependencies: ["TRWRig", "TRWRecorder", "TRWSimulator", "TRWTestSupport"]),
        .testTarget(
            name: "TRWLiveTests",
            dependencies: ["TRWLive", "TRWRecorder", "TRWRig", "TRWAnalysis", "TRWDatasets", "TRWIO", "TRWStore", "TRWSimulator", "TRWTestSupport",
                           "TRWSessionFixtures", "TRWSession"]
        ),
        .testTarget(
            name: "TRWDatasetsTests",
            dependencies: ["TRWDatasets", "TRWLive", "TRWIO", "TRWAnalysis", "TRWRecorder", "TRWRig", "TRWStore", "TRWTestSupport", "TRWSessionFixtures", "CZstd"]
        ),
        .testTarget(name: "TRWImportTests", dependencies: ["TRWImport", "TRWStore", "TRWSync", "TRWDatasets", "TRWTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "TRWFiguresTests", dependencies: ["TRWFigures", "TRWRecorder", "TRWStore", "TRWSessionFixtures", "TRWTestSupport"]),
        .testTarget(name: "TRWAnnotateTests", dependencies: ["TRWAnnotate", "TRWAnalysis", "TRWStore", "TRWRecorder", "TRWRig", "TRWSimulator", "TRWTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
