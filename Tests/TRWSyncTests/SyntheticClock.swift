import TRWCore
import TRWTestSupport
@testable import TRWSync

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Random draws for synthetic clocks (deterministic, SplitMix64).
struct Draw {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
    /// Standard normal (Box-Muller).
    mutating func gaussian() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
    /// Exponential with the given mean.
    mutating func exponential(mean: Double) -> Double { -mean * log(max(1 - uniform(), 1e-300)) }
}

/// Kind of host-side timestamp noise.
enum Jitter: CustomStringConvertible, Sendable {
    case none
    case gaussian(sigmaNs: Double)
    /// One-sided: always late by Exp(mean).
    case exponential(meanNs: Double)

    var description: String {
        switch self {
        case .none: "none"
        case .gaussian(let s): "gaussian(\(s) ns)"
        case .exponential(let m): "exponential(\(m) ns)"
        }
    }

    func sample(_ d: inout Draw) -> Double {
        switch self {
        case .none: 0
        case .gaussian(let s): s * d.gaussian()
        case .exponential(let m): d.exponential(mean: m)
        }
    }
}

/// A device clock with known truth: device(t) = deviceAtZero + unitsPerNs * (1 + drift) * t,
/// for true host time t (ns). For a ns clock unitsPerNs = 1; for audio it is rate / 1e9.
struct TrueClock {
    var deviceAtZero: Double
    var unitsPerNs: Double
    var driftPpm: Double

    var rate: Double { unitsPerNs * (1 + driftPpm * 1e-6) }
    func device(atHost t: Double) -> Int64 { Int64((deviceAtZero + rate * t).rounded()) }
    /// True host time of a device time.
    func host(ofDevice d: Int64) -> Double { (Double(d) - deviceAtZero) / rate }
}

/// Pairs every `periodNs` of true time from `startNs` for `count` pairs.
func makePairs(clock: TrueClock, startNs: Double, periodNs: Double, count: Int, jitter: Jitter, seed: UInt64)
    -> [ClockPair]
{
    var d = Draw(seed: seed)
    var out: [ClockPair] = []
    out.reserveCapacity(count)
    for i in 0..<count {
        let t = startNs + Double(i) * periodNs
        let dev = clock.device(atHost: t)
        let host = clock.host(ofDevice: dev) + jitter.sample(&d)
        out.append(ClockPair(device: dev, host: Int64(host.rounded())))
    }
    return out
}

/// Max |model time - true time| over `samples` device times spread across the pairs (ns).
func maxError(_ segment: ClockSegment, clock: TrueClock, from d0: Int64, to d1: Int64, samples: Int = 200) -> Double {
    var m = 0.0
    for k in 0...samples {
        let d = d0 + Int64(Double(d1 - d0) * Double(k) / Double(samples))
        m = max(m, abs(Double(segment.hostTime(device: d)) - clock.host(ofDevice: d)))
    }
    return m
}

func maxError(_ model: ClockModel, clock: TrueClock, from d0: Int64, to d1: Int64, samples: Int = 200) -> Double {
    var m = 0.0
    for k in 0...samples {
        let d = d0 + Int64(Double(d1 - d0) * Double(k) / Double(samples))
        m = max(m, abs(Double(model.hostTime(device: d)) - clock.host(ofDevice: d)))
    }
    return m
}
