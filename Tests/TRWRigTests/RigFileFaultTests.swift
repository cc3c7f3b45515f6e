import Foundation
import Testing
import TRWCore
import TRWTestSupport
@testable import TRWRecorder
import TRWRig

/// Typos in rig files are refused with FILE:LINE: KEY and the nearest known key,
/// in every section and at every depth (issue 17 item 5): `fsp = 5` must not
/// record at the default 50 fps, `threshold_dbae = 60` must not keep 40.
@Suite struct RigFileFaultTests {
    static var chamber: String {
        (try? String(contentsOfFile: repositoryRoot() + "/rigs/chamber-full.toml", encoding: .utf8)) ?? ""
    }

    /// 1-based number of the first line of `text` that starts with `prefix`.
    static func lineNumber(of prefix: String, in text: String) -> Int? {
        text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix(prefix) }.map { $0 + 1 }
    }

    /// (line replaced, replacement, start of the typo's line, expected key path, expected suggestion)
    @Test(arguments: [
        ("fps = 50", "fsp = 5", "fsp", "camera[0].fsp", "fps"),
        ("threshold_db_ae = 40", "threshold_dbae = 60", "threshold_dbae", "ae[0].detector.threshold_dbae", "threshold_db_ae"),
        ("channels = 2", "channels = 2\nframe_limt = 100", "frame_limt", "ae[0].frame_limt", "frame_limit"),
        ("baud = 9600", "baud = 9600\nparty = \"even\"", "party", "serial[1].port.party", "parity"),
        ("poll_period_s = 1", "poll_perod_s = 1", "poll_perod_s", "serial[1].protocol.poll_perod_s", "poll_period_s"),
        ("stream = \"bms0\"", "stream = \"bms0\"\nsilence_timout_s = 3", "silence_timout_s", "serial[0].silence_timout_s", "silence_timeout_s"),
        ("maker = \"example maker\"", "makr = \"example maker\"", "makr", "cell.makr", "maker"),
        ("name = \"chamber-1 full\"", "nmae = \"chamber-1 full\"", "nmae", "rig.nmae", "name"),
        ("description = \"overcharge 0.5C CC to 12 V, chamber 25 degC\"", "desription = \"x\"", "desription", "protocol.desription", "description"),
        ("max_temperature_c = 400", "max_temprature_c = 400", "max_temprature_c", "stop.max_temprature_c", "max_temperature_c"),
        ("radiometry = \"tlinear-100mk\"   # low gain: up to 6553 K of range, so runaway does not saturate",
         "radiometry = { kelvin_per_count = 0.01, emisivity = 0.9 }", "radiometry = { kelvin", "camera[0].radiometry.emisivity", "emissivity"),
    ])
    func unknownKeyIsRefusedWithLineAndNearestKey(line: String, replacement: String, typoLine: String, key: String, suggestion: String) throws {
        let text = Self.chamber.replacingOccurrences(of: line, with: replacement)
        #expect(text != Self.chamber, "the fixture line '\(line)' is in rigs/chamber-full.toml")
        let lineNumber = try #require(Self.lineNumber(of: typoLine, in: text))
        do {
            _ = try RigFile.parse(text: text, path: "lab.toml")
            Issue.record("a rig with '\(replacement)' was accepted")
        } catch {
            #expect(error.file == "lab.toml")
            #expect(error.line == lineNumber, "\(error)")
            #expect(error.key == key, "\(error)")
            #expect(error.description.contains("did you mean '\(suggestion)'"), "\(error)")
        }
    }

    @Test func unknownSectionNamesTheNearestSection() {
        let text = Self.chamber.replacingOccurrences(of: "[stop]", with: "[stp]")
        #expect(throws: RigFileError.self) { _ = try RigFile.parse(text: text, path: "lab.toml") }
        do { _ = try RigFile.parse(text: text, path: "lab.toml") } catch {
            #expect(error.line == Self.lineNumber(of: "[stp]", in: text) && error.key == "stp" && error.description.contains("did you mean [stop]"),
                    "\(error)")
        }
    }

    /// Every key the examples use is known: the check refuses typos, not features.
    @Test(arguments: ["rigs/ir-camera-boson.toml", "rigs/ae-alsa-192k.toml", "rigs/bms-keyvalue.toml", "rigs/daq-csv.toml",
                      "rigs/bms-modbus.toml", "rigs/psu-scpi.toml", "rigs/chamber-full.toml"])
    func everyExampleKeyIsKnown(file: String) throws {
        _ = try RigFile.load(path: repositoryRoot() + "/" + file)
    }

    /// Numbers a device or the recorder would trap on are refused with the key.
    @Test(arguments: [
        ("duration_s = 14400", "duration_s = inf", "stop.duration_s"),
        ("duration_s = 14400", "duration_s = 1e300", "stop.duration_s"),
        ("max_temperature_c = 400", "max_temperature_c = nan", "stop.max_temperature_c"),
        ("capacity_ah = 2.0", "capacity_ah = inf", "cell.capacity_ah"),
        ("fps = 50", "fps = 1e300", "camera[0]"),
        ("fps = 50", "fps = 50\nwidth = 100000", "camera[0]"),
        ("fps = 50", "fps = 50\npoll_timeout_ms = 9223372036854775807", "camera[0]"),
        ("radiometry = \"tlinear-100mk\"   # low gain: up to 6553 K of range, so runaway does not saturate",
         "radiometry = { kelvin_per_count = 0.01, emissivity = nan }", "camera[0]"),
        ("baud = 9600", "baud = 0", "serial[1]"),
        ("poll_period_s = 1", "poll_period_s = 1e300", "serial[1]"),
        ("poll_period_s = 1", "poll_period_s = nan", "serial[1]"),
        ("stream = \"bms0\"", "stream = \"bms0\"\nsilence_timeout_s = inf", "serial[0]"),
        ("stream = \"bms0\"", "stream = \"bms0\"\nnominal_rate_hz = inf", "serial[0]"),
        ("stream = \"bms0\"", "stream = \"bms0\"\nreopen_max_delay_s = 1e300", "serial[0]"),
        ("threshold_db_ae = 40", "threshold_db_ae = nan", "ae[0]"),
        ("preamp_gain_db = 40", "preamp_gain_db = 1e300", "ae[0]"),
    ])
    func extremeNumbersAreRefused(line: String, replacement: String, key: String) {
        let text = Self.chamber.replacingOccurrences(of: line, with: replacement)
        #expect(text != Self.chamber)
        do {
            _ = try RigFile.parse(text: text, path: "lab.toml")
            Issue.record("a rig with '\(replacement)' was accepted")
        } catch {
            #expect(error.key?.hasPrefix(key) == true, "\(error)")
            #expect(error.line != nil, "\(error)")
        }
    }

    @Test func keySuggestionCountsATranspositionAsOneEdit() {
        #expect(KeySuggestion.distance("fsp", "fps") == 1)
        #expect(KeySuggestion.distance("capcity_ah", "capacity_ah") == 1)
        #expect(KeySuggestion.nearest("fsp", in: ["fps", "width", "height"]) == "fps")
        #expect(KeySuggestion.nearest("zzzzzzzz", in: ["fps", "width"]) == nil)
    }

    @Test func lineLocatorResolvesArraysOfTablesAndInlineTables() {
        let loc = TOMLLineLocator(text: """
            [[serial]]
            stream = "a"
            [serial.port]
            path = "/dev/x"
            [[serial]]
            stream = "b"
            [serial.protocol]
            fields = { V = "voltage_v", T1 = { field = "cell_temp_c", chanel = 1 } }
            """)
        #expect(loc.line("serial[1].stream") == 6)
        #expect(loc.line("serial[0].port.path") == 4)
        #expect(loc.line("serial[1].protocol.fields.T1.chanel") == 8)
        #expect(loc.headerLine("serial[1].protocol") == 7)
    }
}

