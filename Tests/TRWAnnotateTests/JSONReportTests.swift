import Foundation
import Testing
import TRWCore
import TRWStore
import TRWTestSupport

/// `--json` of every command that prints a report (docs/json-reports.md): one object per run,
/// snake_case keys, numbers as JSON numbers, `format_version` 1. Each is decoded and its
/// fields' types checked, on the simulated runaway the suggestion tests use.
@Suite(.serialized) struct JSONReportTests {
    /// A JSON value decoded with its type kept (JSONDecoder is strict: a number is never a Bool or a String).
    indirect enum J: Decodable {
        case null, bool(Bool), number(Double), string(String), array([J]), object([String: J])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else if let a = try? c.decode([J].self) { self = .array(a) }
            else { self = .object(try c.decode([String: J].self)) }
        }
        subscript(_ k: String) -> J? { if case .object(let o) = self { o[k] } else { nil } }
        var isNumber: Bool { if case .number = self { true } else { false } }
        var isBool: Bool { if case .bool = self { true } else { false } }
        var isString: Bool { if case .string = self { true } else { false } }
        var isNull: Bool { if case .null = self { true } else { false } }
        var string: String? { if case .string(let s) = self { s } else { nil } }
        var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
        var number: Double? { if case .number(let d) = self { d } else { nil } }
        var array: [J]? { if case .array(let a) = self { a } else { nil } }
    }

    func decode(_ text: String) throws -> J { try JSONDecoder().decode(J.self, from: Data(text.utf8)) }

    func trw(_ args: [String]) throws -> J {
        let exe = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let run = try CLIRun.run(exe, args, in: NSTemporaryDirectory(), timeoutS: 300)
        #expect(run.status == 0 && !run.signaled, "\(run)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 1, "one JSON object on one line: \(run.stdout.prefix(300))")
        let obj = try decode(run.stdout)
        #expect(obj["format_version"]?.number == 1)
        checkSnakeCase(obj, path: args.prefix(2).joined(separator: " "))
        return obj
    }

    /// Every key of every nested object is snake_case (lower case, digits, underscores).
    func checkSnakeCase(_ v: J, path: String) {
        switch v {
        case .object(let o):
            for (k, x) in o {
                #expect(k.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "key '\(k)' in \(path) is not snake_case")
                checkSnakeCase(x, path: path + "." + k)
            }
        case .array(let a): for x in a { checkSnakeCase(x, path: path) }
        default: break
        }
    }

    @Test func infoListAndSyncReport() throws {
        let (dir, path) = try demoSession.get()
        let info = try trw(["info", path, "--json"])
        let session = try #require(info["session"])
        #expect(session["status"]?.string == "complete")
        #expect(session["end_s"]?.isNumber == true && session["start_realtime_ns"]?.isNumber == true)
        let streams = try #require(info["streams"]?.array)
        #expect(Set(streams.compactMap { $0["kind"]?.string }) == ["thermal", "ae", "bms"])
        for s in streams {
            #expect(s["rows"]?.isNumber == true && s["nominal_rate_hz"]?.isNumber == true && s["first_s"]?.isNumber == true && s["imported"]?.isBool == true, "\(s)")
        }
        #expect(info["file_bytes"]?.isNumber == true && info["markers"]?.isNumber == true)
        let sync = try #require(info["sync"])
        #expect(sync["streams"]?.array?.isEmpty == false)

        let ls = try trw(["ls", dir.path, "--json"])
        let entries = try #require(ls["sessions"]?.array)
        let demo = try #require(entries.first { $0["file"]?.string == "demo.sqlite" })
        #expect(demo["duration_s"]?.isNumber == true && demo["frames"]?.isNumber == true && demo["bms_samples"]?.isNumber == true && demo["file_bytes"]?.isNumber == true)
        #expect(demo["status"]?.string == "complete")

        let sr = try trw(["sync-report", path, "--json"])
        #expect(sr["session"]?.string == path)
        let rows = try #require(sr["streams"]?.array)
        for r in rows {
            #expect(r["stream"]?.isString == true && r["drift_ppm"]?.isNumber == true && r["offset_ns"]?.isNumber == true && r["time_std_err_ns"]?.isNumber == true, "\(r)")
            #expect(r["segment_reasons"]?.array?.allSatisfy(\.isString) == true)
        }
        #expect(sr["alignment"]?.array != nil)
    }

    @Test func labelListHistoryAndSuggest() throws {
        let (_, path) = try demoSession.get()
        let list = try trw(["label", "list", path, "--json"])
        #expect(list["session"]?.string == path)
        let labels = try #require(list["labels"]?.array)
        let onset = try #require(labels.first { $0["label"]?.string == "runaway_onset" })
        #expect(onset["id"]?.isNumber == true && onset["start_s"]?.isNumber == true && onset["deleted"]?.isBool == true, "\(onset)")
        #expect(onset["end_s"]?.isNull == true && onset["supersedes"]?.isNull == true)
        #expect(onset["method"]?.string == "simulator_ground_truth" && onset["parameters_json"]?.isString == true)
        let history = try trw(["label", "history", path, "--json"])
        #expect((history["labels"]?.array?.count ?? 0) >= labels.count)

        let suggest = try trw(["label", "suggest", path, "--json"])
        #expect(suggest["rate_hz"]?.isNumber == true && suggest["detectors"]?.array?.allSatisfy(\.isString) == true)
        let rows = try #require(suggest["suggestions"]?.array)
        #expect(!rows.isEmpty)
        for r in rows {
            #expect(r["t_s"]?.isNumber == true && r["detected_s"]?.isNumber == true && r["detector"]?.isString == true && r["method"]?.isString == true, "\(r)")
            for p in try #require(r["parameters"]?.array) { #expect(p["name"]?.isString == true && p["value"]?.isNumber == true) }
        }
    }

    @Test func verifyAndScore() throws {
        let (_, path) = try demoSession.get()
        let v = try trw(["verify", path, "--json"])
        #expect(v["ok"]?.bool == true)
        #expect(v["wal_bytes"]?.isNumber == true && v["integrity"]?.array?.compactMap(\.string) == ["ok"])
        for s in try #require(v["streams"]?.array) {
            #expect(s["rows"]?.isNumber == true && s["checksummed"]?.isNumber == true && s["unexplained"]?.isNumber == true && s["damaged_rows"]?.array != nil, "\(s)")
        }

        // score on a small run of its own (a cell BMS at 1 Hz heating up, onset labelled): fast.
        let small = TemporaryDirectory("json-score")
        let run0 = small.file("run.sqlite")
        let w = try SessionWriter(creating: run0, session: NewSession(
            name: "run", rigName: "test", clock: SessionClock(startMonotonicNs: 0, startRealtimeNs: 0)), softwareVersion: "test")
        let id = try w.addStream(StreamDescriptor(key: "bms0", kind: .bms, device: "test", format: "kv", nominalRateHz: 1, role: .cellBMS))
        var batch = WriteBatch()
        for s in 0...300 {
            let t = Int64(s) * 1_000_000_000
            let temp = s < 200 ? 30 + 0.02 * Double(s) : 34 + 2 * Double(s - 200)
            batch.bms.append(BMSSampleRecord(streamId: id, sample: BMSSample(hostArrivalNs: t, voltageV: 4.2, currentA: 1, cellTempsC: [temp], raw: ""), tNs: t))
        }
        try w.write(batch)
        try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 200_000_000_000, endTNs: nil, author: "sim",
                                             method: "simulator_ground_truth", labelSet: "trw-sim"))
        try w.finalize(status: .complete, endTNs: 300_000_000_000)
        let out = small.file("score.json")
        let exe = try #require(builtProduct("trw"))
        // --json: the report on stdout, one object on one line and nothing else; --json-out FILE: the same object in a file.
        let run = try CLIRun.run(exe, ["score", run0, "--detectors", "gb38031", "--bootstrap", "0", "--json", "--json-out", out], in: small.path, timeoutS: 300)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.hasSuffix("}\n") && run.stdout.split(separator: "\n").count == 1, "\(run.stdout)")
        #expect(run.stdout == (try String(contentsOfFile: out, encoding: .utf8)))
        let score = try decode(run.stdout)
        #expect(score["format_version"]?.number == 1)
        checkSnakeCase(score, path: "score")
        let row = try #require(score["scores"]?.array?.first)
        #expect(row["detector"]?.string == "gb38031")
        #expect(row["runs"]?.isNumber == true && row["recall"]?.isNumber == true && row["alarm_k"]?.isNumber == true && row["lead_times_s"]?.array != nil, "\(row)")
        #expect(row["recall_ci"]?.isNull == true, "no bootstrap: no interval")
        #expect(score["label_sets"]?.array?.first?["label_set"]?.isString == true)
        #expect(row["positives"]?.number == 1 && row["runs"]?.number == 1 && row["detected"]?.isNumber == true, "\(row)")
        // Without --json the table is on stdout; the old form `--json FILE` is refused with the way to write a file.
        let text = try CLIRun.run(exe, ["score", run0, "--detectors", "gb38031", "--bootstrap", "0"], in: small.path, timeoutS: 300)
        #expect(text.status == 0 && text.stdout.contains("gb38031") && !text.stdout.hasPrefix("{"), "\(text)")
        let old = try CLIRun.run(exe, ["score", run0, "--detectors", "gb38031", "--json", out], in: small.path, timeoutS: 60)
        #expect(old.status == 64 && old.stderr.contains("--json is a flag that prints the report on stdout; write it to a file with --json-out \(out)"), "\(old)")
    }
}
