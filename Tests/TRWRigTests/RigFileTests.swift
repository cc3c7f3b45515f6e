import Foundation
import Testing
import TRWCore
import TRWTestSupport
@testable import TRWRecorder
import TRWRig

@Suite struct RigFileTests {
    @Test(arguments: ["rigs/ir-camera-boson.toml", "rigs/ae-alsa-192k.toml", "rigs/bms-keyvalue.toml", "rigs/daq-csv.toml",
                      "rigs/bms-modbus.toml", "rigs/psu-scpi.toml", "rigs/chamber-full.toml"])
    func exampleRigFilesParse(file: String) throws {
        let rig = try RigFile.load(path: repositoryRoot() + "/" + file)
        #expect(rig.cell != nil)
        #expect(!(rig.cameras.isEmpty && rig.ae.isEmpty && rig.serial.isEmpty))
    }

    @Test func fullRigDecodesIntoDriverConfigs() throws {
        let rig = try RigFile.parse(text: """
            [rig]
            name = "bench A"
            [cell]
            chemistry = "NCM"
            capacity_ah = 2.5
            format = "pouch"
            [protocol]
            description = "overcharge 0.5C"
            [[camera]]
            key = "ir0"
            device = "/dev/video2"
            fps = 30
            pixel_format = "Y16"
            [[ae]]
            stream_key = "ae0"
            device = "hw:1,0"
            rate_hz = 384000
            channels = 4
            format = "S24_LE"
            [ae.detector]
            threshold_db_ae = 45
            hdt_s = 0.0004
            pdt_s = 0.0001
            hlt_s = 0.002
            adc_full_scale_v = 2.0
            preamp_gain_db = 34
            [stop]
            duration_s = 600
            max_temperature_c = 300
            max_temperature_hold_s = 5
            voltage_below_after_runaway_v = 1.5
            """, path: "bench.toml")
        #expect(rig.name == "bench A" && rig.cell?.capacityAh == 2.5 && rig.testProtocol == "overcharge 0.5C")
        #expect(rig.cameras.first?.device == "/dev/video2" && rig.cameras.first?.fps == 30)
        let ae = try #require(rig.ae.first)
        #expect(ae.rateHz == 384_000 && ae.channels == 4 && ae.format == .s24le)
        #expect(ae.detector == AEDetectorSettings(thresholdDbAE: 45, hdtS: 0.0004, pdtS: 0.0001, hltS: 0.002,
                                                  adcFullScaleV: 2.0, preampGainDb: 34))
        #expect(rig.durationS == 600)
        #expect(rig.stopRules == [.maxTemperature(celsius: 300, holdS: 5), .voltageBelowAfterRunaway(volts: 1.5)])
    }

    @Test(arguments: [
        // (rig text, line, key, words in the message)
        ("[[ae]]\nstream_key = \"ae0\"\ndevice = \"hw:0\"\nrate_hz = \"fast\"\nchannels = 2\nformat = \"S32_LE\"\n", 4, "ae[0].rate_hz", "Int"),
        ("[[ae]]\nstream_key = \"ae0\"\ndevice = \"hw:0\"\nchannels = 2\nformat = \"S32_LE\"\n", 1, "ae[0].rate_hz", "missing"),
        ("[cell]\nchemistry = \"NCM\"\ncapacity_ah = -1\n[[camera]]\ndevice = \"/dev/video0\"\n", 3, "cell.capacity_ah", "positive"),
        ("[[camera]]\ndevice = \"/dev/video0\"\n[stop]\nmax_temp = 300\n", 4, "stop.max_temp", "unknown stop rule"),
        ("[chamber]\nx = 1\n", 1, "chamber", "unknown section"),
        ("[[camera]]\ndevice = \"/dev/video0\"\n[[camera]]\ndevice = \"/dev/video1\"\nfps = 0\n", 3, "camera[1]", "fps"),
        ("[[camera]\n", 1, nil, "not valid TOML"),
        ("[rig]\nname = \"empty\"\n", nil, nil, "no devices"),
    ] as [(String, Int?, String?, String)])
    func errorsNameFileLineAndKey(text: String, line: Int?, key: String?, words: String) {
        do {
            _ = try RigFile.parse(text: text, path: "lab.toml")
            Issue.record("accepted a bad rig file:\n\(text)")
        } catch {
            #expect(error.file == "lab.toml")
            #expect(error.line == line, "\(error)")
            #expect(error.key == key, "\(error)")
            #expect(error.description.contains(words), "\(error)")
            #expect(error.description.hasPrefix("lab.toml"))
        }
    }

    @Test func fullChamberHasEveryKind() throws {
        let rig = try RigFile.load(path: repositoryRoot() + "/rigs/chamber-full.toml")
        #expect(rig.cameras.count == 1 && rig.ae.count == 1 && rig.serial.map(\.stream) == ["bms0", "psu0"])
        #expect(rig.serial.last?.port.baud == 9600)
    }

    @Test func serialErrorsNameLineAndKey() {
        do {
            _ = try RigFile.parse(text: "[[serial]]\nstream = \"bms0\"\n[serial.port]\npath = \"/dev/ttyUSB0\"\nbaud = \"fast\"\n[serial.protocol]\ntype = \"key_value\"\n", path: "s.toml")
            Issue.record("accepted a bad baud")
        } catch {
            #expect(error.key?.hasPrefix("serial[0].port") == true, "\(error)")
            #expect(error.line == 5, "\(error)")
        }
    }

    @Test func duplicateStreamKeysAreRefused() {
        #expect(throws: RigFileError.self) {
            _ = try RigFile.parse(text: "[[camera]]\nkey = \"x\"\ndevice = \"/dev/video0\"\n[[ae]]\nstream_key = \"x\"\ndevice = \"hw:0\"\nrate_hz = 96000\nchannels = 1\nformat = \"S16_LE\"\n", path: "d.toml")
        }
    }

    @Test func checkReportsMissingDevicesWithoutCrashing() throws {
        let rig = try RigFile.parse(text: "[[camera]]\nkey = \"ir0\"\ndevice = \"/dev/trw-no-such-camera\"\n", path: "c.toml")
        let (ok, report) = rig.check()
        #expect(!ok)
        #expect(report.contains("FAIL camera ir0 /dev/trw-no-such-camera"))
        #expect(throws: (any Error).self) { _ = try rig.makeSources() }
    }
}
