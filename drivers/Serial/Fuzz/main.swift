// trw-fuzz-serial: every TRWSerial decoder under one fuzz entry point.
//
// libFuzzer (coverage-guided):
//   swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -DTRW_LIBFUZZER --product trw-fuzz-serial
//   .build/release/trw-fuzz-serial -max_total_time=600 -max_len=512 corpus/
// Plain build (no sanitizer): replays files (a corpus or a crash input) through the same checks:
//   swift run trw-fuzz-serial crash-1234 corpus/*
import Foundation
import TRWSerial

@_cdecl("LLVMFuzzerTestOneInput")
public func trwFuzzSerialOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var tally = DecoderFuzzTally()
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    DecoderFuzzHarness.check(bytes, tally: &tally)
    precondition(tally.isFullyAccounted, "input not accounted for: \(tally)")
    return 0
}

#if TRW_LIBFUZZER
// SwiftPM makes this file's entry point the program's `main`, so libFuzzer's own main
// never runs; hand control to its driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, trwFuzzSerialOneInput))
#else
var tally = DecoderFuzzTally()
let paths = CommandLine.arguments.dropFirst()
if paths.isEmpty {
    FileHandle.standardError.write(Data("usage: trw-fuzz-serial FILE... (replays inputs; build with -sanitize=fuzzer to fuzz)\n".utf8))
    exit(2)
}
for path in paths {
    guard let data = FileManager.default.contents(atPath: path) else {
        FileHandle.standardError.write(Data("trw-fuzz-serial: cannot read \(path)\n".utf8))
        exit(1)
    }
    DecoderFuzzHarness.check(Array(data), tally: &tally)
}
print(tally)
#endif
