#if canImport(Glibc)
import Glibc
#endif

/// Names the calling thread for the kernel (`top -H`, /proc/self/task/*/comm,
/// the recording benchmark's CPU per stream) by writing /proc/thread-self/comm
/// (Linux keeps 15 bytes; pthread_setname_np is not exported to Swift here).
func setCurrentThreadName(_ name: String) {
    #if os(Linux)
    let fd = open("/proc/thread-self/comm", O_WRONLY)
    guard fd >= 0 else { return }  // no /proc: names are cosmetic
    defer { close(fd) }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    #endif
}
