import Foundation
import Testing
import TRWAnalysis
import TRWCore
import TRWStore
import TRWTestSupport
@testable import TRWRecorder

#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal pair; the test plays an instrument on the master side, `trw record`
/// opens the slave by path. The slave is held open in raw mode by the test so nothing is
/// echoed or translated before the recorder configures it.
private final class PTY: @unchecked Sendable {
    let master: CInt
    let slavePath: String
    private let slaveHold: CInt

    init() throws {
        let m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard m >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        // TIOCSPTLCK (unlock the slave) and TIOCGPTN (its number), <asm-generic/ioctls.h>.
        var unlock: CInt = 0, number: CInt = -1
        guard ioctl(m, 0x4004_5431, &unlock) == 0, ioctl(m, 0x8004_5430, &number) == 0 else {
            close(m)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        master = m
        slavePath = "/dev/pts/\(number)"
        slaveHold = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slaveHold >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var tio = termios()
        guard tcgetattr(slaveHold, &tio) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        cfmakeraw(&tio)
        guard tcsetattr(slaveHold, TCSANOW, &tio) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }  // the test is over
            off += n
        }
    }

    deinit {
        close(slaveHold)
        close(master)
    }
}

private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    var isSet: Bool { lock.withLock { stopped } }
    func set() { lock.withLock { stopped = true } }
}

@Suite(.serialized) struct SerialRoleRecordingFaultTests {
    /// Issue 17: a rig with bms0 and psu0 (rigs/chamber-full.toml) recorded both as `bms`
    /// streams and the features took "the latest sample" of either: cell_temp_c was empty on
    /// 246 of 494 ticks and voltage_v alternated between the instruments. Recorded here through
    /// real termios on two pseudo-terminals by the `trw` binary, with roles in the rig file.
    @Test func twoInstrumentsEachFieldFromItsRole() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let bms = try PTY(), psu = try PTY()
        let rig = dir.file("two.toml")
        try """
        [rig]
        name = "bms and supply"
        [cell]
        chemistry = "NCM"
        capacity_ah = 2.0
        [[serial]]
        stream = "psu0"
        role = "supply"
        [serial.port]
        path = "\(psu.slavePath)"
        baud = 115200
        [serial.protocol]
        type = "key_value"
        use_default_names = true
        [[serial]]
        stream = "bms0"
        role = "cell_bms"
        [serial.port]
        path = "\(bms.slavePath)"
        baud = 115200
        [serial.protocol]
        type = "key_value"
        use_default_names = true
        """.write(toFile: rig, atomically: true, encoding: .utf8)
        let path = dir.file("two.sqlite")
        // The instruments: 10 Hz each, interleaved; the supply sends no temperature.
        let stop = StopFlag()
        let player = Thread {
            var k = 0
            while !stop.isSet {
                bms.send(String(format: "V=%.4f I=1.000 T1=%.2f Tamb=23.0\n", 4.1 + Double(k) * 1e-4, 25 + Double(k) * 0.01))
                usleep(50_000)
                psu.send("V=12.000 I=1.010\n")
                usleep(50_000)
                k += 1
            }
        }
        player.start()
        defer { stop.set() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: trw)
        p.arguments = ["record", "--rig", rig, "--name", "two", "--out", path, "--duration", "5", "--quiet"]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        stop.set()
        #expect(p.terminationStatus == 0, "\(errText)")

        let r = try SessionReader(path: path)
        #expect(try r.streams(kind: .bms).map { "\($0.key)=\($0.role ?? "nil")" } == ["psu0=supply", "bms0=cell_bms"])
        let bmsRows = try r.bmsSamples(streamId: try #require(try r.stream(key: "bms0")).id!)
        let psuRows = try r.bmsSamples(streamId: try #require(try r.stream(key: "psu0")).id!)
        #expect(bmsRows.count >= 20 && psuRows.count >= 20, "both instruments recorded (\(bmsRows.count), \(psuRows.count))")
        var o = FeatureOptions()
        o.rateHz = 4
        o.decodePayloads = false
        let t = try FeatureExtractor.extract(r, options: o)
        #expect(t.serialRoles == SerialRoles(cell: "bms0", ambient: "bms0", note: nil))
        let first = try #require(bmsRows.first).tNs
        let temp = try #require(t.column("cell_temp_c")), volts = try #require(t.column("voltage_v"))
        var ticksAfterFirst = 0
        for (k, te) in t.tickTimesS.enumerated() where te * 1e9 >= Double(first) {
            ticksAfterFirst += 1
            #expect(!temp[k].isNaN, "cell_temp_c empty at tick \(k) (t = \(te) s)")
            #expect(volts[k] > 4.0 && volts[k] < 4.2, "voltage_v \(volts[k]) at tick \(k) is not the cell BMS's")
        }
        #expect(ticksAfterFirst >= 12)
        // The supply's readings stay in the session, untouched.
        #expect(psuRows.allSatisfy { $0.voltageV == 12 && $0.cellTempC == nil })
    }
}
