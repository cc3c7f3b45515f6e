import CSerial
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A serial port found on this machine, for `trw devices`.
public struct SerialPortInfo: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The kernel device ("/dev/ttyUSB0").
    public var path: String
    /// Stable names under /dev/serial/by-id pointing at it (use these in rig files).
    public var byIDPaths: [String]
    /// Names under /dev/serial/by-path pointing at it.
    public var byPathPaths: [String]
    /// usb-serial (ttyUSB), usb-cdc-acm (ttyACM), uart (ttyS, ttyAMA, ttymxc...), other.
    public var kind: String

    /// One line for `trw devices`: "/dev/ttyUSB0  usb-serial  /dev/serial/by-id/usb-FTDI_...".
    public var description: String {
        ([path, kind] + byIDPaths + byPathPaths).joined(separator: "  ")
    }

    /// The name to put in a rig file: the first by-id name if any, else the device path.
    public var preferredPath: String { byIDPaths.first ?? path }

    /// Scans `devDirectory` for ttyUSB*, ttyACM*, ttyS*, ttyAMA*, ttymxc*, ttyXRUSB* and the
    /// serial/by-id and serial/by-path links, keeping the ports that answer TCGETS2
    /// (ttyS entries without a UART behind them do not).
    public static func scan(devDirectory: String = "/dev") -> [SerialPortInfo] {
        let fm = FileManager.default
        let prefixes: [(String, String)] = [
            ("ttyUSB", "usb-serial"), ("ttyACM", "usb-cdc-acm"), ("ttyXRUSB", "usb-serial"),
            ("ttyS", "uart"), ("ttyAMA", "uart"), ("ttymxc", "uart"), ("ttyTHS", "uart"),
        ]
        let names = (try? fm.contentsOfDirectory(atPath: devDirectory)) ?? []
        var ports: [String: SerialPortInfo] = [:]
        for name in names {
            guard let (_, kind) = prefixes.first(where: { name.hasPrefix($0.0) && name.dropFirst($0.0.count).allSatisfy(\.isNumber) && name.count > $0.0.count }) else { continue }
            let path = devDirectory + "/" + name
            guard answersTCGETS(path) else { continue }
            ports[canonical(path)] = SerialPortInfo(path: path, byIDPaths: [], byPathPaths: [], kind: kind)
        }
        for (sub, isID) in [("serial/by-id", true), ("serial/by-path", false)] {
            let dir = devDirectory + "/" + sub
            for link in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
                let linkPath = dir + "/" + link
                let target = canonical(linkPath)
                if ports[target] == nil {
                    // A by-id link to a device with an unusual name (ttyCH343USB0, ...).
                    guard answersTCGETS(linkPath) else { continue }
                    ports[target] = SerialPortInfo(path: target, byIDPaths: [], byPathPaths: [], kind: "other")
                }
                if isID { ports[target]!.byIDPaths.append(linkPath) } else { ports[target]!.byPathPaths.append(linkPath) }
            }
        }
        return ports.values.sorted { naturalLess($0.path, $1.path) }
    }

    private static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }

    /// Opens without waiting for carrier and asks for the termios settings.
    static func answersTCGETS(_ path: String) -> Bool {
        guard case let .success(fd) = system_open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) else { return false }
        defer { if case let .failure(err) = system_close(fd) { preconditionNotOurBug(err, "close") } }
        var tio = trw_termios2()
        if case .success = system_ioctl(fd, trw_TCGETS2, &tio) { return true }
        return false
    }

    private static func naturalLess(_ a: String, _ b: String) -> Bool {
        a.compare(b, options: [.numeric]) == .orderedAscending
    }
}
