import Foundation
import Testing
import TRWTestSupport

/// Property: no numeric input makes trw trap (issue 17 item 4). A seeded generator
/// feeds extreme values (NaN, ±inf, ±1e300, 0, -1, 1e-300, 2^63, sizes beyond
/// memory) to every numeric option of every subcommand, on a small simulated
/// session. Every run must end with an exit status (never a signal) within a
/// bound; a usage error (64) names the option; the session, and any session a
/// run created, passes `PRAGMA integrity_check` and none is left `recording`.
@Suite(.serialized) struct NumericOptionsPropertyFaultTests {
    static let numbers = ["nan", "inf", "-inf", "1e300", "-1e300", "0", "-1", "1e-300", "9223372036854775808"]
    static let sizes = ["100000x100000", "0x0", "-1x5", "nanxnan", "9223372036854775808x2", "40x9223372036854775807", "1x1e300"]
    static let ranges = ["nan:inf", "1e300:1e301", "-inf:0", "0:0", "-1e300:1e300", "9223372036854775808:1e300"]

    /// One numeric option of one subcommand: the argument list with `V` for the value,
    /// `S` for the session, `O` for a fresh output path; `name` is what a usage error must mention.
    struct Case: Sendable {
        var name: String
        var args: [String]
        var values: [String]
    }

    static let cases: [Case] = {
        let n = numbers, sz = sizes
        var c: [Case] = []
        func add(_ name: String, _ args: [String], _ values: [String] = n) { c.append(Case(name: name, args: args, values: values)) }
        // record (synthetic rig; the recordings that are valid stop at once or within 0.5 s)
        add("--duration", ["record", "--rig", "synthetic", "--max", "--quiet", "--duration=V", "--out", "O.sqlite"])
        add("--speed", ["record", "--rig", "synthetic", "--quiet", "--duration", "0.5", "--speed=V", "--out", "O.sqlite"])
        for setting in ["ir_fps", "ae_threshold_db", "bms_hz"] {
            add("--sensing", ["record", "--rig", "synthetic", "--max", "--quiet", "--duration", "0.5", "--sensing", "\(setting)=V", "--out", "O.sqlite"])
        }
        // simulate (the small scenario, at most 3 simulated seconds)
        for o in ["--speed", "--ir-fps", "--ir-width", "--ir-height", "--ae-rate", "--seed"] {
            add(o, ["simulate", "small.toml", "--duration", "3", "\(o)=V", "--out", "O.sqlite"])
        }
        add("--duration", ["simulate", "small.toml", "--duration=V", "--out", "O.sqlite"])
        // session commands
        add("--at", ["mark", "S", "m", "--at=V"])
        add("--at", ["annotate", "S", "--snapshot", "80x24", "--at=V"])
        add("--span", ["annotate", "S", "--snapshot", "80x24", "--span=V"])
        add("--snapshot", ["annotate", "S", "--snapshot=V"], sz)
        add("--from", ["plot", "S", "-o", "O.svg", "--from=V"])
        add("--to", ["plot", "S", "-o", "O.svg", "--to=V"])
        add("--scale", ["plot", "S", "-o", "O.png", "--scale=V"])
        add("--at", ["frame", "S", "--at=V", "-o", "O.png"])
        add("--range", ["frame", "S", "--at", "5", "-o", "O.png", "--range=V"], ranges)
        add("--rate", ["export", "S", "--out", "O.npz", "--rate=V"])
        add("--horizon", ["export", "S", "--out", "O.npz", "--horizon=V"])
        add("--ae-stft", ["export", "S", "--out", "O.npz", "--ae-stft=V"])
        add("--ir-frames", ["export", "S", "--out", "O.npz", "--ir-frames=V"], sz)
        add("--speed", ["replay", "S", "--speed=V"])
        add("--rate", ["replay", "S", "--rate=V"])
        add("--frames", ["replay", "S", "--frames=V"], sz)
        add("--rate", ["predict", "S", "--detector", "dtdt", "--rate=V"])
        add("--alarm-k", ["predict", "S", "--detector", "dtdt", "--alarm-k=V"])
        add("--frames", ["predict", "S", "--detector", "dtdt", "--frames=V"], sz)
        for o in ["--early", "--late", "--alarm-k", "--rate", "--horizon"] { add(o, ["score", "S", "\(o)=V"]) }
        add("--frames", ["score", "S", "--frames=V"], sz)
        add("<at>", ["label", "add", "S", "venting", "--", "V"])
        add("--to", ["label", "add", "S", "exclude", "1", "--to=V"])
        add("--rate", ["label", "suggest", "S", "--rate=V"])
        add("--rate", ["label", "accept", "S", "all", "--set", "property", "--rate=V"])
        add("id", ["label", "rm", "S", "--", "V"])
        add("--risk-floor", ["overlay", "missing.npz", "-o", "O.png", "--risk-floor=V"])
        add("--bins", ["dplstm-activity", "missing-model", "S", "--svg", "O.svg", "--bins=V"])
        add("--rate", ["dplstm-activity", "missing-model", "S", "--svg", "O.svg", "--rate=V"])
        return c
    }()

    /// Two values per option, drawn by a seeded generator; the first cycles through
    /// the list so that every extreme value is used.
    static func sample(seed: UInt64) -> [(Case, String)] {
        var rng = SplitMix64(seed: seed)
        var out: [(Case, String)] = []
        for (i, c) in cases.enumerated() {
            let first = c.values[i % c.values.count]
            var second = c.values[Int(rng.next() % UInt64(c.values.count))]
            if second == first { second = c.values[(i + 1) % c.values.count] }
            out += [(c, first), (c, second)]
        }
        return out
    }

    @Test func extremeValuesNeverTrap() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let session = try SmallSession.make(trw, in: dir)
        let runs = Self.sample(seed: 0x17_17)
        #expect(Set(runs.map(\.1)).isSuperset(of: Self.numbers + Self.sizes), "the sample covers every extreme value")
        var created: [String] = []
        let t0 = Date()
        var statuses: [Int32: Int] = [:]
        for (k, (c, v)) in runs.enumerated() {
            let out = dir.file("out\(k)")
            let args = c.args.map { a -> String in
                if a == "S" { return session }
                return a.replacingOccurrences(of: "V", with: v).replacingOccurrences(of: "O.", with: out + ".")
            }
            let r = try CLIRun.run(trw, args, in: dir.path, timeoutS: 60)
            statuses[r.status, default: 0] += 1
            #expect(!r.signaled, "trap: \(r)")
            #expect(!r.timedOut, "no answer within 60 s: \(r)")
            if r.status == 64 {
                #expect(r.stderr.contains(c.name) || r.stderr.contains("is not a time") || r.stderr.contains("'\(v)'"),
                        "a usage error names the option or the value: \(r)")
            }
            if r.status != 0 { #expect(!r.stderr.isEmpty, "a failure says why: \(r)") }
            if FileManager.default.fileExists(atPath: out + ".sqlite") { created.append(out + ".sqlite") }
        }
        #expect(Date().timeIntervalSince(t0) < 600, "the property run stays bounded")
        #expect((statuses[64] ?? 0) > runs.count / 2, "most extreme values are usage errors: \(statuses)")
        #expect(try SmallSession.integrity(session) == "ok")
        for p in created {
            #expect(try SmallSession.integrity(p) == "ok", "\(p)")
            #expect(try SmallSession.status(p)?.0 != "recording", "\(p) was left recording")
        }
    }
}
