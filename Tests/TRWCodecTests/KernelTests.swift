import Testing
@testable import TRWCodec
import TRWTestSupport

/// The C kernels (baseline and AVX2) must equal the Swift reference arithmetic
/// bit for bit, or files written on one machine would not decode on another.
@Suite struct KernelTests {
    static let rows: [(String, [[UInt16]])] = {
        var rng = SplitMix64(seed: 77)
        func row(_ w: Int, _ f: (Int) -> UInt16) -> [UInt16] { (0..<w).map(f) }
        var cases: [(String, [[UInt16]])] = []
        for w in [7, 8, 9, 15, 16, 17, 33, 640, 641] {
            cases.append(("uniform \(w)", (0..<3).map { _ in row(w) { _ in UInt16(truncatingIfNeeded: rng.next()) } }))
            cases.append(("extremes \(w)", (0..<3).map { _ in row(w) { _ in rng.next() & 1 == 0 ? 0 : 0xFFFF } }))
        }
        let thermal = TestFrames.thermal(width: 640, height: 3, seed: 5)
        cases.append(("thermal 640", (0..<3).map { Array(thermal[($0 * 640)..<($0 * 640 + 640)]) }))
        return cases
    }()

    @Test(arguments: [false, true])
    func kernelMatchesSwiftReference(wide: Bool) throws {
        for (name, r) in Self.rows {
            let ref = PlaneFit.referenceResiduals(cur: r[2], above1: r[1], above2: r[0])
            guard let got = PlaneFit.interiorResiduals(wide: wide, cur: r[2], above1: r[1], above2: r[0]) else {
                // AVX2 not available on this CPU: the baseline case still runs.
                #expect(wide, "baseline kernel must always be available")
                return
            }
            let w = r[2].count
            let mismatch = (3..<(w - 3)).first { got.lo[$0] != ref.lo[$0] || got.hi[$0] != ref.hi[$0] }
            #expect(mismatch == nil, "\(name): first differing residual at x = \(mismatch ?? -1)")
        }
    }
}
