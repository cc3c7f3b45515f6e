import Foundation
import SystemPackage
import Testing
import TRWCore
@_spi(Testing) import TRWV4L2

/// The real kernel path (Glibc open / ioctl through the CV4L2 shim / close), no camera needed.
@Suite struct KernelTests {
    @Test func aNodeThatIsNotV4L2IsRefusedByQuerycap() throws {
        let error = #expect(throws: V4L2Error.self) {
            try V4L2CameraSource(config: V4L2CameraConfig(device: "/dev/null"))
        }
        #expect(error?.code == .notV4L2)
        #expect(error?.errno == .inappropriateIOCTLForDevice)
        #expect(error?.description.hasPrefix("/dev/null: not a V4L2 device") == true)
    }

    @Test func aMissingNodeIsDeviceMissing() throws {
        let error = #expect(throws: V4L2Error.self) {
            try V4L2CameraSource(config: V4L2CameraConfig(device: "/dev/video-trw-test-missing"))
        }
        #expect(error?.code == .deviceMissing)
        #expect(error?.errno == .noSuchFileOrDirectory)
    }

    @Test func listingOnlyReturnsCaptureNodesThatExist() {
        for camera in V4L2CameraSource.listCameras() {
            #expect(FileManager.default.fileExists(atPath: camera.device))
            #expect(!camera.formats.isEmpty, "\(camera.device) listed without formats")
        }
    }

    /// Runs only when TRW_TEST_V4L2_DEVICE names a camera (e.g. /dev/video0):
    /// negotiates what it offers, captures 20 frames, checks sequence and timestamps.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TRW_TEST_V4L2_DEVICE"] != nil))
    func hardwareCamera() throws {
        let path = ProcessInfo.processInfo.environment["TRW_TEST_V4L2_DEVICE"]!
        let info = try #require(V4L2CameraSource.listCameras().first { $0.device == path }, "\(path) is not a capture device")
        let format = try #require(info.formats.first { $0.pixelFormat != nil && !$0.sizes.isEmpty },
                                  "\(path) offers no format trw records: \(info.formats)")
        let size = format.sizes[0]
        let config = V4L2CameraConfig(device: path, width: size.width, height: size.height,
                                      fps: size.frameRates.first ?? 30, pixelFormat: format.pixelFormat!,
                                      radiometry: format.pixelFormat!.isRadiometricCapable ? .tLinear10mK : .none,
                                      pollTimeoutMs: 2000)
        let source = try V4L2CameraSource(config: config)
        let sink = CollectingSink(stopAfterFrames: 20)
        try runCapture(source, sink)
        let frames = sink.frames
        #expect(frames.count == 20)
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $1.sequence > $0.sequence && $1.deviceTimestampNs > $0.deviceTimestampNs })
        let lost = sink.gaps.filter { $0.kind == .frameDrop }.reduce(Int64(0)) { $0 + $1.lostCount }
        #expect(frames.last!.sequence - frames.first!.sequence + 1 == Int64(frames.count) + lost)
    }
}
