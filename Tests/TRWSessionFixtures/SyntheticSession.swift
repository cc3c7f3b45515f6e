import TRWRecorder
import TRWRig
import TRWTestSupport

/// A short synthetic session (32x24 IR, 48 kHz AE, 2 Hz BMS) recorded faster than real
/// time into `dir`; returns its path.
public func syntheticSession(_ dir: TemporaryDirectory, seconds: Double, name: String = "s") throws -> String {
    var so = SyntheticSource.Options()
    so.width = 32; so.height = 24; so.durationS = seconds; so.aeRateHz = 48_000; so.aeChunkFrames = 480; so.bmsRateHz = 2
    var o = RecorderOptions(name: name, outputPath: dir.file("\(name).sqlite"), rigName: "synthetic")
    o.realTime = false
    let r = Recorder(sources: [SyntheticSource(options: so)], options: o)
    try r.start()
    _ = r.wait()
    return o.outputPath
}
