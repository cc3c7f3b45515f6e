import Testing
@Test func placeholderTRWRecorder() { #expect(Bool(true)) }
