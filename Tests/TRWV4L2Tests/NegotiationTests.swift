import CV4L2
import Foundation
import SystemPackage
import Testing
import TRWCore
@_spi(Testing) import TRWV4L2
@_spi(Testing) import TRWV4L2Emulation

@Suite struct NegotiationTests {
    @Test(arguments: V4L2PixelFormat.allCases)
    func streamDescriptorShowsWhatWasGranted(format: V4L2PixelFormat) throws {
        let device = EmulatedV4L2Device(.with {
            $0.rowPaddingBytes = 4
            $0.timestampStartOfExposure = true
        })
        let source = try makeSource(device, camera(width: 640, height: 480, format: format, buffers: 6))
        let d = try #require(source.streams.first)
        #expect(d.kind == .thermal && d.key == "ir0" && d.device == "/dev/video0")
        #expect(d.format == format.rawValue)
        #expect(d.width == 640 && d.height == 480 && d.nominalRateHz == 50)
        #expect(d.calibration == .tLinear10mK)
        let p = d.properties
        #expect(p["v4l2.driver"] == "uvcvideo")
        #expect(p["v4l2.card"] == "PureThermal (emulated)")
        #expect(p["v4l2.asked_fps"] == "50" && p["v4l2.granted_fps"] == "50")
        #expect(p["v4l2.timestamp_source"] == "SOE")
        #expect(p["v4l2.timestamp_clock"] == "monotonic")
        #expect(p["v4l2.bytes_per_line"] == String(640 * format.bytesPerPixel + 4))
        #expect(p["v4l2.buffers_granted"] == "6")
        #expect(source.grantedFormat.bytesPerLine == 640 * format.bytesPerPixel + 4)
        // 8-bit formats carry a warning that radiometry is meaningless for them.
        #expect(source.warnings.contains { $0.contains("not radiometric") } == !format.isRadiometricCapable)
    }

    /// Asked 50 Hz, the camera only does 25 and 9: the stream records 25 Hz and the user sees why.
    @Test func grantedRateDifferentFromAskedIsAWarning() throws {
        let device = EmulatedV4L2Device(.with {
            $0.formats = [.init(.y16, sizes: [.init(width: 160, height: 120, intervals: [.fps(25), .fps(9)])])]
        })
        let source = try makeSource(device, camera(fps: 50))
        let d = try #require(source.streams.first)
        #expect(d.nominalRateHz == 25)
        #expect(d.properties["v4l2.asked_fps"] == "50")
        #expect(d.properties["v4l2.granted_fps"] == "25")
        #expect(source.warnings.contains("asked 50 Hz, the device granted 25 Hz"))
        #expect(d.properties["v4l2.warnings"]?.contains("granted 25 Hz") == true)
        // And frames then really come at 25 Hz.
        let sink = CollectingSink(stopAfterFrames: 3)
        try runCapture(source, sink)
        #expect(sink.frames[1].deviceTimestampNs - sink.frames[0].deviceTimestampNs == 40_000_000)
    }

    @Test func fixedRateDeviceIsAWarningWithItsRate() throws {
        let device = EmulatedV4L2Device(.with {
            $0.frameRateControl = false
            $0.formats = [.init(.y16, sizes: [.init(width: 160, height: 120, intervals: [.init(1000, 8700)])])]
        })
        let source = try makeSource(device, camera(fps: 50))
        #expect(source.streams[0].properties["v4l2.granted_fps"] == "8.7")
        #expect(source.warnings.contains { $0.contains("does not let the frame rate be set") && $0.contains("8.7 Hz") })
    }

