import SystemPackage
import Testing
@testable import TRWSerial

#if canImport(Glibc)
import Glibc
#endif

@Suite struct SyscallSeamTests {
    /// A syscall interrupted by a signal is retried, not reported.
    @Test(arguments: [0, 1, 5])
    func retriesEINTR(interruptions: Int) {
        var calls = 0
        let result = retryingOnInterrupt { () -> CInt in
            calls += 1
            if calls <= interruptions {
                errno = EINTR
                return -1
            }
            return 42
        }
        #expect(result == .success(42))
        #expect(calls == interruptions + 1)
    }

    @Test(arguments: [(EIO, Errno.ioError), (ENXIO, .noSuchAddressOrDevice), (EAGAIN, .resourceTemporarilyUnavailable)])
    func turnsMinusOneIntoTypedErrno(code: CInt, expected: Errno) {
        var calls = 0
        let result = retryingOnInterrupt { () -> Int in
            calls += 1
            errno = code
            return -1
        }
        #expect(result == .failure(expected))
        #expect(calls == 1)
    }

    @Test func deviceLossErrnosAreRecognised() {
        for e in [Errno.ioError, .noSuchAddressOrDevice, .operationNotSupportedByDevice, .noSuchFileOrDirectory] {
            #expect(SerialPortError.system(path: "/dev/x", operation: "open", errno: e).isDeviceLoss)
        }
        #expect(!SerialPortError.system(path: "/dev/x", operation: "open", errno: .permissionDenied).isDeviceLoss)
        #expect(SerialPortError.system(path: "/dev/ttyUSB0", operation: "open", errno: .permissionDenied).description
            .contains("dialout"))
    }
}
