import TRWCore

/// Downsampled IR frames for models and streams (export tensors, replay arrays).
public enum IRDownsample {
    /// Block means of a frame in °C on a `toWidth` x `toHeight` grid (nil where
    /// no pixel falls, when upsampling).
    public static func blockMeanCelsius(_ px: [UInt16], width: Int, height: Int, calibration cal: ThermalCalibration,
                                        toWidth w: Int, toHeight h: Int) -> [Double?] {
        precondition(px.count == width * height && w > 0 && h > 0)
        var sum = [Double](repeating: 0, count: w * h), cnt = [Int](repeating: 0, count: w * h)
        for y in 0..<height {
            let oy = y * h / height
            for x in 0..<width {
                let o = oy * w + x * w / width
                sum[o] += Double(px[y * width + x])
                cnt[o] += 1
            }
        }
        return (0..<(w * h)).map { i in
            cnt[i] > 0 ? cal.offsetKelvin - 273.15 + sum[i] / Double(cnt[i]) * cal.kelvinPerCount : nil
        }
    }
}