    @Test func unsupportedFormatListsWhatTheDeviceOffers() throws {
        let device = EmulatedV4L2Device(.with {
            $0.formats = [
                .init(.yuyv, sizes: [.init(width: 640, height: 480, intervals: [.fps(30)])]),
                .init(fourcc: 0x4750_4A4D /* MJPG */, description: "Motion-JPEG", sizes: [.init(width: 1280, height: 720, intervals: [.fps(30)])]),
            ]
        })
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera(width: 640, height: 480, format: .y16)) }
        #expect(error?.code == .unsupportedFormat)
        let text = error?.description ?? ""
        #expect(text.contains("/dev/video0") && text.contains("does not offer Y16"))
        #expect(text.contains("YUYV 640x480 @ 30 Hz") && text.contains("MJPG 1280x720 @ 30 Hz"))
        #expect(device.counters.openDescriptors == 0)
    }

    @Test func unsupportedSizeListsTheSizesOfThatFormat() throws {
        let device = EmulatedV4L2Device()
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera(width: 320, height: 256)) }
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.message.contains("does not offer Y16 320x256") == true)
        #expect(error?.message.contains("640x480 @ 50/25/9 Hz, 160x120 @ 50/25/9 Hz") == true)
    }

    @Test func notACaptureDeviceIsRefusedClearly() throws {
        let device = EmulatedV4L2Device(.with { $0.capabilities = UInt32(V4L2_CAP_VIDEO_OUTPUT) | UInt32(V4L2_CAP_STREAMING) })
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera()) }
        #expect(error?.code == .notCapture)
        #expect(error?.message.contains("expected V4L2_CAP_VIDEO_CAPTURE") == true)
        #expect(device.counters.openDescriptors == 0)
    }

    @Test func multiplanarOnlyDeviceIsRefusedSayingSo() throws {
        let device = EmulatedV4L2Device(.with { $0.capabilities = UInt32(V4L2_CAP_VIDEO_CAPTURE_MPLANE) | UInt32(V4L2_CAP_STREAMING) })
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera()) }
        #expect(error?.code == .notCapture)
        #expect(error?.message.contains("multi-planar") == true)
        #expect(device.counters.openDescriptors == 0)
    }

    @Test func captureWithoutStreamingIsRefusedClearly() throws {
        let device = EmulatedV4L2Device(.with { $0.capabilities = UInt32(V4L2_CAP_VIDEO_CAPTURE) | UInt32(V4L2_CAP_READWRITE) })
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera()) }
        #expect(error?.code == .noStreaming)
        #expect(error?.message.contains("V4L2_CAP_STREAMING") == true)
        #expect(device.counters.openDescriptors == 0)
    }

    @Test func missingDeviceSaysSoAndHowToFindCameras() throws {
        let device = EmulatedV4L2Device()
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera("/dev/video7")) }
        #expect(error?.code == .deviceMissing)
        #expect(error?.description.hasPrefix("/dev/video7: ") == true)
        #expect(error?.message.contains("trw devices") == true)
    }

    @Test func busyDeviceIsReportedAndTheHolderKeepsStreaming() throws {
        let device = EmulatedV4L2Device()
        let holder = try makeSource(device, camera())
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera()) }
        #expect(error?.code == .deviceBusy)
        #expect(error?.errno == .resourceBusy)
        #expect(error?.message.contains("another program") == true)
        let sink = CollectingSink(stopAfterFrames: 3)
        try runCapture(holder, sink)
        #expect(sink.frames.map(\.sequence) == [0, 1, 2])
        #expect(device.counters.openDescriptors == 0 && device.counters.activeMappings == 0)
    }

    @Test func busyElsewhereIsEBUSY() throws {
        let device = EmulatedV4L2Device()
        device.setBusyElsewhere(true)
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera()) }
        #expect(error?.code == .deviceBusy)
        #expect(device.counters.openDescriptors == 0)
    }

    @Test(arguments: [EmulatedV4L2Device.TimestampClock.unknown, .copy])
    func nonMonotonicTimestampsAreRefusedUnlessAllowed(clock: EmulatedV4L2Device.TimestampClock) throws {
        let device = EmulatedV4L2Device(.with { $0.timestampClock = clock })
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera()) }
        #expect(error?.code == .timestampClock)
        #expect(error?.message.contains(clock == .copy ? "TIMESTAMP_COPY" : "TIMESTAMP_UNKNOWN") == true)
        #expect(error?.message.contains("allow_non_monotonic_timestamps") == true)
        #expect(device.counters.openDescriptors == 0 && device.counters.activeMappings == 0)

        var config = camera()
        config.allowNonMonotonicTimestamps = true
        let source = try makeSource(device, config)
        #expect(source.streams[0].properties["v4l2.timestamp_clock"] == "replaced by dequeue time")
        #expect(source.warnings.contains { $0.contains("dequeue time replaces them") })
        let sink = CollectingSink(stopAfterFrames: 3)
        try runCapture(source, sink)
        #expect(sink.frames.allSatisfy { $0.deviceTimestampNs == $0.hostArrivalNs })
    }

    @Test(arguments: [
        (V4L2CameraConfig(device: ""), "device is empty"),
        (V4L2CameraConfig(device: "/dev/video0", width: 0), "size 0x480"),
        (V4L2CameraConfig(device: "/dev/video0", fps: 0), "fps 0.0"),
        (V4L2CameraConfig(device: "/dev/video0", bufferCount: 1), "buffer_count 1"),
        (V4L2CameraConfig(device: "/dev/video0", pollTimeoutMs: 0), "poll_timeout_ms 0"),
    ])
    func invalidConfigNamesTheField(config: V4L2CameraConfig, expected: String) throws {
        let error = #expect(throws: V4L2Error.self) { try config.validate() }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
    }

    @Test func configDecodesWithDefaultsAndRadiometry() throws {
        let json = #"""
        [{"device": "/dev/video2"},
         {"device": "/dev/video3", "fps": 9, "pixel_format": "Y16_BE", "radiometry": "tlinear-100mk", "reopen_attempts": 3},
         {"device": "/dev/video4", "radiometry": {"kelvin_per_count": 0.04, "offset_kelvin": 10}}]
        """#
        let configs = try JSONDecoder().decode([V4L2CameraConfig].self, from: Data(json.utf8))
        #expect(configs[0] == V4L2CameraConfig(device: "/dev/video2"))
        #expect(configs[1].fps == 9 && configs[1].pixelFormat == .y16BigEndian && configs[1].reopenAttempts == 3)
        #expect(configs[1].radiometry.calibration == .tLinear100mK)
        #expect(configs[2].radiometry.calibration == ThermalCalibration(kelvinPerCount: 0.04, offsetKelvin: 10))
        // Round trip.
        let again = try JSONDecoder().decode([V4L2CameraConfig].self, from: JSONEncoder().encode(configs))
        #expect(again == configs)
    }

    @Test func unknownRadiometryNameIsRejectedWithTheChoices() throws {
        let json = #"{"device": "/dev/video0", "radiometry": "tlinear-1k"}"#
        let error = #expect(throws: DecodingError.self) { try JSONDecoder().decode(V4L2CameraConfig.self, from: Data(json.utf8)) }
        guard case .dataCorrupted(let ctx)? = error else { Issue.record("expected dataCorrupted, got \(String(describing: error))"); return }
        #expect(ctx.debugDescription.contains("\"tlinear-1k\"") && ctx.debugDescription.contains("tlinear-10mk"))
    }

    @Test func listingShowsCaptureNodesWithFormatsSizesAndRates() throws {
        let device = EmulatedV4L2Device(.with {
            $0.metadataNodePath = "/dev/video1"
            $0.formats = [
                .init(.y16, sizes: [.init(width: 640, height: 480, intervals: [.fps(50), .fps(25)])]),
                .init(fourcc: 0x4750_4A4D, description: "Motion-JPEG", sizes: [.init(width: 640, height: 480, intervals: [.fps(30)])]),
            ]
        })
        let cameras = V4L2CameraSource.listCameras(syscalls: device)
        #expect(cameras.map(\.device) == ["/dev/video0"])
        let c = try #require(cameras.first)
        #expect(c.driver == "uvcvideo" && c.card == "PureThermal (emulated)" && c.busInfo == "usb-emulated-1.2")
        #expect(c.formats.map(\.fourcc) == ["Y16", "MJPG"])
        #expect(c.formats.map(\.pixelFormat) == [.y16, nil])
        #expect(c.formats[0].sizes == [V4L2FrameSize(width: 640, height: 480, frameRates: [50, 25])])
        #expect(c.description.contains("Y16 640x480 @ 50/25 Hz") && c.description.contains("MJPG 640x480 @ 30 Hz (not recordable by trw)"))
        #expect(device.counters.openDescriptors == 0)

        device.unplug()
        #expect(V4L2CameraSource.listCameras(syscalls: device).isEmpty)
    }

    /// The emulation itself answers like a driver: EINVAL for a format it does not have, or adjusts like uvcvideo.
    @Test(arguments: [EmulatedV4L2Device.UnsupportedFormatReply.einval, .adjust])
    func emulationSFmtWithUnknownFourcc(reply: EmulatedV4L2Device.UnsupportedFormatReply) throws {
        let device = EmulatedV4L2Device(.with { $0.unsupportedFormatReply = reply })
        let fd = try device.open("/dev/video0", flags: O_RDWR | O_NONBLOCK).get()
        defer { _ = device.close(fd) }
        var f = v4l2_format()
        f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        f.fmt.pix.pixelformat = 0x4750_4A4D
        f.fmt.pix.width = 641
        f.fmt.pix.height = 479
        let result = withUnsafeMutableBytes(of: &f) { device.ioctl(fd, request: trw_VIDIOC_S_FMT, argument: $0.baseAddress!) }
        switch reply {
        case .einval:
            #expect(throws: Errno.invalidArgument) { try result.get() }
        case .adjust:
            #expect(try result.get() == 0)
            #expect(f.fmt.pix.pixelformat == V4L2PixelFormat.y16.fourcc)
            #expect(f.fmt.pix.width == 640 && f.fmt.pix.height == 480 && f.fmt.pix.bytesperline == 1280)
        }
    }
}

@Suite struct StepwiseSizeTests {
    static let rangeDevice = EmulatedV4L2Device.Configuration.with {
        $0.driver = "vendor-ir"
        $0.formats = [.init(fourcc: V4L2PixelFormat.y16.fourcc, description: "16-bit Greyscale", sizes: [],
                            stepwise: .init(minWidth: 160, maxWidth: 640, stepWidth: 32, minHeight: 120, maxHeight: 480,
                                            stepHeight: 8, intervals: [.fps(50), .fps(30)]))]
    }

    @Test func sizeInsideTheRangeIsGrantedAndListed() throws {
        let device = EmulatedV4L2Device(Self.rangeDevice)
        let source = try makeSource(device, camera(width: 608, height: 480))
        #expect(source.grantedFormat == V4L2GrantedFormat(pixelFormat: .y16, width: 608, height: 480, bytesPerLine: 1216, fps: 50))
        let sink = CollectingSink(stopAfterFrames: 2)
        try runCapture(source, sink)
        #expect(sink.frames.map(\.width) == [608, 608])
        let listed = V4L2CameraSource.listCameras(syscalls: device)
        #expect(listed.first?.formats.first?.sizeRange == "160x120-640x480 step 32x8")
    }

    /// Off the driver's step grid: S_FMT adjusts, and the driver refuses what it was not asked for.
    @Test func adjustedSizeIsRefusedWithAskedAndGranted() throws {
        let device = EmulatedV4L2Device(Self.rangeDevice)
        let error = #expect(throws: V4L2Error.self) { try makeSource(device, camera(width: 620, height: 470)) }
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.message.contains("asked Y16 620x470, the driver granted Y16 608x464") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("Y16 160x120-640x480 step 32x8") == true)
        #expect(device.counters.openDescriptors == 0)
    }
}
