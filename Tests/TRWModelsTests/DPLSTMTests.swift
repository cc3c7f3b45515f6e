import Foundation
import Testing
import TRWAnalysis
@testable import TRWModels

/// Fixtures/dplstm_small: written by models/tools/make_dplstm_fixture.py (JAX).
let fixtureDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/dplstm_small").path

struct FixtureSequence {
    var raw: [[Float]]
    var scores: [Double]
    var masks: [[Int]]
    init() throws {
        let d = try Data(contentsOf: URL(fileURLWithPath: fixtureDir + "/sequence.json"))
        let o = try #require(try JSONSerialization.jsonObject(with: d) as? [String: Any])
        let rows = try #require(o["raw"] as? [[Any]])
        raw = rows.map { $0.map { ($0 as? NSNumber)?.floatValue ?? .nan } }
        scores = try #require(o["scores"] as? [NSNumber]).map(\.doubleValue)
        masks = try #require(o["masks"] as? [[NSNumber]]).map { $0.map(\.intValue) }
    }
}

@Suite struct DPLSTMTests {
    /// The Swift step gives the JAX model's scores on the same inputs (NaNs carried the same way).
    @Test func scoresMatchJAXWithin1e4() throws {
        let w = try DPLSTMWeights(directory: fixtureDir)
        let seq = try FixtureSequence()
        var rt = DPLSTMRuntime(weights: w)
        #expect(seq.raw.count == 48)
        var worst = 0.0
        for (k, row) in seq.raw.enumerated() {
            let s = Double(rt.step(raw: row))
            worst = max(worst, abs(s - seq.scores[k]))
            #expect(abs(s - seq.scores[k]) < 1e-4, "tick \(k): Swift \(s), JAX \(seq.scores[k])")
            #expect(rt.lastMask.map { $0 ? 1 : 0 } == seq.masks[k], "tick \(k): mask differs")
        }
        #expect(worst < 1e-4)
    }

    /// Pruning saves work: fewer multiply-adds than the dense step when cells are pruned,
    /// and the dense step (M = 1) evaluates every gate row.
    @Test func prunedStepDoesLessWorkThanDense() throws {
        let w = try DPLSTMWeights(directory: fixtureDir)
        let seq = try FixtureSequence()
        var sparse = DPLSTMRuntime(weights: w), dense = DPLSTMRuntime(weights: w)
        for row in seq.raw.prefix(10) {
            _ = sparse.step(raw: row)
            _ = dense.step(raw: row, prune: false)
            #expect(dense.lastActive == Array(repeating: w.config.hidden, count: w.config.layers))
            #expect(sparse.lastActive.reduce(0, +) < dense.lastActive.reduce(0, +))
            #expect(sparse.lastMACs < dense.lastMACs)
        }
    }

    /// A pruned cell keeps its memory c and emits h~ = 0.
    @Test func prunedCellsKeepMemoryAndEmitZero() throws {
        let w = try DPLSTMWeights(directory: fixtureDir)
        let seq = try FixtureSequence()
        var rt = DPLSTMRuntime(weights: w)
        for row in seq.raw.prefix(3) { _ = rt.step(raw: row) }
        let before = rt.c
        _ = rt.step(raw: seq.raw[3])
        let H = w.config.hidden
        var pruned = 0
        for l in 0..<w.config.layers {
            for i in 0..<H where !rt.lastMask[l * H + i] {
                pruned += 1
                #expect(rt.c[l][i] == before[l][i])
                #expect(rt.h[l][i] == 0)
            }
        }
        #expect(pruned > 0)
    }

    /// The detector adapter reads features by name; dplstm:DIR is known to the registry.
    @Test func registryLoadsDPLSTMDetector() throws {
        #expect(DetectorRegistry.isKnown("dplstm:" + fixtureDir))
        var det = try DetectorRegistry.load("dplstm:" + fixtureDir)
        let seq = try FixtureSequence()
        let names = ["dt_c", "dv_v", "cell_temp_c", "voltage_v"]
        for (k, row) in seq.raw.prefix(8).enumerated() {
            var f: [String: Double] = [:]
            for (j, n) in names.enumerated() where !row[j].isNaN { f[n] = Double(row[j]) }
            let s = det.step(t: Double(k + 1), features: f)
            #expect(abs(s - seq.scores[k]) < 1e-4)
        }
        #expect(throws: (any Error).self) { try DetectorRegistry.load("dplstm:/nonexistent/model") }
        #expect(throws: (any Error).self) { try DetectorRegistry.load("nosuch") }
    }
}

@Suite struct SafeTensorsTests {
    @Test func roundTrip() throws {
        let t: [String: Tensor] = ["a/w": Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, .greatestFiniteMagnitude, -0.25]),
                                   "b": Tensor(shape: [], values: [7]), "c": Tensor(shape: [1], values: [Float.pi])]
        let bytes = try SafeTensors.encode(t, metadata: ["format": "trw-model-1"])
        #expect(try SafeTensors.decode(bytes) == t)
        let path = NSTemporaryDirectory() + "trw-st-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.write(t, to: path)
        #expect(try SafeTensors.read(path: path) == t)
    }

    /// Reads the file Python's safetensors wrote (the fixture).
    @Test func readsPythonWrittenFile() throws {
        let t = try SafeTensors.read(path: fixtureDir + "/model.safetensors")
        #expect(t["lstm/l0/w_ih"]?.shape == [64, 4])
        #expect(t["gate/tau"]?.shape == [4, 16])
        let tau = try #require(t["gate/tau"]).values
        #expect(tau.allSatisfy { $0 >= 0.1 && $0 <= 0.3 })
    }

    @Test func rejectsTruncatedAndForeignFiles() {
        #expect(throws: ModelFileError.self) { try SafeTensors.decode([1, 2, 3]) }
        var bad: [UInt8] = [200, 0, 0, 0, 0, 0, 0, 0]
        bad += Array("{}".utf8)
        #expect(throws: ModelFileError.self) { try SafeTensors.decode(bad) }
        let hdr = Array(#"{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#.utf8)
        var f16: [UInt8] = (0..<8).map { UInt8((hdr.count >> (8 * $0)) & 0xff) }
        f16 += hdr + [0, 0]
        #expect(throws: ModelFileError.self) { try SafeTensors.decode(f16) }
    }
}