/// The `[alarm]` section (issue 20 item 4: actions on alarm declared in the rig file).
@Suite struct RigAlarmSectionTests {
    static let alarm = "\n[alarm]\ndetect = [\"vdrop\", \"ae_burst\"]\nalarm_k = 5\non_alarm = [\"supply-off\", \"exec:notify-lab --room 3\"]\n"

    @Test func parsesDetectorsActionsAndPersistence() throws {
        let rig = try RigFile.parse(text: RigFileFaultTests.chamber + Self.alarm, path: "lab.toml")
        let a = try #require(rig.alarm)
        #expect(a.detectors == ["vdrop", "ae_burst"] && a.alarmK == 5)
        #expect(a.actions == ["supply-off", "exec:notify-lab --room 3"])
        #expect(a.line == RigFileFaultTests.lineNumber(of: "[alarm]", in: RigFileFaultTests.chamber + Self.alarm))
    }

    @Test(arguments: [
        ("alarm_k = 5", "alarm_k = 0", "alarm.alarm_k", "1...3600"),
        ("alarm_k = 5", "alarm_kk = 5", "alarm.alarm_kk", "did you mean 'alarm_k'"),
        ("detect = [\"vdrop\", \"ae_burst\"]", "detect = \"vdrop\"", "alarm.detect", "expected an array of strings"),
        ("detect = [\"vdrop\", \"ae_burst\"]", "", "alarm.detect", "needs detect = [...]"),
    ])
    func badAlarmSectionsAreRefused(line: String, replacement: String, key: String, words: String) {
        let text = RigFileFaultTests.chamber + Self.alarm.replacingOccurrences(of: line, with: replacement)
        do {
            _ = try RigFile.parse(text: text, path: "lab.toml")
            Issue.record("accepted: \(replacement)")
        } catch {
            #expect(error.key == key && error.description.contains(words), "\(error)")
        }
    }
}
