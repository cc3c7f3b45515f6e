import Foundation
import Testing
import TRWTestSupport
@testable import TRWDatasets

@Suite struct NPZReaderTests {
    /// numpy writes the files (stored and deflated); the reader gets the same numbers back.
    @Test(arguments: ["savez", "savez_compressed"])
    func readsWhatNumpyWrites(_ fn: String) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("x.npz")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import numpy as np
            np.\(fn)('\(path)', f32=np.arange(12, dtype=np.float32).reshape(3, 4) / 4, f16=np.array([0.5, -2], np.float16),
                     f8=np.float64(1e-9), i4=np.array([-3, 7], np.int32), b=np.array([True, False]), s=np.array(['text']))
            """]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let z = try NPZFile(path: path)
        let f32 = try z.array("f32")
        #expect(f32.shape == [3, 4] && f32.values == (0..<12).map { Double($0) / 4 })
        #expect(try z.array("f16").values == [0.5, -2])
        #expect(try z.array("f8").shape == [] && z.array("f8").values == [1e-9])
        #expect(try z.array("i4").values == [-3, 7])
        #expect(try z.array("b").values == [1, 0])
        #expect(z.skipped["s"] != nil)
        #expect(throws: NPZFile.Error.self) { try z.array("nope") }
    }

    @Test func notAZipIsAClearError() throws {
        let dir = TemporaryDirectory()
        try "hello".write(toFile: dir.file("bad.npz"), atomically: true, encoding: .utf8)
        #expect(throws: NPZFile.Error.self) { try NPZFile(path: dir.file("bad.npz")) }
    }
}
